//! Printers for `batchkit dupes`.
//!
//! JSON Lines: `{"type":"duplicate","custom_id":...,"lines":[3,47001],"files":["a.jsonl","a.jsonl"]}`
//! per duplicated id (ordered by first use), then `{"type":"summary",...}`.

use std::io::{self, Write};

use batchkit_validate::DupesReport;
use serde::{Deserialize, Serialize};

use crate::style::Style;

/// A duplicated id as printed in JSON.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DuplicateEvent {
    /// Always `"duplicate"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The id.
    pub custom_id: String,
    /// Line of each use, in input order; the first is the one `--write-unique` keeps.
    pub lines: Vec<u64>,
    /// File of each use (parallel to `lines`).
    pub files: Vec<String>,
}

/// The summary as printed in JSON.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DupesSummaryEvent {
    /// Always `"summary"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Inputs read.
    pub files: Vec<String>,
    /// Lines read.
    pub lines: u64,
    /// Lines with an id.
    pub ids: u64,
    /// Non-blank lines whose id could not be read.
    pub without_id: u64,
    /// Ids used more than once.
    pub duplicate_ids: u64,
    /// Lines repeating an earlier id.
    pub duplicate_lines: u64,
    /// Lines written by `--write-unique`.
    pub unique_lines: Option<u64>,
    /// Whether the id set was finished from disk.
    pub spilled: bool,
    /// No duplicates.
    pub ok: bool,
}

/// Prints a dupes report.
pub fn print(mut out: impl Write, r: &DupesReport, json: bool, style: Style) -> io::Result<()> {
    let name = |i: u32| {
        r.inputs
            .get(i as usize)
            .map(|s| s.file.clone())
            .unwrap_or_default()
    };
    let summary = DupesSummaryEvent {
        kind: "summary".into(),
        files: r.inputs.iter().map(|s| s.file.clone()).collect(),
        lines: r.inputs.iter().map(|s| s.lines).sum(),
        ids: r.inputs.iter().map(|s| s.ids).sum(),
        without_id: r.inputs.iter().map(|s| s.without_id).sum(),
        duplicate_ids: r.duplicates.len() as u64,
        duplicate_lines: r.duplicate_lines(),
        unique_lines: r.unique_lines,
        spilled: r.spilled,
        ok: r.duplicates.is_empty(),
    };
    if json {
        for d in &r.duplicates {
            let ev = DuplicateEvent {
                kind: "duplicate".into(),
                custom_id: d.custom_id.clone(),
                lines: d.lines.clone(),
                files: d.files.iter().map(|&f| name(f)).collect(),
            };
            serde_json::to_writer(&mut out, &ev)?;
            out.write_all(b"\n")?;
        }
        serde_json::to_writer(&mut out, &summary)?;
        out.write_all(b"\n")?;
    } else {
        let multi = r.inputs.len() > 1;
        for d in &r.duplicates {
            let places: Vec<String> = d
                .files
                .iter()
                .zip(&d.lines)
                .map(|(&f, l)| {
                    if multi {
                        format!("{}:{l}", name(f))
                    } else {
                        l.to_string()
                    }
                })
                .collect();
            writeln!(
                out,
                "{} {:?} used {} times: {} {}",
                style.red("duplicate"),
                d.custom_id,
                d.lines.len(),
                if multi { "at" } else { "on lines" },
                places.join(", ")
            )?;
        }
        let verdict = if summary.ok {
            style.green("no duplicate ids")
        } else {
            style.red("duplicates found")
        };
        writeln!(
            out,
            "{verdict}: {} ids on {} lines; {} ids used more than once, {} repeated lines{}",
            summary.ids,
            summary.lines,
            summary.duplicate_ids,
            summary.duplicate_lines,
            if summary.without_id > 0 {
                format!("; {} lines without an id", summary.without_id)
            } else {
                String::new()
            }
        )?;
        if let Some(n) = r.unique_lines {
            writeln!(out, "wrote {n} lines without later duplicates")?;
        }
    }
    out.flush()
}
