//! `batchkit dupes`.

use std::path::PathBuf;

use batchkit_io::paths::Role;
use batchkit_io::{Input, ReadError, Source};
use batchkit_report::dupes::DupesPrinter;
use batchkit_report::style::Style;
use batchkit_validate::DupesOptions;

use crate::outcome::Outcome;
use crate::progress::Progress;
use crate::settings::{Format, Settings};

/// Every duplicated request id with all its line numbers, across all files together.
///
/// Exact (no probabilistic shortcuts) and bounded in memory: when the id set outgrows
/// --memory-limit it spills to a temporary directory and finishes from disk. With
/// --write-unique it writes the input minus later duplicates (first use kept, bytes
/// unchanged). Exit 0 when every id is unique, 1 when some repeat.
///
/// Examples:
///   batchkit dupes requests.jsonl
///   batchkit dupes part-1.jsonl part-2.jsonl --format json
///   batchkit dupes big.jsonl.zst --memory-limit 64MiB --write-unique unique.jsonl
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Files to check together (`-` for stdin)
    #[arg(value_name = "FILE")]
    files: Vec<String>,
    /// Which id field: auto (custom_id, key for Gemini lines, recordId for Bedrock lines), or a
    /// provider name
    #[arg(long, default_value = "auto", value_parser = crate::settings::provider)]
    provider: String,
    /// Write the input minus later duplicates to OUT
    #[arg(long, value_name = "OUT")]
    write_unique: Option<PathBuf>,
    #[command(flatten)]
    spill: crate::settings::SpillArgs,
}

pub fn run(
    args: Args,
    settings: &Settings,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<Outcome> {
    let inputs: Vec<Input> = if args.files.is_empty() {
        vec![Input::stdin()]
    } else {
        args.files.iter().map(|f| Input::from_arg(f)).collect()
    };
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
        memory_limit: settings.tables,
        temp_dir: args.spill.temp_dir.clone(),
        write_unique: args.write_unique.clone(),
    };
    let total: Option<u64> = inputs.iter().map(Input::len_hint).sum();
    let bar = Progress::new(settings.progress, "dupes", total);
    let mut printer = DupesPrinter::new(
        super::buffered(out),
        inputs.iter().map(|i| i.name.clone()).collect(),
        settings.format == Format::Json,
        Style { on: settings.color },
    );
    let mut sink = ListSink {
        printer: &mut printer,
        bar: &bar,
        sizes: inputs
            .iter()
            .map(|i| (i.name.clone(), i.len_hint().unwrap_or(0)))
            .collect(),
        closed: false,
    };
    let report = batchkit_validate::find_dupes(&inputs, &settings.read, &opts, &mut sink);
    // A closed stdout stops the listing; the exit code still says whether ids repeat.
    let closed = sink.closed;
    drop(bar);
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            // An unreadable input while writing the unique copy (which would lack it): no
            // answer; JSON readers get the error as an event.
            let unreadable = match crate::outcome::read_error(&e) {
                Some(ReadError::Open { name, .. }) => Some(name.clone()),
                _ => None,
            };
            if let (Some(name), Format::Json) = (unreadable, settings.format) {
                let mut out = printer.into_inner()?;
                batchkit_report::ErrorEvent::new(&name, crate::outcome::message(&e))
                    .print(&mut out, true)?;
                super::finish(out)?;
                return Ok(Outcome::Failed);
            }
            return Err(e);
        }
    };
    if !closed {
        let done = printer
            .summary(&report)
            .and_then(|()| printer.into_inner().map(drop));
        match done {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            r => r?,
        }
    }
    if report.inputs.iter().any(|s| s.unreadable.is_some()) {
        // Each unreadable input was reported (an error event) before the summary.
        return Ok(Outcome::Failed);
    }
    Ok(Outcome::problems_if(
        report.duplicate_ids > 0 || report.inputs.iter().any(|s| s.too_large > 0),
    ))
}

/// dupes' sink: each duplicated id to the printer, progress (over all inputs together) to
/// the bar.
struct ListSink<'a, W: std::io::Write> {
    printer: &'a mut DupesPrinter<W>,
    bar: &'a Progress,
    /// Each input's name and size, in order, to place one input's progress in the whole.
    sizes: Vec<(String, u64)>,
    /// The reader of the output went away.
    closed: bool,
}

impl<W: std::io::Write> batchkit_validate::Sink for ListSink<'_, W> {
    type Error = anyhow::Error;

    fn finding(&mut self, _: &str, _: &batchkit_validate::Diagnostic) -> anyhow::Result<bool> {
        Ok(true)
    }

    fn progress(&mut self, file: &str, read: u64) -> anyhow::Result<bool> {
        let before: u64 = self
            .sizes
            .iter()
            .take_while(|(name, _)| name != file)
            .map(|(_, n)| n)
            .sum();
        self.bar.set(before + read);
        Ok(true)
    }
}

impl<W: std::io::Write> batchkit_validate::DupesSink for ListSink<'_, W> {
    fn duplicate(&mut self, g: &mut batchkit_validate::DupGroup<'_>) -> anyhow::Result<bool> {
        self.bar.clear();
        match self.printer.duplicate(g) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }
}
