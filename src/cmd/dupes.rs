//! `batchkit dupes`.

use std::io::Write;
use std::path::PathBuf;

use batchkit_io::paths::Role;
use batchkit_io::{Input, ReadError, Source};
use batchkit_report::dupes::DupesPrinter;
use batchkit_report::style::Style;
use batchkit_validate::DupesOptions;

use crate::outcome::Outcome;
use crate::progress::Together;
use crate::settings::{Format, Settings};

/// Every duplicated request id with all its line numbers, across all files together.
///
/// Exact (no probabilistic shortcuts) and bounded in memory: when the id set outgrows
/// --memory-limit it spills to a temporary directory and finishes from disk. With
/// --write-unique it writes the input minus later duplicates (first use kept, bytes
/// unchanged). Exit 0 when every id is unique, 1 when some repeat.
#[derive(Debug, clap::Args)]
#[command(
    verbatim_doc_comment,
    after_long_help = "Examples:
  batchkit dupes requests.jsonl
  batchkit dupes part-1.jsonl part-2.jsonl --format json
  batchkit dupes big.jsonl.zst --memory-limit 64MiB \\
    --write-unique unique.jsonl
  batchkit dupes shard-*.jsonl --partition 2/8"
)]
pub struct Args {
    /// Files to check together (`-` for stdin)
    #[arg(value_name = "FILE")]
    files: Vec<String>,
    #[arg(
        long,
        default_value = "auto",
        value_parser = crate::settings::provider,
        help = crate::settings::provider_help(
            "Which id field (auto: each line's shape says; or a provider's)"
        )
    )]
    provider: String,
    /// Write the input minus later duplicates to OUT
    #[arg(long, value_name = "OUT")]
    write_unique: Option<PathBuf>,
    /// Check only the ids of part K of N (0 <= K < N), by a hash of the decoded id; lines
    /// without an id are part 0's. The runs of all parts together find what one run finds,
    /// and their counts add up to its counts
    #[arg(long, value_name = "K/N")]
    partition: Option<batchkit_io::part::Part>,
    #[command(flatten)]
    spill: crate::settings::SpillArgs,
}

pub fn run(
    args: Args,
    settings: &Settings,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<Outcome> {
    let inputs = super::inputs(&args.files);
    let roles: Vec<Role> = inputs
        .iter()
        .filter_map(|i| match &i.source {
            Source::Path(p) => Some(Role::new("input", p)),
            Source::Stdin => None,
        })
        .collect();
    if let Some(out) = &args.write_unique {
        super::check_paths(&roles, &[Role::new("--write-unique", out)])?;
    }
    let opts = DupesOptions {
        provider: Some(args.provider.clone()),
        temp_dir: args.spill.temp_dir.clone(),
        write_unique: args.write_unique.clone(),
        partition: args.partition.unwrap_or_default(),
    };
    let sizes = crate::progress::sizes(&inputs);
    let mut printer = DupesPrinter::new(
        super::writers(out, err, settings, || {
            Box::new(Together::new("dupes", sizes))
        }),
        inputs.iter().map(|i| i.name.clone()).collect(),
        settings.format == Format::Json,
        Style { on: settings.color },
    );
    let outcome = find(&inputs, settings, &opts, &mut printer);
    super::closed_pipe(outcome, printer.problems())
}

fn find(
    inputs: &[Input],
    settings: &Settings,
    opts: &DupesOptions,
    printer: &mut DupesPrinter<impl Write, impl Write>,
) -> anyhow::Result<Outcome> {
    let report = match batchkit_validate::find_dupes(inputs, &settings.read, opts, printer) {
        Ok(r) => r,
        Err(e) => {
            let e = anyhow::Error::from(e);
            // An unreadable input while writing the unique copy (which would lack it): no
            // answer, said once (and as an event to JSON readers).
            let json = settings.format == Format::Json;
            if let (Some(ReadError::Open { name, .. }), true) =
                (crate::outcome::read_error(&e), json)
            {
                let name = name.clone();
                printer.input_error(crate::outcome::input_error(&e, &name))?;
                printer.flush()?;
                return Ok(Outcome::Failed);
            }
            return Err(e);
        }
    };
    printer.summary(&report)?;
    printer.flush()?;
    if report.inputs.iter().any(|s| s.unreadable.is_some()) {
        // Each unreadable input was reported (an error event) before the summary.
        return Ok(Outcome::Failed);
    }
    // Exit 1 exactly when the summary says `"ok": false`: a duplicate, a line not read, or
    // a line without an id (each printed as an error).
    Ok(Outcome::problems_if(
        report.duplicate_ids > 0
            || report
                .inputs
                .iter()
                .any(|s| s.too_large > 0 || s.without_id > 0),
    ))
}
