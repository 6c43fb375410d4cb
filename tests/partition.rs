//! `--partition K/N` on `dupes` and `join`: the runs of all parts together are the whole run.
//! Records (as a multiset) are the same, the summaries add up, the exit code is the worst of
//! the parts', and each output file of a part holds exactly the whole run's lines of that part
//! (the part read here from each line's id, decoded by serde_json, not by batchkit), in order.

use std::collections::BTreeMap;
use std::path::PathBuf;

use batchkit_io::part::Part;
use proptest::prelude::*;
use serde_json::Value;

use crate::util::{code, run, Dir};

/// A small deterministic generator (xorshift), so a failing seed can be replayed.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The id literal of `id`, its first character written as `\u00XX` when `escape`.
fn lit(id: &str, escape: bool) -> String {
    if escape {
        let mut c = id.chars();
        let first = c.next().unwrap();
        format!("\"\\u{:04x}{}\"", first as u32, c.as_str())
    } else {
        format!("\"{id}\"")
    }
}

fn request(id_lit: &str, q: u64) -> String {
    format!(
        "{{\"custom_id\":{id_lit},\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{{\"model\":\"gpt-4o-mini\",\"messages\":[{{\"role\":\"user\",\"content\":\"q{q}\"}}]}}}}"
    )
}

fn result(id_lit: &str, kind: u64, k: u64) -> String {
    match kind {
        0 => format!("{{\"custom_id\":{id_lit},\"response\":{{\"status_code\":500,\"body\":{{}}}},\"error\":null}}"),
        1 => format!("{{\"custom_id\":{id_lit},\"response\":null,\"error\":{{\"code\":\"batch_expired\",\"message\":\"m\"}}}}"),
        2 => format!("{{\"custom_id\":{id_lit},\"response\":{{\"status_code\":200,\"body\":{{\"model\":\"gpt-4o-mini\",\"choices\":[{{\"message\":{{\"content\":\"a{k}\"}},\"finish_reason\":\"length\"}}],\"usage\":{{\"prompt_tokens\":7,\"completion_tokens\":3}}}}}},\"error\":null}}"),
        _ => format!("{{\"custom_id\":{id_lit},\"response\":{{\"status_code\":200,\"body\":{{\"model\":\"gpt-4o\",\"choices\":[{{\"message\":{{\"content\":\"a{k}\"}},\"finish_reason\":\"stop\"}}],\"usage\":{{\"prompt_tokens\":5,\"completion_tokens\":{k}}}}}}},\"error\":null}}"),
    }
}

/// Lines that have no id, or no usable one, or cannot be sent again.
const ODD: [&str; 6] = [
    "{not json",
    "[1,2]",
    "{\"body\":{}}",
    "{\"custom_id\":5,\"body\":{}}",
    "",
    "{\"custom_id\":\"nobody-body\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\"}",
];

/// Three request shards (the second zstd, the third with CRLF line ends) and three result
/// files (the first zstd): ids repeated across shards (`A7` once only as `\u00417`), odd
/// lines, results for some requests in any file, several for some ids, orphans, result lines
/// without an id.
pub(crate) fn generate(dir: &Dir, seed: u64, count: u64) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut g = Gen(seed | 1);
    let mut shards: Vec<Vec<String>> = vec![Vec::new(); 3];
    let mut ids = Vec::new();
    for i in 0..count {
        let s = g.below(3) as usize;
        if g.below(12) == 0 {
            shards[s].push(ODD[g.below(ODD.len() as u64) as usize].to_string());
            continue;
        }
        let id = format!("r{}", g.below(count * 3 / 4));
        shards[s].push(request(&lit(&id, g.below(5) == 0), i));
        ids.push(id);
    }
    // A duplicate seen only once the escape is decoded: `A7` and `\u00417` in two shards.
    shards[0].push(request(&lit("A7", false), 1));
    shards[2].push(request(&lit("A7", true), 2));
    ids.push("A7".into());
    // Every odd line at least once, whatever the seed (then shuffled in among the requests).
    for (k, odd) in ODD.iter().enumerate() {
        let s = &mut shards[k % 3];
        let at = g.below(s.len() as u64 + 1) as usize;
        s.insert(at, odd.to_string());
    }
    let mut results: Vec<Vec<String>> = vec![Vec::new(); 3];
    for (k, id) in ids.iter().enumerate() {
        for _ in 0..g.below(3) {
            let f = g.below(3) as usize;
            let kind = g.below(5);
            results[f].push(result(&lit(id, g.below(4) == 0), kind, k as u64));
        }
    }
    for k in 0..15 {
        let f = g.below(3) as usize;
        results[f].push(result(&lit(&format!("orphan{k}"), false), 3, k));
    }
    results[1].push("{\"response\":null,\"error\":null}".into());
    results[2].push("garbage".into());
    results[2].push(String::new());
    for r in &mut results {
        // Shuffle so results come in no request order.
        for i in (1..r.len()).rev() {
            r.swap(i, g.below(i as u64 + 1) as usize);
        }
    }
    let write = |name: &str, lines: &[String], crlf: bool, zstd: bool| {
        let nl = if crlf { "\r\n" } else { "\n" };
        let text = lines.join(nl) + nl;
        let data = if zstd {
            zstd::encode_all(text.as_bytes(), 3).unwrap()
        } else {
            text.into_bytes()
        };
        dir.write(name, data)
    };
    let req = vec![
        write("req-0.jsonl", &shards[0], false, false),
        write("req-1.jsonl.zst", &shards[1], false, true),
        write("req-2.jsonl", &shards[2], true, false),
    ];
    let res = vec![
        write("out-0.jsonl.zst", &results[0], false, true),
        write("out-1.jsonl", &results[1], false, false),
        write("err-2.jsonl", &results[2], false, false),
    ];
    (req, res)
}

/// The part of a line read from its id at `field` (`/custom_id` of a request, the same for a
/// result, a merged line's `custom_id`): part 0 without a string id.
fn part_of(line: &[u8], n: u32) -> u32 {
    let v: Option<Value> = serde_json::from_slice(line).ok();
    match v
        .as_ref()
        .and_then(|v| v.get("custom_id"))
        .and_then(Value::as_str)
    {
        Some(id) => Part::of(id.as_bytes(), n),
        None => 0,
    }
}

fn lines(data: &[u8]) -> Vec<&[u8]> {
    let mut v: Vec<&[u8]> = data.split_inclusive(|&b| b == b'\n').collect();
    if v.last().is_some_and(|l| l.is_empty()) {
        v.pop();
    }
    v
}

/// Each part's file holds exactly the whole file's lines of that part, in their order.
fn assert_split(what: &str, whole: &[u8], parts: &[Vec<u8>]) {
    let n = parts.len() as u32;
    let mut want = vec![Vec::new(); parts.len()];
    for l in lines(whole) {
        want[part_of(l, n) as usize].extend_from_slice(l);
    }
    for (k, (w, got)) in want.iter().zip(parts).enumerate() {
        assert_eq!(
            String::from_utf8_lossy(got),
            String::from_utf8_lossy(w),
            "{what}: part {k}/{n}"
        );
    }
}

/// Sums of the parts' summaries: counts add up, `ok` holds when it holds in every part,
/// `cost_incomplete` when in one; models are merged by name. `spilled` and `partitions` say
/// how a run went, not what it found: left out.
fn combine(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut out = serde_json::Map::new();
            for (k, v) in x {
                let w = &y[k];
                let c = match k.as_str() {
                    "spilled" | "partitions" => continue,
                    // Every part reads every input: the count of inputs is each part's.
                    "files" | "file" => {
                        assert_eq!(v, w, "every part names the same inputs");
                        v.clone()
                    }
                    "ok" => Value::Bool(v.as_bool().unwrap() && w.as_bool().unwrap()),
                    "cost_incomplete" => Value::Bool(v.as_bool().unwrap() || w.as_bool().unwrap()),
                    "models" => {
                        let mut by: BTreeMap<String, Value> = BTreeMap::new();
                        for m in v.as_array().unwrap().iter().chain(w.as_array().unwrap()) {
                            let name = m["model"].as_str().unwrap().to_string();
                            let merged = match by.remove(&name) {
                                Some(old) => combine(&old, m),
                                None => m.clone(),
                            };
                            by.insert(name, merged);
                        }
                        Value::Array(by.into_values().collect())
                    }
                    _ => combine(v, w),
                };
                out.insert(k.clone(), c);
            }
            // A key only one side has (a stop reason only one part saw).
            for (k, w) in y {
                if !x.contains_key(k) && !matches!(k.as_str(), "spilled" | "partitions") {
                    out.insert(k.clone(), w.clone());
                }
            }
            Value::Object(out)
        }
        (Value::Number(x), Value::Number(y)) => match (x.as_u64(), y.as_u64()) {
            (Some(x), Some(y)) => Value::from(x + y),
            _ => Value::from(x.as_f64().unwrap() + y.as_f64().unwrap()),
        },
        (Value::Null, v) | (v, Value::Null) => v.clone(),
        _ => {
            assert_eq!(a, b, "a field every part must agree on");
            a.clone()
        }
    }
}

/// Equal, floats within a relative 1e-9 (sums of costs).
pub(crate) fn assert_close(a: &Value, b: &Value, at: &str) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: Vec<_> = x
                .keys()
                .filter(|k| !matches!(k.as_str(), "spilled" | "partitions"))
                .collect();
            let ykeys: Vec<_> = y
                .keys()
                .filter(|k| !matches!(k.as_str(), "spilled" | "partitions"))
                .collect();
            assert_eq!(keys, ykeys, "{at}");
            for k in keys {
                assert_close(&x[k], &y[k], &format!("{at}.{k}"));
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}");
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                assert_close(p, q, &format!("{at}[{i}]"));
            }
        }
        (Value::Number(x), Value::Number(y)) if x.as_u64().is_none() || y.as_u64().is_none() => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                (x - y).abs() <= 1e-9 * x.abs().max(y.abs()),
                "{at}: {x} vs {y}"
            );
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

pub(crate) struct Ran {
    pub(crate) code: i32,
    /// Every record but the summary and the `file` records, as sorted JSON text.
    pub(crate) records: Vec<String>,
    /// The `file` records (per-input counts), by file.
    pub(crate) file_records: BTreeMap<String, Value>,
    pub(crate) summary: Value,
    pub(crate) files: BTreeMap<String, Vec<u8>>,
}

fn ran(dir: &Dir, out: std::process::Output, out_dir: &std::path::Path) -> Ran {
    let _ = dir;
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    let mut records: Vec<String> = text.lines().map(str::to_string).collect();
    let summary: Value = serde_json::from_str(&records.pop().expect("a summary")).unwrap();
    assert_eq!(summary["type"], "summary", "{text}");
    let mut file_records = BTreeMap::new();
    records.retain(|r| {
        let v: Value = serde_json::from_str(r).unwrap();
        if v["type"] != "file" {
            return true;
        }
        file_records.insert(v["file"].as_str().unwrap().to_string(), v);
        false
    });
    records.sort();
    let mut files = BTreeMap::new();
    for e in std::fs::read_dir(out_dir).unwrap() {
        let e = e.unwrap();
        files.insert(
            e.file_name().to_string_lossy().into_owned(),
            std::fs::read(e.path()).unwrap(),
        );
    }
    Ran {
        code: code(&out),
        records,
        file_records,
        summary,
        files,
    }
}

fn dupes(dir: &Dir, req: &[PathBuf], part: Option<Part>, extra: &[&str]) -> Ran {
    let tag = part.map_or("whole".to_string(), |p| format!("d{}-{}", p.k(), p.n()));
    let out_dir = dir.join(&tag);
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut c = dir.cmd();
    c.args(["--format", "json", "dupes"]).args(req);
    c.arg("--write-unique").arg(out_dir.join("unique.jsonl"));
    if let Some(p) = part {
        c.args(["--partition", &p.to_string()]);
    }
    c.args(extra);
    let o = run(c);
    assert!(
        o.status.code().unwrap() < 2,
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    ran(dir, o, &out_dir)
}

pub(crate) fn join(
    dir: &Dir,
    req: &[PathBuf],
    res: &[PathBuf],
    part: Option<Part>,
    extra: &[&str],
) -> Ran {
    let tag = part.map_or("jwhole".to_string(), |p| format!("j{}-{}", p.k(), p.n()));
    let out_dir = dir.join(&tag);
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut c = dir.cmd();
    c.args(["--format", "json", "join", "--requests"]).args(req);
    c.arg("--results").args(res);
    for f in ["out", "retry", "orphans", "duplicates", "rejects"] {
        c.arg(format!("--{f}"))
            .arg(out_dir.join(format!("{f}.jsonl")));
    }
    if let Some(p) = part {
        c.args(["--partition", &p.to_string()]);
    }
    c.args(extra);
    let o = run(c);
    assert!(
        o.status.code().unwrap() < 2,
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    ran(dir, o, &out_dir)
}

/// The parts' runs against the whole run: records, summary, exit code, and every file split.
fn assert_union(whole: &Ran, parts: &[Ran]) {
    let mut records: Vec<String> = parts.iter().flat_map(|r| r.records.clone()).collect();
    records.sort();
    assert_eq!(records, whole.records);
    let mut sum = parts[0].summary.clone();
    for p in &parts[1..] {
        sum = combine(&sum, &p.summary);
    }
    assert_close(&sum, &whole.summary, "summary");
    // Per-input counts add up the same way.
    for (file, want) in &whole.file_records {
        let mut got = parts[0].file_records[file].clone();
        for p in &parts[1..] {
            got = combine(&got, &p.file_records[file]);
        }
        assert_close(&got, want, file);
    }
    assert_eq!(parts.iter().map(|r| r.code).max().unwrap(), whole.code);
    for (name, data) in &whole.files {
        let split: Vec<Vec<u8>> = parts.iter().map(|r| r.files[name].clone()).collect();
        assert_split(name, data, &split);
    }
}

fn check(seed: u64, count: u64, n: u32, extra: &[&str]) -> (Value, Value) {
    let dir = Dir::new();
    let (req, res) = generate(&dir, seed, count);
    let all = |f: &dyn Fn(Option<Part>) -> Ran| -> (Ran, Vec<Ran>) {
        let whole = f(None);
        let parts = (0..n).map(|k| f(Some(Part::new(k, n).unwrap()))).collect();
        (whole, parts)
    };
    let (dw, parts) = all(&|p| dupes(&dir, &req, p, extra));
    assert!(
        dw.records.iter().any(|r| r.contains("\"A7\"")),
        "the escaped duplicate is found"
    );
    assert_union(&dw, &parts);
    let (jw, parts) = all(&|p| join(&dir, &req, &res, p, extra));
    assert!(jw.summary["duplicates"].as_u64() > Some(0));
    assert!(jw.summary["orphans"].as_u64() > Some(0));
    assert!(jw.summary["invalid_requests"].as_u64() > Some(0));
    assert_union(&jw, &parts);
    (dw.summary, jw.summary)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3, ..ProptestConfig::default() })]
    #[test]
    fn parts_together_are_the_whole_run(seed in any::<u64>()) {
        for n in [1, 4, 7] {
            check(seed, 240, n, &[]);
        }
    }
}

bktest!(parts_of_a_spilled_run_are_the_whole_run_too, |dir| {
    let _ = dir;
    for (seed, n) in [(11u64, 4u32), (12, 7)] {
        let (d, j) = check(seed, 4000, n, &["--table-limit", "64KiB"]);
        assert_eq!(
            (d["spilled"].as_bool(), j["spilled"].as_bool()),
            (Some(true), Some(true))
        );
    }
});

bktest!(every_part_number_and_count_are_checked, |dir| {
    for bad in ["4/4", "0/0", "1", "x/2", "-1/3"] {
        let mut c = dir.cmd();
        c.args(["dupes", "x.jsonl", &format!("--partition={bad}")]);
        let o = run(c);
        assert_eq!(code(&o), 2, "{bad}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("--partition"), "{bad}: {err}");
    }
});

/// A named pipe at `name` in `dir` fed `data` once by a thread (as `<(zstdcat x)` or a
/// Python file object's `/dev/fd/N` is).
#[cfg(unix)]
fn fifo(dir: &Dir, name: &str, data: Vec<u8>) -> (PathBuf, std::thread::JoinHandle<()>) {
    use std::io::Write;
    let p = dir.join(name);
    let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let q = p.clone();
    let feed = std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new().write(true).open(&q).unwrap();
        let _ = f.write_all(&data);
    });
    (p, feed)
}

/// Runs `c`, killed after a minute (a job that opened a pipe twice would wait for ever);
/// its stdout and stderr go to files, so a long output cannot block it.
#[cfg(unix)]
fn run_bounded(dir: &Dir, mut c: std::process::Command) -> std::process::Output {
    let (out, err) = (dir.join("bounded.out"), dir.join("bounded.err"));
    c.stdout(std::fs::File::create(&out).unwrap());
    c.stderr(std::fs::File::create(&err).unwrap());
    let mut child = c.spawn().unwrap();
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > std::time::Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("the job read a pipe twice and waited for ever");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    std::process::Output {
        status,
        stdout: std::fs::read(out).unwrap(),
        stderr: std::fs::read(err).unwrap(),
    }
}

#[cfg(unix)]
bktest!(pipes_read_twice_by_a_spilled_run_are_copied_first, |dir| {
    let (req, res) = generate(&dir, 5, 4000);
    let plain = |p: &PathBuf| {
        let b = std::fs::read(p).unwrap();
        if p.extension().is_some_and(|e| e == "zst") {
            zstd::decode_all(&b[..]).unwrap()
        } else {
            b
        }
    };
    // dupes --write-unique over a spilled id set reads its inputs a second time.
    let want = dupes(&dir, &req[..1], None, &["--table-limit", "16KiB"]);
    assert_eq!(want.summary["spilled"], true);
    let (pipe, feed) = fifo(&dir, "req.pipe", plain(&req[0]));
    let mut c = dir.cmd();
    c.args([
        "--format",
        "json",
        "dupes",
        "--table-limit",
        "16KiB",
        "--write-unique",
    ])
    .arg(dir.join("u.jsonl"))
    .arg(&pipe);
    let o = run_bounded(&dir, c);
    feed.join().unwrap();
    assert!(code(&o) < 2, "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read(dir.join("u.jsonl")).unwrap(),
        want.files["unique.jsonl"]
    );

    // The spilled join reads its requests a second time.
    let want = join(&dir, &req[..1], &res, None, &["--table-limit", "16KiB"]);
    assert_eq!(want.summary["spilled"], true);
    let (pipe, feed) = fifo(&dir, "req2.pipe", plain(&req[0]));
    let mut c = dir.cmd();
    c.args([
        "--format",
        "json",
        "join",
        "--table-limit",
        "16KiB",
        "--requests",
    ])
    .arg(&pipe)
    .arg("--results")
    .args(&res)
    .arg("--out")
    .arg(dir.join("m.jsonl"));
    let o = run_bounded(&dir, c);
    feed.join().unwrap();
    assert!(code(&o) < 2, "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read(dir.join("m.jsonl")).unwrap(),
        want.files["out.jsonl"]
    );
});
