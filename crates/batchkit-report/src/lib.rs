//! Output of batchkit jobs: the JSON Lines events (one `{"type": ...}` object per line, the
//! summary last) and the human printers over the same events. Job crates produce typed
//! results; this crate only formats them.

pub mod dupes;
pub mod join;
pub mod shard;
pub mod style;
pub mod tokens;
pub mod validate;

use serde::{Deserialize, Serialize};

/// An input that could not be read (missing, a directory, a corrupt zstd stream): the job
/// went on with the other inputs, and the summary says `"ok": false`.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ErrorEvent {
    /// Always `"error"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The input's name.
    pub file: String,
    /// What went wrong, said once.
    pub message: String,
}

impl ErrorEvent {
    /// The event for `file`.
    pub fn new(file: &str, message: impl Into<String>) -> Self {
        ErrorEvent {
            kind: "error".into(),
            file: file.into(),
            message: message.into(),
        }
    }

    /// Writes it: `error: message` on stderr, and in JSON mode also a JSON line on `out`.
    pub fn print(&self, out: &mut impl std::io::Write, json: bool) -> std::io::Result<()> {
        out.flush()?;
        eprintln!("error: {}", self.message);
        if json {
            serde_json::to_writer(&mut *out, self)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }
}

/// `n` and the noun, plural when `n != 1`: "1 error", "2 errors".
pub fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}
