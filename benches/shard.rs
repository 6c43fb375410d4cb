//! The cutting hot path of `batchkit shard`.
//!
//! `cargo bench --bench shard` measures:
//! - `fit/plan_1m_lines`: the greedy fit rule alone ([`Fit::plan`]) over one million line
//!   measures against OpenAI's caps plus a token cap: the per-line cost of deciding cuts.
//! - `shard/jsonl_32mb`: the whole job ([`batchkit_shard::shard`]) on a 32 MB OpenAI file,
//!   page-cached, no fsync: read, validate, cut, hash and write (the runs of lines bound for
//!   one shard are written with one call per chunk).
//! - `shard/jsonl_32mb_split_by_model`: the same, with two models interleaved and
//!   `--split-by model` (lines alternate between two open shards).

mod common;

use std::hint::black_box;
use std::time::Duration;

use batchkit_io::{Input, ReadOptions};
use batchkit_shard::{shard, Caps, Fit, FsOutput, Hooks, Measure, ShardOptions, SplitBy};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use common::XorShift;

fn corpus(bytes: usize, models: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes + 4096);
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut n = 0usize;
    while out.len() < bytes {
        let x = rng.step();
        let pad = 100 + (x % 2000) as usize;
        let model = models[n % models.len()];
        out.extend_from_slice(
            format!(
                "{{\"custom_id\":\"req-{n}\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{{\"model\":\"{model}\",\"messages\":[{{\"role\":\"user\",\"content\":\"{}\"}}]}}}}\n",
                "lorem ipsum ".repeat(pad / 12)
            )
            .as_bytes(),
        );
        n += 1;
    }
    out
}

fn bench(c: &mut Criterion) {
    let fit = Fit {
        caps: Caps {
            max_requests: Some(50_000),
            max_bytes: Some(209_715_200),
            max_tokens: Some(20_000_000),
            max_embedding_inputs: Some(50_000),
        },
        overhead: 0,
    };
    let measures: Vec<Measure> = (0..1_000_000u64)
        .map(|i| Measure {
            bytes: 300 + (i * 7919) % 3000,
            tokens: 80 + (i * 31) % 700,
            embedding_inputs: 0,
        })
        .collect();
    let mut g = c.benchmark_group("fit");
    g.throughput(Throughput::Elements(measures.len() as u64));
    g.bench_function("plan_1m_lines", |b| {
        b.iter(|| black_box(fit.plan(black_box(&measures)).unwrap().len()))
    });
    g.finish();

    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one.jsonl");
    let two = dir.path().join("two.jsonl");
    std::fs::write(&one, corpus(32 << 20, &["gpt-4o"])).unwrap();
    std::fs::write(&two, corpus(32 << 20, &["gpt-4o", "gpt-4o-mini"])).unwrap();
    let no_sync = FsOutput { sync: false };
    let mut g = c.benchmark_group("shard");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Bytes(std::fs::metadata(&one).unwrap().len()));
    for (name, input, split) in [
        ("jsonl_32mb", &one, SplitBy::None),
        ("jsonl_32mb_split_by_model", &two, SplitBy::Model),
    ] {
        let mut run = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                run += 1;
                let mut o = ShardOptions::new(dir.path().join(format!("{name}-{run}")));
                o.split_by = split;
                o.caps.max_bytes = Some(8 << 20);
                o.read = ReadOptions::default();
                let rep = shard(
                    &Input::path(input),
                    &o,
                    &mut Hooks {
                        output: &no_sync,
                        ..Hooks::default()
                    },
                )
                .unwrap();
                std::fs::remove_dir_all(&o.out_dir).unwrap();
                black_box(rep.manifest.unwrap().shards.len())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
