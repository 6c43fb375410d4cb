//! `batchkit compare`.

use std::path::PathBuf;

use batchkit_compare::CompareOptions;
use batchkit_io::paths::Role;
use batchkit_io::Input;
use batchkit_join::default_prices;
use batchkit_report::compare::ComparePrinter;
use batchkit_report::style::Style;

use crate::outcome::Outcome;
use crate::progress::PerInput;
use crate::settings::{Format, Settings};

/// Per id, do two sets of answers agree?
///
/// A and B are merged files of `batchkit join`, or result files when --requests is given (each
/// is then joined to the requests first, in a temporary directory removed afterwards). Every id on
/// both sides is same (identical answer text), json_equal (both JSON and equal once parsed: key
/// order, spacing and number spelling ignored), differ, only_a or only_b (only that side's status
/// is succeeded) or neither; an id on one side only is missing_a (only B has it) or missing_b
/// (only A has it). For JSON answers, agreement is counted per top-level field, or per --fields
/// JSON pointer, over the ids both sides answered as JSON. The summary also gives the agreement
/// rate ((same + json_equal) over the ids answered on both sides) and the tokens and cost at batch
/// prices of each side.
///
/// --out gets one JSON line per id that does not agree (every outcome but same and json_equal),
/// in A's order, then the ids only B has in B's order:
/// {"custom_id":...,"outcome":...,"a_status":...,"b_status":...,"a":<A's output_text>,
/// "b":<B's>,"fields":[JSON pointers that differ]}.
///
/// A duplicate id on one side is reported and only its first line compared; a line that is not a
/// merged line is reported with its file and line and left out. Memory stays under
/// --memory-limit at any size: past it both sides are partitioned to a temporary directory
/// (removed afterwards). Exit 0 when every id is on both sides, answered on both and agrees, and
/// every line was read; 1 when something differs, is missing, failed, repeated or unreadable; 2
/// when the comparison could not be done.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:
  batchkit compare gpt-merged.jsonl claude-merged.jsonl --out diffs.jsonl
  batchkit compare round1-output.jsonl round2-output.jsonl \\
    --requests batch.jsonl --fields /label,/score
  batchkit compare a.jsonl b.jsonl --format json --memory-limit 1GiB")]
pub struct Args {
    /// Side A: a merged file of `batchkit join` (or a result file, with --requests); `-` for stdin
    #[arg(value_name = "A")]
    pub a: String,
    /// Side B, the same way
    #[arg(value_name = "B")]
    pub b: String,
    /// Request files: A and B are then result files, each joined to these first
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub requests: Vec<String>,
    /// JSON pointers to count agreement on, comma-separated (/label,/score) [default: every
    /// top-level field]
    #[arg(long, value_name = "F,...", value_delimiter = ',')]
    pub fields: Vec<String>,
    /// Write one JSON line per id that does not agree here
    #[arg(long, value_name = "DIFFS")]
    pub out: Option<PathBuf>,
    /// Directory for spill and joined files [default: the directory of --out, else of A]
    #[arg(long, value_name = "DIR")]
    pub temp_dir: Option<PathBuf>,
}

pub fn run(
    args: Args,
    settings: &Settings,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<Outcome> {
    let inputs: Vec<Role> = [Role::new("A", &args.a), Role::new("B", &args.b)]
        .into_iter()
        .chain(args.requests.iter().map(|p| Role::new("--requests", p)))
        .collect();
    let outputs: Vec<Role> = args.out.iter().map(|p| Role::new("--out", p)).collect();
    super::check_paths(&inputs, &outputs)?;
    let mut opts = CompareOptions::new(Input::from_arg(&args.a), Input::from_arg(&args.b));
    opts.requests = args.requests.iter().map(|a| Input::from_arg(a)).collect();
    opts.fields = args.fields.into_iter().filter(|f| !f.is_empty()).collect();
    opts.out = args.out;
    opts.temp_dir = args.temp_dir;
    opts.read = settings.read.clone();
    let json = settings.format == Format::Json;
    let sizes = crate::progress::sizes([&opts.a, &opts.b].into_iter().chain(&opts.requests));
    let mut printer = ComparePrinter::new(
        super::writers(out, err, settings, || Box::new(PerInput::new(sizes))),
        json,
        Style { on: settings.color },
    );
    let summary = batchkit_compare::compare(&opts, &mut printer);
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
