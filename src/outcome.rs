//! How a command ended when it could do its job, and how an error that stopped it is worded
//! and classified.

use batchkit_compare::CompareError;
use batchkit_convert::ConvertError;
use batchkit_io::ReadError;
use batchkit_join::JoinError;
use batchkit_shard::ShardError;
use batchkit_tokens::TokensError;
use batchkit_validate::ValidateError;

/// How a command ended when it could do its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done, nothing wrong found (exit 0).
    Clean,
    /// Done, and the input has problems (exit 1).
    Problems,
    /// Some inputs could not be read; the error was already reported (exit 2).
    Failed,
}

impl Outcome {
    /// `Problems` when `bad`, else `Clean`.
    pub fn problems_if(bad: bool) -> Self {
        if bad {
            Outcome::Problems
        } else {
            Outcome::Clean
        }
    }
}

/// The error and its causes, each said once: a cause whose text the message already holds
/// is not repeated.
pub fn message(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let mut text = cause.to_string();
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            text = batchkit_io::describe(io);
        }
        if text.is_empty() || out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// Why a run could not be done (exit 2), for callers that want more than the message on
/// stderr: a short code, and the file and 1-based line the error names, when it names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `usage`, `unreadable`, `read_failed`, `interrupted`, `output_clash`, `not_empty`,
    /// `output_failed`, `line_over_cap`, `line_too_large`, `too_many_groups`, `tokens_failed`
    /// or `failed`.
    pub code: &'static str,
    /// The message the command prints after `error: `.
    pub message: String,
    /// The file (or directory) the error is about.
    pub file: Option<String>,
    /// The 1-based line the error is about.
    pub line: Option<u64>,
}

impl Failure {
    /// As the summary's `error` and an `error` event say it.
    pub fn run_error(&self) -> batchkit_report::RunError {
        batchkit_report::RunError {
            code: self.code.into(),
            message: self.message.clone(),
            file: self.file.clone(),
            line: self.line,
        }
    }
}

/// An input that could not be read, as an `error` event and the summary's `error` say it:
/// `unreadable` or `read_failed` with its file and line (`file` when the error names none).
pub fn input_error(e: &anyhow::Error, file: &str) -> batchkit_report::RunError {
    let f = failure(e, "unreadable");
    let mut r = f.run_error();
    r.file.get_or_insert_with(|| file.to_string());
    r
}

/// How a run ends: its exit code and, for exit 2 when the error is known, why (said once on
/// `stderr`). The one place where errors become exit codes and error codes.
pub fn exit(
    result: anyhow::Result<Outcome>,
    stderr: &mut dyn std::io::Write,
) -> (u8, Option<Failure>) {
    match result {
        Ok(Outcome::Clean) => (0, None),
        Ok(Outcome::Problems) => (1, None),
        Ok(Outcome::Failed) => (2, None),
        // A closed stdout the command did not see through (the final flush): quiet. The
        // commands themselves end a closed pipe with what they had found.
        Err(e) if is_broken_pipe(&e) => (0, None),
        Err(e) => {
            let _ = writeln!(stderr, "error: {}", message(&e));
            (2, Some(failure(&e, "failed")))
        }
    }
}

/// The job error inside `c`: itself, or the one a printer's `io::Error` carries (jobs whose
/// sinks fail with `io::Error` hand their own errors back wrapped in one).
fn unwrap_io<'a>(
    c: &'a (dyn std::error::Error + 'static),
) -> &'a (dyn std::error::Error + 'static) {
    match c
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        Some(inner) => inner,
        None => c,
    }
}

/// The read error that stopped a job, when an input could not be read, whichever job's
/// error carries it (each job error's `read_error()`).
pub fn read_error(e: &anyhow::Error) -> Option<&ReadError> {
    e.chain().find_map(|c| {
        let c = unwrap_io(c);
        c.downcast_ref::<ReadError>()
            .or_else(|| {
                c.downcast_ref::<ValidateError>()
                    .and_then(ValidateError::read_error)
            })
            .or_else(|| {
                c.downcast_ref::<ShardError>()
                    .and_then(ShardError::read_error)
            })
            .or_else(|| {
                c.downcast_ref::<JoinError>()
                    .and_then(JoinError::read_error)
            })
            .or_else(|| {
                c.downcast_ref::<TokensError>()
                    .and_then(TokensError::read_error)
            })
            .or_else(|| {
                c.downcast_ref::<CompareError>()
                    .and_then(CompareError::read_error)
            })
            .or_else(|| {
                c.downcast_ref::<ConvertError>()
                    .and_then(ConvertError::read_error)
            })
    })
}

/// Whether `e` is a closed pipe (the reader of the output went away).
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Classifies an error that stopped a run by the first cause that names what went wrong.
pub fn failure(e: &anyhow::Error, default: &'static str) -> Failure {
    let mut f = Failure {
        code: default,
        message: message(e),
        file: None,
        line: None,
    };
    let cancelled = e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .is_some_and(|inner| inner.is::<batchkit_io::Cancelled>())
    });
    if cancelled {
        f.code = "interrupted";
        return f;
    }
    if let Some(r) = read_error(e) {
        match r {
            ReadError::Open { name, .. } => (f.code, f.file) = ("unreadable", Some(name.clone())),
            ReadError::Read { name, line, .. } => {
                (f.code, f.file, f.line) = ("read_failed", Some(name.clone()), Some(*line));
            }
        }
        return f;
    }
    let path = |p: &std::path::Path| Some(p.display().to_string());
    for c in e.chain() {
        let c = unwrap_io(c);
        if let Some(clash) = c.downcast_ref::<batchkit_io::paths::Clash>() {
            (f.code, f.file) = ("output_clash", path(&clash.b.path));
            return f;
        }
        if let Some(s) = c.downcast_ref::<ShardError>() {
            (f.code, f.file, f.line) = match s {
                ShardError::NotEmpty { dir } => ("not_empty", path(dir), None),
                ShardError::InputClash { path: p, .. } => ("output_clash", path(p), None),
                ShardError::Io { path: p, .. } => ("output_failed", path(p), None),
                ShardError::LineOverCap { name, line, .. } => {
                    ("line_over_cap", Some(name.clone()), Some(*line))
                }
                ShardError::Oversized { name, line, .. } => {
                    ("line_too_large", Some(name.clone()), Some(*line))
                }
                ShardError::TooManyGroups { name, line, .. } => {
                    ("too_many_groups", Some(name.clone()), Some(*line))
                }
                ShardError::Tokens { name, line, .. } => {
                    ("tokens_failed", Some(name.clone()), Some(*line))
                }
                ShardError::Read(_)
                | ShardError::Validate(_)
                | ShardError::Report(_)
                | ShardError::OverCap { .. } => (f.code, None, None),
            };
            return f;
        }
    }
    f
}
