//! `batchkit tokens`.

use std::path::PathBuf;

use anyhow::Context;
use batchkit_io::Input;
use batchkit_report::style::Style;
use batchkit_report::tokens as report;
use batchkit_report::tokens::Printer;
use std::sync::Arc;

use batchkit_convert::ConvertOptions;
use batchkit_tokens::{count_input, Options, PriceTable, Target, TokensError, TokensSink, Totals};

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
/// --target PROVIDER/MODEL (repeatable) prices the same file on other providers and models: each
/// line converted as `batchkit convert --to PROVIDER --model MODEL --lossy` writes it, counted
/// with the target model's tokenizer (exact for OpenAI models, "~" estimates otherwise), priced
/// sync, batch and batch + cache under that provider's caching rule, and cut into the files its
/// caps need. One table, the file's own provider and model first, then cheapest first; in JSON
/// one {"type":"target"} record per row before the summary, which lists them as `targets`.
/// Exit code 1 when some lines could not be counted (each is listed).
#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:
  batchkit tokens batch.jsonl
  batchkit tokens --per-request --format json batch.jsonl \\
    | jq 'select(.input_tokens > 8000)'
  batchkit tokens --model gpt-4o azure.jsonl.zst    # Azure deployment names
  batchkit tokens --pricing my-prices.toml part-*.jsonl
  batchkit tokens batch.jsonl --target anthropic/claude-sonnet-4-5 \\
    --target gemini/gemini-2.5-flash --target openai/gpt-4.1-mini
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
    /// Also price the file on this provider and model, converted as `convert` sends it
    /// (repeatable): openai, anthropic, gemini or a host that takes OpenAI's lines
    #[arg(long = "target", value_name = "PROVIDER/MODEL")]
    pub targets: Vec<String>,
}

/// `--target PROVIDER/MODEL`: a provider convert writes, with caps in providers.toml, and a
/// model the price table prices.
fn target(spec: &str, prices: &PriceTable) -> anyhow::Result<Target> {
    let Some((provider, model)) = spec
        .split_once('/')
        .filter(|(p, m)| !p.is_empty() && !m.is_empty())
    else {
        anyhow::bail!("--target {spec:?}: give PROVIDER/MODEL (anthropic/claude-sonnet-4-5)");
    };
    let provider = provider.to_ascii_lowercase();
    let to = batchkit_convert::Target::parse(&provider)
        .filter(|_| batchkit_providers::Provider::get(&provider).is_some());
    let Some(to) = to else {
        anyhow::bail!(
            "--target {spec:?}: {provider:?} is not a provider convert writes ({})",
            batchkit_convert::Target::choices()
        );
    };
    if prices.lookup(model).is_none() {
        anyhow::bail!(
            "--target {spec:?}: no price for {model:?} in the {} price table (as of {}); add it with --pricing FILE",
            prices.origin,
            prices.as_of
        );
    }
    let to = to.for_model(Some(model));
    let mut co = ConvertOptions::new(Vec::new(), to, std::path::PathBuf::new());
    co.model = Some(model.to_string());
    co.lossy = true;
    // Ids do not change a price: renamed where the target would refuse them, nothing written.
    co.id_map = Some(std::path::PathBuf::new());
    Ok(Target {
        provider,
        model: model.to_string(),
        convert: Arc::new(move |line: &[u8]| batchkit_convert::convert_one(&co, line)),
    })
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
    let targets = args
        .targets
        .iter()
        .map(|t| target(t, &prices))
        .collect::<anyhow::Result<Vec<_>>>()?;
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
            let outcome = count_all(&args, &inputs, settings, &prices, targets, &mut p);
            super::closed_pipe(outcome, p.problems())
        }
        Format::Human => {
            let mut p = report::HumanPrinter::new(w, o, Style { on: settings.color });
            let outcome = count_all(&args, &inputs, settings, &prices, targets, &mut p);
            super::closed_pipe(outcome, p.problems())
        }
    }
}

fn count_all<P: Printer + TokensSink<Error = std::io::Error>>(
    args: &Args,
    inputs: &[Input],
    settings: &Settings,
    prices: &PriceTable,
    targets: Vec<Target>,
    p: &mut P,
) -> anyhow::Result<Outcome> {
    let opts = Options {
        model: args.model.clone(),
        read: settings.read.clone(),
        max_models: args.max_models,
        cache_plan: !args.no_cache_plan,
        targets,
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
    s.targets = totals.target_summaries(prices, &s);
    p.summary(&s)?;
    p.flush()?;
    if totals.unreadable > 0 {
        // Each unreadable input was reported once, as it was met.
        return Ok(Outcome::Failed);
    }
    Ok(Outcome::problems_if(s.errors > 0))
}
