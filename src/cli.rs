//! The command line as clap parses it: the global flags and one subcommand, and the
//! dispatch to the subcommand's module.

use std::io::Write;

use clap::{Parser, Subcommand};

use crate::cmd;
use crate::outcome::Outcome;
use crate::settings::{GlobalArgs, Settings};

// The help names every provider of providers.toml, so a provider added there shows here.
#[derive(Debug, Parser)]
#[command(
    name = "batchkit",
    version,
    propagate_version = true,
    max_term_width = 100,
    about = about(),
    long_about = long_about()
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// One line: what batchkit does, and for which providers (their labels in providers.toml).
fn about() -> String {
    let labels: Vec<&str> = batchkit_providers::Provider::all()
        .map(|p| p.label.as_str())
        .collect();
    format!(
        "Validate, count, shard, join, compare and convert the JSONL files of LLM batch APIs ({}).",
        labels.join(", ")
    )
}

fn long_about() -> String {
    format!(
        "{}\n\n{}\n\nExit codes: 0 nothing wrong found, 1 the input has problems, 2 the job could \
         not be done.",
        about(),
        crate::settings::provider_help("Providers (--provider)")
    )
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Validate(cmd::validate::Args),
    Dupes(cmd::dupes::Args),
    Tokens(cmd::tokens::Args),
    Shard(cmd::shard::Args),
    Join(cmd::join::Args),
    Compare(cmd::compare::Args),
    Convert(cmd::convert::Args),
}

/// The commands, as typed.
pub const COMMANDS: &[&str] = &[
    "validate", "dupes", "tokens", "shard", "join", "compare", "convert",
];

impl Command {
    /// The command as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Validate(_) => "validate",
            Command::Dupes(_) => "dupes",
            Command::Tokens(_) => "tokens",
            Command::Shard(_) => "shard",
            Command::Join(_) => "join",
            Command::Compare(_) => "compare",
            Command::Convert(_) => "convert",
        }
    }

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
            Command::Compare(a) => cmd::compare::run(a, settings, out, err),
            Command::Convert(a) => cmd::convert::run(a, settings, out, err),
        }
    }
}
