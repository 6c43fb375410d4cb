//! One module per subcommand: each turns its flags into library options, runs the job and
//! hands the result to a printer.

pub mod dupes;
pub mod join;
pub mod shard;
pub mod tokens;
pub mod validate;

use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use batchkit_io::paths::{check_distinct, Role};
use batchkit_io::ReadError;

/// Buffered output for printers (stdout for the binary).
pub fn buffered(out: &mut dyn Write) -> BufWriter<&mut dyn Write> {
    BufWriter::with_capacity(64 << 10, out)
}

/// Flushes a printer's writer, keeping the error (a closed pipe exits quietly upstream).
pub fn finish(mut w: impl Write) -> anyhow::Result<()> {
    w.flush()?;
    Ok(())
}

static PROBLEMS: AtomicBool = AtomicBool::new(false);

/// Records that a problem with the input was reported (so a closed pipe exits 1).
pub fn mark_problems() {
    PROBLEMS.store(true, Ordering::Relaxed);
}

/// Forgets problems reported by an earlier run in this process.
pub fn reset_problems() {
    PROBLEMS.store(false, Ordering::Relaxed);
}

/// Whether a problem with the input was reported.
pub fn problems_seen() -> bool {
    PROBLEMS.load(Ordering::Relaxed)
}

/// Refuses, before anything is written, an output that is an input or another output.
pub fn check_paths(inputs: &[Role], outputs: &[Role]) -> anyhow::Result<()> {
    check_distinct(inputs, outputs)?;
    Ok(())
}

/// The name of the input a read error is about.
pub fn read_error_name(r: &ReadError) -> &str {
    match r {
        ReadError::Open { name, .. } | ReadError::Read { name, .. } => name,
    }
}

/// For a job stopped by an unreadable input, in JSON mode: the `error` event on `out` (the
/// one line scripts read), so JSON readers see what stderr says. The error itself still
/// goes up: stderr says it once and the exit code stays 2.
pub fn json_error_event(e: anyhow::Error, out: &mut impl Write, json: bool) -> anyhow::Error {
    if !json {
        return e;
    }
    let Some(name) = crate::outcome::read_error(&e).map(|r| read_error_name(r).to_string()) else {
        return e;
    };
    let ev = batchkit_report::ErrorEvent::new(&name, crate::outcome::message(&e));
    match ev.write_json(out).and_then(|()| out.flush()) {
        Ok(()) => e,
        Err(w) => w.into(),
    }
}
