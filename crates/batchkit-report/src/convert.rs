//! Printers for `batchkit convert`.
//!
//! JSON Lines: `{"type":"diagnostic",...}` per line left out (`unconvertible` with the
//! field's pointer, `invalid_custom_id`, syntax findings), then `{"type":"summary",...}`.
//! Human output prints the findings compiler-style and a short summary.

use std::io::{self, Write};

use batchkit_convert::{ConvertSink, ConvertSummary};
use batchkit_line::Diagnostic;
use serde::Serialize;

use crate::style::Style;

#[derive(Serialize)]
#[serde(tag = "type", rename = "summary")]
struct SummaryRecord<'a> {
    #[serde(flatten)]
    summary: &'a ConvertSummary,
    /// Every line converted.
    ok: bool,
}

/// The summary for people.
pub fn human_summary(w: &mut impl Write, x: &ConvertSummary, s: Style) -> io::Result<()> {
    writeln!(w)?;
    writeln!(
        w,
        "{} converted to {}, {} left out",
        crate::plural(x.converted, "line", "lines"),
        x.to,
        crate::thousands(x.left_out)
    )?;
    if x.max_tokens_added > 0 {
        writeln!(
            w,
            "  {} given an output cap (the target requires one)",
            crate::plural(x.max_tokens_added, "line", "lines")
        )?;
    }
    if x.ids_renamed > 0 {
        writeln!(
            w,
            "  {} renamed (the old ids are in the id map)",
            crate::plural(x.ids_renamed, "id", "ids")
        )?;
    }
    if x.written != x.converted {
        writeln!(
            w,
            "  {} written (the target takes one embedding input a line)",
            crate::plural(x.written, "line", "lines")
        )?;
    }
    if x.breakpoints_dropped > 0 {
        writeln!(
            w,
            "  {} dropped (the target caches on its own, or --cache none)",
            crate::plural(
                x.breakpoints_dropped,
                "cache breakpoint",
                "cache breakpoints"
            )
        )?;
    }
    if x.lines_cached > 0 {
        writeln!(
            w,
            "  {} given cache breakpoints where requests share a prefix",
            crate::plural(x.lines_cached, "line", "lines")
        )?;
    }
    for (k, n) in &x.dropped {
        writeln!(w, "  dropped {k}: {}", crate::plural(*n, "line", "lines"))?;
    }
    let verdict = if x.left_out == 0 {
        s.green("every line converted")
    } else {
        s.red("some lines were left out")
    };
    writeln!(w, "{verdict}")
}

/// Prints a conversion as it goes: its findings, then the summary. The conversion's sink.
pub struct ConvertPrinter<W: Write, E: Write> {
    w: crate::Writers<W, E>,
    json: bool,
    style: Style,
}

impl<W: Write, E: Write> ConvertPrinter<W, E> {
    /// `json`: JSON Lines, else human.
    pub fn new(w: crate::Writers<W, E>, json: bool, style: Style) -> Self {
        ConvertPrinter { w, json, style }
    }

    /// Prints the summary.
    pub fn summary(&mut self, s: &ConvertSummary) -> io::Result<()> {
        self.w.progress_done();
        if self.json {
            crate::join::json(
                &mut self.w.out,
                &SummaryRecord {
                    summary: s,
                    ok: s.left_out == 0,
                },
            )
        } else {
            human_summary(&mut self.w.out, s, self.style)
        }
    }

    /// Whether a finding was printed.
    pub fn problems(&self) -> bool {
        self.w.problems()
    }

    /// Flushes both writers.
    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

/// Writing to the printer writes to its output (the JSON `error` event of a failed run).
impl<W: Write, E: Write> Write for ConvertPrinter<W, E> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.w.progress_done();
        self.w.out.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.out.flush()
    }
}

impl<W: Write, E: Write> ConvertSink for ConvertPrinter<W, E> {
    fn finding(&mut self, file: &str, d: &Diagnostic) -> io::Result<()> {
        self.w.problem();
        if self.json {
            crate::diagnostic::DiagnosticEvent::of(file, d).print(&mut self.w.out)
        } else {
            crate::diagnostic::human(&mut self.w.out, &self.style, file, d)
        }
    }
}
