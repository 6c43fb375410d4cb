//! `batchkit convert`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use batchkit_convert::{CacheMode, ConvertOptions, ResultsOptions, Target};
use batchkit_io::paths::Role;
use batchkit_report::convert::ConvertPrinter;
use batchkit_report::style::Style;

use crate::outcome::Outcome;
use crate::progress::PerInput;
use crate::settings::{Format, Settings};

/// Rewrite request lines from one provider's shape to another's.
///
/// Reads OpenAI chat completions, Responses and embeddings lines, Anthropic Messages, Gemini
/// and Vertex lines (generateContent and embeddings) and Bedrock Claude and Nova lines, and
/// writes them as --to's lines: openai (chat completions) and the hosts that take its lines
/// or bodies (azure, groq, mistral, together, xai, openrouter, ...: each host's own rules),
/// openai-responses, anthropic (Message Batches), gemini ({"key","request"}), vertex
/// ({"request"}, the id in "key"), bedrock (Claude's body; Nova's for a --model naming Nova)
/// or bedrock-nova. Embedding requests go between OpenAI, Gemini and Vertex. What converts:
/// system prompts, roles, text and image parts (https URLs and base64), tool definitions, tool
/// calls and tool results, tool_choice, temperature, top_p, top_k, stop sequences, output caps,
/// structured-output schemas (response_format <-> text.format <-> output_config.format <->
/// responseJsonSchema) and cache breakpoints (cache_control <-> cachePoint). A field with no
/// equivalent on the target is an `unconvertible` finding naming its JSON pointer, and the line is
/// left out, unless --lossy, which drops the field and counts it. Anthropic requires max_tokens: a
/// line without a cap gets --default-max-tokens, else the model's output limit from the models
/// table. An id the target does not accept (providers.toml's id rules; Anthropic: 1-64
/// characters of A-Z a-z 0-9 _ -) is `invalid_custom_id`, unless --id-map MAP is given: the line
/// gets a new id (derived from the old one, the same on every run) and MAP a line
/// {"id":new,"original":old}.
///
/// With --results, FILE... are result files of any provider's batch (every layout `join` reads:
/// OpenAI-style, Anthropic, Gemini, Vertex AI, Amazon Bedrock, xAI) and OUT gets them in
/// OpenAI's batch output shape ({"id","custom_id","response":{"status_code","request_id","body":
/// <chat.completion>},"error"}): the answer text, tool calls as tool_calls, usage as
/// prompt_tokens / completion_tokens (cache reads in prompt_tokens_details.cached_tokens), stop
/// reasons as finish_reason (stop, length, tool_calls, content_filter), errors, expiries and
/// cancellations as the error object. Ids are copied byte for byte; `join` gives every converted
/// line the status it gives the original.
///
/// OUT is written whole or not at all. Exit 0 when every line converted, 1 when some were left
/// out, 2 when the conversion could not be done.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:
  batchkit convert batch.jsonl --to anthropic --model claude-sonnet-4-5 \\
    --out claude.jsonl
  batchkit convert batch.jsonl --to gemini --out gemini.jsonl --lossy
  batchkit convert a.jsonl b.jsonl --to anthropic \\
    --model-map gpt-4o=claude-sonnet-4-5,gpt-4o-mini=claude-haiku-4-5 \\
    --id-map ids.jsonl --out claude.jsonl
  batchkit convert batch.jsonl --to anthropic --model claude-sonnet-4-5 \\
    --cache auto --out claude.jsonl
  batchkit convert claude.jsonl --to bedrock-nova --lossy --out nova.jsonl
  batchkit convert embeddings.jsonl --to vertex --out vertex.jsonl
  batchkit convert --results claude-results.jsonl --to openai \\
    --out results.jsonl")]
pub struct Args {
    /// Request files; `-` for stdin
    #[arg(value_name = "FILE", num_args = 1.., required = true)]
    pub files: Vec<String>,
    /// The target: openai, openai-responses, anthropic, gemini, vertex, bedrock, bedrock-nova,
    /// or a host that takes OpenAI's chat lines (azure, groq, mistral, together, openrouter, ...)
    #[arg(long, value_name = "PROVIDER", value_parser = parse_target)]
    pub to: Target,
    /// The output file
    #[arg(long, value_name = "OUT")]
    pub out: PathBuf,
    /// The target model for every line
    #[arg(long, value_name = "M")]
    pub model: Option<String>,
    /// Target models by source model, comma-separated (gpt-4o=claude-sonnet-4-5,...)
    #[arg(long, value_name = "A=B,...", value_delimiter = ',', value_parser = parse_pair)]
    pub model_map: Vec<(String, String)>,
    /// Drop fields with no equivalent on the target (counted by kind) instead of leaving the line out
    #[arg(long)]
    pub lossy: bool,
    /// The output cap of lines without one, where the target requires one [default: the model's
    /// output limit]
    #[arg(long, value_name = "N")]
    pub default_max_tokens: Option<u64>,
    /// Rename ids the target does not accept, writing {"id":new,"original":old} lines here
    #[arg(long, value_name = "MAP")]
    pub id_map: Option<PathBuf>,
    /// FILE... are result files: rewrite them in OpenAI's batch output shape (--to openai)
    #[arg(long, conflicts_with_all = ["model", "model_map", "lossy", "default_max_tokens", "id_map", "cache"])]
    pub results: bool,
    /// Prompt-cache breakpoints: keep the lines' own (dropped toward targets that cache on
    /// their own, and counted), none (drop them all), auto (keep them, and toward anthropic
    /// and bedrock add cache_control where the file's requests share a prefix the cost plan
    /// finds, at most 4 a request)
    #[arg(long, value_name = "MODE", value_parser = parse_cache, default_value = "keep")]
    pub cache: CacheMode,
}

fn parse_cache(s: &str) -> Result<CacheMode, String> {
    match s {
        "keep" => Ok(CacheMode::Keep),
        "none" => Ok(CacheMode::None),
        "auto" => Ok(CacheMode::Auto),
        _ => Err(format!("{s:?} is not a cache mode (auto, keep, none)")),
    }
}

fn parse_target(s: &str) -> Result<Target, String> {
    Target::parse(s).ok_or_else(|| {
        format!(
            "{s:?} is not a target convert writes ({})",
            Target::choices()
        )
    })
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((a, b)) if !a.is_empty() && !b.is_empty() => Ok((a.to_string(), b.to_string())),
        _ => Err(format!("{s:?} is not SOURCE=TARGET")),
    }
}

pub fn run(
    args: Args,
    settings: &Settings,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<Outcome> {
    let inputs: Vec<Role> = args.files.iter().map(|p| Role::new("FILE", p)).collect();
    let outputs: Vec<Role> = [
        ("--out", Some(&args.out)),
        ("--id-map", args.id_map.as_ref()),
    ]
    .into_iter()
    .filter_map(|(f, p)| p.map(|p| Role::new(f, p)))
    .collect();
    super::check_paths(&inputs, &outputs)?;
    if args.results {
        return results(args, settings, out, err);
    }
    let to = args.to.for_model(args.model.as_deref());
    let mut opts = ConvertOptions::new(super::inputs(&args.files), to, args.out);
    opts.cache = args.cache;
    opts.model = args.model;
    opts.model_map = args.model_map.into_iter().collect::<BTreeMap<_, _>>();
    opts.lossy = args.lossy;
    opts.default_max_tokens = args.default_max_tokens;
    opts.id_map = args.id_map;
    opts.read = settings.read.clone();
    let json = settings.format == Format::Json;
    let mut printer = printer(&opts.inputs, settings, out, err);
    let summary = batchkit_convert::convert(&opts, &mut printer);
    let printed = (|| {
        let summary = summary.map_err(|e| super::json_error_event(e.into(), &mut printer, json))?;
        printer.summary(&summary)?;
        printer.flush()?;
        Ok(Outcome::problems_if(summary.left_out > 0))
    })();
    super::closed_pipe(printed, printer.problems())
}

/// The printer of both conversions, with progress per input.
fn printer<'a>(
    inputs: &[batchkit_io::Input],
    settings: &Settings,
    out: &'a mut dyn std::io::Write,
    err: &'a mut dyn std::io::Write,
) -> ConvertPrinter<std::io::BufWriter<&'a mut dyn std::io::Write>, &'a mut dyn std::io::Write> {
    let sizes = crate::progress::sizes(inputs);
    ConvertPrinter::new(
        super::writers(out, err, settings, || Box::new(PerInput::new(sizes))),
        settings.format == Format::Json,
        Style { on: settings.color },
    )
}

/// `convert --results`: result lines into OpenAI's batch output shape.
fn results(
    args: Args,
    settings: &Settings,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<Outcome> {
    if args.to != Target::parse("openai").expect("openai is a target") {
        anyhow::bail!(
            "--results writes OpenAI's batch output shape: give --to openai, not --to {}",
            args.to.provider_name()
        );
    }
    let mut opts = ResultsOptions::new(super::inputs(&args.files), args.out);
    opts.read = settings.read.clone();
    let json = settings.format == Format::Json;
    let mut printer = printer(&opts.inputs, settings, out, err);
    let summary = batchkit_convert::convert_results(&opts, &mut printer);
    let printed = (|| {
        let summary = summary.map_err(|e| super::json_error_event(e.into(), &mut printer, json))?;
        printer.results_summary(&summary)?;
        printer.flush()?;
        Ok(Outcome::problems_if(summary.left_out > 0))
    })();
    super::closed_pipe(printed, printer.problems())
}
