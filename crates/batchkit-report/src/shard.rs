//! Printers for `batchkit shard`.
//!
//! JSON Lines: one `{"type":"shard",...}` per shard written (the manifest entry), then
//! `{"type":"summary",...}`. Findings come before, printed by
//! [`crate::validate::DiagnosticPrinter`]. Human: a table of the shards and one line of
//! totals, or why nothing was written.

use std::io::{self, Write};
use std::path::Path;

use batchkit_io::format_size;
use batchkit_shard::{Refusal, ShardInfo, ShardReport};
use serde::Serialize;

use crate::style::Style;

/// One shard as printed in JSON: the manifest entry.
#[derive(Serialize)]
#[serde(tag = "type", rename = "shard")]
struct ShardRecord<'a> {
    #[serde(flatten)]
    shard: &'a ShardInfo,
}

/// The keys of the summary besides `type`, `ok` and `error`.
pub const SUMMARY_KEYS: &[&str] = &[
    "file",
    "out_dir",
    "provider",
    "written",
    "refused",
    "lines",
    "bytes",
    "shards",
    "requests",
    "rejected",
    "invalid_lines",
    "errors",
    "warnings",
];

/// The last line of JSON output: what the run read and wrote, from the library's
/// [`ShardReport`] and its manifest.
#[derive(Serialize)]
#[serde(tag = "type", rename = "summary")]
struct SummaryRecord<'a> {
    /// Input name.
    file: &'a str,
    /// Output directory.
    out_dir: String,
    /// Provider whose rules applied.
    provider: Option<&'a str>,
    /// Whether the shards and manifest were written.
    written: bool,
    /// `invalid_lines` or `late_duplicates` when nothing was written.
    refused: Option<&'static str>,
    /// Lines read.
    lines: u64,
    /// Bytes read.
    bytes: u64,
    /// Shards written.
    shards: u64,
    /// Requests in the shards.
    requests: u64,
    /// Lines written to rejected.jsonl.
    rejected: u64,
    invalid_lines: u64,
    errors: u64,
    warnings: u64,
    /// No problems found.
    ok: bool,
    /// Why the run stopped (`null`: it was done).
    error: Option<&'a crate::RunError>,
}

impl<'a> SummaryRecord<'a> {
    /// The summary of a run.
    fn of(r: &'a ShardReport, file: &'a str, out_dir: &Path) -> Self {
        let m = r.manifest.as_ref();
        SummaryRecord {
            file,
            out_dir: out_dir.display().to_string(),
            provider: r.provider.as_deref(),
            written: m.is_some(),
            refused: r.refusal.as_ref().map(|x| match x {
                Refusal::InvalidLines(_) => "invalid_lines",
                Refusal::LateDuplicates(_) => "late_duplicates",
            }),
            lines: r.stats.lines,
            bytes: r.stats.bytes,
            shards: m.map_or(0, |m| m.shards.len() as u64),
            requests: m.map_or(0, |m| m.shards.iter().map(|s| s.requests).sum()),
            rejected: m.and_then(|m| m.rejected.as_ref()).map_or(0, |x| x.lines),
            invalid_lines: r.invalid_lines,
            errors: r.errors,
            warnings: r.warnings,
            ok: !r.has_problems(),
            error: None,
        }
    }
}

/// Prints the result of one run.
pub fn print(
    mut out: impl Write,
    json: bool,
    style: Style,
    r: &ShardReport,
    file: &str,
    out_dir: &Path,
) -> io::Result<()> {
    let sum = SummaryRecord::of(r, file, out_dir);
    if json {
        if let Some(m) = &r.manifest {
            for s in &m.shards {
                serde_json::to_writer(&mut out, &ShardRecord { shard: s })?;
                out.write_all(b"\n")?;
            }
        }
        serde_json::to_writer(&mut out, &sum)?;
        out.write_all(b"\n")?;
        return out.flush();
    }
    let Some(m) = &r.manifest else {
        let why = match &r.refusal {
            Some(Refusal::LateDuplicates(n)) => format!(
                "{n} duplicate ids found only after the id set spilled to disk; deduplicate first \
                 (`batchkit dupes --write-unique`) or raise --memory-limit"
            ),
            _ => format!(
                "{}; pass --skip-invalid to write them to {} and shard the rest",
                crate::plural(r.invalid_lines, "invalid line", "invalid lines"),
                out_dir.join(batchkit_shard::REJECTED).display()
            ),
        };
        writeln!(
            out,
            "{}: {} nothing written: {why}",
            file,
            style.red("refused:")
        )?;
        return out.flush();
    };
    let caps = &m.caps;
    let mut c = Vec::new();
    if let Some(n) = caps.max_requests {
        c.push(format!("{n} requests"));
    }
    if let Some(n) = caps.max_bytes {
        c.push(format!("{n} bytes ({})", format_size(n)));
    }
    if let Some(n) = caps.max_tokens {
        c.push(format!("{n} input tokens"));
    }
    if let Some(n) = caps.max_embedding_inputs {
        c.push(format!("{n} embedding inputs"));
    }
    let caps = if c.is_empty() {
        "none".to_string()
    } else {
        c.join(", ")
    };
    writeln!(
        out,
        "{} {file} -> {}/ ({}; caps per shard: {caps})",
        style.bold("shard"),
        out_dir.display(),
        m.provider.as_deref().unwrap_or("unknown format")
    )?;
    let tokens = m.shards.iter().any(|s| s.input_tokens.is_some());
    let width = m
        .shards
        .iter()
        .map(|s| s.file.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let tok_head = if tokens {
        format!(" {:>12}", "tokens")
    } else {
        String::new()
    };
    writeln!(
        out,
        "  {:<width$} {:>9} {:>12}{tok_head}  lines",
        style.bold("file"),
        "requests",
        "bytes"
    )?;
    for s in &m.shards {
        let tok = match (tokens, s.input_tokens) {
            (true, Some(t)) => format!(" {t:>12}"),
            (true, None) => format!(" {:>12}", "-"),
            _ => String::new(),
        };
        writeln!(
            out,
            "  {:<width$} {:>9} {:>12}{tok}  {}-{}",
            s.file,
            s.requests,
            format_size(s.bytes),
            s.first_line,
            s.last_line
        )?;
    }
    let rejected = match &m.rejected {
        Some(x) => style.yellow(&format!(
            "; {} in {}",
            crate::plural(x.lines, "invalid line", "invalid lines"),
            out_dir.join(&x.file).display()
        )),
        None => String::new(),
    };
    writeln!(
        out,
        "{} {}, {}, {}{rejected}; manifest: {}",
        if r.has_problems() {
            style.yellow("done:")
        } else {
            style.green("done:")
        },
        crate::plural(sum.shards, "shard", "shards"),
        crate::plural(sum.requests, "request", "requests"),
        format_size(m.shards.iter().map(|s| s.bytes).sum()),
        out_dir.join(batchkit_shard::MANIFEST).display()
    )?;
    out.flush()
}
