//! Command-line flags (raw, as clap parses them) and their resolution into [`Settings`].

use std::io::IsTerminal;

use anyhow::{bail, Context};
use batchkit_io::{parse_size, Budget, ReadOptions};
use clap::{Parser, Subcommand, ValueEnum};

use crate::cmd;

/// Validate, count, shard and join the JSONL files of LLM batch APIs
/// (OpenAI, Azure, Anthropic, Gemini, Vertex, Mistral, Groq, Together).
///
/// Exit codes: 0 nothing wrong found, 1 the input has problems, 2 the job could not be done.
#[derive(Debug, Parser)]
#[command(
    name = "batchkit",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Validate(cmd::validate::Args),
    Dupes(cmd::dupes::Args),
    Tokens(cmd::tokens::Args),
    Shard(cmd::shard::Args),
    Join(cmd::join::Args),
}

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
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
    /// Progress bars on stderr
    #[arg(long, global = true, value_enum, default_value = "auto")]
    pub progress: When,
    /// Colours in human output
    #[arg(long, global = true, value_enum, default_value = "auto")]
    pub color: When,
    /// Longest line accepted (200MB, 64MiB, bare bytes); longer lines are reported, never held
    #[arg(long, global = true, value_name = "SIZE", default_value = "64MiB")]
    pub max_line_bytes: String,
    /// Memory bound of the whole process (200MB, 256MiB, 1GiB, bare bytes); past it, work
    /// spills to disk or stops with an error that says what to raise
    #[arg(long, global = true, value_name = "SIZE", default_value = "256MiB")]
    pub memory_limit: String,
    /// Memory for the job's tables before they spill, overriding their share of
    /// --memory-limit (testing aid: forces spilling at tiny sizes)
    #[arg(long, global = true, value_name = "SIZE", hide = true)]
    pub table_limit: Option<String>,
    /// Size of the reader's chunks and read calls (testing aid)
    #[arg(long, global = true, value_name = "SIZE", hide = true)]
    pub chunk_size: Option<String>,
}

/// Validated settings shared by all commands.
#[derive(Debug, Clone)]
pub struct Settings {
    pub format: Format,
    pub progress: bool,
    pub color: bool,
    pub read: ReadOptions,
    pub budget: Budget,
    /// Memory for the job's tables (id set, join partitions) before they spill.
    pub tables: u64,
    /// Whether `tables` was set by hand (`--table-limit`).
    pub tables_forced: bool,
}

impl GlobalArgs {
    pub fn resolve(&self) -> anyhow::Result<Settings> {
        if let Some(n) = self.threads {
            if n == 0 {
                bail!("--threads must be at least 1");
            }
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build_global()
                .context("cannot start the thread pool")?;
        }
        let max_line = parse_size(&self.max_line_bytes).context("--max-line-bytes")?;
        if max_line == 0 {
            bail!("--max-line-bytes must be at least 1 byte");
        }
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
        let limit = parse_size(&self.memory_limit).context("--memory-limit")?;
        let budget = Budget::new(limit).map_err(anyhow::Error::msg)?;
        budget.install();
        let mut read = ReadOptions {
            max_line_bytes: usize::try_from(max_line).unwrap_or(usize::MAX),
            ..ReadOptions::for_budget(&budget)
        };
        if let Some(c) = &self.chunk_size {
            let c = usize::try_from(parse_size(c).context("--chunk-size")?.max(1))
                .unwrap_or(usize::MAX);
            read.chunk_size = c;
            read.read_size = c;
        }
        let tables = match &self.table_limit {
            Some(t) => Some(parse_size(t).context("--table-limit")?.max(1)),
            None => None,
        };
        Ok(Settings {
            format,
            progress,
            color,
            read,
            budget,
            tables: tables.unwrap_or(budget.tables()),
            tables_forced: tables.is_some(),
        })
    }
}

/// Parses a `--memory-limit`-style size flag.
pub fn size_flag(name: &str, value: &str) -> anyhow::Result<u64> {
    parse_size(value).with_context(|| format!("--{name}"))
}
