//! The `batchkit` command: thin glue from command-line flags to the library crates.

mod cli;
mod cmd;
mod progress;

use std::process::ExitCode;

use clap::Parser;

/// How a command ended when it could do its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done, nothing wrong found (exit 0).
    Clean,
    /// Done, and the input has problems (exit 1).
    Problems,
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

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let settings = match cli.global.resolve() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    match cmd::run(cli.command, &settings) {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Problems) => ExitCode::from(1),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
