//! Printers for `batchkit tokens`.
//!
//! JSON Lines schema (one object per line, in this order):
//! - `{"type":"request","file","line","offset","custom_id","model","encoding","input_tokens","max_output_tokens","exact"}`
//!   per counted line, with `--per-request`; `input_tokens` is `null` for a request with no
//!   text input to count (audio transcriptions and translations, billed by audio length), and
//!   then `exact` is `true` (nothing was estimated);
//! - the one diagnostic shape (`crate::diagnostic::DiagnosticEvent`) per line that
//!   was not counted (`error`; a run of blank lines between requests too) or was skipped
//!   (`warning`: blank lines at the end of the file);
//! - `{"type":"file","file","lines","bytes","requests","input_tokens","errors","warnings"}` per input
//!   that was read to the end;
//! - `{"type":"error","code","file","line","message"}` per input that could not be read
//!   (missing, unreadable, a truncated zstd frame): no `file` record for it, and the summary
//!   has `"ok": false` and the first as its `error`;
//! - last, `{"type":"summary",...}`: totals, `requests_without_text_input` (requests counted in
//!   `requests` whose `input_tokens` is null: left out of `input_tokens`, the percentiles and
//!   `unpriced_models`), `exact`, `aggregated_requests` (requests summed under
//!   the model `(other)` past `max_models` models), `max_models`, `cost` (`batch_low`, `batch_high`,
//!   `sync_low`, `sync_high`, in USD rounded to 1e-9, or null when no model has a price),
//!   `cost_incomplete` (some requests' model has no price, so `cost` leaves them out),
//!   `unpriced_models`, `models` (per model: `model`,
//!   `encoding`, `exact`, `requests`, `estimated_requests`, `input_tokens`,
//!   `max_output_tokens`, `requests_without_max_output`, `requests_without_text_input`, `p50`,
//!   `p95`, `max` (over the requests with text input; 0 when there are none), `price_entry`,
//!   `cost`, `cache`) and `prices` (`as_of`, `currency`, `origin`, `sources`). With the cost
//!   plan (the default), every `cost` also has `batch_cache_low` / `batch_cache_high` and the
//!   summary and each model a `cache` block (see `batchkit_tokens::CachePlan`); with
//!   `--queue-limit`, `queue` (`limit`, `fits`, `shards`, `requests_over_limit`).

use std::io::{self, Write};

use batchkit_tokens::{
    Advice, FileTotals, ModelSummary, PlannedCost, Queue, RequestCount, Sink, Summary,
    TargetSummary, TokensSink,
};
use serde::Serialize;

use batchkit_line::Diagnostic;

use crate::money;
use crate::style::Style;
pub use crate::thousands;

/// One counted request.
#[derive(Debug, Clone, Serialize)]
pub struct Request<'a> {
    pub file: &'a str,
    pub line: u64,
    pub offset: u64,
    pub custom_id: Option<&'a str>,
    pub model: Option<&'a str>,
    pub encoding: &'a str,
    /// Input tokens; `None` (JSON `null`) when the endpoint has no text input to count
    /// (audio transcriptions and translations): "not applicable", not zero.
    pub input_tokens: Option<u64>,
    pub max_output_tokens: Option<u64>,
    /// Whether `input_tokens` is exact; `true` when it is `None` (nothing was estimated).
    pub exact: bool,
}

/// One line on a cheaper arrangement, in words.
pub fn advice(a: &Advice) -> String {
    match a {
        Advice::NoBatchCacheDiscount { model, tokens } => format!(
            "{model} gets no cache discount in Batch: its {} shared-prefix tokens would bill at 10% of the batch input price on a GPT-5-family model",
            thousands(*tokens)
        ),
        Advice::Breakpoint { add, hint, saving } => format!(
            "{} \"cache_control\": {{\"type\": \"ephemeral\"}} on {} (line {} of {}): {} requests share its {}-token prefix{}",
            if *add { "add" } else { "move the breakpoint to" },
            hint.pointer,
            hint.line,
            hint.file,
            thousands(hint.requests),
            thousands(hint.tokens),
            match saving {
                Some(s) => format!(": saves about ${s:.2} in batch"),
                None => String::new(),
            }
        ),
        Advice::SharedContentNotFirst { requests, tokens } => format!(
            "{} requests repeat a long block ({} tokens in all) after content that differs: put the shared part first so it is a cached prefix",
            thousands(*requests),
            thousands(*tokens),
        ),
        Advice::UnderMinimum {
            requests,
            longest,
            minimum,
        } => format!(
            "{} requests share a prefix of about {} tokens, under the {}-token minimum: none of it is cached; a shared part of at least {} tokens would be",
            thousands(*requests),
            thousands(*longest),
            thousands(*minimum),
            thousands(*minimum),
        ),
    }
}

/// `s` with every cache plan's advice in words (the `advice` field both printers show).
fn worded(s: &Summary) -> Summary {
    let mut s = s.clone();
    let plans = s
        .cache
        .iter_mut()
        .chain(s.models.iter_mut().filter_map(|m| m.cache.as_mut()));
    for plan in plans {
        plan.advice = plan.suggestion.as_ref().map(advice);
    }
    s
}

/// What a `tokens` printer is told, in output order.
pub trait Printer {
    fn request(&mut self, r: &Request<'_>) -> io::Result<()>;
    /// A line of `file` that was not counted, or was skipped: the one diagnostic shape.
    fn diagnostic(&mut self, file: &str, d: &Diagnostic) -> io::Result<()>;
    fn file(&mut self, f: &FileTotals) -> io::Result<()>;
    /// An input that could not be read (it gets no `file` record).
    fn error(&mut self, e: crate::RunError) -> io::Result<()>;
    fn summary(&mut self, s: &Summary) -> io::Result<()>;
    /// `--queue-limit`'s cut so far, for `input_tokens` in all.
    fn queue(&self, input_tokens: u64) -> Option<Queue>;
    /// Whether a line was not counted (an error finding).
    fn problems(&self) -> bool;
    /// Flushes both writers.
    fn flush(&mut self) -> io::Result<()>;
}

/// The sink of `tokens` for both printers: findings and counted requests (with
/// `--per-request`) printed, each count into the `--queue-limit` cut, progress shown.
macro_rules! tokens_sink {
    ($printer:ident) => {
        impl<W: Write, E: Write> Sink for $printer<W, E> {
            type Error = io::Error;

            fn finding(&mut self, file: &str, d: &Diagnostic) -> io::Result<bool> {
                if d.is_error() {
                    self.o.problem();
                }
                self.diagnostic(file, d)?;
                Ok(true)
            }

            fn progress(&mut self, file: &str, read: u64) -> io::Result<bool> {
                self.o.progress(file, read);
                Ok(true)
            }
        }

        impl<W: Write, E: Write> TokensSink for $printer<W, E> {
            fn counted(
                &mut self,
                file: &str,
                line: u64,
                offset: u64,
                r: &RequestCount,
            ) -> io::Result<bool> {
                if let Some(q) = &mut self.queue {
                    q.add(r.input_tokens.unwrap_or(0));
                }
                if self.per_request {
                    self.request(&Request {
                        file,
                        line,
                        offset,
                        custom_id: r.custom_id.as_deref(),
                        model: r.model.as_deref(),
                        encoding: r.encoding.name(),
                        input_tokens: r.input_tokens,
                        max_output_tokens: r.max_output_tokens,
                        exact: r.exact,
                    })?;
                }
                Ok(true)
            }
        }
    };
}

tokens_sink!(JsonPrinter);
tokens_sink!(HumanPrinter);

/// The printer methods every `tokens` printer has the same way.
macro_rules! common {
    () => {
        fn queue(&self, input_tokens: u64) -> Option<Queue> {
            self.queue.as_ref().map(|q| q.queue(input_tokens))
        }
        fn problems(&self) -> bool {
            self.o.problems()
        }
        fn flush(&mut self) -> io::Result<()> {
            self.o.flush()
        }
    };
}

/// The keys of the summary besides `type`, `ok` and `error`, in order.
pub fn summary_keys() -> Vec<String> {
    [
        "files",
        "lines",
        "bytes",
        "requests",
        "errors",
        "warnings",
        "input_tokens",
        "max_output_tokens",
        "requests_without_max_output",
        "requests_without_text_input",
        "exact",
        "aggregated_requests",
        "max_models",
        "cost",
        "cost_incomplete",
        "unpriced_models",
        "cache",
        "queue",
        "models",
        "targets",
        "prices",
    ]
    .iter()
    .map(|k| k.to_string())
    .collect()
}

/// The summary record: the library's summary and why the run stopped (`null`: it was done).
#[derive(Serialize)]
struct SummaryRecord<'a> {
    #[serde(flatten)]
    summary: &'a Summary,
    error: Option<&'a crate::RunError>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event<'a> {
    Request(&'a Request<'a>),
    File(&'a FileTotals),
    /// `--target`: the file priced on one provider and model (its own first).
    Target(&'a TargetSummary),
    Summary(SummaryRecord<'a>),
}

/// `--queue-limit`: the greedy token cut of `shard --max-tokens`, over every input in
/// order, as the counts come.
#[derive(Debug)]
pub struct QueueCut {
    limit: u64,
    fit: batchkit_shard::Fit,
    shard: batchkit_shard::Totals,
    shards: u64,
    over_limit: u64,
}

impl QueueCut {
    /// The cut at `limit` tokens per file.
    pub fn new(limit: u64) -> Self {
        let fit = batchkit_shard::Fit {
            caps: batchkit_shard::Caps {
                max_tokens: Some(limit),
                ..Default::default()
            },
            overhead: 0,
        };
        QueueCut {
            limit,
            shard: fit.empty(),
            fit,
            shards: 0,
            over_limit: 0,
        }
    }

    fn add(&mut self, tokens: u64) {
        let m = batchkit_shard::Measure {
            tokens,
            ..Default::default()
        };
        if self.fit.alone(&m).is_err() {
            self.over_limit += 1;
        }
        if self.shard.requests > 0 && !self.fit.fits(&self.shard, &m) {
            self.shards += 1;
            self.shard = self.fit.empty();
        }
        batchkit_shard::Fit::add(&mut self.shard, &m);
    }

    /// What the summary says of the cut, for `input_tokens` in all.
    pub fn queue(&self, input_tokens: u64) -> Queue {
        let shards = self.shards + u64::from(self.shard.requests > 0);
        Queue {
            limit: self.limit,
            fits: input_tokens <= self.limit,
            shards: (self.over_limit == 0).then_some(shards),
            requests_over_limit: self.over_limit,
        }
    }
}

/// JSON Lines on a writer.
pub struct JsonPrinter<W: Write, E: Write> {
    o: crate::Writers<W, E>,
    per_request: bool,
    queue: Option<QueueCut>,
}

/// What the `tokens` printers print besides the totals.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// A record per counted request.
    pub per_request: bool,
    /// `--queue-limit`.
    pub queue_limit: Option<u64>,
}

impl<W: Write, E: Write> JsonPrinter<W, E> {
    pub fn new(o: crate::Writers<W, E>, c: Options) -> Self {
        JsonPrinter {
            o,
            per_request: c.per_request,
            queue: c.queue_limit.map(QueueCut::new),
        }
    }

    /// Flushes and returns the output.
    pub fn into_inner(self) -> io::Result<W> {
        self.o.into_inner()
    }

    fn emit(&mut self, e: &Event<'_>) -> io::Result<()> {
        serde_json::to_writer(&mut self.o.out, e)?;
        self.o.out.write_all(b"\n")
    }
}

impl<W: Write, E: Write> Printer for JsonPrinter<W, E> {
    fn request(&mut self, r: &Request<'_>) -> io::Result<()> {
        self.emit(&Event::Request(r))
    }
    fn diagnostic(&mut self, file: &str, d: &Diagnostic) -> io::Result<()> {
        crate::diagnostic::DiagnosticEvent::of(file, d).print(&mut self.o.out)
    }
    fn file(&mut self, f: &FileTotals) -> io::Result<()> {
        self.emit(&Event::File(f))
    }
    fn error(&mut self, e: crate::RunError) -> io::Result<()> {
        self.o.input_error(e, true)
    }
    fn summary(&mut self, s: &Summary) -> io::Result<()> {
        self.o.progress_done();
        for t in &s.targets {
            self.emit(&Event::Target(t))?;
        }
        let s = worded(s);
        let error = self.o.error().cloned();
        self.emit(&Event::Summary(SummaryRecord {
            summary: &s,
            error: error.as_ref(),
        }))
    }
    common!();
}

/// Compiler-style diagnostics and a table per model.
pub struct HumanPrinter<W: Write, E: Write> {
    o: crate::Writers<W, E>,
    per_request: bool,
    queue: Option<QueueCut>,
    style: Style,
    files: Vec<FileTotals>,
}

impl<W: Write, E: Write> HumanPrinter<W, E> {
    pub fn new(o: crate::Writers<W, E>, c: Options, style: Style) -> Self {
        HumanPrinter {
            o,
            per_request: c.per_request,
            queue: c.queue_limit.map(QueueCut::new),
            style,
            files: Vec::new(),
        }
    }
}

impl<W: Write, E: Write> HumanPrinter<W, E> {
    /// A small table per model with a cache plan: sync, batch and batch + cache, the saving,
    /// the best-effort range of batch cache hits and one line of advice.
    fn cache_plan(&mut self, s: &Summary) -> io::Result<()> {
        let cur = s.prices.currency.clone();
        let m = |x: f64| money(&cur, x);
        for row in &s.models {
            let (Some(plan), Some(cost)) = (&row.cache, row.cost.map(|c| c.base)) else {
                continue;
            };
            let name = row.model.clone().unwrap_or_else(|| "(no model)".into());
            let Some(rule) = plan.rule else {
                writeln!(
                    self.o.out,
                    "cache plan, {name}: no prompt cache in this model's batch lane"
                )?;
                continue;
            };
            let (Some(cl), Some(ch)) = (plan.batch_cache_low, plan.batch_cache_high) else {
                continue;
            };
            let title = format!(
                "cache plan, {name} ({rule}, minimum {} tokens){}",
                thousands(u64::from(plan.minimum_tokens.unwrap_or(0))),
                if plan.exact { "" } else { " ~" }
            );
            writeln!(self.o.out, "{}", self.style.bold(&title))?;
            writeln!(
                self.o.out,
                "  {:<14} {:>14} {:>14}",
                "", "input only", "with output"
            )?;
            writeln!(
                self.o.out,
                "  {:<14} {:>14} {:>14}",
                "sync",
                m(cost.sync_low),
                m(cost.sync_high)
            )?;
            writeln!(
                self.o.out,
                "  {:<14} {:>14} {:>14}",
                "batch",
                m(cost.batch_low),
                m(cost.batch_high)
            )?;
            writeln!(
                self.o.out,
                "  {:<14} {:>14} {:>14}",
                "batch + cache",
                m(cl),
                m(ch)
            )?;
            let pct = |part: f64, whole: f64| {
                if whole > 0.0 {
                    100.0 * part / whole
                } else {
                    0.0
                }
            };
            writeln!(
                self.o.out,
                "  cacheable input: {} of {} tokens ({:.1}%), {} shared {}{}",
                thousands(plan.cacheable_input_tokens),
                thousands(row.input_tokens),
                pct(plan.cacheable_input_tokens as f64, row.input_tokens as f64),
                thousands(plan.shared_prefixes.count),
                if plan.shared_prefixes.count == 1 {
                    "prefix"
                } else {
                    "prefixes"
                },
                match plan.shared_prefixes.longest.first() {
                    Some(p) => format!(
                        " (longest {} tokens, {} requests)",
                        thousands(p.tokens),
                        thousands(p.requests)
                    ),
                    None => String::new(),
                }
            )?;
            if plan.cache_write_tokens > 0 {
                let hour = if plan.cache_write_1h_tokens > 0 {
                    format!(
                        ", {} of them at the 1-hour TTL (2x input)",
                        thousands(plan.cache_write_1h_tokens)
                    )
                } else {
                    String::new()
                };
                writeln!(
                    self.o.out,
                    "  cache writes: {} tokens at the write price{hour}",
                    thousands(plan.cache_write_tokens)
                )?;
            }
            writeln!(
                self.o.out,
                "  saving: {} ({:.1}%) against batch, {} ({:.1}%) against sync, input only",
                m(round2(cost.batch_low - cl)),
                pct(cost.batch_low - cl, cost.batch_low),
                m(round2(cost.sync_low - cl)),
                pct(cost.sync_low - cl, cost.sync_low),
            )?;
            if let Some(none) = plan.batch_cache_no_hits_low {
                writeln!(
                    self.o.out,
                    "  batch cache hits are best effort: input {} (no hits) to {} (all hits)",
                    m(none),
                    m(cl)
                )?;
            }
            if let (Some(tokens), Some(low)) = (
                plan.potential_cacheable_input_tokens,
                plan.potential_batch_cache_low,
            ) {
                if tokens > plan.cacheable_input_tokens {
                    writeln!(
                        self.o.out,
                        "  with breakpoints after the shared prefixes: {} tokens read from cache, input {}",
                        thousands(tokens),
                        m(low)
                    )?;
                }
            }
            if let Some(a) = &plan.advice {
                writeln!(self.o.out, "  {} {a}", self.style.yellow("advice:"))?;
            }
        }
        if s.models.len() > 1 {
            if let (Some(plan), Some(cost)) = (&s.cache, s.cost.map(|c| c.base)) {
                if let Some(cl) = plan.batch_cache_low {
                    writeln!(
                        self.o.out,
                        "cache plan, total: batch {} → batch + cache {} (input only; {} tokens cacheable)",
                        m(cost.batch_low),
                        m(cl),
                        thousands(plan.cacheable_input_tokens)
                    )?;
                }
            }
        }
        if s.models.iter().any(|r| r.cache.is_some()) {
            writeln!(self.o.out)?;
        }
        Ok(())
    }
}

fn round2(x: f64) -> f64 {
    (x * 1e9).round() / 1e9
}

impl<W: Write, E: Write> Printer for HumanPrinter<W, E> {
    fn request(&mut self, r: &Request<'_>) -> io::Result<()> {
        let approx = if r.exact { "" } else { "~" };
        let max = r
            .max_output_tokens
            .map_or("no limit".to_string(), thousands);
        let input = match r.input_tokens {
            Some(n) => format!("{approx}{} tokens", thousands(n)),
            None => "no text input (not counted)".to_string(),
        };
        writeln!(
            self.o.out,
            "{}  {}  {}  {input}  (max output {max})",
            self.style.blue(&format!("{}:{}", r.file, r.line)),
            r.custom_id.unwrap_or("-"),
            r.model.unwrap_or("(no model)"),
        )
    }

    fn diagnostic(&mut self, file: &str, d: &Diagnostic) -> io::Result<()> {
        crate::diagnostic::human(&mut self.o.out, &self.style, file, d)
    }

    fn file(&mut self, f: &FileTotals) -> io::Result<()> {
        self.files.push(f.clone());
        Ok(())
    }

    fn error(&mut self, e: crate::RunError) -> io::Result<()> {
        self.o.input_error(e, false)
    }

    common!();

    fn summary(&mut self, s: &Summary) -> io::Result<()> {
        self.o.progress_done();
        let s = &worded(s);
        let w = &mut self.o.out;
        let cur = s.prices.currency.as_str();
        if self.files.len() > 1 {
            for f in &self.files {
                writeln!(
                    w,
                    "{}: {} requests, {} input tokens",
                    f.file,
                    thousands(f.requests),
                    thousands(f.input_tokens)
                )?;
            }
            writeln!(w)?;
        }
        let name = |m: &ModelSummary| {
            let n = m.model.clone().unwrap_or_else(|| "(no model)".into());
            if m.exact {
                n
            } else {
                format!("{n} ~")
            }
        };
        let width = s
            .models
            .iter()
            .map(|m| name(m).len())
            .chain([5])
            .max()
            .unwrap_or(5);
        let range = |c: Option<PlannedCost>, batch: bool| match c.map(|c| c.base) {
            Some(c) if batch => {
                format!("{} – {}", money(cur, c.batch_low), money(cur, c.batch_high))
            }
            Some(c) => format!("{} – {}", money(cur, c.sync_low), money(cur, c.sync_high)),
            None => "no price".into(),
        };
        // The cost columns are as wide as their widest range (small costs take more digits).
        let costs = s.models.iter().map(|m| m.cost).chain([s.cost]);
        let col = |batch: bool| {
            costs
                .clone()
                .map(|c| range(c, batch).chars().count())
                .chain([21])
                .max()
                .unwrap_or(21)
        };
        let (bw, sw) = (col(true), col(false));
        let header = format!(
            "{:<width$}  {:>9}  {:>13}  {:>7}  {:>7}  {:>7}  {:>13}  {:>bw$}  {:>sw$}",
            "model",
            "requests",
            "input tokens",
            "p50",
            "p95",
            "max",
            "max output",
            "batch cost",
            "sync cost"
        );
        writeln!(w, "{}", self.style.bold(&header))?;
        for m in &s.models {
            writeln!(
                w,
                "{:<width$}  {:>9}  {:>13}  {:>7}  {:>7}  {:>7}  {:>13}  {:>bw$}  {:>sw$}",
                name(m),
                thousands(m.requests),
                thousands(m.input_tokens),
                thousands(m.p50),
                thousands(m.p95),
                thousands(m.max),
                thousands(m.max_output_tokens),
                range(m.cost, true),
                range(m.cost, false),
            )?;
        }
        if s.models.len() > 1 {
            writeln!(
                w,
                "{:<width$}  {:>9}  {:>13}  {:>7}  {:>7}  {:>7}  {:>13}  {:>bw$}  {:>sw$}",
                "total",
                thousands(s.requests),
                thousands(s.input_tokens),
                "",
                "",
                "",
                thousands(s.max_output_tokens),
                range(s.cost, true),
                range(s.cost, false),
            )?;
        }
        if s.requests == 0 {
            writeln!(w, "no requests counted")?;
        }
        writeln!(w)?;
        self.cache_plan(s)?;
        let w = &mut self.o.out;
        if !s.targets.is_empty() {
            targets_table(w, &self.style, cur, &s.targets)?;
        }
        if let Some(q) = &s.queue {
            let shards =
                match q.shards {
                    Some(k) => format!(
                        "`shard --max-tokens {}` makes {} {}",
                        q.limit,
                        thousands(k),
                        if k == 1 { "file" } else { "files" }
                    ),
                    None => {
                        format!(
                    "{} {} over the limit on {} own: `shard --max-tokens {}` refuses the file",
                    thousands(q.requests_over_limit),
                    if q.requests_over_limit == 1 { "request is" } else { "requests are" },
                    if q.requests_over_limit == 1 { "its" } else { "their" },
                    q.limit
                )
                    }
                };
            writeln!(
                w,
                "queue limit {}: {} ({} input tokens); {shards}",
                thousands(q.limit),
                if q.fits { "fits" } else { "does not fit" },
                thousands(s.input_tokens),
            )?;
        }
        if !s.exact {
            writeln!(
                w,
                "~ estimate: no public tokenizer for the model, or parts no published rule covers (tools beyond the cookbook's models, audio parts, Responses API); counted with o200k_base"
            )?;
        }
        if s.requests_without_text_input > 0 {
            let n = s.requests_without_text_input;
            writeln!(
                w,
                "{} {} no countable input (audio transcription / translation): left out of the token totals and percentiles",
                thousands(n),
                if n == 1 { "request has" } else { "requests have" },
            )?;
        }
        writeln!(
            w,
            "cost: low = input only, high = input + every allowed output token"
        )?;
        if s.aggregated_requests > 0 {
            writeln!(
                w,
                "{} requests of models past the first {} are summed as (other)",
                thousands(s.aggregated_requests),
                thousands(s.max_models as u64)
            )?;
        }
        if s.requests_without_max_output > 0 {
            writeln!(
                w,
                "{} no output limit: the high cost leaves their output out",
                crate::plural(
                    s.requests_without_max_output,
                    "request sets",
                    "requests set"
                )
            )?;
        }
        if !s.unpriced_models.is_empty() {
            writeln!(
                w,
                "{} {} (add it with --pricing FILE)",
                self.style.yellow("no price for:"),
                s.unpriced_models.join(", ")
            )?;
        }
        writeln!(
            w,
            "prices: {} table as of {} ({cur} per 1M tokens)",
            s.prices.origin, s.prices.as_of
        )?;
        if s.errors > 0 || s.warnings > 0 {
            let msg = format!(
                "{} {}, {} {} (see above): the lines they name are not counted",
                thousands(s.errors),
                if s.errors == 1 { "error" } else { "errors" },
                thousands(s.warnings),
                if s.warnings == 1 {
                    "warning"
                } else {
                    "warnings"
                },
            );
            writeln!(
                w,
                "{}",
                if s.errors > 0 {
                    self.style.red(&msg)
                } else {
                    self.style.yellow(&msg)
                }
            )?;
        }
        Ok(())
    }
}

/// `--target`: one row per provider and model, the file's own first, then cheapest first.
fn targets_table(
    w: &mut impl Write,
    style: &Style,
    cur: &str,
    targets: &[TargetSummary],
) -> io::Result<()> {
    let name = |t: &TargetSummary| {
        let mut n = t.target.clone();
        if t.own {
            n.push_str(" (this file)");
        }
        n
    };
    let tokens = |t: &TargetSummary| {
        if t.exact {
            thousands(t.input_tokens)
        } else {
            format!("~{}", thousands(t.input_tokens))
        }
    };
    let range = |t: &TargetSummary, which: u8| match t.cost {
        Some(c) => {
            let (lo, hi) = match which {
                0 => (c.base.sync_low, c.base.sync_high),
                1 => (c.base.batch_low, c.base.batch_high),
                _ => (
                    c.batch_cache_low.unwrap_or(c.base.batch_low),
                    c.batch_cache_high.unwrap_or(c.base.batch_high),
                ),
            };
            format!("{} – {}", money(cur, lo), money(cur, hi))
        }
        None => "no price".into(),
    };
    let width = |f: &dyn Fn(&TargetSummary) -> String, min: usize| {
        targets
            .iter()
            .map(|t| f(t).chars().count())
            .chain([min])
            .max()
            .unwrap_or(min)
    };
    let nw = width(&name, 6);
    let tw = width(&tokens, 12);
    let (sw, bw, cw) = (
        width(&|t| range(t, 0), 4),
        width(&|t| range(t, 1), 5),
        width(&|t| range(t, 2), 13),
    );
    let header = format!(
        "{:<nw$}  {:>tw$}  {:>10}  {:>sw$}  {:>bw$}  {:>cw$}  {:>5}",
        "target", "input tokens", "max output", "sync", "batch", "batch + cache", "files"
    );
    writeln!(
        w,
        "{}",
        style.bold("the same requests on each target, as `convert` sends them:")
    )?;
    writeln!(w, "{}", style.bold(&header))?;
    for t in targets {
        writeln!(
            w,
            "{:<nw$}  {:>tw$}  {:>10}  {:>sw$}  {:>bw$}  {:>cw$}  {:>5}",
            name(t),
            tokens(t),
            thousands(t.max_output_tokens),
            range(t, 0),
            range(t, 1),
            range(t, 2),
            thousands(t.files),
        )?;
    }
    for t in targets.iter().filter(|t| t.left_out > 0) {
        writeln!(
            w,
            "{}: {} not priced: `convert --to {}` leaves {} out (run it to see why)",
            t.target,
            crate::plural(t.left_out, "request", "requests"),
            t.provider,
            if t.left_out == 1 { "it" } else { "them" }
        )?;
    }
    if targets.iter().any(|t| t.cache_breakpoints_added) {
        writeln!(
            w,
            "batch + cache on targets that cache on request: with cache_control after the shared prefix, as `convert --cache auto` places it"
        )?;
    }
    writeln!(
        w,
        "targets cheapest first by batch + cache with every allowed output token; files: under each provider's request and byte caps"
    )?;
    writeln!(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn advice_is_worded_with_grouped_numbers() {
        assert_eq!(
            advice(&Advice::SharedContentNotFirst {
                requests: 1900,
                tokens: 28_500
            }),
            "1,900 requests repeat a long block (28,500 tokens in all) after content that differs: put the shared part first so it is a cached prefix"
        );
        assert_eq!(
            advice(&Advice::UnderMinimum {
                requests: 3,
                longest: 900,
                minimum: 1024
            }),
            "3 requests share a prefix of about 900 tokens, under the 1,024-token minimum: none of it is cached; a shared part of at least 1,024 tokens would be"
        );
        assert_eq!(
            advice(&Advice::NoBatchCacheDiscount {
                model: "gpt-5".into(),
                tokens: 4096
            }),
            "gpt-5 gets no cache discount in Batch: its 4,096 shared-prefix tokens would bill at 10% of the batch input price on a GPT-5-family model"
        );
    }

    #[test]
    fn json_lines_carry_their_type() {
        let mut p = JsonPrinter::new(
            crate::Writers::new(Vec::new(), Vec::new()),
            Options::default(),
        );
        let mut d = Diagnostic::at(
            batchkit_line::Code::InvalidJson,
            batchkit_line::Severity::Error,
            2,
            9,
            "m",
        )
        .with_context("not counted");
        d.column = Some(3);
        p.diagnostic("a", &d).unwrap();
        let out = String::from_utf8(p.into_inner().unwrap()).unwrap();
        assert_eq!(
            out,
            "{\"type\":\"diagnostic\",\"severity\":\"error\",\"code\":\"invalid_json\",\"file\":\"a\",\"line\":2,\"offset\":9,\"column\":3,\"custom_id\":null,\"first_line\":null,\"pointer\":null,\"message\":\"m\",\"context\":\"not counted\",\"side\":null,\"first_file\":null}\n"
        );
    }
}
