//! The command line as clap parses it: the global flags and one subcommand, and the
//! dispatch to the subcommand's module.

use std::io::Write;

use clap::{Parser, Subcommand};

use crate::cmd;
use crate::outcome::Outcome;
use crate::settings::{GlobalArgs, Settings};

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

impl Command {
    /// Runs the subcommand with `settings`, writing its output to `out` and its messages
    /// to `err`.
    pub fn run(
        self,
        settings: &Settings,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> anyhow::Result<Outcome> {
        match self {
            Command::Validate(a) => cmd::validate::run(a, settings, out, err),
            Command::Dupes(a) => cmd::dupes::run(a, settings, out, err),
            Command::Tokens(a) => cmd::tokens::run(a, settings, out, err),
            Command::Shard(a) => cmd::shard::run(a, settings, out, err),
            Command::Join(a) => cmd::join::run(a, settings, out, err),
        }
    }
}
