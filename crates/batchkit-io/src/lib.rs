//! The streaming JSONL reader every batchkit command stands on.
//!
//! It opens a path, `-` (stdin) or a zstd stream (recognised by its magic bytes, not its
//! name), cuts the bytes into chunks of complete lines, hands each chunk to a processing
//! function on the rayon pool, and gives the results to a sink **in input order**, so the
//! output never depends on the number of threads. Positions are tracked once, here: every
//! [`Line`] knows its 1-based number and the byte offset of its start in the (decompressed)
//! stream. A line longer than [`ReadOptions::max_line_bytes`] is reported as an
//! [`Oversized`] record without ever being held in memory.
//!
//! Memory stays bounded: at most [`ReadOptions::in_flight`] chunk buffers exist at once,
//! whatever the input size. The reader uses plain `read` calls rather than a memory map, so
//! no page of a large file stays resident after it was consumed.
//!
//! ```
//! use batchkit_io::{Input, ReadOptions, run};
//! # fn main() -> Result<(), batchkit_io::ReadError> {
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("in.jsonl");
//! std::fs::write(&path, b"{\"a\":1}\r\n\n{\"a\":2}").unwrap();
//! let mut seen = Vec::new();
//! let stats = run(
//!     &Input::path(&path),
//!     &ReadOptions::default(),
//!     |chunk| chunk.lines().map(|l| (l.number, l.offset, l.content.len())).collect::<Vec<_>>(),
//!     |_chunk, lines| -> Result<bool, batchkit_io::ReadError> { seen.extend(lines); Ok(true) },
//! )?;
//! assert_eq!(seen, vec![(1, 0, 7), (2, 9, 0), (3, 10, 7)]);
//! assert_eq!(stats.lines, 3);
//! assert!(!stats.final_newline);
//! # Ok(()) }
//! ```

pub mod budget;
mod output;
pub mod part;
pub mod paths;
mod reader;
mod size;
pub mod spill;
pub mod staging;

pub use budget::Budget;
pub use output::AtomicFile;
pub use reader::{
    cancelled, is_zstd, open, run, Cancelled, Chunk, Input, Line, Lines, Oversized, ReadError,
    ReadOptions, ReadStats, Source,
};
pub use size::{format_size, parse_size, SizeError};

/// An I/O error's text without the `(os error N)` tail: what users read after a path.
pub fn describe(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) if s.ends_with(')') => s[..i].to_string(),
        _ => s,
    }
}
