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
    let argv: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let cli = match cli::Cli::try_parse_from(argv.iter().cloned()) {
        Ok(c) => c,
        Err(e) => {
            // clap's own words (help and version on stdout, usage errors on stderr), then,
            // for a usage error in JSON mode, the summary JSON readers look for.
            let _ = e.print();
            if !e.use_stderr() {
                return 0;
            }
            if wants_json(&argv) {
                let f = usage_failure(&e.render().to_string());
                let _ = failure_summary(&mut std::io::stdout(), command_in(&argv), &f);
            }
            return 2;
        }
    };
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
    let argv: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let cli = match cli::Cli::try_parse_from(argv.iter().cloned()) {
        Ok(c) => c,
        Err(e) => {
            let text = e.render().to_string();
            if !e.use_stderr() {
                // --help, --version
                let _ = stdout.write_all(text.as_bytes());
                return (0, None);
            }
            let _ = stderr.write_all(text.as_bytes());
            let failure = usage_failure(&text);
            if wants_json(&argv) {
                let _ = failure_summary(stdout, command_in(&argv), &failure);
            }
            return (2, Some(failure));
        }
    };
    run_parsed(cli, stdout, stderr, cancel)
}

/// A usage error, from clap's words.
fn usage_failure(text: &str) -> Failure {
    let message = text
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_string();
    Failure {
        code: "usage",
        message,
        file: None,
        line: None,
    }
}

/// Whether a command line that did not parse asked for JSON output: `--format json`, or
/// no `--format` with stdout not a terminal (the default, as for a run).
fn wants_json(argv: &[OsString]) -> bool {
    let mut format = None;
    for (i, a) in argv.iter().enumerate() {
        if a == "--format" {
            format = argv.get(i + 1).and_then(|v| v.to_str());
        } else if let Some(v) = a.to_str().and_then(|a| a.strip_prefix("--format=")) {
            format = Some(v);
        }
    }
    match format {
        Some(f) => f == "json",
        None => !std::io::IsTerminal::is_terminal(&std::io::stdout()),
    }
}

/// The command a command line that did not parse names, when it names one.
fn command_in(argv: &[OsString]) -> Option<&'static str> {
    argv.iter().skip(1).find_map(|a| {
        cli::COMMANDS
            .iter()
            .copied()
            .find(|c| a.to_str() == Some(c))
    })
}

fn run_parsed(
    cli: cli::Cli,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    cancel: Option<Arc<AtomicBool>>,
) -> (u8, Option<Failure>) {
    let command = cli.command.name();
    let mut settings = match cli.global.resolve() {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(stderr, "error: {}", message(&e));
            let f = outcome::failure(&e, "usage");
            let json = cli.global.format.map_or_else(
                || !std::io::IsTerminal::is_terminal(&std::io::stdout()),
                |f| f == settings::Format::Json,
            );
            if json {
                let _ = failure_summary(stdout, Some(command), &f);
            }
            return (2, Some(f));
        }
    };
    settings.read.cancel = cancel;
    let mut tracked = LastLine::new(stdout);
    let result = cli.command.run(&settings, &mut tracked, stderr);
    let (code, failure) = outcome::exit(result, stderr);
    // Every JSON run ends with one summary: a run stopped before its printer summed it up
    // gets one with the command's keys as null and the error.
    if code == 2 && settings.format == settings::Format::Json && !tracked.ended_with_summary() {
        // The error was said already (an `error` event): the summary repeats it.
        let said = tracked.last_error();
        let e = match (&failure, said) {
            (Some(f), _) => f.run_error(),
            (None, Some(e)) => e,
            (None, None) => Failure {
                code: "failed",
                message: "the job could not be done".into(),
                file: None,
                line: None,
            }
            .run_error(),
        };
        let keys = batchkit_report::summary_keys(command).unwrap_or_default();
        let _ = batchkit_report::failure_summary(tracked.inner, &keys, &e);
    }
    (code, failure)
}

/// Writes the summary of a failed run of `command` (`None`: not known).
fn failure_summary(out: &mut dyn Write, command: Option<&str>, f: &Failure) -> std::io::Result<()> {
    let keys = command
        .and_then(batchkit_report::summary_keys)
        .unwrap_or_default();
    batchkit_report::failure_summary(out, &keys, &f.run_error())
}

/// Stdout, watched: whether the last line written is a `summary` record, and the last
/// `error` event.
struct LastLine<'a> {
    inner: &'a mut dyn Write,
    /// The line being written, as far as needed: its head, or all of an `error` event
    /// (up to [`ERROR_EVENT_MAX`]).
    head: Vec<u8>,
    /// The last `error` event written.
    error: Option<Vec<u8>>,
    /// Whether the next byte starts a line.
    at_start: bool,
    /// Whether the last complete line is a summary.
    summary: bool,
}

const SUMMARY_HEAD: &[u8] = br#"{"type":"summary""#;
const ERROR_HEAD: &[u8] = br#"{"type":"error""#;
/// The longest `error` event kept (its message names a file and says why).
const ERROR_EVENT_MAX: usize = 64 << 10;

impl<'a> LastLine<'a> {
    fn new(inner: &'a mut dyn Write) -> Self {
        LastLine {
            inner,
            head: Vec::with_capacity(SUMMARY_HEAD.len()),
            error: None,
            at_start: true,
            summary: false,
        }
    }

    fn ended_with_summary(&self) -> bool {
        self.at_start && self.summary
    }

    /// The last `error` event, read back.
    fn last_error(&self) -> Option<batchkit_report::RunError> {
        let ev: batchkit_report::ErrorEvent =
            serde_json::from_slice(self.error.as_deref()?).ok()?;
        Some(batchkit_report::RunError {
            code: ev.code,
            message: ev.message,
            file: Some(ev.file),
            line: ev.line,
        })
    }
}

impl Write for LastLine<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        for &b in &buf[..n] {
            if self.at_start {
                self.head.clear();
                self.at_start = false;
            }
            if b == b'\n' {
                self.summary = self.head.as_slice() == SUMMARY_HEAD;
                if self.head.starts_with(ERROR_HEAD) {
                    self.error = Some(std::mem::take(&mut self.head));
                }
                self.at_start = true;
            } else if self.head.len() < SUMMARY_HEAD.len()
                || (self.head.starts_with(ERROR_HEAD) && self.head.len() < ERROR_EVENT_MAX)
            {
                self.head.push(b);
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
