//! Output of batchkit jobs: the JSON Lines events (one `{"type": ...}` object per line, the
//! summary last) and the human printers over the same events. Job crates produce typed
//! results; this crate only formats them.

pub mod diagnostic;
pub mod dupes;
pub mod join;
pub mod shard;
pub mod style;
pub mod tokens;
pub mod validate;

use serde::{Deserialize, Serialize};

/// An input that could not be read (missing, a directory, a corrupt zstd stream): the job
/// went on with the other inputs, and the summary says `"ok": false`.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ErrorEvent {
    /// Always `"error"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The input's name.
    pub file: String,
    /// What went wrong, said once.
    pub message: String,
}

impl ErrorEvent {
    /// The event for `file`.
    pub fn new(file: &str, message: impl Into<String>) -> Self {
        ErrorEvent {
            kind: "error".into(),
            file: file.into(),
            message: message.into(),
        }
    }

    /// Writes it: `error: message` on stderr, and in JSON mode also a JSON line on `out`.
    pub fn print(&self, out: &mut impl std::io::Write, json: bool) -> std::io::Result<()> {
        out.flush()?;
        eprintln!("error: {}", self.message);
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
