//! Output of batchkit jobs: the JSON Lines events (one `{"type": ...}` object per line, the
//! summary last) and the human printers over the same events. Job crates produce typed
//! results; this crate only formats them.
//!
//! Each printer is its job's sink (as ripgrep's printers are): the job pushes findings into
//! it as it reads, and a failed write (a closed pipe) stops the job through the `io::Error`
//! it returns. A printer writes to the [`Writers`] it is given: output, messages (an input
//! that could not be read) and progress.
//!
//! ```
//! use batchkit_line::{Code, Diagnostic, Severity, Sink};
//! use batchkit_report::{style::Style, validate::DiagnosticPrinter, Writers};
//! let (out, err) = (Vec::new(), Vec::new());
//! let mut p = DiagnosticPrinter::new(Writers::new(out, err), true, Style { on: false }, None);
//! let d = Diagnostic::at(Code::InvalidJson, Severity::Error, 2, 9, "not JSON");
//! assert!(p.finding("a.jsonl", &d).unwrap()); // go on
//! assert!(p.problems()); // a closed pipe from here on still exits 1
//! let out = String::from_utf8(p.into_inner().unwrap()).unwrap();
//! assert!(out.starts_with(r#"{"type":"diagnostic","severity":"error","code":"invalid_json""#));
//! ```

pub mod compare;
pub mod convert;
pub mod diagnostic;
pub mod dupes;
pub mod join;
pub mod shard;
pub mod style;
pub mod tokens;
pub mod validate;

use serde::{Deserialize, Serialize};

/// How far a job has read, as its printer hears it (a progress bar in the binary). Messages
/// that are not a bar (plain progress lines when stderr is not a terminal) go to `err`, the
/// printer's stderr.
pub trait Progress {
    /// `read` raw bytes of input `file` consumed so far.
    fn update(&mut self, file: &str, read: u64, err: &mut dyn std::io::Write);
    /// The read is over (or output is about to be printed): the bar goes away.
    fn finish(&mut self, err: &mut dyn std::io::Write);
}

/// No progress shown.
pub struct NoProgress;

impl Progress for NoProgress {
    fn update(&mut self, _: &str, _: u64, _: &mut dyn std::io::Write) {}
    fn finish(&mut self, _: &mut dyn std::io::Write) {}
}

/// What every printer writes to: `out` (stdout for the binary, buffered), `err` (messages
/// that are not output: an input that could not be read), and progress. It remembers
/// whether a problem with the input was printed, so that a run whose stdout closed still
/// exits 1 after printing one.
pub struct Writers<W, E> {
    /// The output.
    pub out: W,
    /// Messages.
    pub err: E,
    progress: Box<dyn Progress>,
    problems: bool,
    first_error: Option<RunError>,
}

impl<W: std::io::Write, E: std::io::Write> Writers<W, E> {
    /// `out` and `err`, without progress.
    pub fn new(out: W, err: E) -> Self {
        Writers {
            out,
            err,
            progress: Box::new(NoProgress),
            problems: false,
            first_error: None,
        }
    }

    /// Shows progress with `p`.
    pub fn with_progress(mut self, p: Box<dyn Progress>) -> Self {
        self.progress = p;
        self
    }

    /// Passes progress on.
    pub fn progress(&mut self, file: &str, read: u64) {
        self.progress.update(file, read, &mut self.err);
    }

    /// Ends the progress shown (before a summary, or as a run ends).
    pub fn progress_done(&mut self) {
        self.progress.finish(&mut self.err);
    }

    /// Records that a problem with the input was printed.
    pub fn problem(&mut self) {
        self.problems = true;
    }

    /// Whether a problem with the input was printed.
    pub fn problems(&self) -> bool {
        self.problems
    }

    /// Says that an input could not be read: on `err`, and as an `error` event on `out` in
    /// JSON mode. The first one is the summary's `error` ([`Writers::error`]).
    pub fn input_error(&mut self, e: RunError, json: bool) -> std::io::Result<()> {
        self.progress_done();
        let printed = ErrorEvent::of(&e).print(&mut self.out, &mut self.err, json);
        self.first_error.get_or_insert(e);
        printed
    }

    /// The first input that could not be read, for the summary's `error` (`None`: every
    /// input was read).
    pub fn error(&self) -> Option<&RunError> {
        self.first_error.as_ref()
    }

    /// The output and [`Writers::error`] together (to print a summary with it).
    pub fn out_and_error(&mut self) -> (&mut W, Option<&RunError>) {
        (&mut self.out, self.first_error.as_ref())
    }

    /// Ends progress and flushes both.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.progress_done();
        self.out.flush()?;
        self.err.flush()
    }

    /// Flushes both and returns `out`.
    pub fn into_inner(mut self) -> std::io::Result<W> {
        self.flush()?;
        Ok(self.out)
    }
}

/// Why a run stopped, or why an input could not be read: the `error` of every summary
/// (`null` when the run was done) and the body of an `error` event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunError {
    /// `usage`, `unreadable`, `read_failed`, `interrupted`, `output_clash`, `not_empty`,
    /// `output_failed`, `line_over_cap`, `line_too_large`, `too_many_groups`,
    /// `tokens_failed` or `failed`.
    pub code: String,
    /// What went wrong, said once (what stderr says after `error: `).
    pub message: String,
    /// The file (or directory) it is about, when it names one.
    pub file: Option<String>,
    /// The 1-based line it is about, when it names one.
    pub line: Option<u64>,
}

impl RunError {
    /// An input that could not be opened.
    pub fn unreadable(file: &str, message: impl Into<String>) -> Self {
        RunError {
            code: "unreadable".into(),
            message: message.into(),
            file: Some(file.into()),
            line: None,
        }
    }
}

/// An input that could not be read (missing, a directory, a corrupt zstd stream): the job
/// went on with the other inputs (or stopped, when it needs them all), and the summary says
/// `"ok": false` with the first such error as its `error`.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ErrorEvent {
    /// Always `"error"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `unreadable` (cannot be opened) or `read_failed` (broke while read), as
    /// [`RunError::code`].
    pub code: String,
    /// The input's name.
    pub file: String,
    /// The 1-based line where reading broke, when it did.
    pub line: Option<u64>,
    /// What went wrong, said once.
    pub message: String,
}

impl ErrorEvent {
    /// The event for an input that could not be opened.
    pub fn new(file: &str, message: impl Into<String>) -> Self {
        Self::of(&RunError::unreadable(file, message))
    }

    /// The event of `e`.
    pub fn of(e: &RunError) -> Self {
        ErrorEvent {
            kind: "error".into(),
            code: e.code.clone(),
            file: e.file.clone().unwrap_or_default(),
            line: e.line,
            message: e.message.clone(),
        }
    }

    /// Writes it: `error: message` on `err` (after what `out` holds, so the two read in
    /// order on one terminal), and in JSON mode also a JSON line on `out`.
    pub fn print(
        &self,
        out: &mut impl std::io::Write,
        err: &mut impl std::io::Write,
        json: bool,
    ) -> std::io::Result<()> {
        out.flush()?;
        writeln!(err, "error: {}", self.message)?;
        err.flush()?;
        if json {
            self.write_json(out)?;
        }
        Ok(())
    }

    /// Writes only the JSON line on `out` (for a command whose caller says the error on
    /// stderr itself).
    pub fn write_json(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        serde_json::to_writer(&mut *out, self)?;
        out.write_all(b"\n")
    }
}

/// The summary of a run that stopped before its printer could sum it up (a usage error,
/// an output that could not be written, an input a job needs whole): every key of the
/// command's summary (`keys`, from the printer's `SUMMARY_KEYS`) as `null`, `"ok": false`
/// and the `error`. So every JSON run ends with one summary with the same keys.
pub fn failure_summary(
    out: &mut dyn std::io::Write,
    keys: &[String],
    error: &RunError,
) -> std::io::Result<()> {
    // Written by hand to keep the keys in the order of the command's own summary.
    let mut line = String::from(r#"{"type":"summary""#);
    for k in keys {
        line.push(',');
        line.push_str(&serde_json::to_string(k)?);
        line.push_str(":null");
    }
    line.push_str(r#","ok":false,"error":"#);
    line.push_str(&serde_json::to_string(error)?);
    line.push_str("}\n");
    out.write_all(line.as_bytes())?;
    out.flush()
}

/// The keys of `command`'s summary record besides `type`, `ok` and `error`, in order
/// (`None` for a command batchkit does not have).
pub fn summary_keys(command: &str) -> Option<Vec<String>> {
    let fixed = |k: &[&str]| k.iter().map(|k| k.to_string()).collect();
    Some(match command {
        "validate" => fixed(validate::SUMMARY_KEYS),
        "dupes" => fixed(dupes::SUMMARY_KEYS),
        "tokens" => tokens::summary_keys(),
        "shard" => fixed(shard::SUMMARY_KEYS),
        "join" => join::summary_keys(),
        "compare" => compare::summary_keys(),
        "convert" => convert::summary_keys(),
        _ => return None,
    })
}

/// The top-level keys `record` serialises with, in order, but `type`, `ok` and `error`.
fn keys_of(record: &impl Serialize) -> Vec<String> {
    /// The keys of a JSON object in the order written.
    struct Keys(Vec<String>);
    impl<'de> Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut m: A,
                ) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some(k) = m.next_key::<String>()? {
                        m.next_value::<serde::de::IgnoredAny>()?;
                        keys.push(k);
                    }
                    Ok(Keys(keys))
                }
            }
            d.deserialize_map(V)
        }
    }
    let text = serde_json::to_string(record).unwrap_or_default();
    serde_json::from_str::<Keys>(&text)
        .map(|k| k.0)
        .unwrap_or_default()
        .into_iter()
        .filter(|k| !matches!(k.as_str(), "type" | "ok" | "error"))
        .collect()
}

/// One finding in compiler style, the same for every command:
/// `error[code]: message`, `  --> file:line[:column]`, and `  = note: context` when the
/// command did something about it.
#[allow(clippy::too_many_arguments)]
pub fn human_diagnostic(
    w: &mut dyn std::io::Write,
    style: &style::Style,
    error: bool,
    code: &str,
    message: &str,
    file: &str,
    line: Option<u64>,
    column: Option<u64>,
    context: Option<&str>,
) -> std::io::Result<()> {
    let head = if error {
        style.red(&format!("error[{code}]"))
    } else {
        style.yellow(&format!("warning[{code}]"))
    };
    writeln!(w, "{head}{} {}", style.bold(":"), style.bold(message))?;
    let at = match (line, column) {
        (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
        (Some(l), None) => format!("{file}:{l}"),
        _ => file.to_string(),
    };
    writeln!(w, "  {} {at}", style.blue("-->"))?;
    if let Some(c) = context {
        writeln!(w, "  {} {c}", style.blue("= note:"))?;
    }
    Ok(())
}

/// `n` and the noun, plural when `n != 1`, with thousands separated: "1 error",
/// "12,345 errors".
pub fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{} {many}", thousands(n))
    }
}

/// `n` with commas between thousands: 1234567 → "1,234,567".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An amount of `currency` for people, the one money format of every printer: `$12.35`,
/// `$1,234.57`; under one unit, four significant digits so that small costs stay visible
/// (`$0.01235`, `$0.0000182`, `$0.00000017`); `$0.00` for nothing. Other currencies read
/// `12.35 EUR`.
pub fn money(currency: &str, x: f64) -> String {
    let sign = if x < 0.0 { "-" } else { "" };
    let body = amount(x.abs());
    if currency == "USD" {
        format!("{sign}${body}")
    } else {
        format!("{sign}{body} {currency}")
    }
}

/// `a` (not negative) as `money` writes it, without the currency.
fn amount(a: f64) -> String {
    if a == 0.0 || !a.is_finite() {
        return format!("{a:.2}");
    }
    if a >= 1.0 {
        let cents = (a * 100.0).round() as u64;
        return format!("{}.{:02}", thousands(cents / 100), cents % 100);
    }
    // Four significant digits, trailing zeros dropped but two decimals kept.
    let digits = (3 - a.log10().floor() as i32).clamp(2, 20) as usize;
    let mut s = format!("{a:.digits$}");
    while s.ends_with('0') && s.len() > "0.00".len() {
        s.pop();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_costs_stay_visible() {
        assert_eq!(money("USD", 0.0), "$0.00");
        assert_eq!(money("USD", 12.3456), "$12.35");
        assert_eq!(money("USD", 1234.567), "$1,234.57");
        assert_eq!(money("USD", 0.5), "$0.50");
        assert_eq!(money("USD", 0.0123456), "$0.01235");
        assert_eq!(money("USD", 0.0000182), "$0.0000182");
        // text-embedding-3-small on a short line: not $0.000000.
        assert_eq!(money("USD", 1.7e-7), "$0.00000017");
        assert_eq!(money("USD", 0.999999), "$1.00");
        assert_eq!(money("USD", -0.25), "-$0.25");
        assert_eq!(money("USD", 0.995), "$0.995");
        assert_eq!(money("EUR", 2.5), "2.50 EUR");
    }

    #[test]
    fn counts_read_well() {
        assert_eq!(plural(1, "shard", "shards"), "1 shard");
        assert_eq!(plural(0, "shard", "shards"), "0 shards");
        assert_eq!(plural(1234567, "line", "lines"), "1,234,567 lines");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
    }
}
