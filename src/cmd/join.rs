//! `batchkit join`.

use std::io::Write;
use std::path::PathBuf;

use batchkit_io::paths::Role;
use batchkit_io::Input;
use batchkit_join::{
    batch_cost, default_prices, Event, JoinOptions, JoinSummary, Loc, Prices, Side, Status, Usage,
};
use batchkit_report::join as report;
use batchkit_report::style::Style;

use crate::outcome::Outcome;
use crate::progress::Progress;
use crate::settings::{Format, Settings};

/// Join downloaded batch results back to their requests by id.
///
/// Writes MERGED in request order, one line per request:
/// {"custom_id":...,"status":"succeeded|errored|expired|canceled|missing","request":<request line>,
/// "result":<result line or null>,"output_text":<answer text or null>}. Request lines that cannot be
/// joined (no id, an id an earlier line already used) get status missing and a "problem" field;
/// lines that are not valid UTF-8 JSON are reported and left out of MERGED and RETRY. RETRY never
/// holds an id twice: a later line with an id already used is reported (duplicate_id) and left out. Results may come in any order and from several files (OpenAI/Azure/Groq/Mistral
/// output and error files, Anthropic results, Gemini and Vertex outputs, Together), plain or zstd.
///
/// An OpenAI-style line with a non-2xx response.status_code is errored even when "error" is null;
/// error.code batch_expired is expired and batch_cancelled canceled. When two results name one id,
/// the merged line takes a succeeded one over a failed one (else the earlier line) and the other
/// goes to --duplicates, or to --orphans when --duplicates is not given.
///
/// Memory stays under --memory-limit at any size: past it the join spills to a temporary directory
/// (removed afterwards). Exit 0 when every request succeeded and every result was joined once, 1
/// otherwise, 2 when the join could not be done.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:
  batchkit join --requests batch.jsonl --results output.jsonl errors.jsonl --out merged.jsonl --retry retry.jsonl
  batchkit join --requests part-*.jsonl --results results.jsonl.zst --out merged.jsonl --orphans orphans.jsonl
  batchkit join --requests big.jsonl --results out.jsonl err.jsonl --out merged.jsonl --memory-limit 1GiB --format json")]
pub struct Args {
    /// Request files (the lines that were uploaded), in order; `-` for stdin
    #[arg(long, value_name = "FILE", num_args = 1.., required = true)]
    pub requests: Vec<String>,
    /// Result files (output and error files of any provider), in any order; `-` for stdin
    #[arg(long, value_name = "FILE", num_args = 1.., required = true)]
    pub results: Vec<String>,
    /// The merged file: one line per request, in request order
    #[arg(long, value_name = "MERGED")]
    pub out: PathBuf,
    /// Write the request lines that did not succeed here, byte-exact, ready to upload again
    #[arg(long, value_name = "FILE")]
    pub retry: Option<PathBuf>,
    /// Write result lines whose id matches no request (and lines without a usable id) here
    #[arg(long, value_name = "FILE")]
    pub orphans: Option<PathBuf>,
    /// Write results that lost to another result for the same id here [default: --orphans]
    #[arg(long, value_name = "FILE")]
    pub duplicates: Option<PathBuf>,
    /// Directory for spill files [default: the directory of --out]
    #[arg(long, value_name = "DIR")]
    pub temp_dir: Option<PathBuf>,
}

pub fn run(
    args: Args,
    settings: &Settings,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<Outcome> {
    let inputs: Vec<Role> = (args.requests.iter().map(|p| Role::new("--requests", p)))
        .chain(args.results.iter().map(|p| Role::new("--results", p)))
        .collect();
    let outputs: Vec<Role> = [
        ("--out", Some(&args.out)),
        ("--retry", args.retry.as_ref()),
        ("--orphans", args.orphans.as_ref()),
        ("--duplicates", args.duplicates.as_ref()),
    ]
    .into_iter()
    .filter_map(|(f, p)| p.map(|p| Role::new(f, p)))
    .collect();
    super::check_paths(&inputs, &outputs)?;
    let mut opts = JoinOptions::new(
        args.requests.iter().map(|a| Input::from_arg(a)).collect(),
        args.results.iter().map(|a| Input::from_arg(a)).collect(),
        args.out,
    );
    opts.retry = args.retry;
    opts.orphans = args.orphans;
    opts.duplicates = args.duplicates;
    opts.temp_dir = args.temp_dir;
    opts.read = settings.read.clone();
    let style = Style { on: settings.color };
    let json = settings.format == Format::Json;
    let mut w = super::buffered(out);
    let mut sink = PrintSink {
        w: &mut w,
        json,
        style,
        progress: settings.progress,
        bar: None,
    };
    let summary = batchkit_join::join(&opts, &mut sink);
    // The last progress bar ends before the summary is printed.
    drop(sink);
    let summary = summary.map_err(|e| super::json_error_event(e.into(), &mut w, json))?;
    let prices = default_prices();
    let out = summary_out(&summary, &prices);
    if json {
        report::json(&mut w, &out)?;
    } else {
        report::human_summary(&mut w, &out, style)?;
    }
    super::finish(w)?;
    Ok(Outcome::problems_if(!summary.clean()))
}

fn place(l: &Loc) -> report::Place {
    report::Place {
        file: l.file.clone(),
        line: l.line,
        offset: l.offset,
    }
}

fn print_event(w: &mut impl Write, ev: &Event, json: bool, style: Style) -> std::io::Result<()> {
    match ev {
        Event::Problem {
            side,
            file,
            diagnostic: d,
            first,
        } => {
            // The one shape of a finding (validate's), with the side of the join.
            if json {
                let mut ev = batchkit_report::diagnostic::DiagnosticEvent::of(file, d);
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
                batchkit_report::diagnostic::human(w, &style, file, d)?;
                match first {
                    Some(f) => report::human_first_use(w, &style, &f.file, f.line),
                    None => Ok(()),
                }
            }
        }
        Event::VertexNoId { first, count } => {
            let v = report::VertexNoId {
                kind: "vertex_no_id",
                file: first.file.clone(),
                line: first.line,
                offset: first.offset,
                count: *count,
                message: vertex_no_id_message(*count),
            };
            if json {
                report::json(w, &v)
            } else {
                report::human_vertex(w, &v, style)
            }
        }
        Event::DuplicateResult {
            custom_id,
            kept,
            dropped,
        } => {
            let d = report::DuplicateResult {
                kind: "duplicate_result",
                custom_id: custom_id.clone(),
                kept: place(kept),
                dropped: place(dropped),
            };
            if json {
                report::json(w, &d)
            } else {
                report::human_duplicate(w, &d, style)
            }
        }
    }
}

fn usage_out(u: &Usage) -> report::UsageOut {
    report::UsageOut {
        input_tokens: u.input,
        cached_tokens: u.cached,
        cache_write_tokens: u.cache_write,
        cache_write_1h_tokens: u.cache_write_1h,
        output_tokens: u.output,
        reasoning_tokens: u.reasoning,
        results_with_usage: u.results,
    }
}

fn summary_out(s: &JoinSummary, prices: &dyn Prices) -> report::Summary {
    let (per, total) = batch_cost(&s.models, prices);
    let models: Vec<report::ModelOut> = s
        .models
        .iter()
        .zip(&per)
        .map(|(m, c)| report::ModelOut {
            model: m.model.clone(),
            usage: usage_out(&m.usage),
            cost_usd: *c,
        })
        .collect();
    report::Summary {
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
        batchkit_report::thousands(count)
    )
}

/// join's sink: events to the printer, progress to one bar per input as the join reads it
/// (results, then requests, then again for a spilled join's second pass).
struct PrintSink<'a, W: std::io::Write> {
    w: &'a mut W,
    json: bool,
    style: Style,
    progress: bool,
    /// The input being read and its bar.
    bar: Option<(String, Progress)>,
}

impl<W: std::io::Write> batchkit_join::Sink for PrintSink<'_, W> {
    type Error = std::io::Error;

    fn finding(&mut self, _: &str, _: &batchkit_line::Diagnostic) -> std::io::Result<bool> {
        // A join's findings carry their side: they come as events.
        Ok(true)
    }

    fn progress(&mut self, file: &str, read: u64) -> std::io::Result<bool> {
        if !self.progress {
            return Ok(true);
        }
        if self.bar.as_ref().is_none_or(|(n, _)| n != file) {
            self.bar = None;
            let total = (file != "<stdin>")
                .then(|| Input::path(file).len_hint())
                .flatten();
            self.bar = Some((file.to_string(), Progress::new(true, file, total)));
        }
        if let Some((_, p)) = &self.bar {
            p.set(read);
        }
        Ok(true)
    }
}

impl<W: std::io::Write> batchkit_join::JoinSink for PrintSink<'_, W> {
    fn event(&mut self, ev: &Event) -> std::io::Result<()> {
        super::mark_problems();
        print_event(self.w, ev, self.json, self.style)
    }
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
