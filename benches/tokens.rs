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

use std::hint::black_box;
use std::time::Duration;

use batchkit_tokens::{count_request, Encoding};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

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
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut n = 0u64;
    while out.len() < bytes {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
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
    g.bench_function("chat", |b| {
        b.iter(|| {
            lines
                .iter()
                .map(|l| {
                    count_request(black_box(l.as_bytes()), None)
                        .map_or(0, |c| c.input_tokens.unwrap_or(0))
                })
                .sum::<u64>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_count, bench_request);
criterion_main!(benches);
