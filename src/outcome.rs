//! How a command ended when it could do its job, and how an error that stopped it is worded.

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
