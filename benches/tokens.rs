//! Token counting throughput.
//!
//! `cargo bench --bench tokens` measures, on one thread, over about 4 MB of generated
//! multilingual chat text (English, code, numbers, German, French, Russian, Hebrew, Arabic,
//! Hindi, Japanese, emoji, whitespace runs):
//! - `count/o200k_base`, `count/cl100k_base`: `Encoding::count` with the memo warm, the
//!   steady state of a large batch file.
//! - `count_cold/o200k_base`: the same text in fresh, never-seen words (every word carries a
//!   distinct four-letter suffix), so the memo rarely hits and the byte-pair merge runs on
//!   most pieces.
//! - `count_request/chat`: `count_request` on chat lines (JSON parsing plus the cookbook
//!   rule plus counting), the per-line work of `batchkit tokens`.
//! - `traffic/count_request`, `traffic/count`: the same on about 4 MB of chat requests that
//!   look like real batch traffic (`scripts/gen_traffic.py`: 30% of conversations in Chinese,
//!   Japanese, Korean, Russian, Arabic or Hindi, emoji sequences, code, pasted JSON, URLs,
//!   shared system prompts), per request and over the message texts alone. The file is made
//!   with `python3` at start-up, or read from `$BATCHKIT_BENCH_TRAFFIC`; without either the
//!   group is skipped.

mod common;

use std::hint::black_box;
use std::time::Duration;

use batchkit_tokens::{count_request, Encoding};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use common::XorShift;

const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "you",
    "that",
    "it",
    "was",
    "for",
    "on",
    "are",
    "with",
    "tokenizer",
    "batch",
    "JSONL",
    "HTTP",
    "don't",
    "I'll",
    "we've",
    "they're",
    "Straße",
    "naïve",
    "café",
    "Übersetzung",
    "данные",
    "Привет",
    "мир",
    "ציון",
    "שלום",
    "مرحبا",
    "العربية",
    "हिन्दी",
    "नमस्ते",
    "東京",
    "日本語のテキスト",
    "データ",
    "中文",
    "한국어",
    "🙂",
    "🚀",
    "👍🏽",
    "½",
    "x²",
    "fn()",
    "{}",
    "=>",
    "!=",
    "0x1F",
    "3.14159",
    "1,000,000",
    "\n\n    ",
    "\n",
    "  ",
    "\t",
    "// comment",
    "<div>",
    "https://example.com/a/b",
];

/// About `bytes` bytes of text from `WORDS`; with `fresh`, every word gets its own suffix.
fn corpus(bytes: usize, fresh: bool) -> String {
    let mut out = String::with_capacity(bytes + 64);
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut n = 0u64;
    while out.len() < bytes {
        let x = rng.step();
        n += 1;
        out.push_str(WORDS[(x % WORDS.len() as u64) as usize]);
        if fresh {
            // Letters, so the word stays one piece that was never seen before.
            let mut m = n.wrapping_mul(7919);
            for _ in 0..4 {
                out.push(char::from(b'a' + (m % 26) as u8));
                m /= 26;
            }
        }
        out.push(' ');
    }
    out
}

fn bench_count(c: &mut Criterion) {
    let text = corpus(4 << 20, false);
    let fresh = corpus(4 << 20, true);
    let mut g = c.benchmark_group("count");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Bytes(text.len() as u64));
    for enc in [Encoding::O200kBase, Encoding::Cl100kBase] {
        enc.warm_up();
        g.bench_function(enc.name(), |b| b.iter(|| enc.count(black_box(&text))));
    }
    g.finish();

    let mut g = c.benchmark_group("count_cold");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Bytes(fresh.len() as u64));
    g.bench_function("o200k_base", |b| {
        b.iter(|| Encoding::O200kBase.count(black_box(&fresh)))
    });
    g.finish();
}

fn bench_request(c: &mut Criterion) {
    let text = corpus(1 << 20, false);
    let mut lines = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + 3000).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        let body = serde_json::json!({
            "custom_id": format!("r{}", lines.len()),
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {
                "model": if lines.len() % 3 == 0 { "gpt-4-turbo" } else { "gpt-4o-mini" },
                "messages": [
                    {"role": "system", "content": "You are a helpful assistant."},
                    {"role": "user", "content": &text[start..end]},
                ],
                "max_tokens": 512,
            },
        });
        lines.push(body.to_string());
        start = end;
    }
    let bytes: usize = lines.iter().map(String::len).sum();
    let mut g = c.benchmark_group("count_request");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("chat", |b| b.iter(|| count_lines(&lines)));
    g.finish();
}

/// Input tokens of request `lines` (0 for a line that cannot be counted).
fn count_lines(lines: &[String]) -> u64 {
    lines
        .iter()
        .map(|l| {
            count_request(black_box(l.as_bytes()), None).map_or(0, |c| c.input_tokens.unwrap_or(0))
        })
        .sum()
}

/// Lines of the traffic sample: `$BATCHKIT_BENCH_TRAFFIC`, or 4 MB from `gen_traffic.py`.
fn traffic_lines() -> Option<Vec<String>> {
    let text = match std::env::var_os("BATCHKIT_BENCH_TRAFFIC") {
        Some(path) => std::fs::read_to_string(path).expect("read $BATCHKIT_BENCH_TRAFFIC"),
        None => {
            let dir = tempfile::tempdir().ok()?;
            let out = dir.path().join("traffic.jsonl");
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/gen_traffic.py");
            let ok = std::process::Command::new("python3")
                .args([script.as_ref(), out.as_os_str()])
                .args(["--bytes", "4e6"])
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                eprintln!("traffic: no python3 to run {script}, group skipped");
                return None;
            }
            std::fs::read_to_string(&out).ok()?
        }
    };
    Some(text.lines().map(str::to_owned).collect())
}

fn bench_traffic(c: &mut Criterion) {
    let Some(lines) = traffic_lines() else { return };
    let bytes: usize = lines.iter().map(String::len).sum();
    // The message texts alone, with the model's encoding (all o200k in the generated file).
    let texts: Vec<(Encoding, String)> = lines
        .iter()
        .flat_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            let enc = batchkit_tokens::tokenizer_for(v["body"]["model"].as_str()).encoding;
            let msgs = v["body"]["messages"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            msgs.into_iter()
                .filter_map(move |m| m["content"].as_str().map(|s| (enc, s.to_owned())))
        })
        .collect();
    let text_bytes: usize = texts.iter().map(|(_, t)| t.len()).sum();
    Encoding::O200kBase.warm_up();
    let mut g = c.benchmark_group("traffic");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("count_request", |b| b.iter(|| count_lines(&lines)));
    g.throughput(Throughput::Bytes(text_bytes as u64));
    g.bench_function("count", |b| {
        b.iter(|| {
            texts
                .iter()
                .map(|(enc, t)| enc.count(black_box(t)))
                .sum::<u64>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_count, bench_request, bench_traffic);
criterion_main!(benches);
