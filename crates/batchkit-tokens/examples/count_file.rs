//! Counts every request of a JSONL file on one thread and prints the total and the time:
//! a quick way to profile the counting path without the CLI.
//!
//! `cargo run --release -p batchkit-tokens --example count_file -- FILE`

use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1).expect("usage: count_file FILE");
    let data = std::fs::read(&path).expect("read the file");
    batchkit_tokens::Encoding::O200kBase.warm_up();
    batchkit_tokens::Encoding::Cl100kBase.warm_up();
    let start = Instant::now();
    let total: u64 = data
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| batchkit_tokens::count_request(l, None).map_or(0, |c| c.input_tokens.unwrap_or(0)))
        .sum();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{total} tokens, {secs:.3} s, {:.1} MB/s",
        data.len() as f64 / 1e6 / secs
    );
}
