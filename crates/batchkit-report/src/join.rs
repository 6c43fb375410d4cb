//! Printers for `batchkit join`.
//!
//! JSON Lines: `{"type":"diagnostic",...}` per line that could not be joined normally,
//! `{"type":"vertex_no_id",...}` once per results file with Vertex rows lacking an id,
//! `{"type":"duplicate_result",...}` per result that lost to another result for its id, and
//! `{"type":"summary",...}` last. Human output prints the same events compiler-style and a
//! small table.

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

/// The summary table (of a priced summary, [`JoinSummary::price`]).
pub fn human_summary(w: &mut impl Write, x: &JoinSummary, s: Style) -> io::Result<()> {
    writeln!(w)?;
    writeln!(
        w,
        "{}",
        s.bold(&crate::plural(x.requests, "request", "requests"))
    )?;
    for st in Status::ALL {
        let (name, n) = (st.as_str(), x.count(st));
        let shown = if name == "succeeded" || n == 0 {
            format!("{n:>12}")
        } else {
            s.red(&format!("{n:>12}"))
        };
        writeln!(w, "  {name:<10}{shown}")?;
    }
    writeln!(w, "  {:<10}{:>12}", "to retry", x.to_retry)?;
    if x.not_in_retry > 0 {
        writeln!(
            w,
            "  {} kept out of the retry file (duplicate id or too long)",
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
}

impl<W: Write, E: Write> JoinPrinter<W, E> {
    /// `json`: JSON Lines, else human.
    pub fn new(w: crate::Writers<W, E>, json: bool, style: Style) -> Self {
        JoinPrinter { w, json, style }
    }

    /// Prints the summary (priced with [`JoinSummary::price`], or its cost is unknown).
    pub fn summary(&mut self, s: &JoinSummary) -> io::Result<()> {
        // The last progress bar ends before the summary is printed.
        self.w.progress_done();
        if self.json {
            let record = SummaryRecord {
                summary: s,
                ok: s.clean(),
            };
            json(&mut self.w.out, &record)
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
