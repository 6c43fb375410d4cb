//! The raw parsing ceiling for `validate`: how fast can every line of a JSONL file be turned
//! into a simd-json tape on all cores, doing nothing else?
//!
//! ```text
//! cargo run --release --example parse_ceiling -- bench-data/requests-1g.jsonl
//! ```
//!
//! Reads the file in 8 MiB chunks of whole lines on the main thread, and parses each line
//! (copied, since simd-json unescapes in place) with `simd_json::to_tape_with_buffers` on the
//! rayon pool, reusing one set of parser buffers per worker. Prints the line count, the lines
//! that failed to parse, and the throughput. Memory stays near `in_flight * 8 MiB` plus the
//! longest line.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

const CHUNK: usize = 8 << 20;

thread_local! {
    static SCRATCH: RefCell<(Vec<u8>, simd_json::Buffers)> =
        RefCell::new((Vec::new(), simd_json::Buffers::default()));
}

#[derive(Default)]
struct Counts {
    lines: AtomicU64,
    bad: AtomicU64,
}

fn parse_chunk(data: &[u8], counts: &Counts) {
    let mut lines = 0u64;
    let mut bad = 0u64;
    SCRATCH.with(|s| {
        let (scratch, buffers) = &mut *s.borrow_mut();
        for line in data.split_inclusive(|&b| b == b'\n') {
            lines += 1;
            let content = line.strip_suffix(b"\n").unwrap_or(line);
            let content = content.strip_suffix(b"\r").unwrap_or(content);
            if content.is_empty() {
                continue;
            }
            scratch.clear();
            scratch.extend_from_slice(content);
            if simd_json::to_tape_with_buffers(scratch, buffers).is_err() {
                bad += 1;
            }
        }
    });
    counts.lines.fetch_add(lines, Ordering::Relaxed);
    counts.bad.fetch_add(bad, Ordering::Relaxed);
}

/// Fills `buf` (which may already hold a carried partial line) up to `CHUNK` bytes more;
/// returns false at the end of the file.
fn fill(file: &mut File, buf: &mut Vec<u8>) -> io::Result<bool> {
    let target = buf.len() + CHUNK;
    while buf.len() < target {
        let old = buf.len();
        buf.resize(target, 0);
        match file.read(&mut buf[old..]) {
            Ok(0) => {
                buf.truncate(old);
                return Ok(false);
            }
            Ok(n) => buf.truncate(old + n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => buf.truncate(old),
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn run(path: &str) -> io::Result<()> {
    let start = Instant::now();
    let mut file = File::open(path)?;
    let in_flight = rayon::current_num_threads() * 3;
    let counts = Arc::new(Counts::default());
    let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
    for _ in 0..in_flight {
        free_tx
            .send(Vec::with_capacity(CHUNK * 2))
            .expect("receiver alive");
    }
    let mut carry: Vec<u8> = Vec::new();
    let mut bytes = 0u64;
    let mut more = true;
    while more {
        let mut buf = free_rx.recv().expect("sender alive");
        buf.clear();
        buf.extend_from_slice(&carry);
        carry.clear();
        // A line longer than a chunk keeps this buffer growing until its end is in.
        loop {
            more = fill(&mut file, &mut buf)?;
            if !more || memchr_last(&buf).is_some() {
                break;
            }
        }
        let cut = if more {
            memchr_last(&buf).map_or(buf.len(), |i| i + 1)
        } else {
            buf.len()
        };
        carry.extend_from_slice(&buf[cut..]);
        buf.truncate(cut);
        bytes += buf.len() as u64;
        if buf.len() > CHUNK * 4 {
            // Don't keep a giant buffer for the rest of the run.
            buf.shrink_to(CHUNK * 2);
        }
        let tx = free_tx.clone();
        let counts = counts.clone();
        rayon::spawn(move || {
            parse_chunk(&buf, &counts);
            let _ = tx.send(buf);
        });
    }
    for _ in 0..in_flight {
        free_rx.recv().expect("sender alive");
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "lines {} invalid {} bytes {} seconds {:.3} GB/s {:.2} threads {}",
        counts.lines.load(Ordering::Relaxed),
        counts.bad.load(Ordering::Relaxed),
        bytes,
        secs,
        bytes as f64 / 1e9 / secs.max(1e-9),
        rayon::current_num_threads()
    );
    Ok(())
}

fn memchr_last(buf: &[u8]) -> Option<usize> {
    buf.iter().rposition(|&b| b == b'\n')
}

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: parse_ceiling FILE.jsonl");
        return ExitCode::from(2);
    };
    match run(&path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("parse_ceiling: {path}: {e}");
            ExitCode::from(2)
        }
    }
}
