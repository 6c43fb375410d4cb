//! Printers for `batchkit join`.
//!
//! JSON Lines: `{"type":"diagnostic",...}` per line that could not be joined normally,
//! `{"type":"vertex_no_id",...}` once per results file with Vertex rows lacking an id,
//! `{"type":"duplicate_result",...}` per result that lost to another result for its id, and
//! `{"type":"summary",...}` last. Human output prints the same events compiler-style and a
//! small table: a count per status with a note on what the status means for a retry, and the
//! stop reasons of each model under its usage (values that cut or refuse marked).

use std::io::{self, Write};

use batchkit_join::{Event, JoinSink, JoinSummary, Loc, Side, Status};
use batchkit_line::{Diagnostic, Sink};
use serde::Serialize;

use crate::style::Style;

/// The last line: the library's summary, priced, with its verdict.
#[derive(Serialize)]
#[serde(tag = "type", rename = "summary")]
struct SummaryRecord<'a> {
    #[serde(flatten)]
    summary: &'a JoinSummary,
    /// Everything succeeded, nothing orphaned or duplicated.
    ok: bool,
    /// Why the run stopped (`null`: it was done).
    error: Option<&'a crate::RunError>,
}

/// The keys of the summary besides `type`, `ok` and `error`, in order.
pub fn summary_keys() -> Vec<String> {
    crate::keys_of(&SummaryRecord {
        summary: &JoinSummary::default(),
        ok: true,
        error: None,
    })
}

/// The Vertex record: the event with its message.
#[derive(Serialize)]
struct VertexRecord<'a> {
    #[serde(flatten)]
    event: &'a Event,
    message: String,
}

/// Writes one JSON Lines event.
pub fn json(w: &mut impl Write, event: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *w, event)?;
    w.write_all(b"\n")
}

fn at(file: &str, line: u64) -> String {
    format!("{file}:{line}")
}

/// The note under a `duplicate_id` diagnostic: where the id was first used.
pub fn human_first_use(w: &mut impl Write, s: &Style, file: &str, line: u64) -> io::Result<()> {
    writeln!(
        w,
        "  {} first used at {}",
        s.blue("= note:"),
        at(file, line)
    )
}

/// The Vertex notice: `first` of `count` rows without an id.
pub fn human_vertex(w: &mut impl Write, first: &Loc, count: u64, s: Style) -> io::Result<()> {
    writeln!(
        w,
        "{}: {}",
        s.yellow("warning[vertex_no_id]"),
        vertex_no_id_message(count)
    )?;
    writeln!(
        w,
        "  {} {} (first of {})",
        s.blue("-->"),
        at(&first.file, first.line),
        count
    )
}

/// A duplicate result.
pub fn human_duplicate(
    w: &mut impl Write,
    custom_id: &str,
    kept: &Loc,
    dropped: &Loc,
    s: Style,
) -> io::Result<()> {
    writeln!(
        w,
        "{}: two results for custom_id {:?}: kept {}, set aside {}",
        s.yellow("warning[duplicate_result]"),
        custom_id,
        at(&kept.file, kept.line),
        at(&dropped.file, dropped.line)
    )
}

/// An answer that breaks the structured output its request asked for.
pub fn human_invalid_answer(
    w: &mut impl Write,
    custom_id: &str,
    request: &Loc,
    pointer: &str,
    message: &str,
    s: Style,
) -> io::Result<()> {
    let at_pointer = if pointer.is_empty() {
        String::new()
    } else {
        format!(" at {pointer}")
    };
    writeln!(
        w,
        "{}: answer to {:?}{at_pointer}: {message}",
        s.yellow("warning[invalid_answer]"),
        custom_id,
    )?;
    writeln!(w, "  {} {}", s.blue("-->"), at(&request.file, request.line))
}

/// Invalid answers printed one by one in human output; the others are counted in the
/// summary (the merged file holds each one's `answer_problem`).
pub const SHOWN_INVALID_ANSWERS: u64 = 10;

/// The summary table (of a priced summary, [`JoinSummary::price`]).
pub fn human_summary(w: &mut impl Write, x: &JoinSummary, s: Style) -> io::Result<()> {
    writeln!(w)?;
    writeln!(
        w,
        "{}",
        s.bold(&crate::plural(x.requests, "request", "requests"))
    )?;
    for st in Status::ALL {
        let n = x.count(st);
        let count = format!("{:>10}", crate::thousands(n));
        let shown = if st == Status::Succeeded || n == 0 {
            count
        } else {
            s.red(&count)
        };
        let note = match status_note(st, n) {
            Some(note) if n > 0 => format!("  {note}"),
            _ => String::new(),
        };
        writeln!(w, "  {:<14}{shown}{note}", st.as_str())?;
    }
    writeln!(
        w,
        "  {:<14}{:>10}",
        "to retry",
        crate::thousands(x.to_retry)
    )?;
    if x.raised + x.raise_unchanged > 0 {
        let unchanged = match x.raise_unchanged {
            0 => String::new(),
            n => format!(
                "; {} unchanged (no integer cap, or at the model's limit: likely cut again)",
                crate::thousands(n)
            ),
        };
        writeln!(
            w,
            "  {} with a raised output cap{unchanged}",
            crate::plural(x.raised, "truncated request", "truncated requests")
        )?;
    }
    if x.not_in_retry > 0 {
        writeln!(
            w,
            "  {} kept out of the retry file (duplicate id, too long, or not sendable as it is)",
            crate::plural(x.not_in_retry, "failed request", "failed requests")
        )?;
    }
    if x.invalid_requests > 0 {
        writeln!(
            w,
            "{} not valid UTF-8 JSON: left out of the merged and retry files",
            crate::plural(x.invalid_requests, "request line", "request lines")
        )?;
    }
    writeln!(
        w,
        "{}: {} joined, {}, {}, {} without id",
        crate::plural(x.results, "result", "results"),
        crate::thousands(x.joined),
        crate::plural(x.orphans, "orphan", "orphans"),
        crate::plural(x.duplicates, "duplicate", "duplicates"),
        crate::thousands(x.unjoinable)
    )?;
    if x.matched_by_content > 0 {
        writeln!(
            w,
            "  {} joined by content: Vertex rows without an id, matched to the request they echo \
             (identical requests in order)",
            crate::thousands(x.matched_by_content),
        )?;
    }
    let u = &x.usage;
    let writes = if u.cache_write == 0 {
        String::new()
    } else if u.cache_write_1h == 0 {
        format!(", {} written to cache", crate::thousands(u.cache_write))
    } else {
        format!(
            ", {} written to cache, {} of them for 1 h",
            crate::thousands(u.cache_write),
            crate::thousands(u.cache_write_1h)
        )
    };
    writeln!(
        w,
        "usage: {} input ({} cached{writes}), {} output ({} reasoning) tokens",
        crate::thousands(u.input),
        crate::thousands(u.cached),
        crate::thousands(u.output),
        crate::thousands(u.reasoning)
    )?;
    for m in &x.models {
        let cost = m.cost_usd.map_or("no price".to_string(), money);
        writeln!(
            w,
            "  {:<32} {:>12} in {:>12} out  {}",
            m.model,
            crate::thousands(m.usage.input),
            crate::thousands(m.usage.output),
            cost
        )?;
        if !m.stop_reasons.is_empty() {
            writeln!(w, "    stopped: {}", stop_line(&m.stop_reasons, s))?;
        }
    }
    let asof = x
        .prices_as_of
        .as_deref()
        .map(|d| format!(" (prices as of {d})"))
        .unwrap_or_default();
    let partial = if x.cost_incomplete {
        ", some models unpriced"
    } else {
        ""
    };
    match x.cost_usd {
        Some(c) => writeln!(w, "cost at batch prices: {}{asof}{partial}", money(c))?,
        None => writeln!(
            w,
            "cost at batch prices: unknown, no model has a price{asof}"
        )?,
    }
    if x.spilled {
        writeln!(w, "spilled to disk: {} partitions", x.partitions)?;
    }
    let verdict = if x.clean() {
        s.green("all requests succeeded")
    } else {
        s.red("some requests need attention")
    };
    writeln!(w, "{verdict}")
}

/// What a person should know of the `n` requests with status `st` (printed when there are any).
fn status_note(st: Status, n: u64) -> Option<String> {
    let (they, are) = if n == 1 {
        ("it", "is")
    } else {
        ("they", "are")
    };
    Some(match st {
        Status::Succeeded => return None,
        Status::Truncated => format!(
            "cut by the output cap: retried unchanged, {they} {are} cut again (--raise-max-tokens)"
        ),
        Status::Refused => {
            "refused or filtered: not retried unless --retry-on names refused".to_string()
        }
        Status::InvalidAnswer => "not JSON, or off the schema the request asked for".to_string(),
        Status::Errored => "the provider returned an error".to_string(),
        Status::Expired => format!("the batch expired before {they} ran"),
        Status::Canceled => format!("the batch was canceled before {they} ran"),
        Status::Missing => format!("no result names {}", if n == 1 { "it" } else { "them" }),
    })
}

/// One model's stop reasons, most frequent first: `stop 9 · length 1 (truncated)`, a value
/// that cuts or refuses marked and colored, one no layout lists marked `(unlisted)`.
fn stop_line(stops: &std::collections::BTreeMap<String, u64>, s: Style) -> String {
    let mut by_count: Vec<(&String, &u64)> = stops.iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    by_count
        .into_iter()
        .map(|(reason, n)| {
            let counted = format!("{reason} {}", crate::thousands(*n));
            match stop_class(reason) {
                StopKind::Truncated => s.yellow(&format!("{counted} (truncated)")),
                StopKind::Refused => s.red(&format!("{counted} (refused)")),
                StopKind::Unlisted => format!("{counted} (unlisted)"),
                StopKind::Finished | StopKind::Ambiguous => counted,
            }
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// What a stop value says wherever the stop-reason table lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopKind {
    /// Listed, and only as a finish (or a documented value that is neither cut nor refusal).
    Finished,
    Truncated,
    Refused,
    /// Listed with different classes in different layouts (Gemini `OTHER`: a finish reason,
    /// and a refusal as a blocked prompt's reason): not marked, the summary has no layout.
    Ambiguous,
    /// In no layout's lists (counted as succeeded, as the table says).
    Unlisted,
}

/// The class of `value` across every layout of `batchkit_providers::stop_reasons`.
fn stop_class(value: &str) -> StopKind {
    use batchkit_providers::stop_reasons::{class, layouts, StopClass};
    let mut kind = None;
    for l in layouts() {
        let listed = [&l.succeeded, &l.truncated, &l.refused, &l.other]
            .iter()
            .any(|list| list.iter().any(|v| v == value));
        if !listed {
            continue;
        }
        let k = match class(&l.name, value) {
            StopClass::Succeeded => StopKind::Finished,
            StopClass::Truncated => StopKind::Truncated,
            StopClass::Refused => StopKind::Refused,
        };
        match kind {
            None => kind = Some(k),
            Some(seen) if seen != k => return StopKind::Ambiguous,
            Some(_) => {}
        }
    }
    kind.unwrap_or(StopKind::Unlisted)
}

/// Dollars as every printer writes them.
fn money(c: f64) -> String {
    crate::money("USD", c)
}

/// Prints a join as it goes: its events (a line that could not be joined, Vertex rows
/// without an id, duplicate results), then the summary. The join's sink.
pub struct JoinPrinter<W: Write, E: Write> {
    w: crate::Writers<W, E>,
    json: bool,
    style: Style,
    invalid_answers: u64,
}

impl<W: Write, E: Write> JoinPrinter<W, E> {
    /// `json`: JSON Lines, else human.
    pub fn new(w: crate::Writers<W, E>, json: bool, style: Style) -> Self {
        JoinPrinter {
            w,
            json,
            style,
            invalid_answers: 0,
        }
    }

    /// Prints the summary (priced with [`JoinSummary::price`], or its cost is unknown).
    pub fn summary(&mut self, s: &JoinSummary) -> io::Result<()> {
        // The last progress bar ends before the summary is printed.
        self.w.progress_done();
        if self.json {
            let (out, error) = self.w.out_and_error();
            let record = SummaryRecord {
                summary: s,
                ok: s.clean(),
                error,
            };
            json(out, &record)
        } else {
            human_summary(&mut self.w.out, s, self.style)
        }
    }

    /// Whether an event (a problem with the input) was printed.
    pub fn problems(&self) -> bool {
        self.w.problems()
    }

    /// Flushes both writers.
    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

/// Writing to the printer writes to its output (the JSON `error` event of a failed join).
impl<W: Write, E: Write> Write for JoinPrinter<W, E> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.w.progress_done();
        self.w.out.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.out.flush()
    }
}

impl<W: Write, E: Write> Sink for JoinPrinter<W, E> {
    type Error = io::Error;

    fn finding(&mut self, _: &str, _: &Diagnostic) -> io::Result<bool> {
        // A join's findings carry their side: they come as events.
        Ok(true)
    }

    fn progress(&mut self, file: &str, read: u64) -> io::Result<bool> {
        self.w.progress(file, read);
        Ok(true)
    }
}

impl<W: Write, E: Write> JoinSink for JoinPrinter<W, E> {
    fn event(&mut self, ev: &Event) -> io::Result<()> {
        self.w.problem();
        if !self.json && matches!(ev, Event::InvalidAnswer { .. }) {
            self.invalid_answers += 1;
            if self.invalid_answers > SHOWN_INVALID_ANSWERS {
                if self.invalid_answers == SHOWN_INVALID_ANSWERS + 1 {
                    writeln!(
                        self.w.out,
                        "{}: more invalid answers: each has its \"answer_problem\" in the merged file",
                        self.style.yellow("warning[invalid_answer]")
                    )?;
                }
                return Ok(());
            }
        }
        print_event(&mut self.w.out, ev, self.json, self.style)
    }
}

pub(crate) fn print_event(
    w: &mut impl Write,
    ev: &Event,
    as_json: bool,
    style: Style,
) -> io::Result<()> {
    match ev {
        Event::Problem {
            side,
            file,
            diagnostic: d,
            first,
        } => {
            // The one shape of a finding (validate's), with the side of the join.
            if as_json {
                let mut ev = crate::diagnostic::DiagnosticEvent::of(file, d);
                ev.side = Some(
                    match side {
                        Side::Request => "requests",
                        Side::Result => "results",
                    }
                    .into(),
                );
                ev.first_file = first.as_ref().map(|f| f.file.clone());
                ev.print(w)
            } else {
                crate::diagnostic::human(w, &style, file, d)?;
                match first {
                    Some(f) => human_first_use(w, &style, &f.file, f.line),
                    None => Ok(()),
                }
            }
        }
        Event::VertexNoId { first, count } => {
            if as_json {
                let record = VertexRecord {
                    event: ev,
                    message: vertex_no_id_message(*count),
                };
                json(w, &record)
            } else {
                human_vertex(w, first, *count, style)
            }
        }
        Event::InvalidAnswer {
            custom_id,
            request,
            pointer,
            message,
        } => {
            if as_json {
                json(w, ev)
            } else {
                human_invalid_answer(w, custom_id, request, pointer, message, style)
            }
        }
        Event::DuplicateResult {
            custom_id,
            kept,
            dropped,
        } => {
            if as_json {
                json(w, ev)
            } else {
                human_duplicate(w, custom_id, kept, dropped, style)
            }
        }
    }
}

/// The notice for Vertex output rows without a request id, its verbs agreeing with `count`.
fn vertex_no_id_message(count: u64) -> String {
    let (rows, carry, they, are) = if count == 1 {
        ("row", "carries", "it", "is")
    } else {
        ("rows", "carry", "they", "are")
    };
    format!(
        "{} Vertex output {rows} {carry} no request id and cannot be joined (Vertex has no \
         official id; add a \"custom_id\" or \"key\" key to each request line, Vertex echoes \
         it into the output); {they} {are} written to the orphans file",
        crate::thousands(count)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn status_notes_agree_with_their_count() {
        use super::{status_note, Status};
        assert_eq!(
            status_note(Status::Expired, 1).as_deref(),
            Some("the batch expired before it ran")
        );
        assert_eq!(
            status_note(Status::Truncated, 2).as_deref(),
            Some(
                "cut by the output cap: retried unchanged, they are cut again (--raise-max-tokens)"
            )
        );
        assert_eq!(status_note(Status::Succeeded, 5), None);
    }

    #[test]
    fn stop_reasons_marked_by_class() {
        use super::{stop_class, stop_line, StopKind};
        assert_eq!(stop_class("stop"), StopKind::Finished);
        assert_eq!(stop_class("length"), StopKind::Truncated);
        assert_eq!(stop_class("MAX_TOKENS"), StopKind::Truncated);
        assert_eq!(stop_class("content_filter"), StopKind::Refused);
        assert_eq!(stop_class("PROHIBITED_CONTENT"), StopKind::Refused);
        assert_eq!(stop_class("pause_turn"), StopKind::Finished);
        // A finish reason of Gemini candidates, a refusal as a blocked prompt's reason.
        assert_eq!(stop_class("OTHER"), StopKind::Ambiguous);
        assert_eq!(stop_class("a_new_reason"), StopKind::Unlisted);
        let stops = [
            ("length", 1),
            ("stop", 9),
            ("content_filter", 1),
            ("zzz", 2),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(
            stop_line(&stops, crate::style::Style { on: false }),
            "stop 9 · zzz 2 (unlisted) · content_filter 1 (refused) · length 1 (truncated)"
        );
    }

    #[test]
    fn vertex_notice_agrees_with_its_count() {
        let one = super::vertex_no_id_message(1);
        assert!(
            one.starts_with("1 Vertex output row carries no request id"),
            "{one}"
        );
        assert!(
            one.ends_with("; it is written to the orphans file"),
            "{one}"
        );
        let many = super::vertex_no_id_message(1234);
        assert!(
            many.starts_with("1,234 Vertex output rows carry no request id"),
            "{many}"
        );
        assert!(
            many.ends_with("; they are written to the orphans file"),
            "{many}"
        );
    }
}
