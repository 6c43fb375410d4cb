//! The memory budget is a value each run carries: two runs in one process (two calls from
//! Python, say) with different `--memory-limit`s each keep to their own, whichever started
//! last and however their work interleaves.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Barrier};

use crate::util::Dir;

fn request(i: usize) -> String {
    format!(
        "{{\"custom_id\":\"r-{i}\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{{\"model\":\"gpt-4o-mini\",\"messages\":[{{\"role\":\"user\",\"content\":\"question {i}: why is the sky blue at noon and red at dusk?\"}}]}}}}\n"
    )
}

/// A result whose answer is long enough that 5,000 of them (15 MB) cannot stay in memory
/// A request line with a dense array of 600,000 numbers in its body: parsing it needs more
/// than the long-line share of a 64 MiB budget, and far less than that of 1 GiB.
fn dense_request() -> String {
    let dense = "0,".repeat(600_000);
    format!(
        "{{\"custom_id\":\"dense\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{{\"model\":\"gpt-4o-mini\",\"messages\":[{{\"role\":\"user\",\"content\":\"hi\"}}],\"metadata\":{{\"dense\":[{dense}0]}}}}}}\n"
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

/// One side's runs: a validate of the wide zstd file (the reader's share) and one of the
/// dense line (the long-line share); each is refused, naming the limit, or read.
fn side(name: &str, (limit, shown): (&str, &str), files: &(PathBuf, PathBuf)) -> (u8, u8) {
    let codes = [&files.0, &files.1].map(|f| {
        let args = [
            "--memory-limit",
            limit,
            "--format",
            "json",
            "validate",
            &f.display().to_string(),
        ]
        .map(String::from);
        let (code, out, _) = run_in_process(&args);
        if code != 0 {
            // The finding or the error event names the limit this run was given.
            assert!(
                out.contains(&format!("--memory-limit {shown}")),
                "{name}: {out}"
            );
        }
        code
    });
    (codes[0], codes[1])
}

/// The two limits, as given and as the error message shows them.
const SMALL: (&str, &str) = ("64MiB", "64.0 MiB");
const LARGE: (&str, &str) = ("1GiB", "1.0 GiB");

bktest!(two_runs_in_one_process_keep_their_own_budgets, |dir| {
    let requests: String = (0..200).map(request).collect();
    let files = Arc::new((
        wide_window(&dir, requests.as_bytes()),
        dir.write("dense.jsonl", requests + &dense_request()),
    ));
    // Alone, each limit does what the test expects of it: 64 MiB refuses the zstd window
    // (exit 2) and reports the dense line (exit 1); 1 GiB reads both.
    assert_eq!(side("small", SMALL, &files), (2, 1));
    assert_eq!(side("large", LARGE, &files), (0, 0));
    // Together, started in step round after round, each still keeps to its own.
    let rounds = 4;
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = [("small", SMALL), ("large", LARGE)]
        .into_iter()
        .map(|(name, limit)| {
            let (barrier, files) = (barrier.clone(), files.clone());
            std::thread::spawn(move || {
                (0..rounds)
                    .map(|_| {
                        barrier.wait();
                        side(name, limit, &files)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let got: Vec<Vec<(u8, u8)>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(got[0], vec![(2, 1); rounds], "the 64 MiB runs");
    assert_eq!(got[1], vec![(0, 0); rounds], "the 1 GiB runs");
});
