//! One module per subcommand: each turns its flags into library options, runs the job and
//! hands the result to a printer.

pub mod compare;
pub mod convert;
pub mod dupes;
pub mod join;
pub mod shard;
pub mod tokens;
pub mod validate;

use std::io::{BufWriter, Write};

use batchkit_report::Writers;

use crate::outcome::Outcome;

use batchkit_io::paths::{check_distinct, Role};
use batchkit_io::ReadError;

/// Buffered output for printers (stdout for the binary).
pub fn buffered(out: &mut dyn Write) -> BufWriter<&mut dyn Write> {
    BufWriter::with_capacity(64 << 10, out)
}

/// The inputs FILE... name: each a path or `-` for stdin; stdin when none is given.
pub fn inputs(files: &[String]) -> Vec<batchkit_io::Input> {
    if files.is_empty() {
        vec![batchkit_io::Input::stdin()]
    } else {
        files
            .iter()
            .map(|f| batchkit_io::Input::from_arg(f))
            .collect()
    }
}

/// The writers a printer is given: `out` buffered, `err` as is, and progress as
/// `--progress` says (made by `progress` when on).
pub fn writers<'a>(
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    settings: &crate::settings::Settings,
    progress: impl FnOnce() -> Box<dyn batchkit_report::Progress>,
) -> Writers<BufWriter<&'a mut dyn Write>, &'a mut dyn Write> {
    Writers::new(buffered(out), err)
        .with_progress(crate::progress::when(settings.progress, progress))
}

/// A closed stdout (`| head`) ends the run quietly with what was found: 1 when a problem
/// with the input was already printed, else 0.
pub fn closed_pipe(r: anyhow::Result<Outcome>, problems: bool) -> anyhow::Result<Outcome> {
    match r {
        Err(e) if crate::outcome::is_broken_pipe(&e) => Ok(Outcome::problems_if(problems)),
        r => r,
    }
}

/// The job's own error inside the `io::Error` a printer's sink hands back, when it was the
/// job (not the printer) that failed.
pub fn job_error<T: std::error::Error + 'static>(e: &std::io::Error) -> Option<&T> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<T>())
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
    let ev = batchkit_report::ErrorEvent::of(&crate::outcome::input_error(&e, &name));
    match ev.write_json(out).and_then(|()| out.flush()) {
        Ok(()) => e,
        Err(w) => w.into(),
    }
}

/// A JSON Schema file (`--schema`, `--answer-schema`), its errors naming the file.
pub fn read_schema(p: &std::path::Path) -> anyhow::Result<serde_json::Value> {
    use anyhow::Context;
    let text = std::fs::read(p).with_context(|| format!("{}: cannot read schema", p.display()))?;
    serde_json::from_slice(&text)
        .with_context(|| format!("{}: the schema is not valid JSON", p.display()))
}
