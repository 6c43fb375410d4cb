//! One module per subcommand: each turns its flags into library options, runs the job and
//! hands the result to a printer.

pub mod dupes;
pub mod join;
pub mod shard;
pub mod tokens;
pub mod validate;

use std::io::{self, BufWriter, Write};

use crate::cli::{Command, Settings};
use crate::Outcome;

pub fn run(command: Command, settings: &Settings) -> anyhow::Result<Outcome> {
    match command {
        Command::Validate(a) => validate::run(a, settings),
        Command::Dupes(a) => dupes::run(a, settings),
        Command::Tokens(a) => tokens::run(a, settings),
        Command::Shard(a) => shard::run(a, settings),
        Command::Join(a) => join::run(a, settings),
    }
}

/// Buffered stdout for printers.
pub fn stdout() -> BufWriter<io::StdoutLock<'static>> {
    BufWriter::with_capacity(64 << 10, io::stdout().lock())
}

/// Flushes a printer's writer, keeping the error (a closed pipe exits quietly upstream).
pub fn finish(mut w: impl Write) -> anyhow::Result<()> {
    w.flush()?;
    Ok(())
}
