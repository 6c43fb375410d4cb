//! Peak memory of `dupes` and `validate` under `--memory-limit` stays flat as repeated ids
//! grow: the bigger input must not take much more than the smaller one.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::util::Dir;

// Debug builds read about 100k lines a second: sizes that make the id set spill, far enough
// apart that keeping every repeat (or a copy of it) would show.
const SMALL: usize = 50_000;
const BIG: usize = 300_000;
const LIMIT: &str = "1MiB";

/// Writes `n` request lines whose ids come from `id`.
fn write_lines(dir: &Dir, name: &str, n: usize, id: impl Fn(usize) -> usize) -> PathBuf {
    let p = dir.join(name);
    let mut w = BufWriter::new(std::fs::File::create(&p).unwrap());
    for i in 0..n {
        writeln!(
            w,
            r#"{{"custom_id":"r{}","body":{{"model":"m","messages":[]}}}}"#,
            id(i)
        )
        .unwrap();
    }
    w.flush().unwrap();
    p
}

/// Runs `batchkit <args> <file>` with stdout to a file; returns the exit code, the child's
/// peak resident size in bytes (`VmHWM`, polled until it exits: the peak of its own memory,
/// unlike `ru_maxrss`, which also counts the parent's pages a spawned child starts with), and
/// the last line it printed.
fn peak_rss(dir: &Dir, args: &[&str], file: &Path) -> (i32, u64, String) {
    let out_path = dir.join("stdout.jsonl");
    let mut c = dir.cmd();
    // One worker: less memory in flight, so less noise around what the id set takes.
    c.args(["--format", "json", "--threads", "1"])
        .args(args)
        .args([
            "--memory-limit",
            "64MiB",
            "--table-limit",
            LIMIT,
            "--temp-dir",
        ])
        .arg(dir.path())
        .arg(file);
    peak_of(c, &out_path)
}

/// Runs `c` with stdout to `out_path`; returns the exit code, the child's peak resident
/// size in bytes and the last line it printed (see [`peak_rss`]).
fn peak_of(mut c: std::process::Command, out_path: &Path) -> (i32, u64, String) {
    let out = std::fs::File::create(out_path).unwrap();
    c.stdin(Stdio::null()).stdout(out).stderr(Stdio::null());
    let mut child = c.spawn().expect("spawn batchkit");
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    let status = loop {
        if let Some(hwm) = std::fs::read_to_string(&status_path).ok().and_then(|s| {
            let l = s.lines().find(|l| l.starts_with("VmHWM:"))?.to_string();
            l.split_whitespace().nth(1)?.parse::<u64>().ok()
        }) {
            peak = peak.max(hwm * 1024);
        }
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    let text = std::fs::read_to_string(out_path).unwrap();
    let last = text.lines().last().unwrap_or_default().to_string();
    (status.code().expect("exited"), peak, last)
}

fn summary(line: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(line).expect("a JSON summary");
    assert_eq!(v["type"], "summary", "{line}");
    v
}

/// Runs `args` on both files and checks the peaks; `check` sees each summary with the
/// file's line count.
fn flat(
    dir: &Dir,
    args: &[&str],
    small: &Path,
    big: &Path,
    check: impl Fn(&serde_json::Value, u64),
) {
    let mut peaks = Vec::new();
    for (file, n) in [(small, SMALL), (big, BIG)] {
        let (code, peak, last) = peak_rss(dir, args, file);
        assert_eq!(code, 1, "{args:?} on {n} lines: {last}");
        check(&summary(&last), n as u64);
        peaks.push(peak);
    }
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    eprintln!(
        "{args:?}: peak {:.1} MiB on {SMALL} lines, {:.1} MiB on {BIG}",
        mib(peaks[0]),
        mib(peaks[1])
    );
    assert!(
        peaks[1] < peaks[0] * 3 / 2 + (8 << 20),
        "{args:?}: peak grew from {:.1} MiB to {:.1} MiB",
        mib(peaks[0]),
        mib(peaks[1])
    );
    assert!(
        peaks[1] < 96 << 20,
        "{args:?}: peak {:.1} MiB under --memory-limit {LIMIT}",
        mib(peaks[1])
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

/// Every line uses the same id.
fn same(dir: &Dir) -> (PathBuf, PathBuf) {
    (
        write_lines(dir, "small.jsonl", SMALL, |_| 0),
        write_lines(dir, "big.jsonl", BIG, |_| 0),
    )
}

/// Every id used three times, far apart: the id set spills at this limit.
fn thrice(dir: &Dir) -> (PathBuf, PathBuf) {
    (
        write_lines(dir, "small.jsonl", SMALL, |i| i % (SMALL / 3 + 1)),
        write_lines(dir, "big.jsonl", BIG, |i| i % (BIG / 3 + 1)),
    )
}

/// Ids used more than once, and lines repeating one, among `n` lines of [`thrice`].
fn thrice_repeats(n: u64) -> (u64, u64) {
    let ids = n / 3 + 1;
    (ids, n - ids)
}

bktest!(dupes_memory_stays_flat_when_one_id_repeats, |dir| {
    let (small, big) = same(&dir);
    flat(&dir, &["dupes"], &small, &big, |s, n| {
        assert_eq!(s["spilled"], true);
        assert_eq!(
            (s["duplicate_ids"].as_u64(), s["duplicate_lines"].as_u64()),
            (Some(1), Some(n - 1))
        );
    });
});

bktest!(validate_memory_stays_flat_when_one_id_repeats, |dir| {
    let (small, big) = same(&dir);
    flat(
        &dir,
        &["validate", "--max-errors", "1"],
        &small,
        &big,
        |s, n| {
            assert_eq!(s["errors"].as_u64(), Some(n - 1), "{s}");
        },
    );
});

bktest!(dupes_memory_stays_flat_with_many_repeated_ids, |dir| {
    let (small, big) = thrice(&dir);
    flat(&dir, &["dupes"], &small, &big, |s, n| {
        let (ids, lines) = thrice_repeats(n);
        assert_eq!(s["spilled"], true);
        assert_eq!(
            (s["duplicate_ids"].as_u64(), s["duplicate_lines"].as_u64()),
            (Some(ids), Some(lines))
        );
    });
});

bktest!(validate_memory_stays_flat_with_many_repeated_ids, |dir| {
    let (small, big) = thrice(&dir);
    flat(
        &dir,
        &["validate", "--max-errors", "1"],
        &small,
        &big,
        |s, n| {
            assert_eq!(s["errors"].as_u64(), Some(thrice_repeats(n).1), "{s}");
        },
    );
});

/// A `zstd --long=27` file: its frame asks for a 128 MiB window, and it holds more than that
/// decompressed (about 150 MB in 40,000 lines), so the decoder fills the whole window.
fn long_window_file(dir: &Dir) -> (PathBuf, u64) {
    let p = dir.join("long.jsonl.zst");
    let f = std::fs::File::create(&p).unwrap();
    let mut enc = zstd::stream::Encoder::new(f, 1).unwrap();
    enc.long_distance_matching(true).unwrap();
    enc.window_log(27).unwrap();
    let pad = "x".repeat(3700);
    let mut lines = 0u64;
    let mut block = String::new();
    // Written in parts, so the frame does not shrink its window to the content size.
    for part in 0..40 {
        block.clear();
        for i in 0..1000u64 {
            let n = part * 1000 + i;
            block.push_str(&format!(
                "{{\"custom_id\":\"r{n}\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{{\"model\":\"gpt-4o-mini\",\"messages\":[{{\"role\":\"user\",\"content\":\"{n} {pad}\"}}]}}}}\n"
            ));
            lines += 1;
        }
        enc.write_all(block.as_bytes()).unwrap();
        enc.flush().unwrap();
    }
    enc.finish().unwrap();
    (p, lines)
}

bktest!(
    a_long_zstd_window_is_read_within_the_default_budget,
    |dir| {
        let (file, lines) = long_window_file(&dir);
        let out_path = dir.join("stdout.jsonl");
        let mut c = dir.cmd();
        c.args(["--format", "json", "validate"]).arg(&file);
        let (code, peak, last) = peak_of(c, &out_path);
        assert_eq!(code, 0, "{last}");
        assert_eq!(summary(&last)["lines"].as_u64(), Some(lines), "{last}");
        let mib = peak as f64 / (1 << 20) as f64;
        eprintln!("validate of a 128 MiB zstd window: peak {mib:.1} MiB");
        // The default --memory-limit, 256 MiB.
        assert!(peak < 256 << 20, "peak {mib:.1} MiB");
    }
);

bktest!(tokens_memory_is_bounded_on_a_long_unbroken_string, |dir| {
    // One pre-token of 1 MB: the byte-pair merge of it whole took about 48 bytes a byte.
    let line = format!(
        "{{\"custom_id\":\"a\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{{\"model\":\"gpt-4o\",\"messages\":[{{\"role\":\"user\",\"content\":\"{}\"}}]}}}}\n",
        "a".repeat(1_000_000)
    );
    let file = dir.write("long.jsonl", line);
    let out_path = dir.join("stdout.jsonl");
    let mut c = dir.cmd();
    c.args(["--format", "json", "--memory-limit", "64MiB", "tokens"])
        .arg(&file);
    let (code, peak, last) = peak_of(c, &out_path);
    assert_eq!(code, 0, "{last}");
    // "a" repeated merges into tokens of a few bytes each, never one per byte.
    let tokens = summary(&last)["input_tokens"].as_u64().unwrap_or(0);
    assert!((30_000..500_000).contains(&tokens), "{last}");
    let mib = peak as f64 / (1 << 20) as f64;
    eprintln!("tokens of a 1 MB unbroken string: peak {mib:.1} MiB");
    assert!(
        peak < 64 << 20,
        "peak {mib:.1} MiB under --memory-limit 64MiB"
    );
});
