//! `batchkit validate`.

use std::path::PathBuf;

use batchkit_io::Input;
use batchkit_report::style::Style;
use batchkit_report::validate::DiagnosticPrinter;
use batchkit_validate::{CheckOptions, Checker, FileSummary, ValidateError};
use std::io::{IsTerminal, Write};

use crate::outcome::Outcome;
use crate::progress::PerInput;
use crate::settings::{Format, Settings};

/// Dry-run of the provider's upload checks, plus ours: every problem with its line.
///
/// Reads each FILE (`-` or nothing for stdin; zstd is recognised by its magic bytes) and
/// reports invalid JSON, missing or mistyped fields, bad ids, duplicate ids, unsupported
/// or mixed endpoints and models, oversized lines and files over the provider's caps.
/// Exit 0 when no errors, 1 when errors were found, 2 when a file could not be read.
#[derive(Debug, clap::Args)]
#[command(
    verbatim_doc_comment,
    after_long_help = "Examples:
  batchkit validate requests.jsonl
  batchkit validate --provider anthropic --format json batch.jsonl.zst
  batchkit validate --schema body.schema.json --max-errors 20 \\
    a.jsonl b.jsonl"
)]
pub struct Args {
    /// Files to check (`-` for stdin)
    #[arg(value_name = "FILE")]
    files: Vec<String>,
    #[arg(
        long,
        default_value = "auto",
        value_parser = crate::settings::provider,
        help = crate::settings::provider_help("Provider rules")
    )]
    provider: String,
    /// A JSON Schema every request line must satisfy
    #[arg(long, value_name = "S.json")]
    schema: Option<PathBuf>,
    /// Print at most N findings (all are still counted)
    #[arg(long, value_name = "N", value_parser = crate::settings::count)]
    max_errors: Option<u64>,
    #[command(flatten)]
    spill: crate::settings::SpillArgs,
}

pub fn run(
    args: Args,
    settings: &Settings,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<Outcome> {
    let schema = args.schema.as_deref().map(super::read_schema).transpose()?;
    let opts = CheckOptions {
        provider: Some(args.provider.clone()),
        schema,
        budget: settings.read.budget,
        temp_dir: args.spill.temp_dir.clone(),
        max_line_bytes: settings.read.max_line_bytes,
        ..CheckOptions::default()
    };
    let checker = Checker::new(&opts)?;
    let inputs = super::inputs(&args.files);
    if inputs
        .iter()
        .any(|i| i.source == batchkit_io::Source::Stdin)
        && std::io::stdin().is_terminal()
    {
        // Otherwise a run without a file seems to hang.
        writeln!(
            err,
            "batchkit validate: reading request lines from stdin (end with Ctrl-D; give a FILE to check a file)"
        )?;
    }
    let sizes = crate::progress::sizes(&inputs);
    let mut printer = DiagnosticPrinter::new(
        super::writers(out, err, settings, || Box::new(PerInput::new(sizes))),
        settings.format == Format::Json,
        Style { on: settings.color },
        args.max_errors,
    );
    let outcome = check_all(&checker, &inputs, settings, &mut printer);
    super::closed_pipe(outcome, printer.problems())
}

fn check_all(
    checker: &Checker,
    inputs: &[Input],
    settings: &Settings,
    printer: &mut DiagnosticPrinter<impl Write, impl Write>,
) -> anyhow::Result<Outcome> {
    let mut summaries = Vec::new();
    let mut failed = false;
    for input in inputs {
        match batchkit_validate::validate_file(checker, input, &settings.read, printer) {
            Ok(s) => {
                printer.file_summary(&s)?;
                summaries.push(s);
            }
            // The job failed (an unreadable input): said once here; the other files are
            // still checked, and the summaries count this one as failed.
            Err(e) if super::job_error::<ValidateError>(&e).is_some() => {
                let e = crate::outcome::input_error(&e.into(), &input.name);
                printer.input_error(e)?;
                let s = FileSummary::unreadable(&input.name);
                printer.file_summary(&s)?;
                summaries.push(s);
                failed = true;
            }
            // Printing failed: the run stops.
            Err(e) => return Err(e.into()),
        }
    }
    printer.overall(&summaries)?;
    printer.flush()?;
    if failed {
        return Ok(Outcome::Failed);
    }
    Ok(Outcome::problems_if(summaries.iter().any(|s| !s.ok)))
}
