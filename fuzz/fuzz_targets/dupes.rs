//! `find_dupes` against a naive model, with a tiny memory limit (the id set spills to disk)
//! and a large one (it never does).
//!
//! The first byte picks the mode:
//!
//! - even: the rest of the bytes are a small program that writes up to three input files of
//!   known lines (OpenAI-style `custom_id`s, Gemini `key`s, `\u` escapes, blank lines,
//!   garbage, non-string ids, lines over `max_line_bytes`, `\r\n`, a BOM, an unterminated
//!   last line). A naive ordered map over the same lines must give exactly the same
//!   duplicates, per-input totals and `--write-unique` output, at both limits.
//! - odd: the rest is one arbitrary file; both limits must agree with each other, the line
//!   count must be right, and `--write-unique` must give the same bytes at both limits.
#![no_main]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use batchkit_io::{Input, ReadOptions};
use batchkit_validate::{find_dupes, CollectDuplicates, DupesOptions, Duplicate, InputStats};
use libfuzzer_sys::fuzz_target;

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
const MAX_LINE: usize = 96;

fn dir() -> &'static PathBuf {
    common::dir("batchkit-fuzz-dupes-")
}

fn read_opts() -> ReadOptions {
    common::read_opts(MAX_LINE)
}

/// One line the model knows the id of.
struct Line {
    raw: Vec<u8>,
    id: Option<Vec<u8>>,
    blank: bool,
    oversized: bool,
}

fn id_text(n: u8) -> String {
    format!("id{}", n % 12)
}

/// Writes `n` as a JSON string body, escaping some characters as `\u` so the parser must
/// unescape them to find the same id.
fn json_str(s: &str, escape: bool) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if escape && i % 2 == 1 {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Interprets `prog` as lines of up to three files.
fn build(prog: &[u8]) -> Vec<Vec<Line>> {
    let mut files: Vec<Vec<Line>> = vec![Vec::new()];
    let mut it = prog.iter().copied();
    while let Some(op) = it.next() {
        let arg = it.next().unwrap_or(0);
        let term: &[u8] = if op & 0x80 != 0 { b"\r\n" } else { b"\n" };
        let push = |files: &mut Vec<Vec<Line>>, body: String, id: Option<String>| {
            let mut raw = body.into_bytes();
            raw.extend_from_slice(term);
            let content = raw.len() - term.len();
            files.last_mut().unwrap().push(Line {
                blank: raw[..content].iter().all(|b| b.is_ascii_whitespace()),
                oversized: content > MAX_LINE,
                id: id.map(String::into_bytes),
                raw,
            });
        };
        match op & 0x7f {
            0..=39 => {
                let id = id_text(arg);
                let body = format!(
                    r#"{{"custom_id":"{}","method":"POST","url":"/v1/chat/completions","body":{{}}}}"#,
                    json_str(&id, arg & 0x80 != 0)
                );
                push(&mut files, body, Some(id));
            }
            40..=54 => {
                let id = id_text(arg);
                let body = format!(
                    r#"{{"key":"{}","request":{{}}}}"#,
                    json_str(&id, arg & 0x80 != 0)
                );
                push(&mut files, body, Some(id));
            }
            55..=64 => {
                // Over the line limit: the reader never holds it, so no id.
                let body = format!(
                    r#"{{"custom_id":"{}","pad":"{}"}}"#,
                    id_text(arg),
                    "x".repeat(MAX_LINE + (arg as usize % 4))
                );
                push(&mut files, body, None);
            }
            65..=72 => push(&mut files, " \t".repeat(arg as usize % 3), None),
            73..=80 => push(&mut files, format!("not json {arg}"), None),
            81..=88 => push(&mut files, format!(r#"{{"custom_id":{arg}}}"#), None),
            89..=94 => push(
                &mut files,
                format!(r#"[{{"custom_id":"{}"}}]"#, id_text(arg)),
                None,
            ),
            95..=100 => {
                // A key that is not the id field of its style.
                let body = format!(r#"{{"key":"{}","body":{{}}}}"#, id_text(arg));
                push(&mut files, body, None);
            }
            101..=110 => {
                if files.len() < 3 {
                    files.push(Vec::new());
                }
            }
            111..=116 => {
                // Drop the last terminator: an unterminated last line (only if last).
                if it.len() == 0 {
                    if let Some(l) = files.last_mut().unwrap().last_mut() {
                        let cut = if l.raw.ends_with(b"\r\n") { 2 } else { 1 };
                        l.raw.truncate(l.raw.len() - cut);
                    }
                }
            }
            _ => {
                // A BOM in front of the first line of the current file.
                if let Some(l) = files.last_mut().unwrap().first_mut() {
                    if !l.raw.starts_with(b"\xEF\xBB\xBF") {
                        l.raw.splice(0..0, *b"\xEF\xBB\xBF");
                        let content = l.raw.len()
                            - if l.raw.ends_with(b"\r\n") {
                                2
                            } else if l.raw.ends_with(b"\n") {
                                1
                            } else {
                                0
                            };
                        // The BOM counts towards the line length but not its content.
                        l.oversized = content > MAX_LINE;
                        if l.oversized {
                            l.id = None;
                        }
                    }
                }
            }
        }
    }
    files
}

fn write_inputs(files: &[Vec<u8>]) -> Vec<Input> {
    files
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            let p = dir().join(format!("in-{i}.jsonl"));
            std::fs::write(&p, bytes).expect("write input");
            Input::path(&p)
        })
        .collect()
}

/// What `find_dupes` reported, its duplicates collected.
#[derive(Debug)]
struct Found {
    duplicates: Vec<Duplicate>,
    inputs: Vec<InputStats>,
    spilled: bool,
    unique_lines: Option<u64>,
}

fn dupes(
    inputs: &[Input],
    limit: u64,
    unique: bool,
) -> Result<(Found, Option<Vec<u8>>), batchkit_validate::ValidateError> {
    let out = dir().join("unique.jsonl");
    let _ = std::fs::remove_file(&out);
    let opts = DupesOptions {
        provider: None,
        temp_dir: Some(dir().clone()),
        write_unique: unique.then(|| out.clone()),
        partition: batchkit_io::part::Part::WHOLE,
    };
    let mut sink = CollectDuplicates::default();
    let read = ReadOptions {
        budget: batchkit_io::Budget::default().with_tables(limit),
        ..read_opts()
    };
    let report = find_dupes(inputs, &read, &opts, &mut sink)?;
    let duplicates = sink.0;
    assert_eq!(report.duplicate_ids, duplicates.len() as u64, "id count");
    assert_eq!(
        report.duplicate_lines,
        duplicates.iter().map(|d| d.lines.len() as u64 - 1).sum::<u64>(),
        "repeated line count"
    );
    let report = Found {
        duplicates,
        inputs: report.inputs,
        spilled: report.spilled,
        unique_lines: report.unique_lines,
    };
    let written = unique.then(|| std::fs::read(&out).expect("unique output written"));
    Ok((report, written))
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read temp dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("in-") && n != "unique.jsonl")
        .collect()
}

fn check_limits_agree(
    small: &Result<(Found, Option<Vec<u8>>), batchkit_validate::ValidateError>,
    big: &Result<(Found, Option<Vec<u8>>), batchkit_validate::ValidateError>,
) {
    match (small, big) {
        (Ok((s, su)), Ok((b, bu))) => {
            assert!(!b.spilled, "a 1 GiB limit spilled");
            assert_eq!(
                s.duplicates, b.duplicates,
                "duplicates depend on the memory limit"
            );
            assert_eq!(
                s.inputs, b.inputs,
                "input totals depend on the memory limit"
            );
            assert_eq!(
                s.unique_lines, b.unique_lines,
                "unique line count depends on the limit"
            );
            assert_eq!(su, bu, "--write-unique output depends on the memory limit");
        }
        (Err(_), Err(_)) => {}
        (s, b) => panic!(
            "one limit failed, the other did not: small {:?} / big {:?}",
            s.as_ref().err(),
            b.as_ref().err()
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&key, rest)) = data.split_first() else {
        return;
    };
    let small = [1u64, 64, 300, 1200][(key >> 1) as usize & 3];
    let unique = key & 0x10 != 0;

    if key & 1 == 1 {
        if rest.starts_with(&ZSTD_MAGIC) {
            return;
        }
        let inputs = write_inputs(&[rest.to_vec()]);
        let s = dupes(&inputs, small, unique);
        let b = dupes(&inputs, 1 << 30, unique);
        check_limits_agree(&s, &b);
        if let Ok((r, _)) = &b {
            let newlines = rest.iter().filter(|&&c| c == b'\n').count() as u64;
            let lines = newlines + u64::from(!rest.is_empty() && !rest.ends_with(b"\n"));
            assert_eq!(r.inputs[0].lines, lines, "line count");
            assert!(r.inputs[0].ids + r.inputs[0].without_id <= lines);
            for d in &r.duplicates {
                assert!(d.lines.len() >= 2, "a duplicate used once: {d:?}");
                assert!(
                    d.lines.windows(2).all(|w| w[0] < w[1]),
                    "lines out of order: {d:?}"
                );
                assert!(
                    d.lines.iter().all(|&l| (1..=lines).contains(&l)),
                    "line out of range: {d:?}"
                );
            }
        } else if !unique {
            panic!("find_dupes failed on a plain file: {:?}", b.err());
        }
        assert!(
            leftovers(dir()).is_empty(),
            "temporary files left: {:?}",
            leftovers(dir())
        );
        return;
    }

    let files = build(rest);
    let bytes: Vec<Vec<u8>> = files
        .iter()
        .map(|f| f.iter().flat_map(|l| l.raw.iter().copied()).collect())
        .collect();
    let inputs = write_inputs(&bytes);

    // The model: every id with its occurrences, groups ordered by first occurrence.
    let mut seen: BTreeMap<Vec<u8>, Vec<(u32, u64)>> = BTreeMap::new();
    let mut stats = Vec::new();
    let mut expect_unique = Vec::new();
    let mut unique_lines = 0u64;
    let any_oversized = files.iter().flatten().any(|l| l.oversized);
    for (fi, f) in files.iter().enumerate() {
        let mut st = InputStats {
            file: inputs[fi].name.clone(),
            lines: f.len() as u64,
            ids: 0,
            without_id: 0,
            too_large: 0,
            first_too_large: None,
            unreadable: None,
        };
        for (li, l) in f.iter().enumerate() {
            let mut keep = true;
            match &l.id {
                Some(id) => {
                    st.ids += 1;
                    let occ = seen.entry(id.clone()).or_default();
                    keep = occ.is_empty();
                    occ.push((fi as u32, li as u64 + 1));
                }
                None if l.oversized => {
                    st.too_large += 1;
                    st.first_too_large.get_or_insert(li as u64 + 1);
                }
                None if !l.blank => st.without_id += 1,
                None => {}
            }
            if keep {
                expect_unique.extend_from_slice(&l.raw);
                if !l.raw.ends_with(b"\n") {
                    expect_unique.push(b'\n');
                }
                unique_lines += 1;
            }
        }
        stats.push(st);
    }
    let mut expected: Vec<Duplicate> = seen
        .into_iter()
        .filter(|(_, occ)| occ.len() > 1)
        .map(|(id, occ)| Duplicate {
            custom_id: String::from_utf8(id).unwrap(),
            files: occ.iter().map(|o| o.0).collect(),
            lines: occ.iter().map(|o| o.1).collect(),
        })
        .collect();
    expected.sort_by_key(|d| (d.files[0], d.lines[0]));

    let s = dupes(&inputs, small, unique);
    let b = dupes(&inputs, 1 << 30, unique);
    check_limits_agree(&s, &b);
    for (what, r) in [("small", s), ("big", b)] {
        if unique && any_oversized {
            assert!(
                r.is_err(),
                "{what}: --write-unique copied a line it never held"
            );
            continue;
        }
        let (report, written) = r.unwrap_or_else(|e| panic!("{what}: find_dupes failed: {e}"));
        assert_eq!(report.duplicates, expected, "{what}: duplicates");
        assert_eq!(report.inputs, stats, "{what}: input totals");
        if unique {
            assert_eq!(
                report.unique_lines,
                Some(unique_lines),
                "{what}: unique line count"
            );
            assert!(
                written.as_deref() == Some(&expect_unique[..]),
                "{what}: --write-unique output\n got: {:?}\nwant: {:?}",
                written.map(|w| String::from_utf8_lossy(&w).into_owned()),
                String::from_utf8_lossy(&expect_unique)
            );
        }
    }
    assert!(
        leftovers(dir()).is_empty(),
        "temporary files left: {:?}",
        leftovers(dir())
    );
});
