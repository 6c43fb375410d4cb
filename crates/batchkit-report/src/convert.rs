//! Printers for `batchkit convert`.
//!
//! JSON Lines: `{"type":"diagnostic",...}` per line left out (`unconvertible` with the
//! field's pointer, `invalid_custom_id`, syntax findings), then `{"type":"summary",...}`.
//! Human output prints the findings compiler-style and a short summary. `convert --results`
//! prints the same findings and a summary of its own (`"results":true`, statuses as `join`
//! reads them, source layouts).

use std::io::{self, Write};

use batchkit_convert::{ConvertSink, ConvertSummary, ResultsSummary};
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
    /// Why the run stopped (`null`: it was done).
    error: Option<&'a crate::RunError>,
}

/// The keys of the summary besides `type`, `ok` and `error`, in order.
pub fn summary_keys() -> Vec<String> {
    crate::keys_of(&SummaryRecord {
        summary: &ConvertSummary::default(),
        ok: true,
        error: None,
    })
}

#[derive(Serialize)]
#[serde(tag = "type", rename = "summary")]
struct ResultsRecord<'a> {
    /// Result lines, not requests.
    results: bool,
    #[serde(flatten)]
    summary: &'a ResultsSummary,
    /// Every line converted.
    ok: bool,
    /// Why the run stopped (`null`: it was done).
    error: Option<&'a crate::RunError>,
}

/// The summary of a conversion of results, for people.
pub fn human_results_summary(w: &mut impl Write, x: &ResultsSummary, s: Style) -> io::Result<()> {
    writeln!(w)?;
    writeln!(
        w,
        "{} converted to OpenAI's batch output shape, {} left out",
        crate::plural(x.converted, "result line", "result lines"),
        crate::thousands(x.left_out)
    )?;
    if x.kept > 0 {
        writeln!(
            w,
            "  {} already in that shape, copied as they stand",
            crate::plural(x.kept, "line", "lines")
        )?;
    }
    if !x.layouts.is_empty() {
        let by: Vec<String> = x
            .layouts
            .iter()
            .map(|(k, n)| format!("{k} {}", crate::thousands(*n)))
            .collect();
        writeln!(w, "  read as: {}", by.join(", "))?;
    }
    let statuses: Vec<String> = batchkit_join::Status::ALL
        .iter()
        .filter_map(|st| {
            x.statuses
                .get(st.as_str())
                .map(|n| format!("{} {}", st.as_str(), crate::thousands(*n)))
        })
        .collect();
    if !statuses.is_empty() {
        writeln!(
            w,
            "  statuses (join's, before the answers are checked against their requests): {}",
            statuses.join(", ")
        )?;
    }
    if x.tool_calls > 0 {
        writeln!(
            w,
            "  {} calling tools (tool_calls)",
            crate::plural(x.tool_calls, "answer", "answers")
        )?;
    }
    let verdict = if x.left_out == 0 {
        s.green("every line converted")
    } else {
        s.red("some lines were left out")
    };
    writeln!(w, "{verdict}")
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
            let (out, error) = self.w.out_and_error();
            crate::join::json(
                out,
                &SummaryRecord {
                    summary: s,
                    ok: s.left_out == 0,
                    error,
                },
            )
        } else {
            human_summary(&mut self.w.out, s, self.style)
        }
    }

    /// Prints the summary of a conversion of results.
    pub fn results_summary(&mut self, s: &ResultsSummary) -> io::Result<()> {
        self.w.progress_done();
        if self.json {
            let (out, error) = self.w.out_and_error();
            crate::join::json(
                out,
                &ResultsRecord {
                    results: true,
                    summary: s,
                    ok: s.left_out == 0,
                    error,
                },
            )
        } else {
            human_results_summary(&mut self.w.out, s, self.style)
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
