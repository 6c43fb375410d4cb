//! The `batchkit` command: see the library (`src/lib.rs`).

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(batchkit::main_from(std::env::args_os()))
}
