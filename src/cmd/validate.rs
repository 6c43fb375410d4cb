//! `batchkit validate`.

use std::path::PathBuf;

use anyhow::Context;
use batchkit_io::Input;
use batchkit_report::style::Style;
use batchkit_report::validate::DiagnosticPrinter;
use batchkit_validate::{CheckOptions, Checker, FileSummary};

use crate::outcome::Outcome;
use crate::progress::Progress;
use crate::settings::{Format, Settings};

/// Dry-run of the provider's upload checks, plus ours: every problem with its line.
///
/// Reads each FILE (`-` or nothing for stdin; zstd is recognised by its magic bytes) and
/// reports invalid JSON, missing or mistyped fields, bad ids, duplicate ids, unsupported
/// or mixed endpoints and models, oversized lines and files over the provider's caps.
/// Exit 0 when no errors, 1 when errors were found, 2 when a file could not be read.
///
/// Examples:
///   batchkit validate requests.jsonl
///   batchkit validate --provider anthropic --format json batch.jsonl.zst
///   batchkit validate --schema body.schema.json --max-errors 20 a.jsonl b.jsonl
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
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
    #[arg(long, value_name = "N")]
    max_errors: Option<u64>,
    #[command(flatten)]
    spill: crate::settings::SpillArgs,
}

/// Why validating one input stopped: printing failed, or the job did.
#[derive(Debug)]
enum CmdError {
    Output(std::io::Error),
    Validate(batchkit_validate::ValidateError),
}

impl From<batchkit_validate::ValidateError> for CmdError {
    fn from(e: batchkit_validate::ValidateError) -> Self {
        CmdError::Validate(e)
    }
}

pub fn run(
    args: Args,
    settings: &Settings,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<Outcome> {
    let schema = match &args.schema {
        None => None,
        Some(p) => {
            let text =
                std::fs::read(p).with_context(|| format!("{}: cannot read schema", p.display()))?;
            Some(
                serde_json::from_slice::<serde_json::Value>(&text)
                    .with_context(|| format!("{}: the schema is not valid JSON", p.display()))?,
            )
        }
    };
    let opts = CheckOptions {
        provider: Some(args.provider.clone()),
        schema,
        budget: settings.read.budget,
        temp_dir: args.spill.temp_dir.clone(),
        max_line_bytes: settings.read.max_line_bytes,
        ..CheckOptions::default()
    };
    let checker = Checker::new(&opts)?;
    let inputs: Vec<Input> = if args.files.is_empty() {
        vec![Input::stdin()]
    } else {
        args.files.iter().map(|f| Input::from_arg(f)).collect()
    };
    let mut printer = DiagnosticPrinter::new(
        super::buffered(out),
        settings.format == Format::Json,
        Style { on: settings.color },
        args.max_errors,
    );
    let mut summaries = Vec::new();
    let mut failed = false;
    for input in &inputs {
        let bar = Progress::new(settings.progress, &input.name, input.len_hint());
        let mut sink = PrintSink {
            printer: &mut printer,
            bar: &bar,
            closed: false,
        };
        let r = batchkit_validate::validate_file(&checker, input, &settings.read, &mut sink);
        let closed = sink.closed;
        drop(bar);
        if closed {
            return Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe).into());
        }
        // Printing failed: the run stops. A job error is said once below and the other
        // files are still checked.
        let r = match r {
            Ok(s) => Ok(s),
            Err(CmdError::Output(e)) => return Err(e.into()),
            Err(CmdError::Validate(e)) => Err(e),
        };
        match r {
            Ok(s) => {
                printer.file_summary(&s)?;
                summaries.push(s);
            }
            Err(e) => {
                // Said once here; the other files are still checked, and the summaries
                // count this one as failed.
                printer.input_error(&input.name, &e.to_string())?;
                let s = FileSummary {
                    file: input.name.clone(),
                    provider: None,
                    candidates: Vec::new(),
                    lines: 0,
                    requests: 0,
                    bytes: 0,
                    errors: 1,
                    warnings: 0,
                    ok: false,
                };
                printer.file_summary(&s)?;
                summaries.push(s);
                failed = true;
            }
        }
    }
    printer.overall(&summaries)?;
    super::finish(printer.into_inner()?)?;
    if failed {
        return Ok(Outcome::Failed);
    }
    Ok(Outcome::problems_if(summaries.iter().any(|s| !s.ok)))
}

/// validate's sink: findings to the printer, progress to the bar.
struct PrintSink<'a, W: std::io::Write> {
    printer: &'a mut DiagnosticPrinter<W>,
    bar: &'a Progress,
    /// The reader of the output went away: the run stops, and says so once.
    closed: bool,
}

impl<W: std::io::Write> batchkit_validate::Sink for PrintSink<'_, W> {
    type Error = CmdError;

    fn finding(&mut self, file: &str, d: &batchkit_validate::Diagnostic) -> Result<bool, CmdError> {
        if d.is_error() {
            super::mark_problems();
        }
        match self.printer.diagnostic(file, d) {
            Ok(()) => Ok(true),
            // A closed pipe stops the run; the exit code still says what was found.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(false)
            }
            Err(e) => Err(CmdError::Output(e)),
        }
    }

    fn progress(&mut self, _file: &str, read: u64) -> Result<bool, CmdError> {
        self.bar.set(read);
        Ok(true)
    }
}
