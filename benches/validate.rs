//! Parse + check throughput of `validate`'s per-line work, and the ordered cross-line checks.
//!
//! `cargo bench --bench validate` measures, over one 8 MB chunk of OpenAI chat requests:
//! - `validate/check_chunk`: simd-json parsing and every per-line check (what runs in parallel);
//! - `validate/check_and_observe`: the same plus duplicate, url and model checks in order.

mod common;

use std::hint::black_box;
use std::time::Duration;

use batchkit_io::Chunk;
use batchkit_validate::{CheckOptions, Checker, FileChecker};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use common::{whole_chunk, XorShift};

fn chunk(bytes: usize) -> Chunk {
    let mut data = Vec::with_capacity(bytes + 4096);
    let words = [
        "hello",
        "мир",
        "世界",
        "مرحبا",
        "🎉",
        "\\\"quoted\\\"",
        "line\\nbreak",
        "café",
    ];
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let mut n = 0;
    while data.len() < bytes {
        let x = rng.step();
        n += 1;
        let len = 5 + (x % 300) as usize;
        let text: Vec<&str> = (0..len).map(|i| words[(i + n) % words.len()]).collect();
        data.extend_from_slice(
            format!(
                "{{\"custom_id\":\"req-{n}\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{{\"model\":\"gpt-4o-mini\",\"messages\":[{{\"role\":\"system\",\"content\":\"Be brief.\"}},{{\"role\":\"user\",\"content\":\"{}\"}}],\"max_tokens\":{}}}}}\n",
                text.join(" "),
                x % 2000
            )
            .as_bytes(),
        );
    }
    whole_chunk(data)
}

fn bench(c: &mut Criterion) {
    let chunk = chunk(8 << 20);
    let checker = Checker::new(&CheckOptions::default()).unwrap();
    let mut g = c.benchmark_group("validate");
    g.throughput(Throughput::Bytes(chunk.data.len() as u64));
    g.sample_size(10).measurement_time(Duration::from_secs(4));
    g.bench_function("check_chunk", |b| {
        b.iter(|| black_box(checker.check_chunk(&chunk).len()))
    });
    g.bench_function("check_and_observe", |b| {
        b.iter(|| {
            let mut fc = FileChecker::new(&checker, "bench");
            let mut errors = 0;
            for mut r in checker.check_chunk(&chunk) {
                fc.observe(&mut r).unwrap();
                errors += r.diagnostics.len();
            }
            black_box(errors)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
