//! `batchkit shard`.

use std::path::PathBuf;

use anyhow::bail;
use batchkit_io::Input;
use batchkit_report::style::Style;
use batchkit_report::validate::DiagnosticPrinter;
use batchkit_shard::{CapOverrides, Emit, FsOutput, Hooks, ShardOptions, SplitBy, TiktokenCounter};

use crate::outcome::Outcome;
use crate::progress::PerInput;
use crate::settings::{Format, Settings};

/// Cut a request file into shards the provider accepts, with a manifest.
///
/// Each shard takes lines in input order until the next line would break a cap, so the
/// number of shards is the fewest possible without reordering; a line is never split.
/// Caps default to the provider's (OpenAI: 50,000 requests and 209,715,200 bytes; Azure:
/// 100,000 and 200 MB; Anthropic: 100,000 and 256 MB; ...). Every line is validated as
/// `batchkit validate` would: any invalid line makes it refuse and write nothing, unless
/// --skip-invalid, which writes them byte-exact to DIR/rejected.jsonl.
///
/// Files: DIR/<stem>-00001.jsonl, ... (DIR/<stem>-<group>-00001.jsonl with --split-by),
/// and DIR/manifest.json with each shard's requests, bytes, line range and sha256. They are
/// written under a hidden staging directory in DIR and renamed into place only when the run
/// succeeds, the manifest last. Concatenating the shards gives back the input bytes.
///
/// An input with no requests (empty, or blank lines only) is an error (exit 1) that still
/// gets a manifest.json, with no shards, so every run that reads its input leaves one. A run
/// stopped by a signal (Ctrl-C) removes its staging, and DIR when it created DIR.
///
/// Exit 0 when done and clean, 1 when the input has invalid lines (refused or skipped) or
/// no requests, 2 when the job could not be done (unreadable input, a line over a cap, a cap
/// above the provider's without --allow-over-cap, a full disk).
#[derive(Debug, clap::Args)]
#[command(
    verbatim_doc_comment,
    after_long_help = "Examples:
  batchkit shard requests.jsonl --out-dir shards/
  batchkit shard big.jsonl.zst -o shards --max-bytes 100MB \\
    --max-tokens 2000000
  batchkit shard mixed.jsonl -o shards --split-by model --skip-invalid
  batchkit shard claude.jsonl -o bodies --provider anthropic \\
    --emit anthropic-body
  batchkit shard gateway.jsonl -o shards --provider custom \\
    --max-requests 100000"
)]
pub struct Args {
    /// The request file (`-` for stdin; zstd is recognised by its magic bytes)
    #[arg(value_name = "FILE")]
    file: String,
    /// Output directory (created if missing; must be empty unless --force)
    #[arg(long, short = 'o', value_name = "DIR")]
    out_dir: PathBuf,
    #[arg(
        long,
        default_value = "auto",
        value_parser = crate::settings::provider,
        help = crate::settings::provider_help("Provider rules and caps")
    )]
    provider: String,
    /// Requests per shard [default: the provider's; above it only with --allow-over-cap]
    #[arg(long, value_name = "N", value_parser = crate::settings::count)]
    max_requests: Option<u64>,
    /// Bytes per shard: 200MB (decimal), 200MiB (binary), 1.5GB, or bare bytes [default: the
    /// provider's; above it only with --allow-over-cap]
    #[arg(long, value_name = "SIZE", value_parser = crate::settings::size)]
    max_bytes: Option<u64>,
    /// Take --max-requests / --max-bytes above the provider's own caps (the provider would
    /// refuse such a shard; for a host with other limits)
    #[arg(long)]
    allow_over_cap: bool,
    /// Input tokens per shard (an enqueued-token limit), counted with the model's tokenizer
    #[arg(long, value_name = "N", value_parser = crate::settings::count)]
    max_tokens: Option<u64>,
    /// Embedding inputs per shard, array items counted [default: the provider's]
    #[arg(long, value_name = "N", value_parser = crate::settings::count)]
    max_embedding_inputs: Option<u64>,
    /// Count tokens as this model instead of the one each line names (Azure deployments)
    #[arg(long, value_name = "M")]
    model: Option<String>,
    /// Give each model (or url) its own run of shards, order kept within it
    #[arg(long, value_enum, default_value = "none")]
    split_by: SplitArg,
    /// Most groups with --split-by (each keeps one file open) [default: 256, 32 with --compress]
    #[arg(long, value_name = "N", value_parser = crate::settings::count_usize)]
    max_groups: Option<usize>,
    /// What each shard file holds
    #[arg(long, value_enum, default_value = "jsonl")]
    emit: EmitArg,
    /// Write zstd-compressed shards (.zst); caps still apply to the uncompressed bytes
    #[arg(long)]
    compress: bool,
    /// zstd level with --compress
    #[arg(long, value_name = "N", default_value_t = 3, requires = "compress", value_parser = compress_level)]
    compress_level: i32,
    /// Write invalid lines to DIR/rejected.jsonl and shard the rest (exit 1)
    #[arg(long)]
    skip_invalid: bool,
    /// Write into a non-empty DIR: files of the same names are replaced, and the files a
    /// previous run listed in DIR/manifest.json removed; nothing else is touched
    #[arg(long)]
    force: bool,
    /// Shard file names start with this [default: the input file name without extensions]
    #[arg(long, value_name = "NAME")]
    stem: Option<String>,
    /// Print at most N findings (all are still counted)
    #[arg(long, value_name = "N", value_parser = crate::settings::count)]
    max_errors: Option<u64>,
    /// fsync each shard before it is renamed into place, so a power loss cannot leave an
    /// empty file under a final name. Off by default: shards are derived from an input that
    /// is never modified, so a crash loses nothing that a rerun cannot make again (like
    /// `split` and DuckDB's COPY)
    #[arg(long)]
    sync: bool,
    /// (The default now; kept so older scripts run.)
    #[arg(long, hide = true)]
    no_fsync: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum SplitArg {
    None,
    Model,
    Url,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum EmitArg {
    /// The request lines, byte-exact (.jsonl)
    Jsonl,
    /// Anthropic's Message Batches request body, {"requests":[...]} (.json)
    AnthropicBody,
}

/// clap value parser of `--compress-level`: zstd's levels, 1 to 22.
fn compress_level(value: &str) -> Result<i32, String> {
    match value.trim().parse::<i32>() {
        Ok(n) if (1..=22).contains(&n) => Ok(n),
        _ => Err(format!(
            "{value:?} is not a zstd level (a whole number from 1 to 22)"
        )),
    }
}

/// Resolves the flags into library options (the second step after clap).
fn options(args: &Args, settings: &Settings) -> anyhow::Result<ShardOptions> {
    let max_bytes = args.max_bytes;
    for (name, v) in [
        ("max-requests", args.max_requests),
        ("max-bytes", max_bytes),
        ("max-tokens", args.max_tokens),
        ("max-embedding-inputs", args.max_embedding_inputs),
    ] {
        if v == Some(0) {
            bail!("--{name} must be at least 1");
        }
    }
    if args.max_groups == Some(0) {
        bail!("--max-groups must be at least 1");
    }
    if let Some(stem) = &args.stem {
        if stem.is_empty() || stem.contains(['/', '\\']) || stem.starts_with('.') {
            bail!("--stem {stem:?}: a file name prefix without '/' and not starting with '.'");
        }
    }
    if !(1..=22).contains(&args.compress_level) {
        bail!("--compress-level must be 1 to 22");
    }
    // `auto` or a known provider, lower-cased (the flag's value parser checked it).
    let provider = (args.provider != "auto").then(|| args.provider.clone());
    let mut o = ShardOptions::new(&args.out_dir);
    o.stem = args.stem.clone();
    o.provider = provider;
    o.caps = CapOverrides {
        max_requests: args.max_requests,
        max_bytes,
        max_tokens: args.max_tokens,
        max_embedding_inputs: args.max_embedding_inputs,
    };
    o.split_by = match args.split_by {
        SplitArg::None => SplitBy::None,
        SplitArg::Model => SplitBy::Model,
        SplitArg::Url => SplitBy::Url,
    };
    o.emit = match args.emit {
        EmitArg::Jsonl => Emit::Jsonl,
        EmitArg::AnthropicBody => Emit::AnthropicBody,
    };
    o.compress = args.compress.then_some(args.compress_level);
    o.skip_invalid = args.skip_invalid;
    o.force = args.force;
    o.allow_over_cap = args.allow_over_cap;
    o.max_groups = args.max_groups;
    o.read = settings.read.clone();
    Ok(o)
}

pub fn run(
    args: Args,
    settings: &Settings,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<Outcome> {
    let opts = options(&args, settings)?;
    let input = Input::from_arg(&args.file);
    let json = settings.format == Format::Json;
    let style = Style { on: settings.color };
    let sizes = vec![(input.name.clone(), input.len_hint())];
    let mut printer = DiagnosticPrinter::new(
        super::writers(out, err, settings, || Box::new(PerInput::new(sizes))),
        json,
        style,
        args.max_errors,
    );
    let counter = TiktokenCounter {
        model: args.model.clone(),
    };
    let fs_out = FsOutput {
        sync: args.sync && !args.no_fsync,
    };
    let mut hooks = Hooks {
        output: &fs_out,
        tokens: Some(&counter),
        sink: Box::new(&mut printer),
    };
    let result = batchkit_shard::shard(&input, &opts, &mut hooks);
    drop(hooks);
    let problems = printer.problems();
    let printed = (|| {
        printer.findings_done()?;
        let mut out = printer.into_inner()?;
        let report = result.map_err(|e| super::json_error_event(e.into(), &mut out, json))?;
        batchkit_report::shard::print(out, json, style, &report, &input.name, &opts.out_dir)?;
        Ok(Outcome::problems_if(report.has_problems()))
    })();
    super::closed_pipe(printed, problems)
}
