//! `batchkit tokens`.

use std::path::PathBuf;

use anyhow::Context;
use batchkit_io::Input;
use batchkit_report::style::Style;
use batchkit_report::tokens as report;
use batchkit_report::tokens::Printer;
use batchkit_tokens::{count_input, Options, PriceTable, TokensError, Totals};

use crate::outcome::Outcome;
use crate::progress::Progress;
use crate::settings::{Format, Settings};

/// Count input tokens per request with the model's real tokenizer, and price the batch.
///
/// OpenAI models are counted exactly with the embedded tokenizers (o200k_base for gpt-4o,
/// gpt-4.1, gpt-4.5, gpt-5, o1/o3/o4; o200k_harmony for gpt-oss; cl100k_base for gpt-4,
/// gpt-3.5 and the embedding models): chat completions by OpenAI's cookbook rule, images by
/// the tile rule, embeddings and completions by their inputs. Claude, Gemini and models
/// without a public tokenizer get an estimate, marked "~" (exact: false in JSON). Tool
/// definitions follow the cookbook's rule (exact on gpt-4o, gpt-4o-mini, gpt-3.5-turbo and
/// gpt-4); `response_format` adds nothing. Audio transcriptions and translations have no text
/// input: their `input_tokens` is null and they stay out of the token totals.
///
/// The cost is given at batch and synchronous prices, low (input only) and high (input plus
/// every allowed output token), from an embedded price table with its date and sources.
/// The cost plan adds the batch price with the prompt-cache reads the file can get: shared
/// prefixes found by hashing token-prefix boundaries (OpenAI: exact prefixes from 1,024 tokens
/// in 128-token steps; Anthropic: up to `cache_control` breakpoints, with where to put one when
/// there is none; Gemini: implicit caching), with one line of advice when a cheaper
/// arrangement exists.
/// Exit code 1 when some lines could not be counted (each is listed).
#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:
  batchkit tokens batch.jsonl
  batchkit tokens --per-request --format json batch.jsonl | jq 'select(.input_tokens > 8000)'
  batchkit tokens --model gpt-4o azure-batch.jsonl.zst      # Azure deployment names
  batchkit tokens --pricing my-prices.toml part-*.jsonl
  cat batch.jsonl | batchkit tokens -")]
pub struct Args {
    /// Request files (JSONL, optionally zstd-compressed); `-` or nothing reads stdin
    #[arg(value_name = "FILE")]
    pub files: Vec<String>,
    /// Count every request as this model (tokenizer and price), whatever its line says
    #[arg(long, value_name = "M")]
    pub model: Option<String>,
    /// Also print one record per request (line, custom_id, model, tokens, max output)
    #[arg(long)]
    pub per_request: bool,
    /// A TOML price table (the embedded table's format) whose entries add to or replace
    /// the embedded ones
    #[arg(long, value_name = "PRICES.toml")]
    pub pricing: Option<PathBuf>,
    /// Models listed one by one; requests of further models are summed as "(other)"
    #[arg(long, value_name = "N", default_value_t = batchkit_tokens::DEFAULT_MAX_MODELS)]
    pub max_models: usize,
    /// The provider's enqueued-token limit for the model: says whether the input fits and
    /// how many files `shard --max-tokens N` cuts it into (the inputs taken as one file)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub queue_limit: Option<u64>,
    /// Skip the prompt-cache plan (shared prefixes, batch + cache cost)
    #[arg(long)]
    pub no_cache_plan: bool,
}

pub fn run(
    args: Args,
    settings: &Settings,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<Outcome> {
    let mut prices = PriceTable::embedded();
    if let Some(p) = &args.pricing {
        prices.extend_from_file(p).context("--pricing")?;
    }
    let out = crate::cmd::buffered(out);
    match settings.format {
        Format::Json => {
            let mut p = report::JsonPrinter::new(out);
            let outcome = count_all(&args, settings, &prices, &mut p)?;
            crate::cmd::finish(p.into_inner())?;
            outcome.into_result()
        }
        Format::Human => {
            let mut p = report::HumanPrinter::new(out, Style { on: settings.color });
            let outcome = count_all(&args, settings, &prices, &mut p)?;
            crate::cmd::finish(p.into_inner())?;
            outcome.into_result()
        }
    }
}

/// The totals of one input are the difference of two snapshots (not a clone of the per-model
/// tables).
struct Snapshot {
    lines: u64,
    bytes: u64,
    requests: u64,
    input_tokens: u64,
    errors: u64,
    warnings: u64,
}

impl Snapshot {
    fn of(t: &Totals) -> Self {
        Snapshot {
            lines: t.lines,
            bytes: t.bytes,
            requests: t.requests,
            input_tokens: t.input_tokens(),
            errors: t.errors,
            warnings: t.warnings,
        }
    }
}

struct Done {
    errors: u64,
    unreadable: Vec<String>,
}

impl Done {
    fn into_result(self) -> anyhow::Result<Outcome> {
        if !self.unreadable.is_empty() {
            // Each unreadable input was reported once, as it was met.
            return Ok(Outcome::Failed);
        }
        Ok(Outcome::problems_if(self.errors > 0))
    }
}

fn count_all(
    args: &Args,
    settings: &Settings,
    prices: &PriceTable,
    p: &mut impl Printer,
) -> anyhow::Result<Done> {
    let inputs: Vec<Input> = if args.files.is_empty() {
        vec![Input::stdin()]
    } else {
        args.files.iter().map(|f| Input::from_arg(f)).collect()
    };
    let opts = Options {
        model: args.model.clone(),
        read: settings.read.clone(),
        max_models: args.max_models,
        cache_plan: !args.no_cache_plan,
    };
    // `--queue-limit`: the greedy token cut of `shard --max-tokens`, over every input in order.
    let fit = args.queue_limit.map(|n| batchkit_shard::Fit {
        caps: batchkit_shard::Caps {
            max_tokens: Some(n),
            ..Default::default()
        },
        overhead: 0,
    });
    let mut queue_shard = fit.map(|f| f.empty());
    let mut queue_shards = 0u64;
    let mut over_limit = 0u64;
    let mut totals = Totals::with_max_models(args.max_models);
    let mut unreadable = Vec::new();
    for input in &inputs {
        let before = Snapshot::of(&totals);
        let bar = Progress::new(settings.progress, &input.name, input.len_hint());
        let mut sink = CountSink {
            p: &mut *p,
            bar: &bar,
            per_request: args.per_request,
            queue: fit.as_ref().zip(queue_shard.as_mut()),
            queue_shards: &mut queue_shards,
            over_limit: &mut over_limit,
        };
        let result = count_input(input, &opts, &mut totals, &mut sink);
        drop(bar);
        match result {
            Ok(_) => {}
            // One unreadable input does not stop the others; it gets an error record, no file
            // record, and the run fails (exit 2).
            Err(TokensError::Read(e)) => {
                p.error(&report::InputError {
                    file: input.name.clone(),
                    message: e.to_string(),
                })?;
                unreadable.push(input.name.clone());
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        p.file(&report::FileTotals {
            file: input.name.clone(),
            lines: totals.lines - before.lines,
            bytes: totals.bytes - before.bytes,
            requests: totals.requests - before.requests,
            input_tokens: totals.input_tokens() - before.input_tokens,
            errors: totals.errors - before.errors,
            warnings: totals.warnings - before.warnings,
        })?;
    }
    let s = totals.summary(prices);
    let queue = args.queue_limit.map(|limit| {
        let shards = queue_shards + u64::from(queue_shard.is_some_and(|t| t.requests > 0));
        report::Queue {
            limit,
            fits: s.input_tokens <= limit,
            shards: (over_limit == 0).then_some(shards),
            requests_over_limit: over_limit,
        }
    });
    p.summary(&report::Summary {
        files: inputs.len() as u64,
        lines: s.lines,
        bytes: s.bytes,
        requests: s.requests,
        errors: s.errors,
        warnings: s.warnings,
        input_tokens: s.input_tokens,
        max_output_tokens: s.max_output_tokens,
        requests_without_max_output: s.requests_without_max_output,
        requests_without_text_input: s.requests_without_text_input,
        exact: s.exact,
        ok: s.errors == 0 && unreadable.is_empty(),
        aggregated_requests: s.aggregated_requests,
        max_models: s.max_models,
        cost: s.cost,
        cost_incomplete: !s.unpriced_models.is_empty(),
        unpriced_models: s.unpriced_models,
        cache: s.cache.clone(),
        queue,
        models: s.models,
        prices: report::Prices {
            as_of: prices.as_of.clone(),
            currency: prices.currency.clone(),
            origin: prices.origin.clone(),
            sources: prices.sources.clone(),
        },
    })?;
    Ok(Done {
        errors: s.errors,
        unreadable,
    })
}

/// tokens' sink: findings and counted requests to the printer, progress to the bar, each
/// count into the `--queue-limit` cut.
struct CountSink<'a, P: Printer> {
    p: &'a mut P,
    bar: &'a Progress,
    per_request: bool,
    /// `--queue-limit`: the cut and the shard being filled.
    queue: Option<(&'a batchkit_shard::Fit, &'a mut batchkit_shard::Totals)>,
    queue_shards: &'a mut u64,
    over_limit: &'a mut u64,
}

impl<P: Printer> batchkit_tokens::Sink for CountSink<'_, P> {
    type Error = TokensError;

    fn finding(
        &mut self,
        file: &str,
        d: &batchkit_tokens::Diagnostic,
    ) -> Result<bool, TokensError> {
        if d.is_error() {
            super::mark_problems();
        }
        self.p.diagnostic(file, d)?;
        Ok(true)
    }

    fn progress(&mut self, _file: &str, read: u64) -> Result<bool, TokensError> {
        self.bar.set(read);
        Ok(true)
    }
}

impl<P: Printer> batchkit_tokens::TokensSink for CountSink<'_, P> {
    fn counted(
        &mut self,
        file: &str,
        line: u64,
        offset: u64,
        r: &batchkit_tokens::RequestCount,
    ) -> Result<bool, TokensError> {
        if let Some((fit, t)) = &mut self.queue {
            let m = batchkit_shard::Measure {
                tokens: r.input_tokens.unwrap_or(0),
                ..Default::default()
            };
            if fit.alone(&m).is_err() {
                *self.over_limit += 1;
            }
            if t.requests > 0 && !fit.fits(t, &m) {
                *self.queue_shards += 1;
                **t = fit.empty();
            }
            batchkit_shard::Fit::add(t, &m);
        }
        if self.per_request {
            self.p.request(&report::Request {
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
