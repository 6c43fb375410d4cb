//! Printers for `batchkit join`.
//!
//! JSON Lines: `{"type":"diagnostic",...}` per line that could not be joined normally,
//! `{"type":"vertex_no_id",...}` once per results file with Vertex rows lacking an id,
//! `{"type":"duplicate_result",...}` per result that lost to another result for its id, and
//! `{"type":"summary",...}` last. Human output prints the same events compiler-style and a
//! small table.

use std::io::{self, Write};

use batchkit_join::{batch_cost, Event, JoinSink, JoinSummary, Loc, Prices, Side, Status, Usage};
use batchkit_line::{Diagnostic, Sink};
use serde::Serialize;

use crate::style::Style;

/// A place in an input.
#[derive(Debug, Clone, Serialize)]
pub struct Place {
    /// Input name.
    pub file: String,
    /// 1-based line.
    pub line: u64,
    /// Byte offset of the line start, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

/// Vertex output rows without an id in one results file.
#[derive(Debug, Clone, Serialize)]
pub struct VertexNoId {
    /// Always `vertex_no_id`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Results file.
    pub file: String,
    /// First such row.
    pub line: u64,
    /// Byte offset of that row.
    pub offset: Option<u64>,
    /// How many rows.
    pub count: u64,
    /// For people.
    pub message: String,
}

/// Two results for one id.
#[derive(Debug, Clone, Serialize)]
pub struct DuplicateResult {
    /// Always `duplicate_result`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The id.
    pub custom_id: String,
    /// The result in the merged file.
    pub kept: Place,
    /// The result written to the duplicates (or orphans) file.
    pub dropped: Place,
}

/// Token totals.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UsageOut {
    /// Input tokens, cached included.
    pub input_tokens: u64,
    /// Cached input tokens.
    pub cached_tokens: u64,
    /// Input tokens written to a cache at a write price (included in `input_tokens`).
    pub cache_write_tokens: u64,
    /// The part of `cache_write_tokens` at the 1-hour TTL.
    pub cache_write_1h_tokens: u64,
    /// Output tokens, reasoning included.
    pub output_tokens: u64,
    /// Reasoning tokens.
    pub reasoning_tokens: u64,
    /// Results that reported usage.
    pub results_with_usage: u64,
}

/// One model's totals.
#[derive(Debug, Clone, Serialize)]
pub struct ModelOut {
    /// Model name as reported.
    pub model: String,
    /// Its usage.
    #[serde(flatten)]
    pub usage: UsageOut,
    /// Actual cost at batch prices (null when the model has no price).
    pub cost_usd: Option<f64>,
}

/// The last line.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Always `summary`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Request lines with a merged line each (all but the invalid ones).
    pub requests: u64,
    /// Per status.
    pub succeeded: u64,
    /// Per status.
    pub errored: u64,
    /// Per status.
    pub expired: u64,
    /// Per status.
    pub canceled: u64,
    /// Per status (includes request lines that could not be joined).
    pub missing: u64,
    /// Request lines that could not be joined normally.
    pub request_problems: u64,
    /// Request lines that are not valid UTF-8 or not JSON: in neither the merged nor the
    /// retry file.
    pub invalid_requests: u64,
    /// Requests that did not succeed and are in the retry file.
    pub to_retry: u64,
    /// Requests that did not succeed but are kept out of the retry file (too long to copy,
    /// or an id an earlier line already used).
    pub not_in_retry: u64,
    /// Result lines read.
    pub results: u64,
    /// Results joined.
    pub joined: u64,
    /// Results whose id matched no request.
    pub orphans: u64,
    /// Results that lost to another result for their id.
    pub duplicates: u64,
    /// Result lines without a usable id.
    pub unjoinable: u64,
    /// Usage over all result lines.
    pub usage: UsageOut,
    /// Per model.
    pub models: Vec<ModelOut>,
    /// Total actual cost at batch prices, over priced models, rounded to 1e-9 USD; null
    /// when there is usage and no model of it has a price.
    pub cost_usd: Option<f64>,
    /// Whether some reported usage has no price.
    pub cost_incomplete: bool,
    /// Date of the price table.
    pub prices_as_of: Option<String>,
    /// Whether the join spilled to disk.
    pub spilled: bool,
    /// Partitions when it spilled.
    pub partitions: u32,
    /// Everything succeeded, nothing orphaned or duplicated.
    pub ok: bool,
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

/// The Vertex notice.
pub fn human_vertex(w: &mut impl Write, v: &VertexNoId, s: Style) -> io::Result<()> {
    writeln!(w, "{}: {}", s.yellow("warning[vertex_no_id]"), v.message)?;
    writeln!(
        w,
        "  {} {} (first of {})",
        s.blue("-->"),
        at(&v.file, v.line),
        v.count
    )
}

/// A duplicate result.
pub fn human_duplicate(w: &mut impl Write, d: &DuplicateResult, s: Style) -> io::Result<()> {
    writeln!(
        w,
        "{}: two results for custom_id {:?}: kept {}, set aside {}",
        s.yellow("warning[duplicate_result]"),
        d.custom_id,
        at(&d.kept.file, d.kept.line),
        at(&d.dropped.file, d.dropped.line)
    )
}

/// The summary table.
pub fn human_summary(w: &mut impl Write, x: &Summary, s: Style) -> io::Result<()> {
    writeln!(w)?;
    writeln!(
        w,
        "{}",
        s.bold(&crate::plural(x.requests, "request", "requests"))
    )?;
    for (name, n) in [
        ("succeeded", x.succeeded),
        ("errored", x.errored),
        ("expired", x.expired),
        ("canceled", x.canceled),
        ("missing", x.missing),
    ] {
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
    let writes = if u.cache_write_tokens == 0 {
        String::new()
    } else if u.cache_write_1h_tokens == 0 {
        format!(
            ", {} written to cache",
            crate::thousands(u.cache_write_tokens)
        )
    } else {
        format!(
            ", {} written to cache, {} of them for 1 h",
            crate::thousands(u.cache_write_tokens),
            crate::thousands(u.cache_write_1h_tokens)
        )
    };
    writeln!(
        w,
        "usage: {} input ({} cached{writes}), {} output ({} reasoning) tokens",
        crate::thousands(u.input_tokens),
        crate::thousands(u.cached_tokens),
        crate::thousands(u.output_tokens),
        crate::thousands(u.reasoning_tokens)
    )?;
    for m in &x.models {
        let cost = m.cost_usd.map_or("no price".to_string(), money);
        writeln!(
            w,
            "  {:<32} {:>12} in {:>12} out  {}",
            m.model,
            crate::thousands(m.usage.input_tokens),
            crate::thousands(m.usage.output_tokens),
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
    let verdict = if x.ok {
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

    /// Prints the summary, the cost at `prices`.
    pub fn summary(&mut self, s: &JoinSummary, prices: &dyn Prices) -> io::Result<()> {
        // The last progress bar ends before the summary is printed.
        self.w.progress_done();
        let out = summary_out(s, prices);
        if self.json {
            json(&mut self.w.out, &out)
        } else {
            human_summary(&mut self.w.out, &out, self.style)
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

fn place(l: &Loc) -> Place {
    Place {
        file: l.file.clone(),
        line: l.line,
        offset: l.offset,
    }
}

fn print_event(w: &mut impl Write, ev: &Event, as_json: bool, style: Style) -> io::Result<()> {
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
            let v = VertexNoId {
                kind: "vertex_no_id",
                file: first.file.clone(),
                line: first.line,
                offset: first.offset,
                count: *count,
                message: vertex_no_id_message(*count),
            };
            if as_json {
                json(w, &v)
            } else {
                human_vertex(w, &v, style)
            }
        }
        Event::DuplicateResult {
            custom_id,
            kept,
            dropped,
        } => {
            let d = DuplicateResult {
                kind: "duplicate_result",
                custom_id: custom_id.clone(),
                kept: place(kept),
                dropped: place(dropped),
            };
            if as_json {
                json(w, &d)
            } else {
                human_duplicate(w, &d, style)
            }
        }
    }
}

fn usage_out(u: &Usage) -> UsageOut {
    UsageOut {
        input_tokens: u.input,
        cached_tokens: u.cached,
        cache_write_tokens: u.cache_write,
        cache_write_1h_tokens: u.cache_write_1h,
        output_tokens: u.output,
        reasoning_tokens: u.reasoning,
        results_with_usage: u.results,
    }
}

fn summary_out(s: &JoinSummary, prices: &dyn Prices) -> Summary {
    let (per, total) = batch_cost(&s.models, prices);
    let models: Vec<ModelOut> = s
        .models
        .iter()
        .zip(&per)
        .map(|(m, c)| ModelOut {
            model: m.model.clone(),
            usage: usage_out(&m.usage),
            cost_usd: *c,
        })
        .collect();
    Summary {
        kind: "summary",
        requests: s.requests,
        succeeded: s.count(Status::Succeeded),
        errored: s.count(Status::Errored),
        expired: s.count(Status::Expired),
        canceled: s.count(Status::Canceled),
        missing: s.count(Status::Missing),
        request_problems: s.request_problems,
        invalid_requests: s.invalid_requests,
        to_retry: s.to_retry,
        not_in_retry: s.not_in_retry,
        results: s.results,
        joined: s.joined,
        orphans: s.orphans,
        duplicates: s.duplicates,
        unjoinable: s.unjoinable,
        usage: usage_out(&s.usage),
        cost_incomplete: per.iter().any(Option::is_none),
        // Null when nothing reported is priced: unknown, not free.
        models,
        cost_usd: total,
        prices_as_of: prices.as_of(),
        spilled: s.spilled,
        partitions: s.partitions,
        ok: s.clean(),
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
