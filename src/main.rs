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

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    batchkit_io::staging::set_notice_hook(|msg| eprintln!("batchkit: {msg}"));
    if let Err(e) = batchkit_io::staging::install_signal_handlers() {
        eprintln!(
            "batchkit: cannot watch for Ctrl-C ({e}); an interrupted run may leave staging behind"
        );
    }
    let settings = match cli.global.resolve() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {}", message(&e));
            return ExitCode::from(2);
        }
    };
    match cmd::run(cli.command, &settings) {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Problems) => ExitCode::from(1),
        Ok(Outcome::Failed) => ExitCode::from(2),
        // A closed stdout (`| head`) ends quietly, 1 when problems were already reported.
        Err(e) if is_broken_pipe(&e) => ExitCode::from(u8::from(cmd::problems_seen())),
        Err(e) => {
            eprintln!("error: {}", message(&e));
            ExitCode::from(2)
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

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
