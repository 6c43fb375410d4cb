//! Printers for `batchkit dupes`.
//!
//! JSON Lines: `{"type":"duplicate","custom_id":...,"lines":[3,47001],"files":["a.jsonl","a.jsonl"]}`
//! per duplicated id (ordered by first use), then a `{"type":"diagnostic",...}` (validate's
//! event) for each of the first lines without an id, saying why, a `line_too_large` finding
//! per input with lines not read, one `{"type":"file",...}` record per input, then
//! `{"type":"summary",...}`.

use std::io::{self, Write};

use batchkit_validate::{Diagnostic, DupGroup, DupesReport, DupesSink, InputStats, Sink};
use serde::Serialize;

use crate::style::Style;

/// The keys of the summary besides `type`, `ok` and `error`.
pub const SUMMARY_KEYS: &[&str] = &[
    "files",
    "lines",
    "ids",
    "without_id",
    "too_large_lines",
    "duplicate_ids",
    "duplicate_lines",
    "unique_lines",
    "spilled",
];

/// `{"type":"file",...}`: one input's counts.
#[derive(Serialize)]
#[serde(tag = "type", rename = "file")]
struct FileRecord<'a> {
    file: &'a str,
    lines: u64,
    ids: u64,
    without_id: u64,
    too_large_lines: u64,
    /// Read whole, every line with an id.
    ok: bool,
}

/// The `summary` record: the report's own counts, and its inputs' counts summed (the
/// duplicates themselves are streamed, never held; see [`DupesPrinter::duplicate`]).
#[derive(Serialize)]
#[serde(tag = "type", rename = "summary")]
struct SummaryRecord<'a> {
    /// Inputs given.
    files: u64,
    /// Lines read.
    lines: u64,
    /// Lines with an id.
    ids: u64,
    /// Non-blank lines whose id could not be read.
    without_id: u64,
    /// Lines too long to read (their ids are unknown).
    too_large_lines: u64,
    duplicate_ids: u64,
    duplicate_lines: u64,
    unique_lines: Option<u64>,
    spilled: bool,
    /// No duplicates, every line read and with an id, every input readable: no error
    /// printed.
    ok: bool,
    /// The first input that could not be read.
    error: Option<&'a crate::RunError>,
}

/// Whether an input was read whole and every line of it had an id.
fn input_ok(s: &InputStats) -> bool {
    s.too_large == 0 && s.without_id == 0 && s.unreadable.is_none()
}

impl<'a> SummaryRecord<'a> {
    fn of(r: &'a DupesReport, error: Option<&'a crate::RunError>) -> Self {
        let sum = |f: fn(&InputStats) -> u64| r.inputs.iter().map(f).sum();
        SummaryRecord {
            files: r.inputs.len() as u64,
            lines: sum(|s| s.lines),
            ids: sum(|s| s.ids),
            without_id: sum(|s| s.without_id),
            too_large_lines: sum(|s| s.too_large),
            duplicate_ids: r.duplicate_ids,
            duplicate_lines: r.duplicate_lines,
            unique_lines: r.unique_lines,
            spilled: r.spilled,
            ok: r.duplicate_ids == 0 && r.inputs.iter().all(input_ok),
            error,
        }
    }
}

/// Prints `batchkit dupes` as it streams: each duplicated id as [`find_dupes`] passes it on
/// (its lines written one by one, never held), then the summary.
///
/// [`find_dupes`]: batchkit_validate::find_dupes
pub struct DupesPrinter<W: Write, E: Write> {
    w: crate::Writers<W, E>,
    json: bool,
    style: Style,
    /// Input names, as given.
    names: Vec<String>,
    /// Input names as JSON strings.
    json_names: Vec<String>,
}

impl<W: Write, E: Write> DupesPrinter<W, E> {
    /// A printer for the inputs called `names`, in the order given.
    pub fn new(w: crate::Writers<W, E>, names: Vec<String>, json: bool, style: Style) -> Self {
        let json_names = names
            .iter()
            .map(|n| serde_json::to_string(n).expect("a string serialises"))
            .collect();
        DupesPrinter {
            w,
            json,
            style,
            names,
            json_names,
        }
    }

    /// Prints one duplicated id with every line it is used on.
    pub fn duplicate(&mut self, d: &mut DupGroup<'_>) -> io::Result<()> {
        self.w.progress_done();
        self.w.problem();
        let custom_id = String::from_utf8_lossy(d.id());
        let out = &mut self.w.out;
        if self.json {
            out.write_all(b"{\"type\":\"duplicate\",\"custom_id\":")?;
            serde_json::to_writer(&mut *out, &custom_id)?;
            out.write_all(b",\"lines\":[")?;
            let mut sep = "";
            d.for_each(|_, line| {
                write!(out, "{sep}{line}")?;
                sep = ",";
                Ok(())
            })?;
            out.write_all(b"],\"files\":[")?;
            let mut sep = "";
            let names = &self.json_names;
            d.for_each(|file, _| {
                let name = names.get(file as usize).map_or("\"\"", String::as_str);
                write!(out, "{sep}{name}")?;
                sep = ",";
                Ok(())
            })?;
            out.write_all(b"]}\n")
        } else {
            let multi = self.names.len() > 1;
            write!(
                out,
                "{} {:?} used {} times: {} ",
                self.style.red("duplicate"),
                custom_id,
                d.count(),
                if multi { "at" } else { "on lines" },
            )?;
            let mut sep = "";
            let names = &self.names;
            d.for_each(|file, line| {
                if multi {
                    let name = names.get(file as usize).map_or("", String::as_str);
                    write!(out, "{sep}{name}:{line}")?;
                } else {
                    write!(out, "{sep}{line}")?;
                }
                sep = ", ";
                Ok(())
            })?;
            out.write_all(b"\n")
        }
    }

    /// Prints the inputs that could not be read (an `error` event each), why lines had no id
    /// (the findings the report kept), then the summary line(s).
    pub fn summary(&mut self, r: &DupesReport) -> io::Result<()> {
        self.w.progress_done();
        for s in &r.inputs {
            if let Some(message) = &s.unreadable {
                self.w
                    .input_error(crate::RunError::unreadable(&s.file, message), self.json)?;
            }
        }
        for (file, d) in &r.problems {
            let name = self.names.get(*file).map_or("", String::as_str);
            if self.json {
                let ev = crate::validate::DiagnosticEvent::of(name, d);
                serde_json::to_writer(&mut self.w.out, &ev)?;
                self.w.out.write_all(b"\n")?;
            } else {
                crate::validate::human(&mut self.w.out, &self.style, name, d)?;
            }
        }
        let without: u64 = r.inputs.iter().map(|s| s.without_id).sum();
        if !self.json && without > r.problems.len() as u64 && !r.problems.is_empty() {
            writeln!(
                self.w.out,
                "... and {} more without an id",
                crate::plural(without - r.problems.len() as u64, "line", "lines")
            )?;
        }
        let error = self.w.error().cloned();
        let out = &mut self.w.out;
        let summary = SummaryRecord::of(r, error.as_ref());
        if self.json {
            // The lines not read, as the human output names them: one finding per input.
            for s in &r.inputs {
                if let Some(first) = s.first_too_large {
                    let mut d = batchkit_line::Diagnostic::unplaced(
                        batchkit_line::Code::LineTooLarge,
                        batchkit_line::Severity::Error,
                        too_large_message(s.too_large),
                    );
                    d.line = Some(first);
                    let ev = crate::validate::DiagnosticEvent::of(&s.file, &d);
                    serde_json::to_writer(&mut *out, &ev)?;
                    out.write_all(b"\n")?;
                }
            }
            for s in &r.inputs {
                let f = FileRecord {
                    file: &s.file,
                    lines: s.lines,
                    ids: s.ids,
                    without_id: s.without_id,
                    too_large_lines: s.too_large,
                    ok: input_ok(s),
                };
                serde_json::to_writer(&mut *out, &f)?;
                out.write_all(b"\n")?;
            }
            serde_json::to_writer(&mut *out, &summary)?;
            return out.write_all(b"\n");
        }
        let verdict = if summary.duplicate_ids == 0 {
            self.style.green("no duplicate ids")
        } else {
            self.style.red("duplicates found")
        };
        writeln!(
            out,
            "{verdict}: {}, {} distinct, of {}; {} used more than once, {}{}",
            crate::plural(summary.ids, "line with an id", "lines with an id"),
            crate::thousands(summary.ids.saturating_sub(summary.duplicate_lines)),
            crate::plural(summary.lines, "line", "lines"),
            crate::plural(summary.duplicate_ids, "id", "ids"),
            crate::plural(summary.duplicate_lines, "repeated line", "repeated lines"),
            if summary.without_id > 0 {
                format!(
                    "; {} without an id",
                    crate::plural(summary.without_id, "line", "lines")
                )
            } else {
                String::new()
            }
        )?;
        for s in &r.inputs {
            if let Some(first) = s.first_too_large {
                writeln!(
                    out,
                    "{}: {}; first: {}:{first}",
                    self.style.red("error[line_too_large]"),
                    too_large_message(s.too_large),
                    s.file
                )?;
            }
        }
        if let Some(n) = r.unique_lines {
            writeln!(out, "wrote {n} lines without later duplicates")?;
        }
        Ok(())
    }

    /// Says that an input could not be read (on stderr; an `error` event in JSON mode).
    pub fn input_error(&mut self, e: crate::RunError) -> io::Result<()> {
        self.w.input_error(e, self.json)
    }

    /// Whether a duplicate was printed.
    pub fn problems(&self) -> bool {
        self.w.problems()
    }

    /// Flushes both writers.
    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

impl<W: Write, E: Write> Sink for DupesPrinter<W, E> {
    type Error = io::Error;

    /// Lines without an id come back with the report (the first few, with why).
    fn finding(&mut self, _: &str, _: &Diagnostic) -> io::Result<bool> {
        Ok(true)
    }

    fn progress(&mut self, file: &str, read: u64) -> io::Result<bool> {
        self.w.progress(file, read);
        Ok(true)
    }
}

impl<W: Write, E: Write> DupesSink for DupesPrinter<W, E> {
    fn duplicate(&mut self, g: &mut DupGroup<'_>) -> io::Result<bool> {
        DupesPrinter::duplicate(self, g)?;
        Ok(true)
    }
}

/// What dupes says of the lines it could not read, in both outputs.
fn too_large_message(n: u64) -> String {
    format!(
        "{} over --max-line-bytes (or too large to parse within --memory-limit) not read, so the answer is incomplete",
        crate::plural(n, "line", "lines")
    )
}
