//! The memory budget is a value each run carries: two runs in one process (two calls from
//! Python, say) with different `--memory-limit`s each keep to their own, whichever started
//! last and however their work interleaves.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};

use crate::util::Dir;

fn request(i: usize) -> String {
    format!(
        "{{\"custom_id\":\"r-{i}\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{{\"model\":\"gpt-4o-mini\",\"messages\":[{{\"role\":\"user\",\"content\":\"question {i}: why is the sky blue at noon and red at dusk?\"}}]}}}}\n"
    )
}

fn result(i: usize) -> String {
    format!(
        "{{\"id\":\"b{i}\",\"custom_id\":\"r-{i}\",\"response\":{{\"status_code\":200,\"body\":{{\"model\":\"gpt-4o-mini\",\"choices\":[{{\"finish_reason\":\"stop\",\"message\":{{\"role\":\"assistant\",\"content\":\"Rayleigh scattering, mostly.\"}}}}],\"usage\":{{\"prompt_tokens\":20,\"completion_tokens\":5}}}}}},\"error\":null}}\n"
    )
}

/// A zstd file whose frame asks for a 128 MiB window: 64 MiB of budget cannot hold it,
/// 512 MiB can.
fn wide_window(dir: &Dir, data: &[u8]) -> PathBuf {
    let p = dir.join("wide.jsonl.zst");
    let f = std::fs::File::create(&p).unwrap();
    let mut enc = zstd::stream::Encoder::new(f, 3).unwrap();
    enc.long_distance_matching(true).unwrap();
    enc.window_log(27).unwrap();
    // Written in two parts, so the frame does not shrink its window to the content size.
    enc.write_all(&data[..data.len() / 2]).unwrap();
    enc.flush().unwrap();
    enc.write_all(&data[data.len() / 2..]).unwrap();
    enc.finish().unwrap();
    p
}

/// Runs `batchkit ARGS` in this process; returns the exit code, stdout and stderr.
fn run_in_process(args: &[String]) -> (u8, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let argv = std::iter::once("batchkit".to_string())
        .chain(["--progress=never".into(), "--color=never".into()])
        .chain(args.iter().cloned());
    let (code, _) = batchkit::run_args(argv, &mut out, &mut err, None);
    (
        code,
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

fn summary(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout.lines().last().expect("a summary line")).unwrap()
}

/// One side's runs: a join that must spill at `limit` or not, and a validate of the wide
/// zstd file that the limit refuses or reads.
fn side(
    dir: &Path,
    name: &str,
    (limit, shown): (&str, &str),
    files: &(PathBuf, PathBuf, PathBuf),
) -> (bool, u8) {
    let s = |p: &Path| p.display().to_string();
    let (requests, results, zst) = files;
    let join = [
        "--memory-limit",
        limit,
        "--format",
        "json",
        "join",
        "--requests",
        &s(requests),
        "--results",
        &s(results),
        "--out",
        &s(&dir.join(format!("merged-{name}.jsonl"))),
    ]
    .map(String::from);
    let (code, out, err) = run_in_process(&join);
    assert_eq!(code, 0, "{name}: {err} {out}");
    let spilled = summary(&out)["spilled"].as_bool().expect("spilled");
    let validate = [
        "--memory-limit",
        limit,
        "--format",
        "json",
        "validate",
        &s(zst),
    ]
    .map(String::from);
    let (code, out, _) = run_in_process(&validate);
    if code == 2 {
        // The JSON error event names the limit this run was given.
        assert!(
            out.contains(&format!("--memory-limit {shown}")),
            "{name}: {out}"
        );
    }
    (spilled, code)
}

/// The two limits, as given and as the error message shows them.
const SMALL: (&str, &str) = ("64MiB", "64.0 MiB");
const LARGE: (&str, &str) = ("1GiB", "1.0 GiB");

bktest!(two_runs_in_one_process_keep_their_own_budgets, |dir| {
    let n = 2_000;
    let requests: String = (0..n).map(request).collect();
    let results: String = (0..n).rev().map(result).collect();
    let files = Arc::new((
        dir.write("requests.jsonl", &requests),
        dir.write("results.jsonl", &results),
        wide_window(&dir, requests.as_bytes()),
    ));
    // Alone, each limit does what the test expects of it.
    assert_eq!(side(dir.path(), "small", SMALL, &files), (true, 2));
    assert_eq!(side(dir.path(), "large", LARGE, &files), (false, 0));
    // Together, started in step round after round, each still keeps to its own.
    let rounds = 3;
    let barrier = Arc::new(Barrier::new(2));
    let path = dir.path().to_path_buf();
    let handles: Vec<_> = [("small", SMALL), ("large", LARGE)]
        .into_iter()
        .map(|(name, limit)| {
            let (barrier, files, path) = (barrier.clone(), files.clone(), path.clone());
            std::thread::spawn(move || {
                (0..rounds)
                    .map(|_| {
                        barrier.wait();
                        side(&path, name, limit, &files)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let got: Vec<Vec<(bool, u8)>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(got[0], vec![(true, 2); rounds], "the 64 MiB runs");
    assert_eq!(got[1], vec![(false, 0); rounds], "the 1 GiB runs");
});
