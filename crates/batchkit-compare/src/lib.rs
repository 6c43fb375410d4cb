//! Per id, do two sets of answers agree? The job behind `batchkit compare A B`.
//!
//! A and B are merged files of `batchkit join` (one line per request:
//! `{"custom_id":..,"status":..,"request":..,"result":..,"output_text":..,"stop_reason":..}`),
//! or raw result files, which are then joined to [`CompareOptions::requests`] first (with
//! [`batchkit_join::join`], into a staging directory removed on success, on failure and on
//! Ctrl-C). Every id present on both sides gets one [`Outcome`]:
//!
//! - `same`: both succeeded with identical answer text;
//! - `json_equal`: both succeeded, both answers are JSON and equal once parsed (key order and
//!   spacing ignored, numbers compared by value: `1` equals `1.0`);
//! - `differ`: both succeeded, with different answers;
//! - `only_a` / `only_b`: only that side succeeded; `neither`: no side did.
//!
//! An id present on one side only is `missing_b` (only A has it) or `missing_a` (only B has
//! it): counted apart, since "B never answered" and "B's answer differs" call for different
//! work. For JSON answers each top-level field (or each [`CompareOptions::fields`] JSON
//! pointer) is counted over the ids both sides answered as JSON: on both sides, and agreeing.
//! The summary also totals the usage and the cost of each side (from the `result` of every
//! line, priced like the join's).
//!
//! A duplicate id on one side is reported ([`Event::DuplicateId`]) and counted; its first line
//! is compared. A line that is not a merged line (invalid JSON, no string `custom_id`) is
//! reported with its file and line ([`Event::Problem`]) and left out.
//!
//! The diffs file ([`CompareOptions::out`]) gets one JSON line per id that does not agree
//! (every outcome but `same` and `json_equal`), in A's line order, then the ids only B has in
//! B's line order: `{"custom_id":..,"outcome":..,"a_status":..,"b_status":..,"a":<A's
//! output_text, verbatim>,"b":<B's>,"fields":[JSON pointers that differ]}`.
//!
//! Memory stays under the budget of [`CompareOptions::read`]: the ids and answers of both
//! sides are held in memory while they fit; when they do not, both sides are partitioned by
//! the id hash into spill files (batchkit-io's [`spill`](batchkit_io::spill)) and compared
//! partition by partition. Both paths write byte-identical diffs and the same summary.
//!
//! ```
//! use batchkit_compare::{compare, CompareOptions, Outcome};
//! use batchkit_io::Input;
//! # fn main() -> Result<(), batchkit_compare::CompareError> {
//! let dir = tempfile::tempdir().unwrap();
//! let line = |id: &str, text: &str| {
//!     format!(
//!         "{{\"custom_id\":\"{id}\",\"status\":\"succeeded\",\"request\":{{}},\"result\":null,\"output_text\":{}}}\n",
//!         serde_json::to_string(text).unwrap()
//!     )
//! };
//! let (a, b) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
//! std::fs::write(&a, line("1", r#"{"label":"x","score":1}"#) + &line("2", "yes")).unwrap();
//! std::fs::write(&b, line("1", r#"{"score":1.0, "label":"x"}"#) + &line("2", "no")).unwrap();
//! let opts = CompareOptions::new(Input::path(&a), Input::path(&b));
//! let s = compare(&opts, &mut batchkit_compare::Events(|_: &batchkit_compare::Event| Ok(())))?;
//! assert_eq!((s.count(Outcome::JsonEqual), s.count(Outcome::Differ)), (1, 1));
//! assert_eq!(s.agreement, Some(0.5));
//! # Ok(()) }
//! ```

mod answer;
mod engine;
mod merged;

use std::collections::BTreeMap;
use std::path::PathBuf;

use batchkit_io::{Input, ReadError, ReadOptions};
use batchkit_join::{batch_cost, ModelUsage, Prices, Usage};
pub use batchkit_line::Sink;
use serde::Serialize;

pub use engine::compare;

/// What became of one id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// Both sides succeeded with identical answer text.
    Same,
    /// Both succeeded; the answers are JSON and equal once parsed.
    JsonEqual,
    /// Both succeeded with different answers.
    Differ,
    /// Only A succeeded.
    OnlyA,
    /// Only B succeeded.
    OnlyB,
    /// Both have the id, neither succeeded.
    Neither,
    /// Only B has the id.
    MissingA,
    /// Only A has the id.
    MissingB,
}

impl Outcome {
    /// Every outcome, in report order.
    pub const ALL: [Outcome; 8] = [
        Outcome::Same,
        Outcome::JsonEqual,
        Outcome::Differ,
        Outcome::OnlyA,
        Outcome::OnlyB,
        Outcome::Neither,
        Outcome::MissingA,
        Outcome::MissingB,
    ];

    /// The name used in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Same => "same",
            Outcome::JsonEqual => "json_equal",
            Outcome::Differ => "differ",
            Outcome::OnlyA => "only_a",
            Outcome::OnlyB => "only_b",
            Outcome::Neither => "neither",
            Outcome::MissingA => "missing_a",
            Outcome::MissingB => "missing_b",
        }
    }

    /// Whether the two sides agree.
    pub fn agrees(self) -> bool {
        matches!(self, Outcome::Same | Outcome::JsonEqual)
    }
}

/// Which side of the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The first file.
    A,
    /// The second file.
    B,
}

impl Side {
    /// `a` or `b`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::A => "a",
            Side::B => "b",
        }
    }
}

/// What to compare and where to write.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// Side A: a merged file of `batchkit join`, or a result file when
    /// [`CompareOptions::requests`] is given.
    pub a: Input,
    /// Side B, the same way.
    pub b: Input,
    /// Request files: when given, A and B are result files, each joined to these first.
    pub requests: Vec<Input>,
    /// JSON pointers to count agreement on (`/label`); empty: every top-level field.
    pub fields: Vec<String>,
    /// The diffs file: one line per id that does not agree.
    pub out: Option<PathBuf>,
    /// Where spill files and joined files go (default: the directory of `out`, else of A).
    pub temp_dir: Option<PathBuf>,
    /// How to read the inputs, and the memory budget: both sides' ids and answers and the
    /// reader keep within [`Budget::join`](batchkit_io::Budget::join).
    pub read: ReadOptions,
}

impl CompareOptions {
    /// Options with the defaults: merged inputs, every top-level field, no diffs file.
    pub fn new(a: Input, b: Input) -> Self {
        CompareOptions {
            a,
            b,
            requests: Vec::new(),
            fields: Vec::new(),
            out: None,
            temp_dir: None,
            read: ReadOptions::default(),
        }
    }
}

/// Agreement on one field of JSON answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FieldAgreement {
    /// The field's JSON pointer (`/label`).
    pub field: String,
    /// Ids whose answers both have it.
    pub both: u64,
    /// Of those, ids where it is equal on both sides.
    pub agree: u64,
    /// Ids where only A's answer has it.
    pub only_a: u64,
    /// Ids where only B's answer has it.
    pub only_b: u64,
    /// `agree / both`, rounded to 1e-6; `None` when `both` is 0.
    pub rate: Option<f64>,
}

/// What one side holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SideSummary {
    /// The input's name (the result file when joined first).
    pub file: String,
    /// Lines read (blank lines excluded).
    pub lines: u64,
    /// Distinct ids.
    pub ids: u64,
    /// Lines whose id an earlier line of this side already used (not compared).
    pub duplicates: u64,
    /// Lines that are not merged lines (invalid JSON, no string `custom_id`, too long).
    pub invalid_lines: u64,
    /// Ids with status `succeeded`.
    pub succeeded: u64,
    /// Usage over every line's result.
    pub usage: Usage,
    /// Usage per model.
    pub models: Vec<ModelUsage>,
    /// Cost at batch prices, USD rounded to 1e-9 (see [`CompareSummary::price`]).
    pub cost_usd: Option<f64>,
    /// Whether some of the usage has no price.
    pub cost_incomplete: bool,
}

impl SideSummary {
    fn price(&mut self, prices: &dyn Prices) {
        let (per, total) = batch_cost(&self.models, prices);
        self.cost_incomplete = per.iter().any(Option::is_none);
        for (m, c) in self.models.iter_mut().zip(per) {
            m.cost_usd = c;
        }
        self.cost_usd = total;
    }
}

/// What a comparison found: serialises as the `summary` record of `batchkit compare --format
/// json` (without its `type` and `ok`), the outcomes as one count each.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CompareSummary {
    /// Distinct ids over both sides.
    pub ids: u64,
    /// Ids per outcome, indexed like [`Outcome::ALL`].
    #[serde(flatten, serialize_with = "per_outcome")]
    pub outcomes: [u64; 8],
    /// `(same + json_equal) / (same + json_equal + differ)`, the ids both sides answered,
    /// rounded to 1e-6; `None` when no id was answered on both sides.
    pub agreement: Option<f64>,
    /// Agreement per field of JSON answers, in `--fields` order or by pointer.
    pub fields: Vec<FieldAgreement>,
    /// Side A.
    pub a: SideSummary,
    /// Side B.
    pub b: SideSummary,
    /// Date of the prices the summary was priced with.
    pub prices_as_of: Option<String>,
    /// Whether the comparison spilled to disk.
    pub spilled: bool,
    /// Partitions used when it spilled.
    pub partitions: u32,
}

impl CompareSummary {
    /// Ids with `outcome`.
    pub fn count(&self, outcome: Outcome) -> u64 {
        self.outcomes[outcome as usize]
    }

    /// Ids both sides answered (`same + json_equal + differ`).
    pub fn answered_both(&self) -> u64 {
        self.count(Outcome::Same) + self.count(Outcome::JsonEqual) + self.count(Outcome::Differ)
    }

    /// Prices both sides' usage at `prices` ([`compare`] leaves the cost unknown; see
    /// [`batchkit_join::default_prices`]).
    pub fn price(&mut self, prices: &dyn Prices) {
        self.a.price(prices);
        self.b.price(prices);
        self.prices_as_of = prices.as_of();
    }

    /// Whether every id is on both sides, answered on both and agrees, and every line was a
    /// merged line with its own id.
    pub fn clean(&self) -> bool {
        let agree = self.count(Outcome::Same) + self.count(Outcome::JsonEqual);
        agree == self.ids
            && [&self.a, &self.b]
                .iter()
                .all(|s| s.duplicates == 0 && s.invalid_lines == 0)
    }

    fn finish(&mut self, fields: BTreeMap<String, FieldAgreement>, order: &[String]) {
        let answered = self.answered_both();
        let agree = self.count(Outcome::Same) + self.count(Outcome::JsonEqual);
        self.agreement = rate(agree, answered);
        let mut fields = fields;
        let mut list: Vec<FieldAgreement> = if order.is_empty() {
            fields.into_values().collect()
        } else {
            order
                .iter()
                .map(|f| {
                    fields.remove(f).unwrap_or_else(|| FieldAgreement {
                        field: f.clone(),
                        ..FieldAgreement::default()
                    })
                })
                .collect()
        };
        for f in &mut list {
            f.rate = rate(f.agree, f.both);
        }
        self.fields = list;
    }
}

fn rate(n: u64, of: u64) -> Option<f64> {
    (of > 0).then(|| (n as f64 / of as f64 * 1e6).round() / 1e6)
}

/// The counts per outcome as `"same": n, "json_equal": n, ...`, in [`Outcome::ALL`] order.
fn per_outcome<S: serde::Serializer>(counts: &[u64; 8], ser: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = ser.serialize_map(Some(counts.len()))?;
    for (o, n) in Outcome::ALL.iter().zip(counts) {
        map.serialize_entry(o.as_str(), n)?;
    }
    map.end()
}

/// Something found while comparing, reported as it is found.
///
/// Serialises as a `batchkit compare --format json` record (`{"type":"duplicate_id",...}`); a
/// [`Event::Problem`] is printed in the shape of every command's findings, and a
/// [`Event::Join`] as the join prints its events, instead.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A line that is not a merged line, left out.
    #[serde(skip)]
    Problem {
        /// Its side.
        side: Side,
        /// The input the line is in.
        file: String,
        /// The finding, in the one shape of every command.
        diagnostic: batchkit_line::Diagnostic,
    },
    /// A line whose id an earlier line of the same side used: not compared.
    DuplicateId {
        /// Its side.
        side: Side,
        /// The input.
        file: String,
        /// The id.
        custom_id: String,
        /// The line left out.
        line: u64,
        /// The first line with the id (the one compared).
        first_line: u64,
    },
    /// An event of the join of one side's results to the requests.
    #[serde(skip)]
    Join {
        /// Its side.
        side: Side,
        /// The join's event.
        event: batchkit_join::Event,
    },
}

/// Where a comparison puts what it finds: the one [`Sink`] of every batchkit job (progress
/// after each chunk of each input, the joins' included), plus the comparison's own events. An
/// error (a closed pipe) stops the comparison with [`CompareError::Report`].
pub trait CompareSink: Sink<Error = std::io::Error> {
    /// One event, in the order they are found.
    fn event(&mut self, e: &Event) -> std::io::Result<()>;
}

/// A closure over events is a compare sink that drops progress.
pub struct Events<F>(pub F);

impl<F: FnMut(&Event) -> std::io::Result<()>> Sink for Events<F> {
    type Error = std::io::Error;

    fn finding(&mut self, _: &str, _: &batchkit_line::Diagnostic) -> std::io::Result<bool> {
        Ok(true)
    }
}

impl<F: FnMut(&Event) -> std::io::Result<()>> CompareSink for Events<F> {
    fn event(&mut self, e: &Event) -> std::io::Result<()> {
        (self.0)(e)
    }
}

/// Errors that stop a comparison. Each names the file (and line when there is one).
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// An input could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// Joining one side's results to the requests failed.
    #[error("joining {file} to the requests")]
    Join {
        /// The result file.
        file: String,
        /// Cause.
        #[source]
        source: batchkit_join::JoinError,
    },
    /// Passing an event on failed (the printer's output is closed or full).
    #[error("writing findings")]
    Report(#[source] std::io::Error),
    /// An output or spill file could not be written or read back.
    #[error("{path}: {}", batchkit_io::describe(source))]
    Io {
        /// The file.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// A side is not a merged file: its first line has no `status` (a result file compared
    /// without `--requests`, say).
    #[error(
        "{file}:{line}: not a merged line of `batchkit join` (no \"status\"); to compare result files, give the request files with --requests"
    )]
    NotMerged {
        /// The input.
        file: String,
        /// The line.
        line: u64,
    },
    /// The options cannot work.
    #[error("{0}")]
    Usage(String),
}

impl CompareError {
    /// The input that could not be read, when that is what stopped the comparison.
    pub fn read_error(&self) -> Option<&ReadError> {
        match self {
            CompareError::Read(r) => Some(r),
            CompareError::Join { source, .. } => source.read_error(),
            _ => None,
        }
    }
}

pub(crate) fn io_err(path: &std::path::Path) -> impl Fn(std::io::Error) -> CompareError + '_ {
    move |source| CompareError::Io {
        path: batchkit_io::staging::display_path(path),
        source,
    }
}

impl From<batchkit_io::spill::SpillError> for CompareError {
    fn from(e: batchkit_io::spill::SpillError) -> Self {
        CompareError::Io {
            path: batchkit_io::staging::display_path(&e.path),
            source: e.source,
        }
    }
}
