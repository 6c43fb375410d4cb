//! Printers for `batchkit validate` (and the diagnostics other commands share with it).
//!
//! JSON Lines: one `{"type":"diagnostic",...}` object per finding, one `{"type":"file",...}`
//! record as each file is done, then one `{"type":"summary",...}` for the run.
//! Human: compiler-style `error[code]: message` / `  --> file:line`.

use std::io::{self, Write};

use serde::Serialize;

use batchkit_validate::{Diagnostic, FileSummary, Sink};

use crate::style::Style;

pub use crate::diagnostic::{human, DiagnosticEvent};

/// "3 lines, 2 requests" of a human summary.
fn lines_requests(lines: u64, requests: u64) -> String {
    format!(
        "{}, {}",
        crate::plural(lines, "line", "lines"),
        crate::plural(requests, "request", "requests")
    )
}

/// "1 error, 0 warnings" of a human summary.
fn errors_warnings(errors: u64, warnings: u64) -> String {
    format!(
        "{}, {}",
        crate::plural(errors, "error", "errors"),
        crate::plural(warnings, "warning", "warnings")
    )
}

/// The keys of the summary besides `type`, `ok` and `error`.
pub const SUMMARY_KEYS: &[&str] = &[
    "files",
    "provider",
    "candidates",
    "lines",
    "requests",
    "bytes",
    "errors",
    "warnings",
];

/// `{"type":"file",...}`: one file validated.
#[derive(Serialize)]
struct FileRecord<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    file: &'a str,
    provider: Option<&'a str>,
    candidates: &'a [String],
    lines: u64,
    requests: u64,
    bytes: u64,
    errors: u64,
    warnings: u64,
    ok: bool,
}

/// `{"type":"summary",...}`: the run (every key of [`SUMMARY_KEYS`]).
#[derive(Serialize)]
struct SummaryRecord<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    files: u64,
    provider: Option<&'a str>,
    candidates: &'a [String],
    lines: u64,
    requests: u64,
    bytes: u64,
    errors: u64,
    warnings: u64,
    ok: bool,
    error: Option<&'a crate::RunError>,
}

/// Prints findings and summaries in one of the two formats: the sink of `validate` (and
/// of `shard`'s findings).
pub struct DiagnosticPrinter<W: Write, E: Write> {
    w: crate::Writers<W, E>,
    json: bool,
    style: Style,
    max: Option<u64>,
    printed: u64,
    hidden: u64,
}

impl<W: Write, E: Write> DiagnosticPrinter<W, E> {
    /// `json`: JSON Lines, else human. `max`: print at most this many findings (all are
    /// still counted).
    pub fn new(w: crate::Writers<W, E>, json: bool, style: Style, max: Option<u64>) -> Self {
        DiagnosticPrinter {
            w,
            json,
            style,
            max,
            printed: 0,
            hidden: 0,
        }
    }

    /// Prints one finding of `file`, unless over `--max-errors`.
    pub fn diagnostic(&mut self, file: &str, d: &Diagnostic) -> io::Result<()> {
        if d.is_error() {
            self.w.problem();
        }
        if self.max.is_some_and(|m| self.printed >= m) {
            self.hidden += 1;
            return Ok(());
        }
        self.printed += 1;
        let out = &mut self.w.out;
        if self.json {
            let ev = DiagnosticEvent::of(file, d);
            serde_json::to_writer(&mut *out, &ev)?;
            out.write_all(b"\n")
        } else {
            human(out, &self.style, file, d)
        }
    }

    /// Prints the record of one file.
    pub fn file_summary(&mut self, s: &FileSummary) -> io::Result<()> {
        self.w.progress_done();
        let out = &mut self.w.out;
        if self.json {
            let r = FileRecord {
                kind: "file",
                file: s.file.as_deref().unwrap_or_default(),
                provider: s.provider.as_deref(),
                candidates: &s.candidates,
                lines: s.lines,
                requests: s.requests,
                bytes: s.bytes,
                errors: s.errors,
                warnings: s.warnings,
                ok: s.ok,
            };
            serde_json::to_writer(&mut *out, &r)?;
            out.write_all(b"\n")
        } else {
            let joined;
            let provider = if s.candidates.len() > 1 {
                joined = s.candidates.join(" or ");
                joined.as_str()
            } else {
                s.provider.as_deref().unwrap_or("unknown format")
            };
            let verdict = if s.ok {
                self.style.green("ok")
            } else {
                self.style.red("FAILED")
            };
            writeln!(
                out,
                "{}: {verdict}: {}, {} ({provider}); {}",
                s.file.as_deref().unwrap_or_default(),
                lines_requests(s.lines, s.requests),
                batchkit_io::format_size(s.bytes),
                errors_warnings(s.errors, s.warnings),
            )
        }
    }

    /// Ends the findings of a command that prints its own summary (`shard`): how many were
    /// not shown, in human output.
    pub fn findings_done(&mut self) -> io::Result<()> {
        self.w.progress_done();
        if !self.json && self.hidden > 0 {
            writeln!(
                self.w.out,
                "({} more findings not shown; --max-errors limits printing only)",
                self.hidden
            )?;
        }
        Ok(())
    }

    /// Prints the summary of the run (in human output only for several files), and how
    /// many findings were not shown.
    pub fn overall(&mut self, all: &[FileSummary]) -> io::Result<()> {
        self.w.progress_done();
        if self.json {
            let o = FileSummary::overall(all);
            let r = SummaryRecord {
                kind: "summary",
                files: o.files,
                provider: o.provider.as_deref(),
                candidates: &o.candidates,
                lines: o.lines,
                requests: o.requests,
                bytes: o.bytes,
                errors: o.errors,
                warnings: o.warnings,
                ok: o.ok,
                error: None,
            };
            let (out, error) = self.w.out_and_error();
            let r = SummaryRecord { error, ..r };
            serde_json::to_writer(&mut *out, &r)?;
            out.write_all(b"\n")?;
        } else {
            let out = &mut self.w.out;
            if self.hidden > 0 {
                writeln!(
                    out,
                    "({} more findings not shown; --max-errors limits printing only)",
                    self.hidden
                )?;
            }
            if all.len() > 1 {
                let o = FileSummary::overall(all);
                writeln!(
                    out,
                    "{} files: {}; {}",
                    o.files,
                    lines_requests(o.lines, o.requests),
                    errors_warnings(o.errors, o.warnings),
                )?;
            }
        }
        Ok(())
    }

    /// Reports an input that could not be read.
    pub fn input_error(&mut self, e: crate::RunError) -> io::Result<()> {
        self.w.input_error(e, self.json)
    }

    /// Whether an error finding was met (printed or over `--max-errors`).
    pub fn problems(&self) -> bool {
        self.w.problems()
    }

    /// Flushes both writers.
    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    /// Flushes and returns the writer.
    pub fn into_inner(self) -> io::Result<W> {
        self.w.into_inner()
    }
}

impl<W: Write, E: Write> Sink for DiagnosticPrinter<W, E> {
    type Error = io::Error;

    fn finding(&mut self, file: &str, d: &Diagnostic) -> io::Result<bool> {
        self.diagnostic(file, d)?;
        Ok(true)
    }

    fn progress(&mut self, file: &str, read: u64) -> io::Result<bool> {
        self.w.progress(file, read);
        Ok(true)
    }
}

/// Lends a printer to a job that takes its sink by value (`shard`'s hooks).
impl<W: Write, E: Write> Sink for &mut DiagnosticPrinter<W, E> {
    type Error = io::Error;

    fn finding(&mut self, file: &str, d: &Diagnostic) -> io::Result<bool> {
        (**self).finding(file, d)
    }

    fn progress(&mut self, file: &str, read: u64) -> io::Result<bool> {
        (**self).progress(file, read)
    }
}
