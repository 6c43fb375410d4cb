//! Every long job reports its findings and progress through the one `Sink`
//! (batchkit-line): progress after each chunk, in order, ending at the input's size.

use std::path::Path;

use batchkit_io::{Input, ReadOptions};
use batchkit_line::{Diagnostic, Sink};

/// What a sink heard: (file, position) per progress call and the findings' codes.
#[derive(Default)]
struct Heard {
    progress: Vec<(String, u64)>,
    findings: Vec<String>,
    duplicates: usize,
    counted: usize,
    events: usize,
}

impl Sink for Heard {
    type Error = std::io::Error;

    fn finding(&mut self, _: &str, d: &Diagnostic) -> std::io::Result<bool> {
        self.findings.push(d.code.as_str().to_string());
        Ok(true)
    }

    fn progress(&mut self, file: &str, read: u64) -> std::io::Result<bool> {
        self.progress.push((file.to_string(), read));
        Ok(true)
    }
}

impl Heard {
    /// Progress came more than once for `file`, never went back, and ended at its size.
    fn read_whole(&self, file: &Path) {
        let name = file.display().to_string();
        let at: Vec<u64> = self
            .progress
            .iter()
            .filter(|(f, _)| *f == name)
            .map(|(_, p)| *p)
            .collect();
        assert!(at.len() > 1, "{name}: {at:?}");
        assert!(at.windows(2).all(|w| w[0] <= w[1]), "{at:?}");
        assert_eq!(*at.last().unwrap(), std::fs::metadata(file).unwrap().len());
    }
}

/// Small chunks, so a small file makes many.
fn read_opts() -> ReadOptions {
    ReadOptions {
        chunk_size: 512,
        read_size: 256,
        ..ReadOptions::default()
    }
}

fn requests(dir: &Path) -> std::path::PathBuf {
    let mut s = String::new();
    for i in 0..200 {
        // Line 50 repeats an id; line 100 is not JSON.
        let id = if i == 50 { 1 } else { i };
        if i == 100 {
            s.push_str("{\"custom_id\": \n");
            continue;
        }
        s.push_str(&format!(
            r#"{{"custom_id":"r{id}","method":"POST","url":"/v1/chat/completions","body":{{"model":"gpt-4o-mini","messages":[{{"role":"user","content":"hello {i}"}}]}}}}"#
        ));
        s.push('\n');
    }
    let p = dir.join("requests.jsonl");
    std::fs::write(&p, s).unwrap();
    p
}

#[test]
fn validate_tokens_dupes_shard_and_join_report_through_the_sink() {
    let dir = tempfile::tempdir().unwrap();
    let req = requests(dir.path());
    let input = || Input::path(&req);

    // validate
    let checker = batchkit_validate::Checker::new(&Default::default()).unwrap();
    let mut h = Heard::default();
    let s = batchkit_validate::validate_file(&checker, &input(), &read_opts(), &mut IoSink(&mut h))
        .unwrap();
    h.read_whole(&req);
    assert_eq!(h.findings, ["duplicate_id", "invalid_json"]);
    assert_eq!(s.errors, 2);

    // tokens
    let mut h = Heard::default();
    let opts = batchkit_tokens::Options {
        read: read_opts(),
        ..Default::default()
    };
    let mut totals = batchkit_tokens::Totals::default();
    batchkit_tokens::count_input(&input(), &opts, &mut totals, &mut IoSink(&mut h)).unwrap();
    h.read_whole(&req);
    assert_eq!(h.findings, ["invalid_json"]);
    assert_eq!(h.counted, 199);

    // dupes
    let mut h = Heard::default();
    let r = batchkit_validate::find_dupes(
        &[input()],
        &read_opts(),
        &batchkit_validate::DupesOptions::default(),
        &mut IoSink(&mut h),
    )
    .unwrap();
    h.read_whole(&req);
    assert_eq!((h.duplicates, r.duplicate_ids), (1, 1));

    // shard (skip the invalid line)
    let mut h = Heard::default();
    let mut o = batchkit_shard::ShardOptions::new(dir.path().join("out"));
    o.read = read_opts();
    o.skip_invalid = true;
    let mut hooks = batchkit_shard::Hooks {
        sink: Box::new(IoSink(&mut h)),
        ..Default::default()
    };
    batchkit_shard::shard(&input(), &o, &mut hooks).unwrap();
    drop(hooks);
    h.read_whole(&req);
    assert!(
        h.findings.contains(&"invalid_json".to_string()),
        "{:?}",
        h.findings
    );

    // join: results first, then requests, each read whole
    let res = dir.path().join("results.jsonl");
    let mut r = String::new();
    for i in (0..200).step_by(3) {
        r.push_str(&format!(
            r#"{{"id":"b{i}","custom_id":"r{i}","response":{{"status_code":200,"body":{{"model":"gpt-4o-mini","choices":[{{"message":{{"content":"hi"}}}}]}}}},"error":null}}"#
        ));
        r.push('\n');
    }
    std::fs::write(&res, r).unwrap();
    let mut h = Heard::default();
    let mut jo = batchkit_join::JoinOptions::new(
        vec![input()],
        vec![Input::path(&res)],
        dir.path().join("merged.jsonl"),
    );
    jo.read = read_opts();
    batchkit_join::join(&jo, &mut IoSink(&mut h)).unwrap();
    h.read_whole(&res);
    h.read_whole(&req);
    let first_req = h
        .progress
        .iter()
        .position(|(f, _)| *f == req.display().to_string())
        .unwrap();
    assert!(h.progress[..first_req]
        .iter()
        .all(|(f, _)| *f == res.display().to_string()));
    assert!(h.events >= 2, "the duplicate id and the invalid line");
}

/// The one recording sink, seen through each job's sink trait: every job takes a sink
/// that fails with an I/O error, as the printers do.
struct IoSink<'a>(&'a mut Heard);

impl Sink for IoSink<'_> {
    type Error = std::io::Error;

    fn finding(&mut self, f: &str, d: &Diagnostic) -> std::io::Result<bool> {
        self.0.finding(f, d)
    }

    fn progress(&mut self, f: &str, read: u64) -> std::io::Result<bool> {
        self.0.progress(f, read)
    }
}

impl batchkit_tokens::TokensSink for IoSink<'_> {
    fn counted(
        &mut self,
        _: &str,
        _: u64,
        _: u64,
        _: &batchkit_tokens::RequestCount,
    ) -> std::io::Result<bool> {
        self.0.counted += 1;
        Ok(true)
    }
}

impl batchkit_validate::DupesSink for IoSink<'_> {
    fn duplicate(&mut self, _: &mut batchkit_validate::DupGroup<'_>) -> std::io::Result<bool> {
        self.0.duplicates += 1;
        Ok(true)
    }
}

impl batchkit_join::JoinSink for IoSink<'_> {
    fn event(&mut self, _: &batchkit_join::Event) -> std::io::Result<()> {
        self.0.events += 1;
        Ok(())
    }
}

/// Runs `args` (after the program name) in this process, as the Python module does:
/// (exit code, failure code and file, stdout, stderr).
fn run_in_process(args: &[&str]) -> (u8, Option<(String, Option<String>)>, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let argv = ["batchkit", "--progress=never", "--color=never"]
        .iter()
        .chain(args)
        .map(|s| s.to_string());
    let (code, failure) = batchkit::run_args(argv, &mut out, &mut err, None);
    (
        code,
        failure.map(|f| (f.code.to_string(), f.file)),
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

#[test]
fn an_unreadable_input_is_said_on_the_stderr_given() {
    let dir = tempfile::tempdir().unwrap();
    let req = requests(dir.path());
    let req = req.to_str().unwrap();
    let missing = dir.path().join("missing.jsonl");
    let missing = missing.to_str().unwrap();
    let said = format!("error: {missing}: cannot open");
    for format in ["human", "json"] {
        for cmd in ["validate", "tokens", "dupes"] {
            let (code, _, out, err) = run_in_process(&["--format", format, cmd, req, missing]);
            assert_eq!(code, 2, "{cmd} {format}: {err}");
            assert_eq!(err.matches(&said).count(), 1, "{cmd} {format}: {err}");
            assert!(!out.contains(&said), "{cmd} {format}: {out}");
        }
        let shards = dir.path().join(format!("shards-{format}"));
        let (code, failure, _, err) = run_in_process(&[
            "--format",
            format,
            "shard",
            missing,
            "-o",
            shards.to_str().unwrap(),
        ]);
        assert_eq!(code, 2, "shard {format}: {err}");
        assert!(err.starts_with(&said), "shard {format}: {err}");
        assert_eq!(failure.unwrap().0, "unreadable");
    }
}

#[test]
fn an_unreadable_join_input_is_reported_as_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    let req = requests(dir.path());
    let missing = dir.path().join("missing.jsonl");
    let merged = dir.path().join("merged.jsonl");
    let res = dir.path().join("results.jsonl");
    std::fs::write(
        &res,
        "{\"custom_id\":\"a\",\"response\":null,\"error\":null}\n",
    )
    .unwrap();
    for (requests, results) in [(&missing, &res), (&req, &missing)] {
        let (code, failure, _, err) = run_in_process(&[
            "join",
            "--requests",
            requests.to_str().unwrap(),
            "--results",
            results.to_str().unwrap(),
            "--out",
            merged.to_str().unwrap(),
        ]);
        assert_eq!(code, 2, "{err}");
        let (code, file) = failure.unwrap();
        assert_eq!(code, "unreadable", "{err}");
        assert_eq!(file.as_deref(), missing.to_str());
        assert!(
            err.starts_with(&format!("error: {}: cannot open", missing.display())),
            "{err}"
        );
    }
}

/// What a dupes sink heard, in order: `Some(position)` per progress call, `None` per
/// duplicated id.
#[derive(Default)]
struct Order(Vec<Option<u64>>);

impl Sink for Order {
    type Error = std::io::Error;

    fn finding(&mut self, _: &str, _: &Diagnostic) -> std::io::Result<bool> {
        Ok(true)
    }

    fn progress(&mut self, _: &str, read: u64) -> std::io::Result<bool> {
        self.0.push(Some(read));
        Ok(true)
    }
}

impl batchkit_validate::DupesSink for Order {
    fn duplicate(&mut self, _: &mut batchkit_validate::DupGroup<'_>) -> std::io::Result<bool> {
        self.0.push(None);
        Ok(true)
    }
}

/// dupes passes its duplicates on once the input is read whole, so progress has reached
/// the end before the first one (and a printer may end its progress there).
#[test]
fn dupes_reads_to_the_end_before_the_first_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let req = requests(dir.path());
    let mut heard = Order::default();
    batchkit_validate::find_dupes(
        &[Input::path(&req)],
        &read_opts(),
        &batchkit_validate::DupesOptions::default(),
        &mut heard,
    )
    .unwrap();
    let first = heard
        .0
        .iter()
        .position(Option::is_none)
        .expect("a duplicate");
    assert!(first > 1, "{:?}", heard.0);
    assert!(
        heard.0[first..].iter().all(Option::is_none),
        "{:?}",
        heard.0
    );
    let size = std::fs::metadata(&req).unwrap().len();
    assert_eq!(heard.0[first - 1], Some(size));
}
