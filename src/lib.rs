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
pub use outcome::{message, Outcome};

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
    cmd::reset_problems();
    let mut settings = match cli.global.resolve() {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(stderr, "error: {}", message(&e));
            return (2, Some(failure(&e, "usage")));
        }
    };
    settings.read.cancel = cancel;
    match cli.command.run(&settings, stdout) {
        Ok(Outcome::Clean) => (0, None),
        Ok(Outcome::Problems) => (1, None),
        Ok(Outcome::Failed) => (2, None),
        // A closed stdout (`| head`) ends quietly, 1 when problems were already reported.
        Err(e) if is_broken_pipe(&e) => (u8::from(cmd::problems_seen()), None),
        Err(e) => {
            let _ = writeln!(stderr, "error: {}", message(&e));
            (2, Some(failure(&e, "failed")))
        }
    }
}

/// Classifies an error that stopped a run by the first cause that names what went wrong.
fn failure(e: &anyhow::Error, default: &'static str) -> Failure {
    use batchkit_io::ReadError;
    use batchkit_shard::ShardError;
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
    let path = |p: &std::path::Path| Some(p.display().to_string());
    for c in e.chain() {
        let read = c.downcast_ref::<ReadError>().or_else(|| match c
            .downcast_ref::<batchkit_validate::ValidateError>()
        {
            Some(batchkit_validate::ValidateError::Read(r)) => Some(r),
            _ => None,
        });
        let read = read.or_else(|| match c.downcast_ref::<ShardError>() {
            Some(ShardError::Read(r)) => Some(r),
            _ => None,
        });
        if let Some(r) = read {
            match r {
                ReadError::Open { name, .. } => {
                    (f.code, f.file) = ("unreadable", Some(name.clone()));
                }
                ReadError::Read { name, line, .. } => {
                    (f.code, f.file, f.line) = ("read_failed", Some(name.clone()), Some(*line));
                }
            }
            return f;
        }
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
                ShardError::Read(_) | ShardError::Validate(_) | ShardError::Report(_) => {
                    (f.code, None, None)
                }
            };
            return f;
        }
    }
    f
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
