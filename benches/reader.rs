//! Line framing throughput of the streaming reader.
//!
//! `cargo bench --bench reader` measures:
//! - `reader/run_count_lines`: `batchkit_io::run` over a 64 MB file (page-cached after the
//!   first pass) with a process closure that only counts lines: the cost of reading, cutting
//!   into chunks, the rayon hand-off and the in-order sink, with no work on the lines.
//! - `chunk/lines`: iterating `Chunk::lines()` over one 8 MB chunk (positions, terminators).
//! - `chunk/line_count`: `Chunk::line_count()` over the same chunk (memchr count, the floor).

mod common;

use std::hint::black_box;
use std::io::Write;
use std::time::Duration;

use batchkit_io::{Chunk, Input, ReadError, ReadOptions};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use common::{whole_chunk, XorShift};

/// JSONL of about `bytes` bytes with line lengths spread over 60 B–4 KB and a few CRLFs,
/// so framing sees both short and long lines.
fn corpus(bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes + 8192);
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let filler = "lorem ipsum dolor sit amet \\\"quoted\\\" caf\u{e9} \u{4f60}\u{597d} ".repeat(80);
    let mut n = 0u64;
    while out.len() < bytes {
        let x = rng.step();
        n += 1;
        let len = 40 + (x % 4000) as usize;
        let mut cut = len.min(filler.len());
        while !filler.is_char_boundary(cut) {
            cut -= 1;
        }
        write!(
            out,
            "{{\"custom_id\":\"req-{n}\",\"body\":\"{}\"}}",
            &filler[..cut]
        )
        .unwrap();
        out.extend_from_slice(if x % 50 == 7 { b"\r\n" } else { b"\n" });
    }
    out
}

fn bench_run(c: &mut Criterion) {
    let data = corpus(64 << 20);
    let expected = data.iter().filter(|&&b| b == b'\n').count() as u64;
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(&data).expect("write corpus");
    file.flush().expect("flush corpus");
    let input = Input::path(file.path());
    let opts = ReadOptions::default();

    let mut group = c.benchmark_group("reader");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("run_count_lines", |b| {
        b.iter(|| {
            let mut total = 0u64;
            let stats = batchkit_io::run(
                &input,
                &opts,
                |chunk: &Chunk| chunk.lines().count() as u64,
                |_chunk, n| -> Result<bool, ReadError> {
                    total += n;
                    Ok(true)
                },
            )
            .expect("read corpus");
            assert_eq!(total, expected);
            black_box(stats)
        })
    });
    group.finish();
}

fn bench_chunk(c: &mut Criterion) {
    let data = corpus(8 << 20);
    let expected = data.iter().filter(|&&b| b == b'\n').count();
    let chunk = whole_chunk(data);

    let mut group = c.benchmark_group("chunk");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Bytes(chunk.data.len() as u64));
    group.bench_function("lines", |b| {
        b.iter(|| {
            let mut n = 0usize;
            let mut content = 0usize;
            for line in black_box(&chunk).lines() {
                n += 1;
                content += line.content.len();
            }
            assert_eq!(n, expected);
            black_box(content)
        })
    });
    group.bench_function("line_count", |b| {
        b.iter(|| black_box(black_box(&chunk).line_count()))
    });
    group.finish();
}

criterion_group!(benches, bench_run, bench_chunk);
criterion_main!(benches);
