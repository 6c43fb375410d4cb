//! `batchkit tokens`.

use std::path::PathBuf;

use anyhow::Context;
use batchkit_io::Input;
use batchkit_report::style::Style;
use batchkit_report::tokens as report;
use batchkit_report::tokens::Printer;
use batchkit_tokens::{count_input, Options, PriceTable, TokensError, TokensSink, Totals};

use crate::outcome::Outcome;
use crate::progress::PerInput;
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
  batchkit tokens --per-request --format json batch.jsonl \\
    | jq 'select(.input_tokens > 8000)'
  batchkit tokens --model gpt-4o azure.jsonl.zst    # Azure deployment names
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
    #[arg(long, value_name = "N", default_value_t = batchkit_tokens::DEFAULT_MAX_MODELS, value_parser = crate::settings::count_usize)]
    pub max_models: usize,
    /// The provider's enqueued-token limit for the model: says whether the input fits and
    /// how many files `shard --max-tokens N` cuts it into (the inputs taken as one file)
    #[arg(long, value_name = "N", value_parser = crate::settings::positive_count)]
    pub queue_limit: Option<u64>,
    /// Skip the prompt-cache plan (shared prefixes, batch + cache cost)
    #[arg(long)]
    pub no_cache_plan: bool,
}

pub fn run(
    args: Args,
    settings: &Settings,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<Outcome> {
    let mut prices = PriceTable::embedded();
    if let Some(p) = &args.pricing {
        prices.extend_from_file(p).context("--pricing")?;
    }
    let inputs = super::inputs(&args.files);
    let sizes = crate::progress::sizes(&inputs);
    let w = super::writers(out, err, settings, || Box::new(PerInput::new(sizes)));
    let o = report::Options {
        per_request: args.per_request,
        queue_limit: args.queue_limit,
    };
    match settings.format {
        Format::Json => {
            let mut p = report::JsonPrinter::new(w, o);
            let outcome = count_all(&args, &inputs, settings, &prices, &mut p);
            super::closed_pipe(outcome, p.problems())
        }
        Format::Human => {
            let mut p = report::HumanPrinter::new(w, o, Style { on: settings.color });
            let outcome = count_all(&args, &inputs, settings, &prices, &mut p);
            super::closed_pipe(outcome, p.problems())
        }
    }
}

fn count_all<P: Printer + TokensSink<Error = std::io::Error>>(
    args: &Args,
    inputs: &[Input],
    settings: &Settings,
    prices: &PriceTable,
    p: &mut P,
) -> anyhow::Result<Outcome> {
    let opts = Options {
        model: args.model.clone(),
        read: settings.read.clone(),
        max_models: args.max_models,
        cache_plan: !args.no_cache_plan,
    };
    let mut totals = Totals::with_max_models(args.max_models);
    for input in inputs {
        match count_input(input, &opts, &mut totals, p) {
            Ok(f) => p.file(&f)?,
            // One unreadable input does not stop the others; it gets an error record, no file
            // record, and the run fails (exit 2).
            Err(e) => match super::job_error::<TokensError>(&e) {
                Some(TokensError::Read(_)) => {
                    p.error(crate::outcome::input_error(&e.into(), &input.name))?
                }
                _ => return Err(e.into()),
            },
        }
    }
    let mut s = totals.summary(prices);
    s.queue = p.queue(s.input_tokens);
    p.summary(&s)?;
    p.flush()?;
    if totals.unreadable > 0 {
        // Each unreadable input was reported once, as it was met.
        return Ok(Outcome::Failed);
    }
    Ok(Outcome::problems_if(s.errors > 0))
}
