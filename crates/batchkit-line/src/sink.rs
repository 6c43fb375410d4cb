//! [`Sink`]: where every batchkit job puts what it finds and how far it has read.

use crate::Diagnostic;

/// The one sink of every batchkit job: findings and progress go here as the job reads, in
/// input order, from one thread. Each method may fail (a closed pipe: the job stops with the
/// error) or ask the job to stop (`Ok(false)`), as ripgrep's `Sink` does; printers implement
/// it, and jobs with more to say (counted requests, duplicate ids, join events) extend it.
pub trait Sink {
    /// What a failing method returns (usually the job's error type).
    type Error;

    /// A finding about a line of `file` (or about the whole file when `d.line` is `None`).
    fn finding(&mut self, file: &str, d: &Diagnostic) -> Result<bool, Self::Error>;

    /// `read` bytes of input `file` consumed so far (raw bytes: compressed ones for zstd),
    /// after each chunk.
    fn progress(&mut self, file: &str, read: u64) -> Result<bool, Self::Error> {
        let _ = (file, read);
        Ok(true)
    }
}

/// A closure taking `(file, finding)` is a sink that ignores progress (tests, library
/// callers that only want the findings).
impl<E, F> Sink for F
where
    F: FnMut(&str, &Diagnostic) -> Result<bool, E>,
{
    type Error = E;

    fn finding(&mut self, file: &str, d: &Diagnostic) -> Result<bool, E> {
        self(file, d)
    }
}
