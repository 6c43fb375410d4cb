//! `batchkit join`.

use std::path::PathBuf;

use batchkit_io::paths::Role;
use batchkit_io::Input;
use batchkit_join::{default_prices, JoinOptions, Status, StatusSet};
use batchkit_report::join::JoinPrinter;
use batchkit_report::style::Style;

use crate::outcome::Outcome;
use crate::progress::PerInput;
use crate::settings::{Format, Settings};

/// Join downloaded batch results back to their requests by id.
///
/// Writes MERGED in request order, one line per request:
/// {"custom_id":...,"status":"succeeded|truncated|refused|invalid_answer|errored|expired|canceled|missing",
/// "request":<request line>,"result":<result line or null>,"output_text":<answer text or null>,
/// "stop_reason":<the provider's stop reason, verbatim, or null>}. An answer cut by the output cap
/// (finish_reason length, stop_reason max_tokens, finishReason MAX_TOKENS, Responses incomplete
/// with max_output_tokens) is truncated; one refused or filtered (content_filter, message.refusal,
/// Anthropic refusal, Gemini SAFETY and the other block reasons, a blocked prompt) is refused;
/// their usage and cost are still counted. A finished answer whose request asked for structured
/// output (OpenAI response_format json_schema or json_object, Responses text.format, Gemini
/// responseMimeType application/json with responseSchema or responseJsonSchema, Anthropic and
/// Bedrock output_config.format, a forced tool's input_schema, Converse textFormat) is checked:
/// not JSON, cut JSON or a schema violation makes it invalid_answer, with
/// "answer_problem":{"pointer":...,"message":...} in its merged line. Request lines that cannot be
/// joined (no id, an id an earlier line already used) get status missing and a "problem" field;
/// lines that are not valid UTF-8 JSON are reported and left out of MERGED. RETRY is ready to
/// upload: a line that cannot be sent again as it is (not JSON, not an object, no id, no body or
/// an empty one where its shape needs one) is reported and written to --rejects, never to RETRY.
/// RETRY never holds an id twice: a later line with an id already used is reported
/// (duplicate_id) and left out. A result file given as --requests, or a request file as
/// --results, is refused (exit 2), judged by its first line that parses. MERGED, RETRY and the
/// other outputs are put in place together, or none of them. Results may come in any order and from several files (OpenAI/Azure/Groq/Mistral
/// output and error files, Anthropic results, Gemini and Vertex outputs, Together), plain or zstd.
///
/// An OpenAI-style line with a non-2xx response.status_code is errored even when "error" is null;
/// error.code batch_expired is expired and batch_cancelled canceled. When several results name one
/// id (rounds of retries), the merged line takes the best status (succeeded, then truncated,
/// refused, errored, expired, canceled), among equals the result file given later (within one file
/// the earlier line); the others go to --duplicates, or to --orphans when --duplicates is not
/// given. The answer of the one taken is then checked: a round that finished with an invalid answer
/// still beats a truncated one.
///
/// Memory stays under --memory-limit at any size: past it the join spills to a temporary directory
/// (removed afterwards). Exit 0 when every request succeeded and every result was joined once, 1
/// otherwise, 2 when the join could not be done.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:
  batchkit join --requests batch.jsonl --results output.jsonl errors.jsonl \\
    --out merged.jsonl --retry retry.jsonl --rejects rejects.jsonl
  batchkit join --requests part-*.jsonl --results results.jsonl.zst \\
    --out merged.jsonl --orphans orphans.jsonl
  batchkit join --requests batch.jsonl --results output.jsonl \\
    --out merged.jsonl --retry retry.jsonl --raise-max-tokens 2
  batchkit join --requests big.jsonl --results out.jsonl err.jsonl \\
    --out merged.jsonl --memory-limit 1GiB --format json
  batchkit join --requests part-*.jsonl --results out-*.jsonl \\
    --out merged-3.jsonl --retry retry-3.jsonl --partition 3/8")]
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
    /// Write the request lines whose status is in --retry-on here, byte-exact (but for
    /// --raise-max-tokens), ready to upload again
    #[arg(long, value_name = "FILE")]
    pub retry: Option<PathBuf>,
    /// Statuses whose request lines go to --retry, comma-separated (refused is reported, not
    /// retried, unless named)
    #[arg(
        long,
        value_name = "LIST",
        default_value = "errored,expired,canceled,missing,truncated,invalid_answer",
        value_parser = parse_retry_on
    )]
    pub retry_on: StatusSet,
    /// Raise the output cap of truncated requests in --retry: the cap is multiplied by FACTOR (above
    /// 1), rounded up, and held to the model's output limit where batchkit's model table knows it;
    /// every other byte of the line is kept. The cap is the field the line's shape sets:
    /// max_completion_tokens or max_tokens (OpenAI chat and compatible: Azure, Groq, Mistral,
    /// Together, xAI, vLLM), max_output_tokens (Responses), max_tokens (Anthropic, Bedrock Claude),
    /// inferenceConfig.maxTokens or max_new_tokens (Bedrock Nova), max_gen_len (Bedrock Llama),
    /// generationConfig.maxOutputTokens (Gemini, Vertex). Lines without an integer cap, or already
    /// at the limit, are copied unchanged and counted.
    #[arg(long, value_name = "FACTOR", requires = "retry", value_parser = parse_factor)]
    pub raise_max_tokens: Option<f64>,
    /// Write the request lines that cannot be sent again as they are (not JSON, not an object, no
    /// id, no body where the line's shape needs one) here, byte-exact; they never go to --retry
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,
    /// Write result lines whose id matches no request (and lines without a usable id) here
    #[arg(long, value_name = "FILE")]
    pub orphans: Option<PathBuf>,
    /// Write results that lost to another result for the same id here [default: --orphans]
    #[arg(long, value_name = "FILE")]
    pub duplicates: Option<PathBuf>,
    /// Check every finished answer against this JSON Schema, instead of the one its request asks
    /// for (a forced tool's input included)
    #[arg(long, value_name = "S.json")]
    pub answer_schema: Option<PathBuf>,
    /// Answers of requests that ask for no structured output must be JSON too
    #[arg(long)]
    pub expect_json: bool,
    /// The id map of `batchkit convert --id-map`: results naming a new id join the request with
    /// the original one
    #[arg(long, value_name = "MAP")]
    pub id_map: Option<PathBuf>,
    /// Join only the ids of part K of N (0 <= K < N), by a hash of the decoded id (a result's
    /// after --id-map); lines without an id are part 0's. The runs of all parts together write
    /// what one run writes (each part's lines in request order) and their counts add up to its
    /// counts
    #[arg(long, value_name = "K/N")]
    pub partition: Option<batchkit_io::part::Part>,
    /// Directory for spill files [default: the directory of --out]
    #[arg(long, value_name = "DIR")]
    pub temp_dir: Option<PathBuf>,
    /// Ids earlier request files used first (`{"id","file","line"}` lines): how `batchkit.ray`
    /// and `batchkit.spark` join one request file of many
    #[arg(long, value_name = "FILE", hide = true)]
    pub earlier_ids: Option<PathBuf>,
}

/// `--earlier-ids`: one `{"id":...,"file":...,"line":N}` object per line.
fn read_earlier(p: &std::path::Path) -> anyhow::Result<Vec<batchkit_join::EarlierId>> {
    let text = std::fs::read_to_string(p)
        .map_err(|e| anyhow::anyhow!("--earlier-ids {}: {e}", p.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let bad =
                || anyhow::anyhow!("--earlier-ids {}:{}: not an earlier id", p.display(), i + 1);
            let v: serde_json::Value = serde_json::from_str(l).map_err(|_| bad())?;
            Ok(batchkit_join::EarlierId {
                id: v["id"].as_str().ok_or_else(bad)?.as_bytes().to_vec(),
                file: v["file"].as_str().ok_or_else(bad)?.to_string(),
                line: v["line"].as_u64().ok_or_else(bad)?,
            })
        })
        .collect()
}

fn parse_factor(s: &str) -> Result<f64, String> {
    let f: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number (a factor above 1, such as 2 or 1.5)"))?;
    batchkit_join::raise::check_factor(f)
        .map_err(|_| format!("{s} is not a factor above 1 (such as 2 or 1.5)"))
}

fn parse_retry_on(list: &str) -> Result<StatusSet, String> {
    let set = StatusSet::parse(list)?;
    if set.contains(Status::Succeeded) {
        return Err("succeeded requests are never retried".into());
    }
    Ok(set)
}

pub fn run(
    args: Args,
    settings: &Settings,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<Outcome> {
    let inputs: Vec<Role> = (args.requests.iter().map(|p| Role::new("--requests", p)))
        .chain(args.results.iter().map(|p| Role::new("--results", p)))
        .collect();
    let outputs: Vec<Role> = [
        ("--out", Some(&args.out)),
        ("--retry", args.retry.as_ref()),
        ("--orphans", args.orphans.as_ref()),
        ("--duplicates", args.duplicates.as_ref()),
        ("--rejects", args.rejects.as_ref()),
    ]
    .into_iter()
    .filter_map(|(f, p)| p.map(|p| Role::new(f, p)))
    .collect();
    super::check_paths(&inputs, &outputs)?;
    let answer_schema = args
        .answer_schema
        .as_deref()
        .map(super::read_schema)
        .transpose()?;
    let mut opts = JoinOptions::new(
        args.requests.iter().map(|a| Input::from_arg(a)).collect(),
        args.results.iter().map(|a| Input::from_arg(a)).collect(),
        args.out,
    );
    opts.retry = args.retry;
    opts.retry_on = args.retry_on;
    opts.raise_max_tokens = args.raise_max_tokens;
    opts.orphans = args.orphans;
    opts.duplicates = args.duplicates;
    opts.rejects = args.rejects;
    opts.temp_dir = args.temp_dir;
    opts.answer_schema = answer_schema;
    opts.expect_json = args.expect_json;
    opts.id_map = args.id_map;
    opts.partition = args.partition.unwrap_or_default();
    if let Some(p) = &args.earlier_ids {
        opts.earlier = read_earlier(p)?;
    }
    opts.read = settings.read.clone();
    let json = settings.format == Format::Json;
    let sizes = crate::progress::sizes(opts.requests.iter().chain(&opts.results));
    let mut printer = JoinPrinter::new(
        super::writers(out, err, settings, || Box::new(PerInput::new(sizes))),
        json,
        Style { on: settings.color },
    );
    let summary = batchkit_join::join(&opts, &mut printer);
    let printed = (|| {
        let mut summary =
            summary.map_err(|e| super::json_error_event(e.into(), &mut printer, json))?;
        summary.price(&default_prices());
        printer.summary(&summary)?;
        printer.flush()?;
        Ok(Outcome::problems_if(!summary.clean()))
    })();
    super::closed_pipe(printed, printer.problems())
}
