//! Arbitrary bytes through the reader and `validate_file`.
//!
//! The bytes are written to a file as they are. The first byte also picks the id memory
//! limit (tiny ones force the id set to spill to disk) and, one time in four, a
//! zstd-compressed copy that must give the same findings. Invariants checked:
//!
//! - no panic, and a plain (not zstd) file never makes `validate_file` fail;
//! - `summary.bytes` is the input length and `summary.lines` the number of `\n` plus one
//!   for an unterminated last line;
//! - every line finding names a line in `1..=summary.lines` and that line's start offset;
//! - findings come in line order; after that only late `duplicate_id`s (found after the
//!   id set spilled, themselves in line order), then file-level findings (no line);
//! - `errors` / `warnings` / `ok` agree with the findings reported;
//! - the findings are the same with a large id memory limit (no spill) as with a tiny one.
#![no_main]

mod common;

use std::path::PathBuf;

use batchkit_io::{Input, ReadOptions};
use batchkit_validate::{validate_file, CheckOptions, Checker, Code, Diagnostic, FileSummary};
use libfuzzer_sys::fuzz_target;

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
const MAX_LINE: usize = 4096;

fn dir() -> &'static PathBuf {
    common::dir("batchkit-fuzz-validate-")
}

fn read_opts() -> ReadOptions {
    common::read_opts(MAX_LINE)
}

fn checker(id_memory_limit: u64) -> Checker {
    Checker::new(&CheckOptions {
        budget: batchkit_io::Budget::default().with_tables(id_memory_limit),
        max_line_bytes: MAX_LINE,
        ..Default::default()
    })
    .expect("default rules build")
}

fn run(
    limit: u64,
    name: &str,
    bytes: &[u8],
) -> Result<(Vec<Diagnostic>, FileSummary), batchkit_validate::ValidateError> {
    let path = dir().join(name);
    std::fs::write(&path, bytes).expect("write input");
    let mut diags = Vec::new();
    let summary = validate_file(
        &checker(limit),
        &Input::path(&path),
        &read_opts(),
        &mut |_: &str, d: &Diagnostic| {
            diags.push(d.clone());
            Ok::<bool, batchkit_validate::ValidateError>(true)
        },
    )?;
    Ok((diags, summary))
}

/// Byte offset of the start of each line of `data`.
fn line_starts(data: &[u8]) -> Vec<u64> {
    let mut starts = Vec::new();
    let mut at = 0usize;
    while at < data.len() {
        starts.push(at as u64);
        at = match data[at..].iter().position(|&b| b == b'\n') {
            Some(i) => at + i + 1,
            None => data.len(),
        };
    }
    starts
}

/// Checks that hold for any input; `starts` (line start offsets) when the bytes are known.
fn check_shape(diags: &[Diagnostic], summary: &FileSummary, starts: Option<&[u64]>) {
    // Line order, then late duplicates in line order, then file-level findings.
    let mut phase = 0; // 0: streamed, 1: late duplicates, 2: file-level
    let mut last = 0u64;
    for (i, d) in diags.iter().enumerate() {
        match d.line {
            None => {
                assert!(
                    d.offset.is_none(),
                    "file-level finding with an offset: {d:?}"
                );
                phase = 2;
            }
            Some(line) => {
                assert!(
                    (1..=summary.lines).contains(&line),
                    "finding #{i} on line {line}, input has {} lines: {d:?}",
                    summary.lines
                );
                if let Some(starts) = starts {
                    assert_eq!(
                        d.offset,
                        Some(starts[line as usize - 1]),
                        "finding #{i} has the wrong offset for line {line}: {d:?}"
                    );
                }
                assert!(
                    phase < 2,
                    "line finding #{i} after file-level findings: {d:?}"
                );
                if line < last {
                    assert_eq!(phase, 0, "findings out of line order at #{i}: {diags:#?}");
                    phase = 1;
                }
                if phase == 1 {
                    assert_eq!(
                        d.code,
                        Code::DuplicateId,
                        "out-of-order finding #{i} is not a late duplicate: {diags:#?}"
                    );
                }
                last = line;
                if d.code == Code::DuplicateId {
                    let first = d.first_line.expect("duplicate_id carries first_line");
                    assert!(first < line, "duplicate first seen on a later line: {d:?}");
                }
            }
        }
    }
    let errors = diags.iter().filter(|d| d.is_error()).count() as u64;
    let warnings = diags.len() as u64 - errors;
    assert_eq!(summary.errors, errors, "summary errors vs findings");
    assert_eq!(summary.warnings, warnings, "summary warnings vs findings");
    assert_eq!(summary.ok, errors == 0, "summary ok vs errors");
    assert!(summary.requests <= summary.lines);
}

fn sorted(diags: &[Diagnostic]) -> Vec<(Option<u64>, Code, Option<u64>)> {
    let mut v: Vec<_> = diags
        .iter()
        .map(|d| (d.line, d.code, d.first_line))
        .collect();
    v.sort();
    v
}

fuzz_target!(|data: &[u8]| {
    let key = data.first().copied().unwrap_or(0);
    let limit = match (key >> 2) & 3 {
        0 => 1,
        1 => 256,
        2 => 2048,
        _ => 64 << 10,
    };

    if data.starts_with(&ZSTD_MAGIC) {
        // The reader takes this for a zstd stream: it may fail, but must not panic, and
        // whatever it reports must be consistent.
        if let Ok((diags, summary)) = run(limit, "raw.zst", data) {
            check_shape(&diags, &summary, None);
        }
        return;
    }

    let (diags, summary) = run(limit, "in.jsonl", data).expect("a plain file validates");
    let newlines = data.iter().filter(|&&b| b == b'\n').count() as u64;
    let expected_lines = newlines + u64::from(!data.is_empty() && !data.ends_with(b"\n"));
    assert_eq!(summary.bytes, data.len() as u64, "summary bytes");
    assert_eq!(summary.lines, expected_lines, "summary lines");
    let starts = line_starts(data);
    assert_eq!(starts.len() as u64, expected_lines);
    check_shape(&diags, &summary, Some(&starts));

    // With room for every id nothing spills: same findings, all in line order.
    let (big_diags, big_summary) = run(1 << 30, "big.jsonl", data).expect("a plain file validates");
    check_shape(&big_diags, &big_summary, Some(&starts));
    assert_eq!(
        sorted(&diags),
        sorted(&big_diags),
        "findings depend on the id memory limit"
    );
    assert_eq!(
        (
            summary.lines,
            summary.bytes,
            summary.requests,
            summary.errors,
            summary.warnings
        ),
        (
            big_summary.lines,
            big_summary.bytes,
            big_summary.requests,
            big_summary.errors,
            big_summary.warnings
        ),
        "summary depends on the id memory limit"
    );

    if key & 3 == 0 {
        let z = zstd::encode_all(data, 1).expect("compress");
        let (zdiags, zsummary) = run(limit, "in.jsonl.zst", &z).expect("a zstd file validates");
        assert_eq!(zdiags, diags, "zstd copy gives other findings");
        assert_eq!(
            FileSummary {
                file: summary.file.clone(),
                ..zsummary
            },
            summary,
            "zstd copy gives another summary"
        );
    }
});
