//! `dupes` in two steps, for engines that run one task per input file and shuffle rows by
//! part (Ray Data, Spark): [`file_keys`] reads one input once and deals the key rows of its
//! lines with an id to the parts of `--partition` (the same [`Part::of`] of the decoded id),
//! with the input's totals and findings; [`part_duplicates`] takes every input's rows of one
//! part and finds that part's duplicated ids. The parts' groups, ordered by their first
//! occurrence ([`DupGroup::first`]), are the groups of one `dupes` run over all the inputs
//! in the same order, and the inputs' totals are its inputs' totals.
//!
//! A key row is `id length (u32) · decoded id bytes · input index (u32) · line (u64) ·
//! byte offset of the line (u64)`, integers little-endian, rows back to back in a blob:
//! 24 bytes plus the id per line with an id.
//!
//! Memory: [`file_keys`] holds the rows of its whole input (every part's blob) and the
//! reader's chunks; [`part_duplicates`] holds the blobs it is given and 24 bytes per row
//! to put them in input order, while the id set itself keeps to the limit it is given and
//! spills past it as `dupes` does.
//!
//! ```
//! use batchkit_io::{Input, ReadOptions};
//! use batchkit_validate::{file_keys, part_duplicates, Duplicate};
//! let dir = tempfile::tempdir().unwrap();
//! let (a, b) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
//! std::fs::write(&a, "{\"custom_id\":\"x\"}\n{\"custom_id\":\"y\"}\n").unwrap();
//! std::fs::write(&b, "{\"custom_id\":\"\\u0078\"}\n").unwrap();
//! let read = ReadOptions::default();
//! let n = 2;
//! let files = [
//!     file_keys(&Input::path(&a), 0, n, &read, None).unwrap(),
//!     file_keys(&Input::path(&b), 1, n, &read, None).unwrap(),
//! ];
//! let mut found = Vec::new();
//! for k in 0..n as usize {
//!     let blobs: Vec<&[u8]> = files.iter().map(|f| f.parts[k].as_slice()).collect();
//!     let mut dups = part_duplicates(&blobs, 1 << 20, None).unwrap();
//!     while let Some(mut g) = dups.next_group().unwrap() {
//!         found.push(Duplicate::read(&mut g).unwrap());
//!     }
//! }
//! assert_eq!(found.len(), 1);
//! assert_eq!((found[0].custom_id.as_str(), &found[0].files[..], &found[0].lines[..]),
//!     ("x", &[0, 1][..], &[1, 1][..]));
//! ```

use std::io;
use std::path::PathBuf;

use batchkit_io::part::Part;
use batchkit_io::{Input, ReadOptions};

use crate::dupes::{extract_ids, id_style, DupesReport, InputStats, MAX_PROBLEMS};
use crate::ids::{DupGroup, Dups, IdIndex, Occurrence, Track};
use crate::{Diagnostic, ValidateError};

/// Bytes of a key row besides its id.
pub const ROW_OVERHEAD: usize = 4 + 4 + 8 + 8;

/// One line with an id, as a key row holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRow<'a> {
    /// The decoded id.
    pub id: &'a [u8],
    /// Index of the input among those of the run.
    pub file: u32,
    /// 1-based line number.
    pub line: u64,
    /// Byte offset of the line's start (in the decompressed stream).
    pub offset: u64,
}

impl KeyRow<'_> {
    /// Appends this row to a blob.
    pub fn write_to(&self, blob: &mut Vec<u8>) {
        // Ids come from lines held in a chunk, far below 4 GiB.
        let len = u32::try_from(self.id.len()).unwrap_or(u32::MAX);
        blob.extend_from_slice(&len.to_le_bytes());
        blob.extend_from_slice(&self.id[..len as usize]);
        blob.extend_from_slice(&self.file.to_le_bytes());
        blob.extend_from_slice(&self.line.to_le_bytes());
        blob.extend_from_slice(&self.offset.to_le_bytes());
    }
}

/// The rows of a blob, in order; a blob cut short or not made of rows is an error (never a
/// panic).
pub fn key_rows(blob: &[u8]) -> impl Iterator<Item = io::Result<KeyRow<'_>>> + '_ {
    let mut rest = blob;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let row = take_row(rest);
        match row {
            Ok((r, tail)) => {
                rest = tail;
                Some(Ok(r))
            }
            Err(e) => {
                rest = &[];
                Some(Err(e))
            }
        }
    })
}

fn take_row(b: &[u8]) -> io::Result<(KeyRow<'_>, &[u8])> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "a key row is cut short");
    let (len, b) = b.split_first_chunk::<4>().ok_or_else(bad)?;
    let len = u32::from_le_bytes(*len) as usize;
    if b.len() < len + ROW_OVERHEAD - 4 {
        return Err(bad());
    }
    let (id, b) = b.split_at(len);
    let (file, b) = b.split_first_chunk::<4>().ok_or_else(bad)?;
    let (line, b) = b.split_first_chunk::<8>().ok_or_else(bad)?;
    let (offset, b) = b.split_first_chunk::<8>().ok_or_else(bad)?;
    let row = KeyRow {
        id,
        file: u32::from_le_bytes(*file),
        line: u64::from_le_bytes(*line),
        offset: u64::from_le_bytes(*offset),
    };
    Ok((row, b))
}

/// What [`file_keys`] read of one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileKeys {
    /// One blob per part (index = part): the key rows of the input's lines whose id is in
    /// that part, in line order.
    pub parts: Vec<Vec<u8>>,
    /// The input's totals, as a `dupes` run over it counts them (every line, whatever its
    /// part); `unreadable` when reading it failed (the rows read until then are kept, as
    /// the run keeps them).
    pub stats: InputStats,
    /// Why lines had no id: the first of the input, as many as a run keeps (`MAX_PROBLEMS`).
    pub problems: Vec<Diagnostic>,
}

impl FileKeys {
    /// The report of a `dupes` run over this input alone, without its duplicates: what a
    /// printer needs to print this input's findings and file record as that run would.
    pub fn report(&self) -> DupesReport {
        DupesReport {
            inputs: vec![self.stats.clone()],
            duplicate_ids: 0,
            duplicate_lines: 0,
            spilled: false,
            unique_lines: None,
            problems: self.problems.iter().map(|d| (0, d.clone())).collect(),
        }
    }

    /// Key rows in all parts.
    pub fn rows(&self) -> u64 {
        self.stats.ids
    }
}

/// Reads `input` (input `file_index` of the run) once and deals the key rows of its lines
/// with an id to `n_parts` parts, by the part of `--partition K/N` with N = `n_parts`.
/// `provider` says which id field, as in [`crate::DupesOptions::provider`]. An input that
/// cannot be read is not an error here: its `stats.unreadable` says why, as a run reports it.
pub fn file_keys(
    input: &Input,
    file_index: u32,
    n_parts: u32,
    read: &ReadOptions,
    provider: Option<&str>,
) -> Result<FileKeys, ValidateError> {
    let n = Part::new(0, n_parts)
        .map_err(|e| ValidateError::Io {
            context: "key rows".into(),
            source: io::Error::new(io::ErrorKind::InvalidInput, e),
        })?
        .n();
    let style = id_style(provider)?;
    let mut parts = vec![Vec::new(); n as usize];
    let mut problems = Vec::new();
    let mut st = InputStats::new(&input.name);
    let mut seen = 0u64;
    let rs = batchkit_io::run(
        input,
        read,
        |chunk| extract_ids(chunk, style, &read.budget),
        |_, ids| -> Result<bool, ValidateError> {
            let room = MAX_PROBLEMS.saturating_sub(problems.len());
            problems.extend(ids.problems.iter().take(room).cloned());
            seen += ids.items.len() as u64;
            for (k, &(line, offset, _, _)) in ids.items.iter().enumerate() {
                if let Some(id) = st.count(&ids, k) {
                    let row = KeyRow {
                        id,
                        file: file_index,
                        line,
                        offset,
                    };
                    row.write_to(&mut parts[Part::of(id, n) as usize]);
                }
            }
            Ok(true)
        },
    );
    match rs {
        Ok(rs) => st.lines = rs.lines,
        Err(ValidateError::Read(e)) => {
            st.lines = seen;
            st.unreadable = Some(e.to_string());
        }
        Err(e) => return Err(e),
    }
    Ok(FileKeys {
        parts,
        stats: st,
        problems,
    })
}

/// The duplicated ids among the key rows of one part, from every input's blob of that part
/// (in any order): ids compared by their bytes, groups streamed by [`Dups::next_group`] in
/// order of first occurrence, each with its occurrences in input order. The id set keeps to
/// `limit` bytes and spills past it into `temp_dir` (the system temp dir when `None`).
/// Blobs that are not key rows, or that give a line twice, are an error.
pub fn part_duplicates(
    blobs: &[&[u8]],
    limit: u64,
    temp_dir: Option<PathBuf>,
) -> Result<Dups, ValidateError> {
    let corrupt = |msg: String| ValidateError::Io {
        context: "key rows".into(),
        source: io::Error::new(io::ErrorKind::InvalidData, msg),
    };
    // (input, line, offset, blob, id start, id length): the run inserts ids in input order.
    let mut order: Vec<(u32, u64, u64, u32, usize, u32)> = Vec::new();
    for (b, blob) in blobs.iter().enumerate() {
        for row in key_rows(blob) {
            let row = row.map_err(|e| corrupt(format!("blob {b}: {e}")))?;
            let start = row.id.as_ptr() as usize - blob.as_ptr() as usize;
            order.push((
                row.file,
                row.line,
                row.offset,
                b as u32,
                start,
                row.id.len() as u32,
            ));
        }
    }
    order.sort_unstable_by_key(|r| (r.0, r.1));
    if let Some(w) = order
        .windows(2)
        .find(|w| (w[0].0, w[0].1) == (w[1].0, w[1].1))
    {
        return Err(corrupt(format!(
            "input {} line {} is in the key rows twice",
            w[0].0, w[0].1
        )));
    }
    let mut index = IdIndex::new(limit, temp_dir, Track::All);
    for (file, line, offset, b, start, len) in order {
        let id = &blobs[b as usize][start..start + len as usize];
        index
            .insert(id, Occurrence { file, line, offset })
            .map_err(ValidateError::io("spilling ids"))?;
    }
    index
        .finish(false)
        .map_err(ValidateError::io("reading spilled ids"))
}

/// Where a group goes among the groups of all parts: its first occurrence (input, line).
pub fn sort_key(g: &DupGroup<'_>) -> (u32, u64) {
    g.first()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{find_dupes, CollectDuplicates, DupesOptions, Duplicate};

    fn req(id_literal: &str) -> String {
        format!(
            r#"{{"custom_id":{id_literal},"method":"POST","url":"/v1/chat/completions","body":{{"model":"gpt-4o","messages":[]}}}}"#
        )
    }

    /// Three inputs: ids repeated across them, `A` once only as `\u0041`, lines without an
    /// id, blank lines, CRLF line ends.
    fn inputs(dir: &std::path::Path) -> Vec<Input> {
        let a = [
            req(r#""A""#),
            req(r#""k1""#),
            String::new(),
            r#"{"body":{}}"#.to_string(),
            req(r#""k2""#),
            req(r#""k1""#),
        ]
        .join("\n")
            + "\n";
        let b = [
            req(r#""k2""#),
            "{not json".to_string(),
            req(r#""\u0041""#),
            String::new(),
            req(r#""solo""#),
        ]
        .join("\r\n")
            + "\r\n";
        let c = [req(r#""k1""#), req("7"), req(r#""other""#)].join("\n");
        let mut out = Vec::new();
        for (name, text) in [("a.jsonl", a), ("b.jsonl", b), ("c.jsonl", c)] {
            let p = dir.join(name);
            std::fs::write(&p, text).unwrap();
            out.push(Input::path(&p));
        }
        out
    }

    /// Every input's keys, dealt by part, then every part's groups merged by first
    /// occurrence.
    /// With `limit` 1 every part's id set spills (and the groups come from disk).
    fn by_parts(inputs: &[Input], n: u32, limit: u64) -> (Vec<FileKeys>, Vec<Duplicate>, u64, u64) {
        let read = ReadOptions::default();
        let files: Vec<FileKeys> = (inputs.iter().enumerate())
            .map(|(i, input)| file_keys(input, i as u32, n, &read, None).unwrap())
            .collect();
        let mut groups = Vec::new();
        let (mut ids, mut lines) = (0, 0);
        for k in 0..n as usize {
            // Blobs in reverse input order: the order they arrive in must not matter.
            let blobs: Vec<&[u8]> = files.iter().rev().map(|f| f.parts[k].as_slice()).collect();
            let mut dups = part_duplicates(&blobs, limit, None).unwrap();
            assert_eq!(
                dups.spilled(),
                limit == 1 && !blobs.iter().all(|b| b.is_empty())
            );
            ids += dups.ids();
            lines += dups.repeated();
            while let Some(mut g) = dups.next_group().unwrap() {
                groups.push((sort_key(&g), Duplicate::read(&mut g).unwrap()));
            }
        }
        groups.sort_by_key(|g| g.0);
        let groups = groups.into_iter().map(|g| g.1).collect();
        (files, groups, ids, lines)
    }

    #[test]
    fn parts_find_what_one_run_finds() {
        let dir = tempfile::tempdir().unwrap();
        let inputs = inputs(dir.path());
        // Written out by hand from the files above.
        let want = vec![
            Duplicate {
                custom_id: "A".into(),
                files: vec![0, 1],
                lines: vec![1, 3],
            },
            Duplicate {
                custom_id: "k1".into(),
                files: vec![0, 0, 2],
                lines: vec![2, 6, 1],
            },
            Duplicate {
                custom_id: "k2".into(),
                files: vec![0, 1],
                lines: vec![5, 1],
            },
        ];
        let mut whole = CollectDuplicates::default();
        let report = find_dupes(
            &inputs,
            &ReadOptions::default(),
            &DupesOptions::default(),
            &mut whole,
        )
        .unwrap();
        assert_eq!(whole.0, want);
        for (n, limit) in [
            (1, 1 << 20),
            (2, 1 << 20),
            (4, 1 << 20),
            (7, 1 << 20),
            (1, 1),
            (3, 1),
        ] {
            let (files, groups, ids, lines) = by_parts(&inputs, n, limit);
            assert_eq!(groups, want, "n = {n}");
            assert_eq!((ids, lines), (3, 4), "n = {n}");
            assert_eq!((ids, lines), (report.duplicate_ids, report.duplicate_lines));
            let stats: Vec<InputStats> = files.iter().map(|f| f.stats.clone()).collect();
            assert_eq!(stats, report.inputs, "n = {n}");
            let problems: Vec<(usize, Diagnostic)> = (files.iter().enumerate())
                .flat_map(|(i, f)| f.problems.iter().map(move |d| (i, d.clone())))
                .collect();
            assert_eq!(problems, report.problems, "n = {n}");
            // Every line with an id has exactly one row, in the part its id hashes to.
            for f in &files {
                let rows: Vec<KeyRow<'_>> = (f.parts.iter().enumerate())
                    .flat_map(|(k, b)| {
                        key_rows(b).map(move |r| {
                            let r = r.unwrap();
                            assert_eq!(Part::of(r.id, n), k as u32);
                            r
                        })
                    })
                    .collect();
                assert_eq!(rows.len() as u64, f.rows());
            }
        }
        let b = &by_parts(&inputs, 1, 1 << 20).0[1];
        assert_eq!(
            (b.stats.lines, b.stats.ids, b.stats.without_id),
            (5, 3, 1),
            "a blank line is counted, not a line without an id"
        );
        // CRLF: the offsets are those of the line starts, the `\r` in the line before.
        let rows: Vec<KeyRow<'_>> = key_rows(&b.parts[0]).map(Result::unwrap).collect();
        let first = req(r#""k2""#).len() as u64 + 2;
        assert_eq!((rows[0].line, rows[0].offset), (1, 0));
        assert_eq!(rows[1].id, b"A");
        assert_eq!((rows[1].line, rows[1].offset), (3, first + 11));
    }

    #[test]
    fn bad_blobs_are_errors() {
        let mut blob = Vec::new();
        KeyRow {
            id: b"x",
            file: 0,
            line: 1,
            offset: 0,
        }
        .write_to(&mut blob);
        let cut = &blob[..blob.len() - 1];
        assert!(part_duplicates(&[cut], 1 << 20, None).is_err());
        assert!(part_duplicates(&[&[255, 255, 255, 255, 0]], 1 << 20, None).is_err());
        // The same line twice (a blob given twice) is not a duplicate id.
        let e = part_duplicates(&[&blob, &blob], 1 << 20, None)
            .err()
            .unwrap();
        assert!(e.to_string().contains("twice"), "{e}");
        assert_eq!(part_duplicates(&[&blob], 1 << 20, None).unwrap().ids(), 0);
    }

    #[test]
    fn an_unreadable_input_is_reported_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let missing = Input::path(dir.path().join("missing.jsonl"));
        let f = file_keys(&missing, 0, 3, &ReadOptions::default(), None).unwrap();
        assert!(f.stats.unreadable.is_some());
        assert_eq!(f.parts.len(), 3);
        assert!(f.parts.iter().all(Vec::is_empty));
        assert!(file_keys(&missing, 0, 0, &ReadOptions::default(), None).is_err());
    }
}
