//! Flags every command takes, resolved into [`Settings`], and the value parsers of shared
//! flag types (sizes, providers). Commands depend on this module, never on `cli`.

use std::io::IsTerminal;

use anyhow::Context;
use batchkit_io::{parse_size, Budget, ReadOptions};
use clap::ValueEnum;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people: compiler-style diagnostics and small tables.
    Human,
    /// JSON Lines on stdout, one object per line with a "type" field; the last is the summary.
    Json,
}

/// When to draw progress bars (on stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum When {
    /// Only when stderr is a terminal.
    Auto,
    Never,
    Always,
}

/// Flags every command takes.
#[derive(Debug, clap::Args)]
pub struct GlobalArgs {
    /// Output format [default: human on a terminal, json otherwise]
    #[arg(long, global = true, value_enum)]
    pub format: Option<Format>,
    /// Worker threads [default: all cores]
    #[arg(long, global = true, value_name = "N", value_parser = threads)]
    pub threads: Option<usize>,
    /// Progress bars on stderr
    #[arg(long, global = true, value_enum, default_value = "auto")]
    pub progress: When,
    /// Colours in human output; auto: when stdout is a terminal and NO_COLOR is not set
    #[arg(long, global = true, value_enum, default_value = "auto")]
    pub color: When,
    /// Longest line accepted (200MB, 64MiB, bare bytes); longer lines are reported, never held
    #[arg(long, global = true, value_name = "SIZE", default_value = "64MiB", value_parser = positive_size)]
    pub max_line_bytes: u64,
    /// Memory bound of the whole process (200MB, 256MiB, 1GiB, bare bytes); past it, work
    /// spills to disk or stops with an error that says what to raise
    #[arg(long, global = true, value_name = "SIZE", default_value = "256MiB", value_parser = size)]
    pub memory_limit: u64,
    /// Memory for the job's tables before they spill, overriding their share of
    /// --memory-limit (testing aid: forces spilling at tiny sizes)
    #[arg(long, global = true, value_name = "SIZE", hide = true, value_parser = positive_size)]
    pub table_limit: Option<u64>,
    /// Size of the reader's chunks and read calls (testing aid)
    #[arg(long, global = true, value_name = "SIZE", hide = true, value_parser = positive_size)]
    pub chunk_size: Option<u64>,
}

/// Where the id index of `validate` and `dupes` spills (one flag group, flattened into both).
#[derive(Debug, clap::Args)]
pub struct SpillArgs {
    /// Directory for spilled ids [default: the system temp dir]
    #[arg(long, value_name = "DIR")]
    pub temp_dir: Option<std::path::PathBuf>,
}

/// Validated settings shared by all commands.
#[derive(Debug, Clone)]
pub struct Settings {
    pub format: Format,
    pub progress: bool,
    pub color: bool,
    /// How to read, with the run's memory budget (`--memory-limit`, `--table-limit`): every
    /// job takes its shares from `read.budget`, the one copy.
    pub read: ReadOptions,
}

impl GlobalArgs {
    pub fn resolve(&self) -> anyhow::Result<Settings> {
        if let Some(n) = self.threads {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build_global()
                .context("cannot start the thread pool")?;
        }
        let max_line = self.max_line_bytes;
        let stdout_tty = std::io::stdout().is_terminal();
        let stderr_tty = std::io::stderr().is_terminal();
        let format = self.format.unwrap_or(if stdout_tty {
            Format::Human
        } else {
            Format::Json
        });
        let progress = match self.progress {
            When::Auto => stderr_tty,
            When::Never => false,
            When::Always => true,
        };
        let color = match self.color {
            When::Auto => stdout_tty && std::env::var_os("NO_COLOR").is_none(),
            When::Never => false,
            When::Always => true,
        };
        let limit = self.memory_limit;
        let mut budget = Budget::new(limit).map_err(anyhow::Error::msg)?;
        if let Some(t) = self.table_limit {
            budget = budget.with_tables(t);
        }
        let mut read = ReadOptions {
            max_line_bytes: usize::try_from(max_line).unwrap_or(usize::MAX),
            ..ReadOptions::for_budget(&budget)
        };
        if let Some(c) = self.chunk_size {
            let c = usize::try_from(c).unwrap_or(usize::MAX);
            read.chunk_size = c;
            read.read_size = c;
        }
        Ok(Settings {
            format,
            progress,
            color,
            read,
        })
    }
}

/// Other names `--provider` takes: vLLM's `run-batch` reads OpenAI lines with no caps, and
/// `custom` is any such host.
pub const PROVIDER_ALIASES: [(&str, &str); 2] = [
    ("vllm", "openai-compatible"),
    ("custom", "openai-compatible"),
];

/// `--provider`'s help: `what`, then every choice (auto and each provider in providers.toml)
/// and the aliases.
pub fn provider_help(what: &str) -> String {
    let aliases: Vec<String> = PROVIDER_ALIASES
        .iter()
        .map(|(a, to)| format!("{a} = {to}"))
        .collect();
    format!(
        "{what}: {} ({})",
        batchkit_providers::Provider::choices_line(),
        aliases.join(", ")
    )
}

/// clap value parser of SIZE flags: `200MB`, `200MiB`, `1.5GB`, bare bytes.
pub fn size(value: &str) -> Result<u64, String> {
    parse_size(value).map_err(|e| e.to_string())
}

/// A SIZE of at least one byte.
pub fn positive_size(value: &str) -> Result<u64, String> {
    match size(value)? {
        0 => Err("must be at least 1 byte".into()),
        n => Ok(n),
    }
}

/// clap value parser of whole-number flags (`N`): a value that does not parse is named with
/// the form expected (clap adds the flag).
pub fn count(value: &str) -> Result<u64, String> {
    value.trim().parse::<u64>().map_err(|_| {
        format!("{value:?} is not a whole number (digits only, such as 50000: no sign, separators or units)")
    })
}

/// [`count`], at least 1.
pub fn positive_count(value: &str) -> Result<u64, String> {
    match count(value)? {
        0 => Err("must be at least 1 (a whole number such as 50000)".into()),
        n => Ok(n),
    }
}

/// [`count`] as a `usize`.
pub fn count_usize(value: &str) -> Result<usize, String> {
    usize::try_from(count(value)?).map_err(|_| format!("{value} is too large"))
}

/// The most `--threads` accepted: far beyond any machine's cores, and each thread holds a
/// stack and its chunks in flight.
pub const MAX_THREADS: usize = 1024;

/// clap value parser of `--threads`: 1 to [`MAX_THREADS`].
fn threads(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) if n > MAX_THREADS => Err(format!(
            "{n} threads is more than {MAX_THREADS}, the most batchkit runs (it uses every core by default)"
        )),
        Ok(n) => Ok(n),
        Err(_) => Err(format!(
            "{value:?} is not a number of threads (a whole number from 1 to {MAX_THREADS})"
        )),
    }
}

/// clap value parser of `--provider`: `auto` or a provider of the embedded table, lower-cased.
pub fn provider(value: &str) -> Result<String, String> {
    let v = value.to_ascii_lowercase();
    if let Some((_, to)) = PROVIDER_ALIASES.iter().find(|(a, _)| *a == v) {
        return Ok(to.to_string());
    }
    if v == "auto" || batchkit_providers::Provider::get(&v).is_some() {
        Ok(v)
    } else {
        Err(format!(
            "unknown provider (known: auto, {})",
            batchkit_providers::Provider::names().join(", ")
        ))
    }
}
