//! Printers for `batchkit compare`.
//!
//! JSON Lines: `{"type":"diagnostic",...,"side":"a"}` per line that is not a merged line,
//! `{"type":"duplicate_id",...}` per line whose id its side already had, the join's events
//! when result files are joined first, and `{"type":"summary",...}` last. Human output prints
//! the same events compiler-style and small tables to paste into a report.

use std::io::{self, Write};

use batchkit_compare::{CompareSink, CompareSummary, Event, Outcome, Side, SideSummary};
use batchkit_line::{Diagnostic, Sink};
use serde::Serialize;

use crate::style::Style;

/// The last line: the library's summary, priced, with its verdict.
#[derive(Serialize)]
#[serde(tag = "type", rename = "summary")]
struct SummaryRecord<'a> {
    #[serde(flatten)]
    summary: &'a CompareSummary,
    /// Every id on both sides, answered on both and agreeing; every line a merged line.
    ok: bool,
    /// Why the run stopped (`null`: it was done).
    error: Option<&'a crate::RunError>,
}

/// The keys of the summary besides `type`, `ok` and `error`, in order.
pub fn summary_keys() -> Vec<String> {
    crate::keys_of(&SummaryRecord {
        summary: &CompareSummary::default(),
        ok: true,
        error: None,
    })
}

/// `n of d` as a percentage with one decimal (`66.7%`), or `-` when `d` is 0.
fn percent(rate: Option<f64>) -> String {
    rate.map_or("-".to_string(), |r| format!("{:.1}%", r * 100.0))
}

fn share(n: u64, of: u64) -> String {
    if of == 0 {
        String::new()
    } else {
        format!("{:.1}%", n as f64 / of as f64 * 100.0)
    }
}

/// What each outcome means, for people.
fn meaning(o: Outcome) -> &'static str {
    match o {
        Outcome::Same => "identical answer text",
        Outcome::JsonEqual => "equal as JSON",
        Outcome::Differ => "both answered, differently",
        Outcome::OnlyA => "only A succeeded",
        Outcome::OnlyB => "only B succeeded",
        Outcome::Neither => "neither succeeded",
        Outcome::MissingA => "id only in B",
        Outcome::MissingB => "id only in A",
    }
}

/// The summary tables (of a priced summary, [`CompareSummary::price`]).
pub fn human_summary(w: &mut impl Write, x: &CompareSummary, s: Style) -> io::Result<()> {
    writeln!(w)?;
    writeln!(w, "A: {}", x.a.file)?;
    writeln!(w, "B: {}", x.b.file)?;
    writeln!(w)?;
    writeln!(w, "{}", s.bold(&crate::plural(x.ids, "id", "ids")))?;
    for o in Outcome::ALL {
        let n = x.count(o);
        let shown = if o.agrees() || n == 0 {
            format!("{:>12}", crate::thousands(n))
        } else {
            s.red(&format!("{:>12}", crate::thousands(n)))
        };
        writeln!(
            w,
            "  {:<10}{shown}{:>8}  {}",
            o.as_str(),
            share(n, x.ids),
            meaning(o)
        )?;
    }
    let agree = x.count(Outcome::Same) + x.count(Outcome::JsonEqual);
    writeln!(
        w,
        "agreement: {} ({} of {} answered on both sides)",
        s.bold(&percent(x.agreement)),
        crate::thousands(agree),
        crate::thousands(x.answered_both())
    )?;
    if !x.fields.is_empty() {
        writeln!(w)?;
        let width = x
            .fields
            .iter()
            .map(|f| f.field.chars().count())
            .max()
            .unwrap_or(0)
            .clamp(5, 40);
        writeln!(
            w,
            "  {:<width$}{:>10}{:>10}{:>8}{:>10}{:>10}",
            "field", "both", "agree", "rate", "only A", "only B"
        )?;
        for f in &x.fields {
            writeln!(
                w,
                "  {:<width$}{:>10}{:>10}{:>8}{:>10}{:>10}",
                f.field,
                crate::thousands(f.both),
                crate::thousands(f.agree),
                percent(f.rate),
                crate::thousands(f.only_a),
                crate::thousands(f.only_b)
            )?;
        }
    }
    writeln!(w)?;
    writeln!(
        w,
        "  {:<4}{:>10}{:>10}{:>11}{:>14}{:>14}{:>14}",
        "side", "lines", "ids", "succeeded", "input tok", "output tok", "cost"
    )?;
    for (name, side) in [("A", &x.a), ("B", &x.b)] {
        writeln!(
            w,
            "  {:<4}{:>10}{:>10}{:>11}{:>14}{:>14}{:>14}",
            name,
            crate::thousands(side.lines),
            crate::thousands(side.ids),
            crate::thousands(side.succeeded),
            crate::thousands(side.usage.input),
            crate::thousands(side.usage.output),
            cost(side)
        )?;
    }
    if let Some(d) = &x.prices_as_of {
        writeln!(w, "cost at batch prices as of {d}")?;
    }
    for (name, side) in [("A", &x.a), ("B", &x.b)] {
        if side.duplicates > 0 || side.invalid_lines > 0 {
            writeln!(
                w,
                "{name}: {} left out, {} not compared",
                crate::plural(side.invalid_lines, "invalid line", "invalid lines"),
                crate::plural(side.duplicates, "duplicate id", "duplicate ids")
            )?;
        }
    }
    if x.spilled {
        writeln!(w, "spilled to disk: {} partitions", x.partitions)?;
    }
    let verdict = if x.clean() {
        s.green("the answers agree")
    } else {
        s.red("the answers do not all agree")
    };
    writeln!(w, "{verdict}")
}

fn cost(side: &SideSummary) -> String {
    match side.cost_usd {
        Some(c) if side.cost_incomplete => format!("{}+", crate::money("USD", c)),
        Some(c) => crate::money("USD", c),
        None if side.usage.results == 0 => "-".to_string(),
        None => "no price".to_string(),
    }
}

/// A duplicate id.
pub fn human_duplicate(
    w: &mut impl Write,
    side: Side,
    file: &str,
    custom_id: &str,
    line: u64,
    first: u64,
    s: Style,
) -> io::Result<()> {
    writeln!(
        w,
        "{}: custom_id {custom_id:?} appears again in {}: the first line is compared",
        s.yellow("warning[duplicate_id]"),
        side.as_str().to_uppercase()
    )?;
    writeln!(w, "  {} {file}:{line}", s.blue("-->"))?;
    writeln!(w, "  {} first used at {file}:{first}", s.blue("= note:"))
}

/// Prints a comparison as it goes: its events, then the summary. The comparison's sink.
pub struct ComparePrinter<W: Write, E: Write> {
    w: crate::Writers<W, E>,
    json: bool,
    style: Style,
}

impl<W: Write, E: Write> ComparePrinter<W, E> {
    /// `json`: JSON Lines, else human.
    pub fn new(w: crate::Writers<W, E>, json: bool, style: Style) -> Self {
        ComparePrinter { w, json, style }
    }

    /// Prints the summary (priced with [`CompareSummary::price`], or its cost is unknown).
    pub fn summary(&mut self, s: &CompareSummary) -> io::Result<()> {
        self.w.progress_done();
        if self.json {
            let (out, error) = self.w.out_and_error();
            let record = SummaryRecord {
                summary: s,
                ok: s.clean(),
                error,
            };
            crate::join::json(out, &record)
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

/// Writing to the printer writes to its output (the JSON `error` event of a failed run).
impl<W: Write, E: Write> Write for ComparePrinter<W, E> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.w.progress_done();
        self.w.out.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.out.flush()
    }
}

impl<W: Write, E: Write> Sink for ComparePrinter<W, E> {
    type Error = io::Error;

    fn finding(&mut self, _: &str, _: &Diagnostic) -> io::Result<bool> {
        Ok(true)
    }

    fn progress(&mut self, file: &str, read: u64) -> io::Result<bool> {
        self.w.progress(file, read);
        Ok(true)
    }
}

impl<W: Write, E: Write> CompareSink for ComparePrinter<W, E> {
    fn event(&mut self, ev: &Event) -> io::Result<()> {
        self.w.problem();
        self.w.progress_done();
        let (w, json, style) = (&mut self.w.out, self.json, self.style);
        match ev {
            Event::Problem {
                side,
                file,
                diagnostic,
            } => {
                if json {
                    let mut e = crate::diagnostic::DiagnosticEvent::of(file, diagnostic);
                    e.side = Some(side.as_str().into());
                    e.print(w)
                } else {
                    crate::diagnostic::human(w, &style, file, diagnostic)
                }
            }
            Event::DuplicateId {
                side,
                file,
                custom_id,
                line,
                first_line,
            } => {
                if json {
                    crate::join::json(w, ev)
                } else {
                    human_duplicate(w, *side, file, custom_id, *line, *first_line, style)
                }
            }
            Event::Join { event, .. } => crate::join::print_event(w, event, json, style),
        }
    }
}
