//! `batchkit shard`.

use crate::cli::Settings;
use crate::Outcome;

/// Not built yet.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args, _settings: &Settings) -> anyhow::Result<Outcome> {
    anyhow::bail!("`shard` is not available in this build yet")
}
