//! Which JSON engine should read a request line: five engines, three jobs, the same lines.
//!
//! `cargo bench --bench line_engine` measures, on OpenAI chat request lines written by
//! `scripts/gen_traffic.py` (small lines of 0.5–2 KB and large ones of 25–100 KB; a built-in
//! generator when `python3` is missing):
//!
//! - `tape`: `simd_json::fill_tape_padded` into a reused `Tape` with reused `Buffers` and a
//!   reused padded copy, as `validate` parses (batchkit-validate `check.rs`);
//! - `borrowed`: `simd_json::to_borrowed_value_with_buffers` on a reused copy (a
//!   `BorrowedValue` DOM: halfbrown maps, strings borrowed from the copy where unescaped);
//! - `serde_value`: `serde_json::Value` through `batchkit_json::parse_value`, as `tokens`
//!   reads a line (first of duplicate keys kept, duplicates listed);
//! - `typed`: typed serde_json reading only what the job needs, everything else skipped as
//!   `IgnoredAny`, first of duplicate keys kept by hand, UTF-8 of the whole line checked
//!   first, as `join` reads ids (batchkit-join `parse.rs`);
//! - `lazy`: `simd_json::value::lazy::Value` over the same reused tape.
//!
//! Jobs: `parse` (syntax only), `fields` (parse and read `custom_id`, `url`, `body.model`),
//! `walk` (parse and sum the lengths of every string value under `body.messages`, the
//! traversal `tokens` does). Before timing, every engine must agree on the fields and the
//! sums of every line, and the duplicate-key behaviour of each engine is checked (below).
//! Bytes allocated per line by each engine are printed once (a counting allocator, off
//! while timing).
//!
//! Duplicate keys, as tested in `duplicate_keys()` (simd-json 0.19):
//! - `tape` and `lazy`: the first value wins (`Object::get` scans the tape in order);
//! - `borrowed`: the FIRST value wins in objects of up to 32 keys (both pairs are kept in
//!   halfbrown's vector map, `get` finds the first, iteration yields both), but the LAST value
//!   wins in objects of more than 32 keys (a hash map whose insert replaces the value). The
//!   answer depends on the size of the object, and nothing reports the repeat;
//! - `serde_value`: the first value wins and the pointer is reported (batchkit-json);
//! - `typed`: whatever the visitor does: here, as in `join`, the first wins (serde's derive
//!   would instead fail the line with "duplicate field").

use std::alloc::{GlobalAlloc, Layout, System};
use std::borrow::Cow;
use std::fmt;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserializer as _;
use simd_json::prelude::*;
use simd_json::tape::{Tape, Value as TapeValue};
use simd_json::{BorrowedValue, Buffers};

// ---- bytes allocated per line (counted only while COUNTING is set) -------------------------

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATED: AtomicU64 = AtomicU64::new(0);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATED.fetch_add(layout.size() as u64, Ordering::Relaxed);
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATED.fetch_add(new_size as u64, Ordering::Relaxed);
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

// ---- the lines ------------------------------------------------------------------------------

struct Lines {
    name: &'static str,
    lines: Vec<Vec<u8>>,
}

impl Lines {
    fn bytes(&self) -> u64 {
        self.lines.iter().map(|l| l.len() as u64).sum()
    }
}

/// Small (0.5–2 KB) and large (25–100 KB, at most ~2 MB of them) request lines.
fn corpus() -> (Lines, Lines) {
    let all = generated().unwrap_or_else(|why| {
        eprintln!("line_engine: {why}; using the built-in line builder");
        built()
    });
    let small: Vec<Vec<u8>> = all
        .iter()
        .filter(|l| (500..=2000).contains(&l.len()))
        .cloned()
        .collect();
    let mut large = Vec::new();
    let mut total = 0;
    for l in all.iter().filter(|l| (25_000..=100_000).contains(&l.len())) {
        if total > 2 << 20 {
            break;
        }
        total += l.len();
        large.push(l.clone());
    }
    assert!(
        small.len() >= 50 && large.len() >= 10,
        "too few lines: {} small, {} large",
        small.len(),
        large.len()
    );
    (
        Lines {
            name: "small",
            lines: small,
        },
        Lines {
            name: "large",
            lines: large,
        },
    )
}

/// 16 MB from scripts/gen_traffic.py (fixed seed) into a temporary file.
fn generated() -> Result<Vec<Vec<u8>>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let out = dir.path().join("traffic.jsonl");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/gen_traffic.py");
    let st = std::process::Command::new("python3")
        .args([
            script,
            out.to_str().unwrap(),
            "--bytes",
            "16e6",
            "--seed",
            "12",
        ])
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("python3 not run: {e}"))?;
    if !st.success() {
        return Err(format!("gen_traffic.py failed: {st}"));
    }
    let data = std::fs::read(&out).map_err(|e| e.to_string())?;
    Ok(data
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect())
}

/// Deterministic lines when Python is missing: mixed scripts, emoji, escapes, code.
fn built() -> Vec<Vec<u8>> {
    let words = [
        "the",
        "request",
        "batch",
        "мир",
        "世界",
        "مرحبا",
        "नमस्ते",
        "🎉",
        "👩‍👩‍👧",
        "\\\"quoted\\\"",
        "line\\nbreak",
        "\\tfn main() {}",
        "caf\\u00e9",
        "\\ud83d\\ude00",
        "price $12.50",
    ];
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut out = Vec::new();
    for n in 0..600 {
        let target = if n % 5 == 0 { 50_000 } else { 1_100 };
        let mut msgs = Vec::new();
        let mut len = 0;
        while len < target {
            let words_n = 20 + (next() % 200) as usize;
            let text: Vec<&str> = (0..words_n)
                .map(|_| words[(next() % words.len() as u64) as usize])
                .collect();
            let text = text.join(" ");
            len += text.len() + 40;
            let role = if msgs.len() % 2 == 0 {
                "user"
            } else {
                "assistant"
            };
            msgs.push(format!("{{\"role\":\"{role}\",\"content\":\"{text}\"}}"));
        }
        out.push(
            format!(
                "{{\"custom_id\":\"req-{n:08}\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{{\"model\":\"gpt-4o-mini\",\"messages\":[{}],\"max_tokens\":{}}}}}",
                msgs.join(","),
                next() % 4096
            )
            .into_bytes(),
        );
    }
    out
}

// ---- what a job returns ---------------------------------------------------------------------

/// `custom_id`, `url` and `body.model` (lengths, so that every engine returns the same type)
/// and the summed length of the string values under `body.messages`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Out {
    id: usize,
    url: usize,
    model: usize,
    text: usize,
}

#[derive(Clone, Copy, Debug)]
enum Job {
    Parse,
    Fields,
    Walk,
}

const JOBS: [(Job, &str); 3] = [
    (Job::Parse, "parse"),
    (Job::Fields, "fields"),
    (Job::Walk, "walk"),
];

// ---- (a) simd-json tape, (e) lazy value over it ---------------------------------------------

struct TapeEngine {
    buf: Vec<u8>,
    buffers: Buffers,
    tape: Option<Tape<'static>>,
}

impl TapeEngine {
    fn new() -> Self {
        TapeEngine {
            buf: Vec::new(),
            buffers: Buffers::with_max_depth(4096, batchkit_json::MAX_DEPTH),
            tape: Some(Tape::null().reset()),
        }
    }

    fn with<R>(&mut self, content: &[u8], f: impl FnOnce(TapeValue<'_, '_>) -> R) -> R {
        let TapeEngine { buf, buffers, tape } = self;
        buf.clear();
        buf.extend_from_slice(content);
        buf.resize(content.len() + simd_json::INPUT_PADDING, 0);
        let mut t: Tape<'_> = tape.take().unwrap_or_else(Tape::null).reset();
        simd_json::fill_tape_padded(buf, content.len(), buffers, &mut t).expect("valid JSON");
        let r = f(t.as_value());
        *tape = Some(t.reset());
        r
    }

    fn tape(&mut self, line: &[u8], job: Job) -> Out {
        self.with(line, |v| match job {
            Job::Parse => Out::default(),
            Job::Fields => {
                let body = v.get("body");
                Out {
                    id: v
                        .get("custom_id")
                        .and_then(|s| s.as_str().map(str::len))
                        .unwrap_or(0),
                    url: v
                        .get("url")
                        .and_then(|s| s.as_str().map(str::len))
                        .unwrap_or(0),
                    model: body
                        .and_then(|b| b.get("model"))
                        .and_then(|s| s.as_str().map(str::len))
                        .unwrap_or(0),
                    text: 0,
                }
            }
            Job::Walk => Out {
                text: v
                    .get("body")
                    .and_then(|b| b.get("messages"))
                    .map_or(0, tape_strings),
                ..Out::default()
            },
        })
    }

    fn lazy(&mut self, line: &[u8], job: Job) -> Out {
        use simd_json::value::lazy::Value as Lazy;
        self.with(line, |t| {
            let v = Lazy::from_tape(t);
            match job {
                Job::Parse => Out::default(),
                Job::Fields => {
                    let model = v
                        .get("body")
                        .and_then(|b| b.get("model").and_then(|m| m.as_str().map(str::len)));
                    Out {
                        id: v
                            .get("custom_id")
                            .and_then(|s| s.as_str().map(str::len))
                            .unwrap_or(0),
                        url: v
                            .get("url")
                            .and_then(|s| s.as_str().map(str::len))
                            .unwrap_or(0),
                        model: model.unwrap_or(0),
                        text: 0,
                    }
                }
                Job::Walk => Out {
                    text: v
                        .get("body")
                        .and_then(|b| b.get("messages").map(|m| lazy_strings(&m)))
                        .unwrap_or(0),
                    ..Out::default()
                },
            }
        })
    }
}

fn tape_strings(v: TapeValue<'_, '_>) -> usize {
    if let Some(s) = v.as_str() {
        s.len()
    } else if let Some(a) = v.as_array() {
        a.iter().map(tape_strings).sum()
    } else if let Some(o) = v.as_object() {
        o.values().map(tape_strings).sum()
    } else {
        0
    }
}

fn lazy_strings(v: &simd_json::value::lazy::Value<'_, '_, '_>) -> usize {
    if let Some(s) = v.as_str() {
        s.len()
    } else if let Some(a) = v.as_array() {
        a.iter().map(|c| lazy_strings(&c)).sum()
    } else if let Some(o) = v.as_object() {
        o.values().map(|c| lazy_strings(&c)).sum()
    } else {
        0
    }
}

// ---- (b) simd-json BorrowedValue ------------------------------------------------------------

struct BorrowedEngine {
    buf: Vec<u8>,
    buffers: Buffers,
}

impl BorrowedEngine {
    fn new() -> Self {
        BorrowedEngine {
            buf: Vec::new(),
            buffers: Buffers::with_max_depth(4096, batchkit_json::MAX_DEPTH),
        }
    }

    fn with<R>(&mut self, content: &[u8], f: impl FnOnce(&BorrowedValue<'_>) -> R) -> R {
        self.buf.clear();
        self.buf.extend_from_slice(content);
        let v = simd_json::to_borrowed_value_with_buffers(&mut self.buf, &mut self.buffers)
            .expect("valid JSON");
        f(&v)
    }

    fn run(&mut self, line: &[u8], job: Job) -> Out {
        self.with(line, |v| match job {
            Job::Parse => Out::default(),
            Job::Fields => Out {
                id: v.get_str("custom_id").map_or(0, str::len),
                url: v.get_str("url").map_or(0, str::len),
                model: v
                    .get("body")
                    .and_then(|b| b.get_str("model"))
                    .map_or(0, str::len),
                text: 0,
            },
            Job::Walk => Out {
                text: v
                    .get("body")
                    .and_then(|b| b.get("messages"))
                    .map_or(0, borrowed_strings),
                ..Out::default()
            },
        })
    }
}

fn borrowed_strings(v: &BorrowedValue<'_>) -> usize {
    match v {
        BorrowedValue::String(s) => s.len(),
        BorrowedValue::Array(a) => a.iter().map(borrowed_strings).sum(),
        BorrowedValue::Object(o) => o.values().map(borrowed_strings).sum(),
        BorrowedValue::Static(_) => 0,
    }
}

// ---- (c) serde_json::Value through batchkit_json --------------------------------------------

fn serde_value(line: &[u8], job: Job) -> Out {
    let v = batchkit_json::parse_value(line).expect("valid JSON").value;
    let len =
        |v: Option<&serde_json::Value>| v.and_then(serde_json::Value::as_str).map_or(0, str::len);
    match job {
        Job::Parse => {
            black_box(&v);
            Out::default()
        }
        Job::Fields => Out {
            id: len(v.get("custom_id")),
            url: len(v.get("url")),
            model: len(v.get("body").and_then(|b| b.get("model"))),
            text: 0,
        },
        Job::Walk => Out {
            text: v
                .get("body")
                .and_then(|b| b.get("messages"))
                .map_or(0, serde_strings),
            ..Out::default()
        },
    }
}

fn serde_strings(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::String(s) => s.len(),
        serde_json::Value::Array(a) => a.iter().map(serde_strings).sum(),
        serde_json::Value::Object(o) => o.values().map(serde_strings).sum(),
        _ => 0,
    }
}

// ---- (d) typed serde_json, IgnoredAny for the rest ------------------------------------------

fn typed(line: &[u8], job: Job) -> Out {
    // As join does: serde skips unknown strings without checking their UTF-8.
    std::str::from_utf8(line).expect("UTF-8");
    let mut de = serde_json::Deserializer::from_slice(line);
    let out = match job {
        Job::Parse => serde::Deserialize::deserialize(&mut de).map(|IgnoredAny| Out::default()),
        Job::Fields => de.deserialize_map(LineVisitor { walk: false }),
        Job::Walk => de.deserialize_map(LineVisitor { walk: true }),
    };
    de.end().expect("one value");
    out.expect("valid request line")
}

/// The top level: `custom_id`, `url`, and `body` (first of duplicate keys kept).
struct LineVisitor {
    walk: bool,
}

impl<'de> Visitor<'de> for LineVisitor {
    type Value = Out;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a request object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Out, A::Error> {
        let (mut id, mut url, mut body) = (None, None, None);
        while let Some(k) = m.next_key::<Cow<'de, str>>()? {
            match k.as_ref() {
                "custom_id" if !self.walk && id.is_none() => {
                    id = Some(m.next_value::<Cow<'de, str>>()?.len())
                }
                "url" if !self.walk && url.is_none() => {
                    url = Some(m.next_value::<Cow<'de, str>>()?.len())
                }
                "body" if body.is_none() => {
                    body = Some(m.next_value_seed(BodySeed { walk: self.walk })?)
                }
                _ => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        let (model, text) = body.unwrap_or_default();
        Ok(Out {
            id: id.unwrap_or(0),
            url: url.unwrap_or(0),
            model,
            text,
        })
    }
}

/// `body`: `model` (fields job) or the string lengths under `messages` (walk job).
struct BodySeed {
    walk: bool,
}

impl<'de> DeserializeSeed<'de> for BodySeed {
    type Value = (usize, usize);
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BodySeed {
    type Value = (usize, usize);
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a request body")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
        let (mut model, mut text) = (None, None);
        while let Some(k) = m.next_key::<Cow<'de, str>>()? {
            match k.as_ref() {
                "model" if !self.walk && model.is_none() => {
                    model = Some(m.next_value::<Cow<'de, str>>()?.len())
                }
                "messages" if self.walk && text.is_none() => {
                    text = Some(m.next_value::<StrSum>()?.0)
                }
                _ => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok((model.unwrap_or(0), text.unwrap_or(0)))
    }
}

/// The summed length of every string value in a JSON value, built nowhere. Note that a
/// repeated key is summed twice here (streaming cannot drop the first value it has already
/// counted without buffering); the generated lines have none.
struct StrSum(usize);

impl<'de> serde::Deserialize<'de> for StrSum {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrSumVisitor)
    }
}

struct StrSumVisitor;

impl<'de> Visitor<'de> for StrSumVisitor {
    type Value = StrSum;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E>(self, s: &str) -> Result<StrSum, E> {
        Ok(StrSum(s.len()))
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<StrSum, E> {
        Ok(StrSum(s.len()))
    }
    fn visit_bool<E>(self, _: bool) -> Result<StrSum, E> {
        Ok(StrSum(0))
    }
    fn visit_i64<E>(self, _: i64) -> Result<StrSum, E> {
        Ok(StrSum(0))
    }
    fn visit_u64<E>(self, _: u64) -> Result<StrSum, E> {
        Ok(StrSum(0))
    }
    fn visit_f64<E>(self, _: f64) -> Result<StrSum, E> {
        Ok(StrSum(0))
    }
    fn visit_unit<E>(self) -> Result<StrSum, E> {
        Ok(StrSum(0))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<StrSum, A::Error> {
        let mut n = 0;
        while let Some(StrSum(k)) = s.next_element()? {
            n += k;
        }
        Ok(StrSum(n))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<StrSum, A::Error> {
        let mut n = 0;
        while m.next_key::<IgnoredAny>()?.is_some() {
            n += m.next_value::<StrSum>()?.0;
        }
        Ok(StrSum(n))
    }
}

// ---- the engines side by side ---------------------------------------------------------------

struct Engines {
    tape: TapeEngine,
    borrowed: BorrowedEngine,
}

const ENGINES: [&str; 5] = ["tape", "borrowed", "serde_value", "typed", "lazy"];

impl Engines {
    fn run(&mut self, engine: &str, line: &[u8], job: Job) -> Out {
        match engine {
            "tape" => self.tape.tape(line, job),
            "borrowed" => self.borrowed.run(line, job),
            "serde_value" => serde_value(line, job),
            "typed" => typed(line, job),
            "lazy" => self.tape.lazy(line, job),
            _ => unreachable!("{engine}"),
        }
    }
}

/// Every engine must read the same fields and the same string lengths from every line.
fn agree(e: &mut Engines, sets: &[&Lines]) {
    for set in sets {
        for line in &set.lines {
            for job in [Job::Fields, Job::Walk] {
                let want = e.run("tape", line, job);
                assert!(want != Out::default(), "{job:?} read nothing");
                for engine in ENGINES {
                    assert_eq!(e.run(engine, line, job), want, "{engine} {job:?}");
                }
            }
        }
    }
}

/// Which value each engine reads for a repeated key, in a small object and in one of more
/// than 32 keys.
fn duplicate_keys(e: &mut Engines) {
    let filler: String = (0..40).map(|i| format!(",\"k{i}\":{i}")).collect();
    for (what, extra) in [("3 keys", ""), ("42 keys", filler.as_str())] {
        let line = format!(
            "{{\"custom_id\":\"first\",\"url\":\"/v1/chat/completions\",\"custom_id\":\"the-last\"{extra},\"body\":{{\"model\":\"m\"}}}}"
        );
        let mut seen = Vec::new();
        for engine in ENGINES {
            let id = e.run(engine, line.as_bytes(), Job::Fields).id;
            let wins = match id {
                5 => "first",
                8 => "last",
                _ => "neither",
            };
            seen.push(format!("{engine}={wins}"));
            let want = if engine == "borrowed" && !extra.is_empty() {
                "last"
            } else {
                "first"
            };
            assert_eq!(
                wins, want,
                "{engine}, object of {what}: the comment above is stale"
            );
        }
        eprintln!(
            "line_engine: duplicate key, object of {what}: {}",
            seen.join(" ")
        );
    }
}

/// Bytes and allocations per line after one warm-up pass (reused buffers then cost nothing).
fn allocations(e: &mut Engines, set: &Lines) {
    for (job, jname) in JOBS {
        let mut row = Vec::new();
        for engine in ENGINES {
            for line in &set.lines {
                black_box(e.run(engine, line, job));
            }
            ALLOCATED.store(0, Ordering::Relaxed);
            ALLOCATIONS.store(0, Ordering::Relaxed);
            COUNTING.store(true, Ordering::Relaxed);
            for line in &set.lines {
                black_box(e.run(engine, line, job));
            }
            COUNTING.store(false, Ordering::Relaxed);
            let n = set.lines.len() as f64;
            row.push(format!(
                "{engine} {:.0} B/line in {:.1} allocs ({:.2}x the line)",
                ALLOCATED.load(Ordering::Relaxed) as f64 / n,
                ALLOCATIONS.load(Ordering::Relaxed) as f64 / n,
                ALLOCATED.load(Ordering::Relaxed) as f64 / set.bytes() as f64
            ));
        }
        eprintln!(
            "line_engine: alloc {}/{jname}: {}",
            set.name,
            row.join("; ")
        );
    }
}

fn bench(c: &mut Criterion) {
    let (small, large) = corpus();
    let mut e = Engines {
        tape: TapeEngine::new(),
        borrowed: BorrowedEngine::new(),
    };
    agree(&mut e, &[&small, &large]);
    duplicate_keys(&mut e);
    for set in [&small, &large] {
        eprintln!(
            "line_engine: {}: {} lines, {} bytes, {:.0} bytes/line",
            set.name,
            set.lines.len(),
            set.bytes(),
            set.bytes() as f64 / set.lines.len() as f64
        );
        allocations(&mut e, set);
    }
    for set in [&small, &large] {
        let mut g = c.benchmark_group(format!("line_engine/{}", set.name));
        g.throughput(Throughput::Bytes(set.bytes()));
        g.sample_size(20);
        for (job, jname) in JOBS {
            for engine in ENGINES {
                g.bench_with_input(BenchmarkId::new(engine, jname), &set.lines, |b, lines| {
                    b.iter(|| {
                        let mut acc = 0;
                        for line in lines {
                            let o = e.run(engine, line, job);
                            acc += o.id + o.url + o.model + o.text;
                        }
                        black_box(acc)
                    })
                });
            }
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
