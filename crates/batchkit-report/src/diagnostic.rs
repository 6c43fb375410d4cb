//! The one shape of a finding, for every command: `{"type":"diagnostic",...}` in JSON,
//! compiler style for people (`error[code]: message` / `  --> file:line:column` /
//! `  = note: context`).

use std::io::{self, Write};

use batchkit_line::{Code, Diagnostic, Severity};
use serde::{Deserialize, Serialize};

use crate::style::Style;

/// A finding as printed in JSON, with its file.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DiagnosticEvent<'a> {
    /// Always `"diagnostic"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `error` or `warning`.
    pub severity: Severity,
    /// Stable code.
    pub code: Code,
    /// Input name.
    #[serde(borrow)]
    pub file: std::borrow::Cow<'a, str>,
    /// 1-based line (null for file-level findings).
    pub line: Option<u64>,
    /// Byte offset of the line start.
    pub offset: Option<u64>,
    /// 1-based byte column, for `invalid_json` and `invalid_utf8`.
    pub column: Option<u64>,
    /// The line's id.
    pub custom_id: Option<String>,
    /// Where a duplicated id was first used.
    pub first_line: Option<u64>,
    /// JSON pointer of the failing part, for field and schema findings.
    pub pointer: Option<String>,
    /// For people: the same words in every command.
    pub message: String,
    /// What the command did about it.
    pub context: Option<String>,
    /// `join`: which side the line is on (`requests` or `results`).
    #[serde(default)]
    pub side: Option<String>,
    /// `join`, for `duplicate_id`: the file of `first_line` (request ids are unique across
    /// all request files).
    #[serde(default)]
    pub first_file: Option<String>,
}

/// One finding of `file` for people (compiler style).
pub fn human(w: &mut dyn Write, style: &Style, file: &str, d: &Diagnostic) -> io::Result<()> {
    crate::human_diagnostic(
        w,
        style,
        d.severity == Severity::Error,
        d.code.as_str(),
        &d.message,
        file,
        d.line,
        d.column,
        d.context.as_deref(),
    )
}

impl<'a> DiagnosticEvent<'a> {
    /// The event of finding `d` in `file`.
    pub fn of(file: &'a str, d: &Diagnostic) -> Self {
        DiagnosticEvent {
            kind: "diagnostic".into(),
            severity: d.severity,
            code: d.code,
            file: file.into(),
            line: d.line,
            offset: d.offset,
            column: d.column,
            custom_id: d.custom_id.clone(),
            first_line: d.first_line,
            pointer: d.pointer.clone(),
            message: d.message.clone(),
            context: d.context.clone(),
            side: None,
            first_file: None,
        }
    }

    /// Writes the event as one JSON line.
    pub fn print(&self, w: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer(&mut *w, self)?;
        w.write_all(b"\n")
    }
}
