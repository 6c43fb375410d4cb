//! The `batchkit` command as a library: thin glue from command-line flags to the library
//! crates. The binary (`src/main.rs`) calls [`main_from`]; the Python module calls
//! [`run_args`], which writes the same output to any writer.

mod cli;
mod cmd;
mod outcome;
mod progress;
mod settings;

use std::ffi::OsString;
use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clap::Parser;

pub use batchkit_io::{cancelled, Cancelled};
pub use outcome::{message, Failure, Outcome};

/// What the `batchkit` binary does with `args` (the first is the program name): parse the
/// flags (clap prints help, version and usage errors and exits), watch for signals, run the
/// command on the process's stdout and stderr; returns the exit code.
pub fn main_from<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = cli::Cli::parse_from(args);
    batchkit_io::staging::set_notice_hook(|msg| eprintln!("batchkit: {msg}"));
    if let Err(e) = batchkit_io::staging::install_signal_handlers() {
        eprintln!(
            "batchkit: cannot watch for Ctrl-C ({e}); an interrupted run may leave staging behind"
        );
    }
    let (code, _) = run_parsed(cli, &mut std::io::stdout(), &mut std::io::stderr(), None);
    code
}

/// Runs the command `args` (the first is the program name) writing what the binary writes
/// to `stdout` and `stderr`, without touching signal handlers or exiting; returns the exit
/// code and, for exit 2 when the error is known, why. Setting `cancel` stops the run at its
/// next read (an `interrupted` failure); staging is removed as the job unwinds.
pub fn run_args<I, T>(
    args: I,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    cancel: Option<Arc<AtomicBool>>,
) -> (u8, Option<Failure>)
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let text = e.render().to_string();
            if !e.use_stderr() {
                // --help, --version
                let _ = stdout.write_all(text.as_bytes());
                return (0, None);
            }
            let _ = stderr.write_all(text.as_bytes());
            let message = text
                .lines()
                .next()
                .unwrap_or_default()
                .trim_start_matches("error: ")
                .to_string();
            let failure = Failure {
                code: "usage",
                message,
                file: None,
                line: None,
            };
            return (2, Some(failure));
        }
    };
    run_parsed(cli, stdout, stderr, cancel)
}

fn run_parsed(
    cli: cli::Cli,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    cancel: Option<Arc<AtomicBool>>,
) -> (u8, Option<Failure>) {
    let mut settings = match cli.global.resolve() {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(stderr, "error: {}", message(&e));
            return (2, Some(outcome::failure(&e, "usage")));
        }
    };
    settings.read.cancel = cancel;
    let result = cli.command.run(&settings, stdout, stderr);
    outcome::exit(result, stderr)
}
