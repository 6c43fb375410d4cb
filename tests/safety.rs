//! What must never happen, whatever the input or the interruption: an output replacing an
//! input, staging left behind, a half-written file under a final name, memory past the
//! budget.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{code, run, Dir};

/// An OpenAI chat request line.
fn line(id: &str, i: usize) -> String {
    format!(
        "{{\"custom_id\":\"{id}\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{{\"model\":\"gpt-4o-mini\",\"messages\":[{{\"role\":\"user\",\"content\":\"question {i}: how far is the moon, and why does it look bigger near the horizon?\"}}]}}}}\n"
    )
}

fn requests(n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|i| line(&format!("r-{i}"), i).into_bytes())
        .collect()
}

fn results(n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|i| {
            format!(
                "{{\"id\":\"b{i}\",\"custom_id\":\"r-{i}\",\"response\":{{\"status_code\":200,\"body\":{{\"model\":\"gpt-4o-mini\",\"choices\":[{{\"message\":{{\"role\":\"assistant\",\"content\":\"about 384,400 km\"}}}}],\"usage\":{{\"prompt_tokens\":20,\"completion_tokens\":5}}}}}},\"error\":null}}\n"
            )
            .into_bytes()
        })
        .collect()
}

/// Names in `dir` (recursively) that are batchkit staging.
fn staging_in(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if e.file_name().to_string_lossy().starts_with(".batchkit-") {
                out.push(p.clone());
            }
            if p.is_dir() {
                out.extend(staging_in(&p));
            }
        }
    }
    out
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

// ------------------------------------------------------------------------------------------
// Outputs never touch inputs

bktest!(join_refuses_outputs_that_are_inputs, |dir| {
    let req = dir.write("requests.jsonl", requests(5));
    let res = dir.write("output.jsonl", results(5));
    std::fs::create_dir(dir.join("x")).unwrap();
    std::os::unix::fs::symlink(&req, dir.join("link.jsonl")).unwrap();
    std::fs::hard_link(&res, dir.join("hard.jsonl")).unwrap();
    let before = (std::fs::read(&req).unwrap(), std::fs::read(&res).unwrap());
    let cases: &[(&[&str], &str, &str)] = &[
        (&["--out", "requests.jsonl"], "--requests", "--out"),
        (&["--out", "./x/../requests.jsonl"], "--requests", "--out"),
        (&["--out", "link.jsonl"], "--requests", "--out"),
        (
            &["--out", "m.jsonl", "--retry", "output.jsonl"],
            "--results",
            "--retry",
        ),
        (
            &["--out", "m.jsonl", "--orphans", "hard.jsonl"],
            "--results",
            "--orphans",
        ),
        (
            &["--out", "m.jsonl", "--retry", "m.jsonl"],
            "--out",
            "--retry",
        ),
        (
            &["--out", "m.jsonl", "--duplicates", "x/../m.jsonl"],
            "--out",
            "--duplicates",
        ),
    ];
    for (args, a, b) in cases {
        let mut c = dir.cmd();
        c.args([
            "join",
            "--requests",
            "requests.jsonl",
            "--results",
            "output.jsonl",
        ])
        .args(*args);
        let out = run(c);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code(&out), 2, "{args:?}: {err}");
        assert!(err.contains(a) && err.contains(b), "{args:?}: {err}");
        assert!(!dir.join("m.jsonl").exists(), "{args:?} wrote m.jsonl");
        assert_eq!(
            (std::fs::read(&req).unwrap(), std::fs::read(&res).unwrap()),
            before,
            "{args:?} changed an input"
        );
    }
    assert!(staging_in(dir.path()).is_empty());
});

bktest!(dupes_refuses_to_write_over_its_input, |dir| {
    let input = dir.write("in.jsonl", requests(3));
    let before = std::fs::read(&input).unwrap();
    for target in ["in.jsonl", "./in.jsonl"] {
        let mut c = dir.cmd();
        c.args(["dupes", "in.jsonl", "--write-unique", target]);
        let out = run(c);
        assert_eq!(code(&out), 2);
        assert!(String::from_utf8_lossy(&out.stderr).contains("--write-unique"));
        assert_eq!(std::fs::read(&input).unwrap(), before);
    }
});

bktest!(shard_force_never_removes_its_input, |dir| {
    let input = dir.write("a.jsonl", requests(30));
    let mut c = dir.cmd();
    c.args([
        "shard",
        "a.jsonl",
        "--out-dir",
        "shf",
        "--max-requests",
        "10",
    ]);
    assert_eq!(code(&run(c)), 0);
    let first = dir.join("shf/a-00001.jsonl");
    let kept = std::fs::read(&first).unwrap();
    // Shard one of the shards back into the same directory, with --force.
    let mut c = dir.cmd();
    c.args([
        "shard",
        "shf/a-00001.jsonl",
        "--out-dir",
        "shf",
        "--force",
        "--max-requests",
        "5",
    ]);
    let out = run(c);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 2, "{err}");
    assert!(err.contains("a-00001.jsonl"), "{err}");
    assert_eq!(std::fs::read(&first).unwrap(), kept);
    assert!(dir.join("shf/a-00002.jsonl").exists());
    assert!(staging_in(dir.path()).is_empty());
    // --force removes what the manifest lists, and nothing else.
    dir.write("shf/notes.txt", "mine");
    let mut c = dir.cmd();
    c.args(["shard", "a.jsonl", "--out-dir", "shf", "--force"]);
    assert_eq!(code(&run(c)), 0);
    assert_eq!(
        names(&dir.join("shf")),
        ["a-00001.jsonl", "manifest.json", "notes.txt"]
    );
    assert_eq!(
        std::fs::read(dir.join("shf/a-00001.jsonl")).unwrap(),
        std::fs::read(&input).unwrap()
    );
});

// ------------------------------------------------------------------------------------------
// Interrupted runs leave nothing

/// Starts `c` with a piped stdin, writes `head` into it and returns the child, the stdin
/// kept open so the child waits for more.
fn start_fed(mut c: Command, head: &[u8]) -> (Child, std::process::ChildStdin) {
    c.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn");
    let mut si = child.stdin.take().unwrap();
    si.write_all(head).unwrap();
    si.flush().unwrap();
    (child, si)
}

/// Waits until `pred` holds (up to 20 s).
fn wait_for(what: &str, mut pred: impl FnMut() -> bool) {
    let t = Instant::now();
    while !pred() {
        assert!(t.elapsed() < Duration::from_secs(20), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: sending a signal to our own child process.
    let r = unsafe { libc::kill(child.id() as libc::pid_t, sig) };
    assert_eq!(r, 0);
}

fn stderr_of(child: Child) -> (Option<i32>, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

bktest!(signals_remove_shard_staging, |dir| {
    for (sig, exit) in [
        (libc::SIGINT, 130),
        (libc::SIGTERM, 143),
        (libc::SIGHUP, 129),
    ] {
        let out_dir = dir.join("shards");
        let mut c = dir.cmd();
        c.args(["shard", "-", "--out-dir"]).arg(&out_dir).args([
            "--max-requests",
            "100",
            "--stem",
            "s",
            "--force",
        ]);
        // More than one chunk (2 MiB), so the first is cut and written while the
        // reader waits for the rest.
        let (child, stdin) = start_fed(c, &requests(12_000));
        // Staged shards are being written: interrupt now.
        wait_for("staged shards", || {
            staging_in(&out_dir)
                .iter()
                .any(|p| p.is_dir() && names(p).len() >= 3)
        });
        signal(&child, sig);
        let (status, err) = stderr_of(child);
        drop(stdin);
        assert_eq!(status, Some(exit), "{err}");
        assert!(err.contains("interrupted"), "{err}");
        assert!(staging_in(dir.path()).is_empty(), "{:?}", names(&out_dir));
        assert!(names(&out_dir).is_empty(), "{:?}", names(&out_dir));
    }
});

bktest!(signals_remove_staged_join_outputs, |dir| {
    dir.write("requests.jsonl", requests(2_000));
    let mut c = dir.cmd();
    c.args([
        "join",
        "--requests",
        "requests.jsonl",
        "--results",
        "-",
        "--out",
        "m.jsonl",
        "--retry",
        "r.jsonl",
        "--table-limit",
        "16KiB",
    ]);
    let (child, stdin) = start_fed(c, &results(500));
    wait_for("staged outputs", || staging_in(dir.path()).len() >= 2);
    signal(&child, libc::SIGTERM);
    let (status, err) = stderr_of(child);
    drop(stdin);
    assert_eq!(status, Some(143), "{err}");
    assert!(staging_in(dir.path()).is_empty());
    assert!(!dir.join("m.jsonl").exists() && !dir.join("r.jsonl").exists());
});

bktest!(a_killed_run_is_cleaned_up_by_the_next, |dir| {
    let out_dir = dir.join("shards");
    let mut c = dir.cmd();
    c.args(["shard", "-", "--out-dir"]).arg(&out_dir).args([
        "--max-requests",
        "100",
        "--stem",
        "s",
    ]);
    let (child, stdin) = start_fed(c, &requests(12_000));
    wait_for("staged shards", || !staging_in(&out_dir).is_empty());
    signal(&child, libc::SIGKILL);
    let (status, _) = stderr_of(child);
    drop(stdin);
    assert_eq!(status, None, "killed by a signal");
    let left = staging_in(&out_dir);
    assert!(!left.is_empty(), "SIGKILL cannot clean up");
    // The next run in that directory removes it, and says so.
    dir.write("in.jsonl", requests(50));
    let mut c = dir.cmd();
    c.args(["shard", "in.jsonl", "--out-dir"]).arg(&out_dir);
    let out = run(c);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 0, "{err}");
    assert!(err.contains("left by an earlier run"), "{err}");
    assert!(staging_in(dir.path()).is_empty());
    assert_eq!(names(&out_dir), ["in-00001.jsonl", "manifest.json"]);
});

// ------------------------------------------------------------------------------------------
// A full disk: writes fail (EFBIG under RLIMIT_FSIZE), nothing half-written stays

fn limited(mut c: Command, bytes: u64) -> Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        c.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    c
}

bktest!(full_disk_leaves_no_output_and_no_staging, |dir| {
    dir.write("requests.jsonl", requests(3_000));
    dir.write("output.jsonl", results(3_000));
    let runs: Vec<(&str, Vec<&str>, Vec<&str>)> = vec![
        (
            "join",
            vec![
                "join",
                "--requests",
                "requests.jsonl",
                "--results",
                "output.jsonl",
                "--out",
                "m.jsonl",
                "--retry",
                "r.jsonl",
            ],
            vec!["m.jsonl", "r.jsonl"],
        ),
        (
            "join spilled",
            vec![
                "join",
                "--requests",
                "requests.jsonl",
                "--results",
                "output.jsonl",
                "--out",
                "m.jsonl",
                "--table-limit",
                "16KiB",
            ],
            vec!["m.jsonl"],
        ),
        (
            "shard",
            vec![
                "shard",
                "requests.jsonl",
                "--out-dir",
                "shards",
                "--max-requests",
                "1000",
            ],
            vec!["shards"],
        ),
        (
            "dupes",
            vec!["dupes", "requests.jsonl", "--write-unique", "u.jsonl"],
            vec!["u.jsonl"],
        ),
    ];
    for (what, args, outs) in runs {
        let mut c = dir.cmd();
        c.args(&args);
        let out = limited(c, 64 << 10).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert!(
            err.contains("too large") || err.contains("File too large"),
            "{what}: {err}"
        );
        assert!(
            !err.contains(".batchkit-"),
            "{what}: staging path shown: {err}"
        );
        for o in outs {
            let p = dir.join(o);
            assert!(
                !p.exists() || (p.is_dir() && names(&p).is_empty()),
                "{what}: {o} left"
            );
        }
        assert!(staging_in(dir.path()).is_empty(), "{what}");
    }
});

// ------------------------------------------------------------------------------------------
// Memory is a budget

/// Runs `c` and returns its exit code and peak RSS in bytes. GNU time measures it from a
/// small parent (a child forked from this big test process would carry its high-water mark);
/// without it, `VmHWM` is sampled from /proc while the child runs.
fn peak_rss(c: Command) -> (i32, u64) {
    let time = Path::new("/usr/bin/time");
    if time.exists() {
        let mut t = Command::new(time);
        t.arg("-f")
            .arg("peak=%M")
            .arg(c.get_program())
            .args(c.get_args());
        if let Some(d) = c.get_current_dir() {
            t.current_dir(d);
        }
        let out = t.stdout(Stdio::null()).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        let kb: u64 = err
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("peak="))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no peak in {err}"));
        return (out.status.code().unwrap_or(-1), kb * 1024);
    }
    let mut c = c;
    c.stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    loop {
        if let Ok(s) = std::fs::read_to_string(&status) {
            if let Some(kb) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kb * 1024);
            }
        }
        if let Some(st) = child.try_wait().unwrap() {
            return (st.code().unwrap_or(-1), peak);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn gen(path: &Path, n: usize, mut f: impl FnMut(usize) -> String) {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..n {
        w.write_all(f(i).as_bytes()).unwrap();
    }
    w.flush().unwrap();
}

const LIMIT: u64 = 64 << 20;

fn check_budget(dir: &Dir, what: &str, args: &[&str], small: &Path, big: &Path) {
    let mut rss = Vec::new();
    for input in [small, big] {
        let mut c = dir.cmd();
        c.args(["--memory-limit", "64MiB", "--format", "json"])
            .args(args)
            .arg(input);
        let (code, peak) = peak_rss(c);
        assert!(code <= 1, "{what}: exit {code}");
        assert!(
            peak < LIMIT,
            "{what}: peak RSS {} MiB over the 64 MiB budget",
            peak >> 20
        );
        rss.push(peak);
    }
    assert!(
        rss[1] < rss[0] + rss[0] / 2 + (8 << 20),
        "{what}: peak RSS grows with the input: {} -> {} MiB",
        rss[0] >> 20,
        rss[1] >> 20
    );
}

bktest!(every_line_an_error_stays_in_budget, |dir| {
    let (small, big) = (dir.join("s.jsonl"), dir.join("b.jsonl"));
    gen(&small, 200_000, |i| format!("{{\"x\":{i}\n"));
    gen(&big, 800_000, |i| format!("{{\"x\":{i}\n"));
    check_budget(
        &dir,
        "validate",
        &["validate", "--max-errors", "10"],
        &small,
        &big,
    );
    check_budget(&dir, "tokens", &["tokens"], &small, &big);
});

bktest!(many_threads_share_the_budget, |dir| {
    let (small, big) = (dir.join("s.jsonl"), dir.join("b.jsonl"));
    std::fs::write(&small, requests(20_000)).unwrap();
    std::fs::write(&big, requests(80_000)).unwrap();
    check_budget(
        &dir,
        "validate --threads 64",
        &["--threads", "64", "validate"],
        &small,
        &big,
    );
});

bktest!(a_wide_zstd_window_is_refused_by_name, |dir| {
    let p = dir.join("long.jsonl.zst");
    let f = std::fs::File::create(&p).unwrap();
    let mut enc = zstd::stream::Encoder::new(f, 3).unwrap();
    enc.long_distance_matching(true).unwrap();
    enc.window_log(27).unwrap();
    // Written in two parts, so the frame does not shrink its window to the content size.
    let data = requests(100);
    enc.write_all(&data[..data.len() / 2]).unwrap();
    enc.flush().unwrap();
    enc.write_all(&data[data.len() / 2..]).unwrap();
    enc.finish().unwrap();
    let mut c = dir.cmd();
    c.args(["--memory-limit", "64MiB", "--format", "human", "validate"])
        .arg(&p);
    let out = run(c);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 2, "{err}");
    assert!(err.contains("--memory-limit"), "{err}");
    let mut c = dir.cmd();
    c.args(["--memory-limit", "512MiB", "--format", "human", "validate"])
        .arg(&p);
    let out = run(c);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 0, "{text}");
});

bktest!(skippable_frames_are_zstd, |dir| {
    // pzstd puts a skippable frame before the data.
    let mut data = vec![0x50, 0x2A, 0x4D, 0x18, 4, 0, 0, 0, 1, 2, 3, 4];
    data.extend(zstd::encode_all(&requests(3)[..], 3).unwrap());
    let p = dir.write("p.jsonl.zst", data);
    let mut c = dir.cmd();
    c.args(["--format", "json", "validate"]).arg(&p);
    let out = run(c);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let last = crate::util::json_lines(&out).pop().unwrap();
    assert_eq!(last["requests"], 3);
});

// ------------------------------------------------------------------------------------------
// Errors and progress

bktest!(a_closed_pipe_exits_quietly_with_what_was_found, |dir| {
    // Every line an error: stdout closes after the first finding.
    let bad: String = (0..100_000).map(|i| format!("{{\"x\":{i}\n")).collect();
    let p = dir.write("bad.jsonl", bad);
    let good = dir.write("good.jsonl", requests(20_000));
    for (input, want) in [(&p, 1), (&good, 0)] {
        let mut c = dir.cmd();
        c.args(["--format", "json", "validate"])
            .arg(input)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        // Read one line, then close the pipe.
        let mut out = child.stdout.take().unwrap();
        let mut first = [0u8; 64];
        let _ = std::io::Read::read(&mut out, &mut first).unwrap();
        drop(out);
        let o = child.wait_with_output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(want),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            o.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
});

bktest!(progress_always_draws_to_a_file, |dir| {
    let p = dir.write("in.jsonl", requests(2_000));
    let log = std::fs::File::create(dir.join("progress.log")).unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_batchkit"));
    c.current_dir(dir.path())
        .args(["--progress", "always", "--format", "json", "validate"])
        .arg(&p)
        .stdout(Stdio::null())
        .stderr(log);
    assert_eq!(c.status().unwrap().code(), Some(0));
    let text = std::fs::read_to_string(dir.join("progress.log")).unwrap();
    assert!(text.contains("in.jsonl") && text.contains("100%"), "{text}");
    // join shows each input as it reads it.
    dir.write("res.jsonl", results(2_000));
    let log = std::fs::File::create(dir.join("join.log")).unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_batchkit"));
    c.current_dir(dir.path())
        .args([
            "--progress",
            "always",
            "--format",
            "json",
            "join",
            "--requests",
        ])
        .arg(&p)
        .args(["--results", "res.jsonl", "--out", "m.jsonl"])
        .stdout(Stdio::null())
        .stderr(log);
    assert_eq!(c.status().unwrap().code(), Some(0));
    let text = std::fs::read_to_string(dir.join("join.log")).unwrap();
    assert!(
        text.contains("res.jsonl") && text.contains("in.jsonl"),
        "{text}"
    );
});

// ------------------------------------------------------------------------------------------
// One reading of JSON

fn nested(id: &str, depth: usize) -> String {
    // The root object and `body` are two levels; `x` adds the rest.
    let n = depth - 2;
    format!(
        "{{\"custom_id\":\"{id}\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{{\"model\":\"gpt-4o\",\"messages\":[{{\"role\":\"user\",\"content\":\"hi\"}}],\"x\":{}{}}}}}\n",
        "[".repeat(n),
        "]".repeat(n)
    )
}

bktest!(every_command_reads_the_same_json, |dir| {
    let lines = [
        // The first model wins: gpt-4o (o200k_base), not gpt-4 (cl100k_base).
        "{\"custom_id\":\"dup\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"model\":\"gpt-4\"}}\n".to_string(),
        // Numbers RFC 8259 allows, beyond u64 and f64.
        "{\"custom_id\":\"num\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"seed\":184467440737095516160,\"temperature\":1e400}}\n".to_string(),
        nested("deep-ok", batchkit_json::MAX_DEPTH),
        nested("too-deep", batchkit_json::MAX_DEPTH + 1),
    ];
    let p = dir.write("in.jsonl", lines.concat());
    let mut c = dir.cmd();
    c.args(["--format", "json", "validate"]).arg(&p);
    let out = run(c);
    let events = crate::util::json_lines(&out);
    let found: Vec<(String, u64)> = events
        .iter()
        .filter(|e| e["type"] == "diagnostic")
        .map(|e| {
            (
                e["code"].as_str().unwrap().to_string(),
                e["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("duplicate_key".to_string(), 1),
            ("invalid_json".to_string(), 4)
        ]
    );
    let deep = events.iter().find(|e| e["line"] == 4).unwrap();
    assert!(deep["message"].as_str().unwrap().contains("100 levels"));
    let dup = events.iter().find(|e| e["line"] == 1).unwrap();
    assert_eq!(dup["pointer"], "/body/model");

    let mut c = dir.cmd();
    c.args(["--format", "json", "tokens", "--per-request"])
        .arg(&p);
    let out = run(c);
    let events = crate::util::json_lines(&out);
    let req = |id: &str| {
        events
            .iter()
            .find(|e| e["type"] == "request" && e["custom_id"] == id)
            .cloned()
    };
    assert_eq!(req("dup").unwrap()["model"], "gpt-4o");
    let warn = events
        .iter()
        .find(|e| e["type"] == "diagnostic" && e["line"] == 1)
        .unwrap();
    assert_eq!(warn["code"], "duplicate_key");
    assert_eq!(warn["severity"], "warning");
    assert_eq!(req("dup").unwrap()["encoding"], "o200k_base");
    assert!(req("num").is_some(), "numbers beyond f64 are counted");
    assert!(req("deep-ok").is_some());
    assert!(req("too-deep").is_none());
    let deep = events
        .iter()
        .find(|e| e["type"] == "diagnostic" && e["line"] == 4)
        .unwrap();
    assert_eq!(deep["code"], "invalid_json");
    assert!(deep["message"].as_str().unwrap().contains("100 levels"));
});

bktest!(
    join_reads_repeated_keys_and_big_numbers_like_validate,
    |dir| {
        dir.write(
            "req.jsonl",
            "{\"custom_id\":\"a\",\"custom_id\":\"b\",\"body\":{\"n\":1e400}}\n",
        );
        dir.write(
        "res.jsonl",
        "{\"custom_id\":\"a\",\"response\":{\"status_code\":200,\"body\":{\"x\":1e400}},\"custom_id\":\"zz\"}\n",
    );
        let mut c = dir.cmd();
        c.args([
            "--format",
            "json",
            "join",
            "--requests",
            "req.jsonl",
            "--results",
            "res.jsonl",
            "--out",
            "m.jsonl",
        ]);
        let out = run(c);
        assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
        let merged = batchkit_json::parse_value(&std::fs::read(dir.join("m.jsonl")).unwrap())
            .unwrap()
            .value;
        assert_eq!(merged["custom_id"], "a");
        assert_eq!(merged["status"], "succeeded");
    }
);

bktest!(dupes_says_what_it_could_not_read, |dir| {
    dir.write("in.jsonl", requests(3));
    let mut c = dir.cmd();
    c.args(["--format", "json", "dupes", "missing.jsonl", "in.jsonl"]);
    let out = run(c);
    assert_eq!(code(&out), 2);
    let events = crate::util::json_lines(&out);
    assert_eq!(events[0]["type"], "error");
    assert_eq!(events[0]["file"], "missing.jsonl");
    // A line over --max-line-bytes is reported, not counted silently.
    let mut data = line(&"x".repeat(3000), 0).into_bytes();
    data.extend(requests(2));
    dir.write("long.jsonl", data);
    let mut c = dir.cmd();
    c.args([
        "--format",
        "json",
        "--max-line-bytes",
        "1000",
        "dupes",
        "long.jsonl",
    ]);
    let out = run(c);
    assert_eq!(code(&out), 1);
    let s = crate::util::json_lines(&out).pop().unwrap();
    assert_eq!(s["too_large_lines"], 1);
    assert_eq!(s["ok"], false);
});

bktest!(absurd_thread_counts_are_refused, |dir| {
    let f = dir.write("a.jsonl", "{\"custom_id\":\"a\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":\"gpt-4o\",\"messages\":[]}}\n");
    for (n, ok) in [
        ("1024", true),
        ("1025", false),
        ("100000", false),
        ("0", false),
        ("x", false),
    ] {
        let mut c = dir.cmd();
        c.args(["--threads", n, "validate"]).arg(&f);
        let o = run(c);
        assert_eq!(
            code(&o) == 2,
            !ok,
            "--threads {n}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        if !ok {
            assert!(
                String::from_utf8_lossy(&o.stderr).contains("--threads"),
                "{}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
});

bktest!(gzip_input_is_named_in_every_command, |dir| {
    // A gzip member with one stored deflate block: `{}` and a newline.
    let mut gz = vec![0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF];
    gz.extend_from_slice(&[1, 3, 0, 0xFC, 0xFF, b'{', b'}', b'\n']);
    let p = dir.write("requests.jsonl.gz", gz);
    let plain = dir.write("results.jsonl", results(2));
    let p = p.display().to_string();
    let plain = plain.display().to_string();
    let out_dir = dir.join("shards").display().to_string();
    let merged = dir.join("merged.jsonl").display().to_string();
    let runs: [Vec<&str>; 6] = [
        vec!["validate", &p],
        vec!["tokens", &p],
        vec!["dupes", &p],
        vec!["shard", "--max-requests", "2", "-o", &out_dir, &p],
        vec![
            "join",
            "--requests",
            &p,
            "--results",
            &plain,
            "--out",
            &merged,
        ],
        vec!["compare", &p, &plain],
    ];
    for args in runs {
        let mut c = dir.cmd();
        c.args(["--format", "json"]).args(&args);
        let out = run(c);
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert_eq!(code(&out), 2, "{args:?}: {text}");
        assert!(
            text.contains("gzip input is not supported: decompress it or use zstd"),
            "{args:?}: {text}"
        );
        assert!(!text.contains("invalid_utf8"), "{args:?}: {text}");
    }
});

bktest!(trailing_data_is_named_with_its_column, |dir| {
    let p = dir.write("t.jsonl", "{\"a\":1} x\n{\"a\":1}{\"b\":2}\n");
    for job in ["validate", "tokens"] {
        let mut c = dir.cmd();
        c.args(["--format", "json", job]).arg(&p);
        let out = run(c);
        let found: Vec<(u64, u64, String)> = crate::util::json_lines(&out)
            .into_iter()
            .filter(|v| v["code"] == "invalid_json")
            .map(|v| {
                let n = |k: &str| v[k].as_u64().unwrap_or(0);
                (
                    n("line"),
                    n("column"),
                    v["message"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        let want = |line, column| {
            (
                line,
                column,
                format!("not valid JSON: trailing data after the JSON value at column {column}"),
            )
        };
        assert_eq!(found, [want(1, 9), want(2, 8)], "{job}");
    }
});

bktest!(
    an_interrupted_shard_removes_the_directory_it_created,
    |dir| {
        // `made` does not exist before the run; `kept` does (empty) and must stay.
        std::fs::create_dir(dir.join("kept")).unwrap();
        for (name, created) in [("made", true), ("kept", false)] {
            let out_dir = dir.join(name);
            let mut c = dir.cmd();
            c.args(["shard", "-", "--out-dir"]).arg(&out_dir).args([
                "--max-requests",
                "100",
                "--stem",
                "s",
            ]);
            let (child, stdin) = start_fed(c, &requests(12_000));
            wait_for("staged shards", || {
                staging_in(&out_dir)
                    .iter()
                    .any(|p| p.is_dir() && names(p).len() >= 3)
            });
            signal(&child, libc::SIGINT);
            let (status, err) = stderr_of(child);
            drop(stdin);
            assert_eq!(status, Some(130), "{err}");
            assert_eq!(out_dir.exists(), !created, "{name}: {err}");
            if !created {
                assert!(names(&out_dir).is_empty(), "{:?}", names(&out_dir));
            }
        }
    }
);
