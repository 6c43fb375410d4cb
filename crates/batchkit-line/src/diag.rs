//! The one vocabulary of findings: every command reports a line it cannot read, or a rule a
//! line breaks, as a [`Diagnostic`] with a [`Code`] from the specification's table and the
//! words of `batchkit_json::syntax`; what a command did about it goes in `context`.

use serde::{Deserialize, Serialize};

/// How bad a finding is. Errors make `validate` exit 1; warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The provider would reject the file, or the data is wrong.
    Error,
    /// Worth knowing; the provider accepts it.
    Warning,
}

/// The stable code of a finding (see the table in the batchkit specification).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    /// Not one complete JSON value.
    InvalidJson,
    /// Valid JSON but not an object.
    NotObject,
    /// Not valid UTF-8.
    InvalidUtf8,
    /// (warning) A key appears twice in one object; the first value is read.
    DuplicateKey,
    /// A blank line before the end of the file.
    EmptyLine,
    /// A required field is absent.
    MissingField,
    /// A field has the wrong JSON type.
    WrongType,
    /// The id breaks the provider's rules.
    InvalidCustomId,
    /// The id was already used on an earlier line.
    DuplicateId,
    /// `method` other than `POST`.
    InvalidMethod,
    /// A field holds a value the batch API fails at run time (`stream: true`, an empty
    /// Anthropic `messages`, a `system` role in Gemini `contents`).
    UnsupportedValue,
    /// An endpoint the provider's batch API does not serve.
    UnsupportedUrl,
    /// A `url` other than the first valid request's.
    UrlMismatch,
    /// A model other than the first valid request's.
    ModelMismatch,
    /// Fails the user's JSON Schema.
    SchemaViolation,
    /// Longer than the provider's per-request size or `--max-line-bytes`.
    LineTooLarge,
    /// The file starts with a UTF-8 byte-order mark.
    Utf8Bom,
    /// More requests than one batch takes.
    TooManyRequests,
    /// More bytes than one batch file takes.
    FileTooLarge,
    /// Fewer requests than one batch job takes (Amazon Bedrock: 100).
    TooFewRequests,
    /// No requests at all (providers reject an empty batch).
    EmptyFile,
    /// `convert`: a field with no equivalent on the target provider.
    Unconvertible,
}

impl Code {
    /// The snake_case name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidJson => "invalid_json",
            Code::NotObject => "not_object",
            Code::InvalidUtf8 => "invalid_utf8",
            Code::DuplicateKey => "duplicate_key",
            Code::EmptyLine => "empty_line",
            Code::MissingField => "missing_field",
            Code::WrongType => "wrong_type",
            Code::InvalidCustomId => "invalid_custom_id",
            Code::DuplicateId => "duplicate_id",
            Code::InvalidMethod => "invalid_method",
            Code::UnsupportedValue => "unsupported_value",
            Code::UnsupportedUrl => "unsupported_url",
            Code::UrlMismatch => "url_mismatch",
            Code::ModelMismatch => "model_mismatch",
            Code::SchemaViolation => "schema_violation",
            Code::LineTooLarge => "line_too_large",
            Code::Utf8Bom => "utf8_bom",
            Code::TooManyRequests => "too_many_requests",
            Code::FileTooLarge => "file_too_large",
            Code::TooFewRequests => "too_few_requests",
            Code::EmptyFile => "empty_file",
            Code::Unconvertible => "unconvertible",
        }
    }
}

/// One finding. `line` and `offset` are absent only for file-level findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Stable code.
    pub code: Code,
    /// 1-based line number.
    pub line: Option<u64>,
    /// Byte offset of the line start.
    pub offset: Option<u64>,
    /// 1-based byte column in the line, where the finding has one (`invalid_json`,
    /// `invalid_utf8`).
    #[serde(default)]
    pub column: Option<u64>,
    /// The line's id, when it has one.
    pub custom_id: Option<String>,
    /// For `duplicate_id`: where the id was first used.
    pub first_line: Option<u64>,
    /// For `schema_violation` and field errors: JSON pointer of the failing part.
    pub pointer: Option<String>,
    /// What is wrong, for people: the same words in every command.
    pub message: String,
    /// What the command did about it (e.g. "not copied into a shard"), apart from the message.
    #[serde(default)]
    pub context: Option<String>,
}

impl Diagnostic {
    /// A finding about one line.
    pub fn at(
        code: Code,
        severity: Severity,
        line: u64,
        offset: u64,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic::file(code, severity, message).placed(line, offset)
    }

    /// A finding about the whole file.
    pub fn file(code: Code, severity: Severity, message: impl Into<String>) -> Self {
        Diagnostic {
            severity,
            code,
            line: None,
            offset: None,
            column: None,
            custom_id: None,
            first_line: None,
            pointer: None,
            message: message.into(),
            context: None,
        }
    }

    /// A line that is not one JSON value, in the words every command uses.
    pub fn syntax(line: u64, offset: u64, e: batchkit_json::syntax::SyntaxError) -> Self {
        Diagnostic::of_syntax(e).placed(line, offset)
    }

    /// [`Diagnostic::syntax`] before the line is known (a job that reads one line at a time
    /// places it with [`Diagnostic::placed`]).
    pub fn of_syntax(e: batchkit_json::syntax::SyntaxError) -> Self {
        let code = match e.kind {
            batchkit_json::syntax::SyntaxKind::InvalidUtf8 => Code::InvalidUtf8,
            batchkit_json::syntax::SyntaxKind::InvalidJson => Code::InvalidJson,
        };
        let mut d = Diagnostic::file(code, Severity::Error, e.message);
        d.column = e.column;
        d
    }

    /// A finding about one line, before the line is known.
    pub fn unplaced(code: Code, severity: Severity, message: impl Into<String>) -> Self {
        Diagnostic::file(code, severity, message)
    }

    /// The same finding at line `line`, starting at byte `offset`.
    pub fn placed(mut self, line: u64, offset: u64) -> Self {
        self.line = Some(line);
        self.offset = Some(offset);
        self
    }

    /// The same finding with the field's JSON pointer.
    pub fn with_pointer(mut self, pointer: impl Into<String>) -> Self {
        self.pointer = Some(pointer.into());
        self
    }

    /// The same finding with what the command did about it.
    pub fn with_context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into());
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Blank lines as every command reports them: a run of them between requests is one
/// `empty_line` error (providers reject it), a run at the end of the file one warning
/// (providers accept it). Feed it lines in order.
#[derive(Debug, Default, Clone)]
pub struct BlankRun {
    /// (first line, its offset, last line, count).
    run: Option<(u64, u64, u64, u64)>,
}

impl BlankRun {
    /// Line `line` (at byte `offset`) is blank.
    pub fn blank(&mut self, line: u64, offset: u64) {
        self.run = Some(match self.run {
            None => (line, offset, line, 1),
            Some((l, o, _, n)) => (l, o, line, n + 1),
        });
    }

    /// A line that is not blank came: the run before it, if any, as an error.
    pub fn before_request(&mut self) -> Option<Diagnostic> {
        self.take(false)
    }

    /// The file ended: the run, if any, as a warning.
    pub fn at_end(&mut self) -> Option<Diagnostic> {
        self.take(true)
    }

    fn take(&mut self, at_end: bool) -> Option<Diagnostic> {
        let (first, offset, last, n) = self.run.take()?;
        let severity = if at_end {
            Severity::Warning
        } else {
            Severity::Error
        };
        let message = batchkit_json::syntax::blank_lines(n, first, last, at_end);
        Some(Diagnostic::at(
            Code::EmptyLine,
            severity,
            first,
            offset,
            message,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_runs_are_errors_between_requests_and_warnings_at_the_end() {
        let mut b = BlankRun::default();
        assert!(b.before_request().is_none());
        b.blank(2, 10);
        b.blank(3, 11);
        let d = b.before_request().unwrap();
        assert_eq!(
            (d.code, d.severity, d.line, d.offset),
            (Code::EmptyLine, Severity::Error, Some(2), Some(10))
        );
        assert!(
            d.message.contains("2 blank lines (lines 2-3)"),
            "{}",
            d.message
        );
        assert!(b.before_request().is_none());
        b.blank(9, 40);
        let d = b.at_end().unwrap();
        assert_eq!(d.severity, Severity::Warning);
        assert!(d.message.contains("at the end"), "{}", d.message);
    }
}
