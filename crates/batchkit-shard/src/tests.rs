use super::*;
use batchkit_io::{Input, ReadOptions};
use batchkit_validate::{Code, Diagnostic};
use proptest::prelude::*;
use std::fs;
use std::io;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

fn req(i: usize, model: &str, pad: usize) -> String {
    format!(
        "{{\"custom_id\":\"r{i}\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{{\"model\":\"{model}\",\"messages\":[{{\"role\":\"user\",\"content\":\"{}\"}}]}}}}",
        "x".repeat(pad)
    )
}

/// The reader runs its loop on a rayon worker of the global pool; two runs at once in one
/// process can take both workers of a 2-core machine and wait on each other. Tests run one
/// shard job at a time.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn small_read() -> ReadOptions {
    ReadOptions {
        chunk_size: 300,
        max_line_bytes: 1 << 20,
        in_flight: 4,
        read_size: 64,
        ..ReadOptions::default()
    }
}

fn opts(out: &Path) -> ShardOptions {
    let mut o = ShardOptions::new(out);
    o.read = small_read();
    o
}

fn run(input: &Path, o: &ShardOptions) -> (Result<ShardReport, ShardError>, Vec<Diagnostic>) {
    let diags = Mutex::new(Vec::new());
    let mut hooks = Hooks {
        sink: Box::new(|_: &str, d: &Diagnostic| {
            diags.lock().unwrap().push(d.clone());
            Ok::<bool, std::io::Error>(true)
        }),
        ..Hooks::default()
    };
    let r = shard(&Input::path(input), o, &mut hooks);
    drop(hooks);
    (r, diags.into_inner().unwrap())
}

fn concat(dir: &Path, m: &Manifest) -> Vec<u8> {
    m.shards
        .iter()
        .flat_map(|s| fs::read(dir.join(&s.file)).unwrap())
        .collect()
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = match fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => return Vec::new(),
    };
    v.sort();
    v
}

fn token_counter(content: &[u8]) -> Result<u64, String> {
    Ok(content.len() as u64 / 10)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn shards_rebuild_the_input_fit_their_caps_and_are_fewest(
        pads in prop::collection::vec(0usize..400, 0..60),
        crlf in prop::collection::vec(any::<bool>(), 60),
        final_newline in any::<bool>(),
        max_requests in prop::option::of(1u64..12),
        max_bytes in prop::option::of(700u64..2500),
        max_tokens in prop::option::of(60u64..200),
    ) {
        let _serial = serial();
        let dir = tempfile::tempdir().unwrap();
        let mut data = Vec::new();
        for (i, p) in pads.iter().enumerate() {
            data.extend_from_slice(req(i, "gpt-4o", *p).as_bytes());
            data.extend_from_slice(if crlf[i] { b"\r\n" } else { b"\n" });
        }
        if !final_newline && !data.is_empty() {
            while data.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                data.pop();
            }
        }
        let input = dir.path().join("in.jsonl");
        fs::write(&input, &data).unwrap();
        let out = dir.path().join("out");
        let mut o = opts(&out);
        o.provider = Some("openai".into());
        o.caps = CapOverrides { max_requests, max_bytes, max_tokens, max_embedding_inputs: None };
        let counter = token_counter;
        let mut hooks = Hooks { tokens: Some(&counter), ..Hooks::default() };
        let measures: Vec<Measure> = data
            .split_inclusive(|b| *b == b'\n')
            .map(|raw| {
                let content = raw.strip_suffix(b"\n").unwrap_or(raw);
                let content = content.strip_suffix(b"\r").unwrap_or(content);
                Measure {
                    bytes: raw.len() as u64 + u64::from(!raw.ends_with(b"\n")),
                    tokens: content.len() as u64 / 10,
                    embedding_inputs: 0,
                }
            })
            .collect();
        let caps = Caps {
            max_requests: max_requests.or(Some(50_000)),
            max_bytes: max_bytes.or(Some(209_715_200)),
            max_tokens,
            max_embedding_inputs: Some(50_000),
        };
        let (max_requests, max_bytes) = (caps.max_requests, caps.max_bytes);
        let res = shard(&Input::path(&input), &o, &mut hooks);
        // Naive reference: cut where the next line would overflow, from scratch.
        let naive = {
            let mut counts = Vec::new();
            let (mut n, mut b, mut t) = (0u64, 0u64, 0u64);
            let mut over = None;
            for (i, m) in measures.iter().enumerate() {
                if max_bytes.is_some_and(|c| m.bytes > c) || max_tokens.is_some_and(|c| m.tokens > c) {
                    over = Some(i as u64 + 1);
                    break;
                }
                let breaks = max_requests.is_some_and(|c| n + 1 > c)
                    || max_bytes.is_some_and(|c| b + m.bytes > c)
                    || max_tokens.is_some_and(|c| t + m.tokens > c);
                if n > 0 && breaks {
                    counts.push(n);
                    n = 0; b = 0; t = 0;
                }
                n += 1; b += m.bytes; t += m.tokens;
            }
            if n > 0 { counts.push(n); }
            over.map_or(Ok(counts), Err)
        };
        match (res, naive) {
            (Ok(rep), Ok(counts)) => {
                let m = rep.manifest.unwrap();
                prop_assert_eq!(m.caps, caps);
                let mut want = data.clone();
                if !want.is_empty() && !want.ends_with(b"\n") { want.push(b'\n'); }
                prop_assert_eq!(concat(&out, &m), want);
                let got: Vec<u64> = m.shards.iter().map(|s| s.requests).collect();
                prop_assert_eq!(got, counts);
                let mut line = 1;
                for s in &m.shards {
                    let bytes = fs::read(out.join(&s.file)).unwrap();
                    prop_assert_eq!(s.bytes, bytes.len() as u64);
                    prop_assert!(max_bytes.is_none_or(|c| s.bytes <= c));
                    prop_assert!(max_requests.is_none_or(|c| s.requests <= c));
                    match max_tokens {
                        Some(c) => prop_assert!(s.input_tokens.unwrap() <= c),
                        None => prop_assert!(s.input_tokens.is_none()),
                    }
                    prop_assert_eq!(s.first_line, line);
                    line = s.last_line + 1;
                    prop_assert_eq!(&s.sha256, &output::hex(&<sha2::Sha256 as sha2::Digest>::digest(&bytes)));
                }
            }
            (Err(ShardError::LineOverCap { line, .. }), Err(at)) => {
                prop_assert_eq!(line, at);
                prop_assert!(!out.exists(), "nothing may be left behind");
            }
            (r, n) => prop_assert!(false, "shard {:?} vs naive {:?}", r.map(|r| r.manifest), n),
        }
    }
}

#[test]
fn fit_plan_is_what_the_driver_does() {
    let _serial = serial();
    let fit = Fit {
        caps: Caps {
            max_requests: Some(2),
            max_bytes: Some(9),
            ..Caps::default()
        },
        overhead: 0,
    };
    let m = |b| Measure {
        bytes: b,
        ..Measure::default()
    };
    assert_eq!(
        fit.plan(&[m(5), m(4), m(1), m(9), m(1), m(1), m(1)])
            .unwrap(),
        vec![2, 1, 1, 2, 1]
    );
}

#[test]
fn same_bytes_whatever_the_chunking() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let data: String = (0..400)
        .map(|i| req(i, if i % 3 == 0 { "gpt-4o" } else { "gpt-4o-mini" }, i % 37) + "\n")
        .collect();
    let input = dir.path().join("in.jsonl");
    fs::write(&input, &data).unwrap();
    let mut outputs = Vec::new();
    // Chunk boundaries and the number of chunks in flight change which thread processes what
    // and when; the bytes written must not change. (`--threads` itself is covered end to end
    // in tests/shard.rs: the reader always uses the global pool.)
    for (k, (chunk_size, in_flight)) in [(97, 2), (300, 4), (1 << 20, 8)].into_iter().enumerate() {
        let out = dir.path().join(format!("out{k}"));
        let mut o = opts(&out);
        o.read.chunk_size = chunk_size;
        o.read.in_flight = in_flight;
        o.split_by = SplitBy::Model;
        o.caps.max_bytes = Some(4000);
        o.caps.max_tokens = Some(300);
        let counter = token_counter;
        let rep = shard(
            &Input::path(&input),
            &o,
            &mut Hooks {
                tokens: Some(&counter),
                ..Hooks::default()
            },
        )
        .unwrap();
        assert!(rep.manifest.unwrap().shards.len() > 4);
        let files: Vec<(String, Vec<u8>)> = names(&out)
            .into_iter()
            .map(|n| (n.clone(), fs::read(out.join(&n)).unwrap()))
            .collect();
        outputs.push(files);
    }
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(outputs[0], outputs[2]);
    assert!(
        outputs[0]
            .iter()
            .any(|(n, _)| n == "in-gpt-4o-mini-00002.jsonl"),
        "{:?}",
        outputs[0].iter().map(|f| &f.0).collect::<Vec<_>>()
    );
}

#[test]
fn split_by_model_keeps_order_within_groups() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let models = ["a/x", "b", "a:x", "b", "a/x"];
    let data: String = models
        .iter()
        .enumerate()
        .map(|(i, m)| req(i, m, 1) + "\n")
        .collect();
    let input = dir.path().join("mixed.jsonl");
    fs::write(&input, &data).unwrap();
    let out = dir.path().join("out");
    let mut o = opts(&out);
    o.provider = Some("openai".into());
    o.split_by = SplitBy::Model;
    let (r, diags) = run(&input, &o);
    assert!(diags.is_empty(), "{diags:?}");
    let m = r.unwrap().manifest.unwrap();
    let files: Vec<(&str, Option<&str>, u64, u64)> = m
        .shards
        .iter()
        .map(|s| {
            (
                s.file.as_str(),
                s.group.as_deref(),
                s.first_line,
                s.last_line,
            )
        })
        .collect();
    assert_eq!(
        files,
        vec![
            ("mixed-a-x-00001.jsonl", Some("a/x"), 1, 5),
            ("mixed-b-00001.jsonl", Some("b"), 2, 4),
            ("mixed-a-x~2-00001.jsonl", Some("a:x"), 3, 3),
        ]
    );
    let lines: Vec<&str> = data.lines().collect();
    assert_eq!(
        fs::read_to_string(out.join("mixed-a-x-00001.jsonl")).unwrap(),
        format!("{}\n{}\n", lines[0], lines[4])
    );
}

#[test]
fn invalid_lines_refuse_and_leave_nothing() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let data = format!("{}\n{{not json\n\n{}\n", req(1, "m", 1), req(2, "m", 1));
    let input = dir.path().join("in.jsonl");
    fs::write(&input, &data).unwrap();
    let out = dir.path().join("out");
    let (r, diags) = run(&input, &opts(&out));
    let r = r.unwrap();
    assert_eq!(r.refusal, Some(Refusal::InvalidLines(2)));
    assert!(r.manifest.is_none());
    let codes: Vec<(Code, Option<u64>)> = diags.iter().map(|d| (d.code, d.line)).collect();
    assert_eq!(
        codes,
        vec![(Code::InvalidJson, Some(2)), (Code::EmptyLine, Some(3))]
    );
    assert!(!out.exists(), "the directory it created is removed again");
}

#[test]
fn skip_invalid_writes_every_line_once() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let data = format!(
        "{}\r\n{{bad\r\n{}\n   \n{}\n{}",
        req(1, "m", 1),
        req(2, "m", 1),
        req(1, "m", 2),
        req(3, "m", 3)
    );
    let input = dir.path().join("in.jsonl");
    fs::write(&input, &data).unwrap();
    let out = dir.path().join("out");
    let mut o = opts(&out);
    o.skip_invalid = true;
    o.caps.max_requests = Some(1);
    let (r, diags) = run(&input, &o);
    let r = r.unwrap();
    assert!(r.refusal.is_none() && r.has_problems());
    assert_eq!(r.invalid_lines, 3);
    assert_eq!(
        diags.iter().map(|d| d.code).collect::<Vec<_>>(),
        vec![Code::InvalidJson, Code::EmptyLine, Code::DuplicateId]
    );
    let m = r.manifest.unwrap();
    assert_eq!(m.shards.len(), 3);
    let rej = m.rejected.as_ref().unwrap();
    assert_eq!(rej.lines, 3);
    let rejected = fs::read_to_string(out.join(REJECTED)).unwrap();
    assert_eq!(rejected, format!("{{bad\r\n   \n{}\n", req(1, "m", 2)));
    assert_eq!(
        String::from_utf8(concat(&out, &m)).unwrap(),
        format!(
            "{}\r\n{}\n{}\n",
            req(1, "m", 1),
            req(2, "m", 1),
            req(3, "m", 3)
        )
    );
    assert_eq!(
        names(&out),
        vec![
            "in-00001.jsonl",
            "in-00002.jsonl",
            "in-00003.jsonl",
            "manifest.json",
            "rejected.jsonl"
        ]
    );
}

#[test]
fn a_line_over_the_byte_cap_is_named() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let data = format!(
        "{}\n{}\n{}\n",
        req(1, "m", 1),
        req(2, "m", 500),
        req(3, "m", 1)
    );
    let input = dir.path().join("in.jsonl");
    fs::write(&input, &data).unwrap();
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    let mut o = opts(&out);
    o.caps.max_bytes = Some(400);
    let err = run(&input, &o).0.unwrap_err();
    assert!(
        matches!(err, ShardError::LineOverCap { line: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("in.jsonl:2:"), "{err}");
    assert!(names(&out).is_empty(), "{:?}", names(&out));
}

#[test]
fn non_empty_dir_needs_force_and_force_replaces_only_our_files() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let data: String = (0..6).map(|i| req(i, "m", 1) + "\n").collect();
    fs::write(&input, &data).unwrap();
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("notes.txt"), "mine").unwrap();
    let mut o = opts(&out);
    o.caps.max_requests = Some(2);
    assert!(matches!(
        run(&input, &o).0,
        Err(ShardError::NotEmpty { .. })
    ));
    assert_eq!(names(&out), vec!["notes.txt"]);
    o.force = true;
    run(&input, &o).0.unwrap();
    assert_eq!(names(&out).len(), 5);
    // A second run with fewer shards removes the shards of the first that it does not
    // rewrite, and nothing else.
    o.caps.max_requests = Some(4);
    let m = run(&input, &o).0.unwrap().manifest.unwrap();
    assert_eq!(m.shards.len(), 2);
    assert_eq!(
        names(&out),
        vec![
            "in-00001.jsonl",
            "in-00002.jsonl",
            "manifest.json",
            "notes.txt"
        ]
    );
    assert_eq!(fs::read_to_string(out.join("notes.txt")).unwrap(), "mine");
}

/// Fails every write once `budget` bytes were written across all files: a disk filling up.
struct FullDisk {
    budget: u64,
    used: std::sync::Arc<AtomicU64>,
}

struct Limited {
    f: fs::File,
    used: std::sync::Arc<AtomicU64>,
    budget: u64,
}

impl Write for Limited {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.used.fetch_add(buf.len() as u64, Ordering::SeqCst) + buf.len() as u64 > self.budget
        {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "no space left on device",
            ));
        }
        self.f.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.f.flush()
    }
}

impl ShardWrite for Limited {
    fn finish(self: Box<Self>) -> io::Result<()> {
        Ok(())
    }
}

impl OutputFactory for FullDisk {
    fn create(&self, path: &Path) -> io::Result<Box<dyn ShardWrite>> {
        let f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?;
        Ok(Box::new(Limited {
            f,
            used: self.used.clone(),
            budget: self.budget,
        }))
    }
}

#[test]
fn a_write_failure_half_way_leaves_no_final_file() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let data: String = (0..200).map(|i| req(i, "m", 20) + "\n").collect();
    fs::write(&input, &data).unwrap();
    for budget in [0, 5_000, data.len() as u64 - 10, data.len() as u64 + 20] {
        let out = dir.path().join(format!("out{budget}"));
        fs::create_dir(&out).unwrap();
        let mut o = opts(&out);
        o.caps.max_requests = Some(30);
        let disk = FullDisk {
            budget,
            used: Default::default(),
        };
        let err = shard(
            &Input::path(&input),
            &o,
            &mut Hooks {
                output: &disk,
                ..Hooks::default()
            },
        )
        .unwrap_err();
        assert!(
            matches!(&err, ShardError::Io { source, .. } if source.kind() == io::ErrorKind::StorageFull),
            "{err}"
        );
        assert!(
            err.to_string().contains(&format!("out{budget}/"))
                && !err.to_string().contains(".batchkit-"),
            "the error names the file, not its staging: {err}"
        );
        assert!(names(&out).is_empty(), "budget {budget}: {:?}", names(&out));
    }
}

#[test]
fn anthropic_body_counts_the_body() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let line = |i: usize| {
        format!("{{\"custom_id\":\"r{i}\",\"params\":{{\"model\":\"claude-x\",\"max_tokens\":10,\"messages\":[{{\"role\":\"user\",\"content\":\"hi\"}}]}}}}")
    };
    let data: String = (0..10).map(|i| line(i) + "\r\n").collect();
    let input = dir.path().join("in.jsonl");
    fs::write(&input, &data).unwrap();
    let out = dir.path().join("out");
    let mut o = opts(&out);
    o.emit = Emit::AnthropicBody;
    o.caps.max_bytes = Some((line(0).len() as u64 + 1) * 3 + 14);
    let (r, diags) = run(&input, &o);
    assert!(diags.is_empty(), "{diags:?}");
    let m = r.unwrap().manifest.unwrap();
    assert_eq!(m.provider.as_deref(), Some("anthropic"));
    assert_eq!(
        m.shards.iter().map(|s| s.requests).collect::<Vec<_>>(),
        vec![3, 3, 3, 1]
    );
    let body = fs::read(out.join("in-00001.json")).unwrap();
    assert_eq!(body.len() as u64, m.caps.max_bytes.unwrap());
    assert_eq!(m.shards[0].bytes, body.len() as u64);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["requests"][2]["custom_id"], "r2");
}

#[test]
fn compressed_shards_decompress_to_the_input() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let data: String = (0..50).map(|i| req(i, "m", i) + "\n").collect();
    let input = dir.path().join("in.jsonl.zst");
    fs::write(&input, zstd::encode_all(data.as_bytes(), 1).unwrap()).unwrap();
    let out = dir.path().join("out");
    let mut o = opts(&out);
    o.compress = Some(3);
    o.caps.max_requests = Some(20);
    let m = run(&input, &o).0.unwrap().manifest.unwrap();
    assert_eq!(m.shards[0].file, "in-00001.jsonl.zst");
    let mut back = Vec::new();
    for s in &m.shards {
        let z = fs::read(out.join(&s.file)).unwrap();
        assert_eq!(s.file_bytes, Some(z.len() as u64));
        back.extend(zstd::decode_all(&z[..]).unwrap());
    }
    assert_eq!(back, data.as_bytes());
}

#[test]
fn embedding_inputs_are_capped() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let line = |i: usize, n: usize| {
        let inputs: Vec<String> = (0..n).map(|k| format!("\"t{k}\"")).collect();
        format!("{{\"custom_id\":\"e{i}\",\"method\":\"POST\",\"url\":\"/v1/embeddings\",\"body\":{{\"model\":\"text-embedding-3-small\",\"input\":[{}]}}}}\n", inputs.join(","))
    };
    let data: String = [3, 4, 2, 5]
        .iter()
        .enumerate()
        .map(|(i, n)| line(i, *n))
        .collect();
    let input = dir.path().join("emb.jsonl");
    fs::write(&input, &data).unwrap();
    let out = dir.path().join("out");
    let mut o = opts(&out);
    o.caps.max_embedding_inputs = Some(7);
    let m = run(&input, &o).0.unwrap().manifest.unwrap();
    let got: Vec<(u64, Option<u64>)> = m
        .shards
        .iter()
        .map(|s| (s.requests, s.embedding_inputs))
        .collect();
    assert_eq!(got, vec![(2, Some(7)), (2, Some(7))]);
}

#[test]
fn slugs_and_stems() {
    let _serial = serial();
    assert_eq!(slug("/v1/chat/completions"), "v1-chat-completions");
    assert_eq!(slug("ft:gpt-4o-mini:org::abc"), "ft-gpt-4o-mini-org-abc");
    assert_eq!(slug("../.."), "");
    assert_eq!(slug(&"a".repeat(100)).len(), 64);
    assert_eq!(default_stem(&Input::path("/x/batch.jsonl.zst")), "batch");
    assert_eq!(default_stem(&Input::stdin()), "stdin");
}

/// Files on disk that count the bytes they take as copied byte ranges of the input, and
/// fail the copy that would take the total past `fail_past`.
struct Copies {
    copied: std::sync::Arc<AtomicU64>,
    fail_past: Option<u64>,
}

struct CopyCounting {
    inner: Box<dyn ShardWrite>,
    copied: std::sync::Arc<AtomicU64>,
    fail_past: Option<u64>,
}

impl Write for CopyCounting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl ShardWrite for CopyCounting {
    fn finish(self: Box<Self>) -> io::Result<()> {
        self.inner.finish()
    }
    fn copy_range(&mut self, src: &fs::File, offset: u64, len: u64) -> io::Result<()> {
        let total = self.copied.fetch_add(len, Ordering::SeqCst) + len;
        if self.fail_past.is_some_and(|max| total > max) {
            return Err(io::Error::new(
                io::ErrorKind::CrossesDevices,
                "copy_file_range refused",
            ));
        }
        self.inner.copy_range(src, offset, len)
    }
}

impl OutputFactory for Copies {
    fn create(&self, path: &Path) -> io::Result<Box<dyn ShardWrite>> {
        Ok(Box::new(CopyCounting {
            inner: FsOutput { sync: false }.create(path)?,
            copied: self.copied.clone(),
            fail_past: self.fail_past,
        }))
    }
}

/// Lines of every kind a shard meets: requests (some CRLF), duplicate ids, broken JSON and
/// a blank line (all rejected), and a last request without a newline. Returns the input
/// and what the shards must hold: the requests in order, the last one given its newline.
fn mixed_input() -> (Vec<u8>, Vec<u8>) {
    let (mut data, mut kept) = (Vec::new(), Vec::new());
    for i in 0..300 {
        let (line, valid) = if i % 23 == 22 {
            (req(i - 1, "gpt-4o", 3), false)
        } else if i % 31 == 30 {
            ("{\"custom_id\":".to_string(), false)
        } else if i == 150 {
            (String::new(), false)
        } else {
            (req(i, "gpt-4o", i % 41), true)
        };
        let end: &[u8] = match i {
            299 => b"",
            _ if i % 7 == 0 => b"\r\n",
            _ => b"\n",
        };
        data.extend_from_slice(line.as_bytes());
        data.extend_from_slice(end);
        if valid {
            kept.extend_from_slice(line.as_bytes());
            kept.extend_from_slice(if end.is_empty() { b"\n" } else { end });
        }
    }
    (data, kept)
}

#[test]
fn copied_shards_are_the_bytes_written_from_memory() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let (data, kept) = mixed_input();
    let plain = dir.path().join("in.jsonl");
    fs::write(&plain, &data).unwrap();
    // The same lines as zstd: read through the decompressor, so written from memory.
    let packed = dir.path().join("in.jsonl.zst");
    fs::write(&packed, zstd::encode_all(&data[..], 1).unwrap()).unwrap();
    let mut runs = Vec::new();
    for (k, input) in [&plain, &packed].into_iter().enumerate() {
        let out = dir.path().join(format!("out{k}"));
        let mut o = opts(&out);
        o.provider = Some("openai".into());
        o.skip_invalid = true;
        o.caps.max_requests = Some(40);
        o.caps.max_bytes = Some(3000);
        let copies = Copies {
            copied: Default::default(),
            fail_past: None,
        };
        let rep = shard(
            &Input::path(input),
            &o,
            &mut Hooks {
                output: &copies,
                ..Hooks::default()
            },
        )
        .unwrap();
        let m = rep.manifest.unwrap();
        assert!(m.shards.len() > 5, "{}", m.shards.len());
        assert_eq!(concat(&out, &m), kept, "shards are the requests, in order");
        for s in &m.shards {
            let bytes = fs::read(out.join(&s.file)).unwrap();
            assert_eq!(s.bytes, bytes.len() as u64);
            assert_eq!(
                s.sha256,
                output::hex(&<sha2::Sha256 as sha2::Digest>::digest(&bytes))
            );
        }
        let files: Vec<(String, Vec<u8>)> = names(&out)
            .into_iter()
            .filter(|n| n != MANIFEST)
            .map(|n| (n.clone(), fs::read(out.join(&n)).unwrap()))
            .collect();
        runs.push((copies.copied.load(Ordering::SeqCst), m, files));
    }
    let (copied, m, files) = &runs[0];
    let (zst_copied, zst_m, zst_files) = &runs[1];
    // Every shard byte of the plain file was copied from the input but the last request,
    // which had no newline to copy.
    let last = data.rsplit(|b| *b == b'\n').next().unwrap().len() as u64 + 1;
    let shard_bytes: u64 = m.shards.iter().map(|s| s.bytes).sum();
    assert_eq!(*copied, shard_bytes - last);
    assert_eq!(*zst_copied, 0, "a zstd input is written from memory");
    assert_eq!(files, zst_files);
    assert_eq!(m.shards, zst_m.shards);
    assert_eq!(m.rejected, zst_m.rejected);
    let rejected = &files.iter().find(|(n, _)| n == REJECTED).unwrap().1;
    assert_eq!(rejected.len() + kept.len(), data.len() + 1);
}

#[test]
fn a_failed_copy_leaves_no_final_file_and_no_staging() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let (data, kept) = mixed_input();
    let input = dir.path().join("in.jsonl");
    fs::write(&input, &data).unwrap();
    // The first copy, one in the middle, the last one (the shards copy all of `kept` but
    // the last request, about 100 bytes).
    for (k, fail_past) in [0, 4000, kept.len() as u64 - 200].into_iter().enumerate() {
        // An existing, empty output directory stays; one the run made is removed.
        let out = dir.path().join(format!("out{k}"));
        if k == 0 {
            fs::create_dir(&out).unwrap();
        }
        let mut o = opts(&out);
        o.skip_invalid = true;
        o.caps.max_requests = Some(40);
        let copies = Copies {
            copied: Default::default(),
            fail_past: Some(fail_past),
        };
        let err = shard(
            &Input::path(&input),
            &o,
            &mut Hooks {
                output: &copies,
                ..Hooks::default()
            },
        )
        .unwrap_err();
        assert!(
            matches!(&err, ShardError::Io { source, .. } if source.kind() == io::ErrorKind::CrossesDevices),
            "{err}"
        );
        assert!(copies.copied.load(Ordering::SeqCst) > fail_past);
        if k == 0 {
            assert!(names(&out).is_empty(), "{:?}", names(&out));
        } else {
            assert!(!out.exists(), "{:?}", names(&out));
        }
    }
}
