//! Generates realistic batch request files for benchmarks and stress tests.
//!
//! ```text
//! cargo run --release --example gen_corpus -- --bytes 1GB --out bench-data/requests-1g.jsonl \
//!     [--seed 1] [--dupes 100] [--provider openai|anthropic]
//! cargo run --release --example gen_corpus -- --minimal --lines 10000000 --dupes 1000 --out ids.jsonl
//! ```
//!
//! Default lines are OpenAI chat-completions requests (or Anthropic Message Batches requests
//! with `--provider anthropic`) with multilingual text (English, CJK, Cyrillic, Arabic,
//! emoji), JSON escapes (`\n`, `\"`, `\\`, `\u00e9`, surrogate pairs), sizes drawn from a
//! log-normal body (most lines 0.3–3 KB) with a tail of 20–200 KB lines and a few ~1 MB
//! lines, array content parts and `name` fields now and then. `--minimal` writes short lines
//! whose only interesting part is the id (for `dupes`).
//!
//! `--dupes N` plants N duplicated ids, spread evenly through the file: each planted line
//! reuses the id of a distinct earlier line, and no id is used more than twice, so a correct
//! duplicate finder reports exactly N ids. Every planted pair is printed to stderr as
//! `dupe: line L reuses <id> of line F`, then a `summary:` line.
//!
//! Output is a pure function of the flags (same seed, same bytes). The text comes from a
//! pool of pre-escaped sentences built at start-up, so writing is mostly `memcpy` and runs at
//! several hundred MB/s on one core.

use std::fs::File;
use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Instant;

/// xorshift64*: tiny, fast and good enough to vary benchmark text.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        // Mix the seed so that small seeds (1, 2, ...) give unrelated streams; never zero.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() >> 32) * n) >> 32
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(1e-12);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

const ENGLISH: &[&str] = &[
    "the",
    "model",
    "should",
    "answer",
    "briefly",
    "with",
    "a",
    "summary",
    "of",
    "customer",
    "review",
    "invoice",
    "contract",
    "meeting",
    "notes",
    "please",
    "translate",
    "into",
    "French",
    "and",
    "keep",
    "formatting",
    "return",
    "JSON",
    "only",
    "extract",
    "all",
    "dates",
    "names",
    "amounts",
    "from",
    "this",
    "email",
    "thread",
    "classify",
    "sentiment",
    "as",
    "positive",
    "negative",
    "or",
    "neutral",
    "explain",
    "why",
    "step",
    "by",
    "list",
    "three",
    "risks",
    "in",
    "plain",
    "language",
    "for",
    "non-technical",
    "reader",
    "is",
    "product",
    "arrived",
    "late",
    "but",
    "support",
    "team",
    "was",
    "helpful",
    "quarterly",
    "revenue",
    "grew",
    "percent",
    "while",
    "costs",
    "stayed",
    "flat",
    "function",
    "returns",
    "null",
    "when",
    "input",
    "empty",
    "rewrite",
    "paragraph",
    "to",
    "be",
    "more",
    "concise",
];

const CJK: &[&str] = &[
    "请",
    "总结",
    "以下",
    "内容",
    "客户",
    "评论",
    "非常",
    "满意",
    "产品",
    "质量",
    "很好",
    "但是",
    "物流",
    "太慢",
    "了",
    "会议",
    "记录",
    "翻译",
    "成",
    "英文",
    "日本語",
    "の",
    "文章",
    "を",
    "要約",
    "して",
    "ください",
    "東京",
    "大阪",
    "天気",
    "予報",
    "明日",
    "は",
    "晴れ",
    "です",
    "한국어",
    "문장",
    "을",
    "번역",
    "해",
    "주세요",
    "数据",
    "分析",
    "报告",
];

const CYRILLIC: &[&str] = &[
    "пожалуйста",
    "кратко",
    "перескажи",
    "этот",
    "текст",
    "клиент",
    "доволен",
    "заказом",
    "доставка",
    "задержалась",
    "на",
    "два",
    "дня",
    "отчёт",
    "о",
    "продажах",
    "за",
    "квартал",
    "выручка",
    "выросла",
    "переведи",
    "на",
    "английский",
    "язык",
    "сохрани",
    "формат",
];

const ARABIC: &[&str] = &[
    "من",
    "فضلك",
    "لخص",
    "هذا",
    "النص",
    "العميل",
    "راضٍ",
    "عن",
    "المنتج",
    "لكن",
    "التوصيل",
    "كان",
    "بطيئا",
    "تقرير",
    "المبيعات",
    "للربع",
    "الأول",
    "ترجم",
    "إلى",
    "الإنجليزية",
];

const EMOJI: &[&str] = &[
    "🙂",
    "🚀",
    "👍",
    "🔥",
    "✅",
    "❤️",
    "😂",
    "🎉",
    "🤖",
    "📦",
    "👩‍💻",
    "🇯🇵",
];

/// Fragments already in JSON-escaped form: the escapes parsers must decode.
const ESCAPED: &[&str] = &[
    "line one\\nline two\\n",
    "she said \\\"no\\\" twice",
    "path C:\\\\Users\\\\bench\\\\file.txt",
    "caf\\u00e9 cr\\u00e8me br\\u00fbl\\u00e9e",
    "smile \\ud83d\\ude00 rocket \\ud83d\\ude80",
    "tab\\tseparated\\tvalues",
    "{\\\"key\\\": [1, 2, 3], \\\"ok\\\": true}",
    "\\u00bfqu\\u00e9 tal? \\u00a1bien!",
    "end of section\\r\\n",
    "fn main() {\\n    println!(\\\"hi\\\");\\n}",
    "\\u4f60\\u597d\\u4e16\\u754c",
    "slash \\/ and backslash \\\\ ok",
];

const SYSTEM: &[&str] = &[
    "You are a helpful assistant.",
    "You are a careful data extraction engine. Reply with JSON only.",
    "You are a translator. Keep the meaning and the formatting.",
    "You classify customer feedback. Answer with one word.",
    "Tu es un assistant qui r\\u00e9pond en fran\\u00e7ais.",
    "Ты полезный помощник. Отвечай кратко.",
    "あなたは親切なアシスタントです。",
];

/// A pool of pre-escaped sentences in one buffer; text is cut from it by sentence.
struct Pool {
    buf: Vec<u8>,
    spans: Vec<(u32, u32)>,
    /// The same spans grouped by language (English, CJK, Cyrillic, Arabic).
    by_lang: [Vec<(u32, u32)>; 4],
}

impl Pool {
    fn build(rng: &mut Rng, count: usize) -> Pool {
        let mut buf = Vec::with_capacity(count * 96);
        let mut spans = Vec::with_capacity(count);
        let mut by_lang: [Vec<(u32, u32)>; 4] = Default::default();
        let mut s = String::new();
        for _ in 0..count {
            s.clear();
            let lang = rng.below(100);
            let (lang, words, sep): (usize, &[&str], &str) = match lang {
                0..=59 => (0, ENGLISH, " "),
                60..=74 => (1, CJK, ""),
                75..=84 => (2, CYRILLIC, " "),
                _ => (3, ARABIC, " "),
            };
            let n = 4 + rng.below(14) as usize;
            for i in 0..n {
                if i > 0 {
                    s.push_str(sep);
                }
                s.push_str(rng.pick(words));
                if rng.chance(0.04) {
                    s.push(' ');
                    s.push_str(&rng.below(100_000).to_string());
                }
            }
            s.push_str(if sep.is_empty() { "。" } else { ". " });
            if rng.chance(0.08) {
                s.push_str(rng.pick(EMOJI));
                s.push(' ');
            }
            // serde_json does the ordinary escaping; the hand-written ESCAPED fragments add the
            // forms it never produces (\u escapes, surrogate pairs, escaped slash).
            let json = serde_json::to_string(&s).expect("a string serialises");
            let mut frag = json[1..json.len() - 1].to_string();
            if rng.chance(0.10) {
                frag.push_str(rng.pick(ESCAPED));
                frag.push(' ');
            }
            let start = buf.len() as u32;
            buf.extend_from_slice(frag.as_bytes());
            spans.push((start, buf.len() as u32));
            by_lang[lang].push((start, buf.len() as u32));
        }
        for (a, b) in &spans {
            let quoted = [b"\"", &buf[*a as usize..*b as usize], b"\""].concat();
            serde_json::from_slice::<String>(&quoted).expect("pool fragments are valid JSON");
        }
        Pool {
            buf,
            spans,
            by_lang,
        }
    }

    /// The language a request is mostly written in (an index into `by_lang`), or `None`
    /// for a request that mixes them all.
    fn draw_lang(rng: &mut Rng) -> Option<usize> {
        match rng.below(100) {
            0..=64 => Some(0),
            65..=76 => Some(1),
            77..=85 => Some(2),
            86..=92 => Some(3),
            _ => None,
        }
    }

    /// Appends escaped text of at least `len` bytes (whole sentences), mostly in `lang`.
    fn text(&self, rng: &mut Rng, out: &mut Vec<u8>, len: usize, lang: Option<usize>) {
        let end = out.len() + len;
        while out.len() < end {
            let spans = match lang {
                Some(l) if rng.below(8) != 0 => &self.by_lang[l],
                _ => &self.spans,
            };
            let (a, b) = spans[rng.below(spans.len() as u64) as usize];
            out.extend_from_slice(&self.buf[a as usize..b as usize]);
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Provider {
    OpenAi,
    Anthropic,
}

struct Options {
    bytes: Option<u64>,
    lines: Option<u64>,
    out: String,
    seed: u64,
    dupes: u64,
    provider: Provider,
    minimal: bool,
}

const USAGE: &str =
    "usage: gen_corpus (--bytes SIZE | --lines N) --out FILE [--seed N] [--dupes N] \
[--provider openai|anthropic] [--minimal]";

fn parse_size(s: &str) -> Option<u64> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num.parse().ok()?;
    let mult = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "kib" | "ki" => 1024.0,
        "mib" | "mi" => 1024.0 * 1024.0,
        "gib" | "gi" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((num * mult) as u64)
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        bytes: None,
        lines: None,
        out: String::new(),
        seed: 1,
        dupes: 0,
        provider: Provider::OpenAi,
        minimal: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--bytes" => {
                let v = val()?;
                o.bytes = Some(parse_size(&v).ok_or_else(|| format!("bad size {v:?}"))?);
            }
            "--lines" => o.lines = Some(val()?.parse().map_err(|e| format!("--lines: {e}"))?),
            "--out" => o.out = val()?,
            "--seed" => o.seed = val()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--dupes" => o.dupes = val()?.parse().map_err(|e| format!("--dupes: {e}"))?,
            "--provider" => {
                o.provider = match val()?.as_str() {
                    "openai" => Provider::OpenAi,
                    "anthropic" => Provider::Anthropic,
                    p => return Err(format!("unknown provider {p:?} (openai, anthropic)")),
                }
            }
            "--minimal" => o.minimal = true,
            "-h" | "--help" => return Err(String::new()),
            _ => return Err(format!("unknown argument {a:?}")),
        }
    }
    if o.out.is_empty() {
        return Err("--out is required".into());
    }
    if o.bytes.is_none() == o.lines.is_none() {
        return Err("give exactly one of --bytes and --lines".into());
    }
    Ok(o)
}

/// Size of the text of one request, in bytes.
fn draw_text_len(rng: &mut Rng) -> usize {
    let u = rng.unit();
    if u < 0.0002 {
        // A few ~1 MB lines: long documents pasted whole.
        900_000 + rng.below(250_000) as usize
    } else if u < 0.01 {
        // Log-uniform 20–200 KB.
        (20_000.0 * 10f64.powf(rng.unit())) as usize
    } else {
        // Log-normal body centred near 0.9 KB: most lines land in 0.3–3 KB.
        let v = (6.6 + 0.65 * rng.normal()).exp();
        v.clamp(60.0, 6_000.0) as usize
    }
}

fn push_id(out: &mut Vec<u8>, prefix: &str, n: u64) {
    out.extend_from_slice(prefix.as_bytes());
    let s = n.to_string();
    for _ in s.len()..6 {
        out.push(b'0');
    }
    out.extend_from_slice(s.as_bytes());
}

fn push_content(
    out: &mut Vec<u8>,
    pool: &Pool,
    rng: &mut Rng,
    provider: Provider,
    lang: Option<usize>,
    len: usize,
) {
    if rng.chance(0.12) {
        // Array of content parts, now and then with an image reference.
        let parts = 1 + rng.below(3) as usize;
        out.push(b'[');
        for p in 0..parts {
            if p > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"type\":\"text\",\"text\":\"");
            pool.text(rng, out, len / parts, lang);
            out.extend_from_slice(b"\"}");
        }
        if provider == Provider::OpenAi && rng.chance(0.3) {
            out.extend_from_slice(
                b",{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.com/img/",
            );
            out.extend_from_slice(rng.below(1_000_000).to_string().as_bytes());
            out.extend_from_slice(b".png\"}}");
        }
        out.push(b']');
    } else {
        out.push(b'"');
        pool.text(rng, out, len, lang);
        out.push(b'"');
    }
}

fn push_request(out: &mut Vec<u8>, pool: &Pool, rng: &mut Rng, provider: Provider, id: u64) {
    let len = draw_text_len(rng);
    let lang = Pool::draw_lang(rng);
    let system = rng.pick(SYSTEM);
    let max_tokens = rng.pick(&[64u32, 128, 256, 512, 1024, 2048, 4096]);
    let multi_turn = rng.chance(0.15);
    out.extend_from_slice(b"{\"custom_id\":\"");
    push_id(out, "req-", id);
    out.push(b'"');
    match provider {
        Provider::OpenAi => {
            out.extend_from_slice(
                b",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"system\",\"content\":\"",
            );
            out.extend_from_slice(system.as_bytes());
            out.extend_from_slice(b"\"},");
        }
        Provider::Anthropic => {
            out.extend_from_slice(b",\"params\":{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":");
            out.extend_from_slice(max_tokens.to_string().as_bytes());
            out.extend_from_slice(b",\"system\":\"");
            out.extend_from_slice(system.as_bytes());
            out.extend_from_slice(b"\",\"messages\":[");
        }
    }
    if multi_turn {
        out.extend_from_slice(b"{\"role\":\"user\",\"content\":\"");
        pool.text(rng, out, 80, lang);
        out.extend_from_slice(b"\"},{\"role\":\"assistant\",\"content\":\"");
        pool.text(rng, out, 120, lang);
        out.extend_from_slice(b"\"},");
    }
    out.extend_from_slice(b"{\"role\":\"user\"");
    if provider == Provider::OpenAi && rng.chance(0.1) {
        out.extend_from_slice(b",\"name\":\"user_");
        out.extend_from_slice(rng.below(1000).to_string().as_bytes());
        out.push(b'"');
    }
    out.extend_from_slice(b",\"content\":");
    push_content(out, pool, rng, provider, lang, len);
    out.extend_from_slice(b"}]");
    if provider == Provider::OpenAi {
        out.extend_from_slice(b",\"max_tokens\":");
        out.extend_from_slice(max_tokens.to_string().as_bytes());
        out.extend_from_slice(b",\"temperature\":");
        out.extend_from_slice(rng.pick(&["0.2", "0", "0.7", "1"]).as_bytes());
        out.push(b'}');
    } else {
        out.extend_from_slice(b",\"temperature\":0.2}");
    }
    out.extend_from_slice(b"}\n");
}

fn push_minimal(out: &mut Vec<u8>, id: u64) {
    out.extend_from_slice(b"{\"custom_id\":\"");
    push_id(out, "id-", id);
    out.extend_from_slice(b"\",\"url\":\"/v1/chat/completions\",\"body\":{}}\n");
}

/// Where the next planted duplicate goes and which earlier line it copies.
struct Planter {
    total: u64,
    count: u64,
    planted: u64,
    /// Line number of the last planted duplicate (originals are taken after it).
    last: u64,
}

impl Planter {
    /// Position of planted duplicate `k` as a fraction of the file, in the unit of `total`.
    fn due(&self, progress: u64) -> bool {
        self.planted < self.count && progress >= (self.planted + 1) * self.total / (self.count + 1)
    }
}

fn main() -> ExitCode {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("gen_corpus: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match generate(&o) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen_corpus: {}: {e}", o.out);
            ExitCode::from(2)
        }
    }
}

fn generate(o: &Options) -> io::Result<()> {
    // Written under a temporary name and renamed at the end, so an interrupted run never
    // leaves a short file that looks finished. An old file is removed first: truncating a
    // large cached file in place costs as much as writing it again.
    let part = format!("{}.part", o.out);
    let file: Box<dyn Write + Send> = if o.out == "-" {
        Box::new(io::stdout())
    } else {
        for p in [&o.out, &part] {
            match std::fs::remove_file(p) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Box::new(File::create(&part)?)
    };
    let start = Instant::now();
    // Writing runs on its own thread so generation and the copy into the page cache overlap;
    // two buffers in flight are enough to keep both busy.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
    let (back_tx, back_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let writer = std::thread::spawn(move || -> io::Result<()> {
        let mut file = file;
        for buf in rx {
            file.write_all(&buf)?;
            let _ = back_tx.send(buf);
        }
        file.flush()
    });
    let made = fill(o, |buf| tx.send(buf).is_ok(), || back_rx.try_recv().ok());
    drop(tx);
    writer.join().expect("writer thread panicked")?;
    if o.out != "-" {
        std::fs::rename(&part, &o.out)?;
    }
    let (lines, written, report) = made;
    let secs = start.elapsed().as_secs_f64();
    let stderr = io::stderr();
    let mut err = io::BufWriter::new(stderr.lock());
    let prefix = if o.minimal { "id-" } else { "req-" };
    for (at, of) in &report {
        writeln!(err, "dupe: line {at} reuses {prefix}{of:06} of line {of}")?;
    }
    writeln!(
        err,
        "summary: {} lines, {} bytes, {} planted duplicates, {:.2} s ({:.0} MB/s) -> {}",
        lines,
        written,
        report.len(),
        secs,
        written as f64 / 1e6 / secs.max(1e-9),
        o.out
    )?;
    Ok(())
}

/// Generates the lines, handing full buffers to `emit` (false: the writer failed, stop) and
/// reusing the ones `recycle` gives back. Returns lines, bytes and the planted pairs.
fn fill(
    o: &Options,
    mut emit: impl FnMut(Vec<u8>) -> bool,
    mut recycle: impl FnMut() -> Option<Vec<u8>>,
) -> (u64, u64, Vec<(u64, u64)>) {
    const FLUSH: usize = 8 << 20;
    let mut rng = Rng::new(o.seed);
    let pool = Pool::build(&mut rng, 8192);
    let mut planter = Planter {
        total: o.bytes.or(o.lines).unwrap_or(0),
        count: o.dupes,
        planted: 0,
        last: 0,
    };
    let by_bytes = o.bytes.is_some();
    let mut buf: Vec<u8> = Vec::with_capacity(FLUSH + (2 << 20));
    let mut written = 0u64;
    let mut line = 0u64;
    let mut report = Vec::new();
    loop {
        let progress = if by_bytes {
            written + buf.len() as u64
        } else {
            line
        };
        if progress >= planter.total {
            break;
        }
        line += 1;
        let mut id = line;
        // Plant only with at least one fresh line since the last plant, so every original is
        // distinct and never itself a planted copy.
        if planter.due(progress) && line > planter.last + 1 {
            id = planter.last + 1 + rng.below(line - planter.last - 1);
            planter.planted += 1;
            planter.last = line;
            report.push((line, id));
        }
        if o.minimal {
            push_minimal(&mut buf, id);
        } else {
            push_request(&mut buf, &pool, &mut rng, o.provider, id);
        }
        if buf.len() >= FLUSH {
            written += buf.len() as u64;
            let mut next = recycle().unwrap_or_else(|| Vec::with_capacity(FLUSH + (2 << 20)));
            next.clear();
            if !emit(std::mem::replace(&mut buf, next)) {
                return (line, written, report);
            }
        }
    }
    written += buf.len() as u64;
    emit(buf);
    (line, written, report)
}
