//! Helpers the file-based fuzz targets share (included with `mod common;`).

use std::path::PathBuf;
use std::sync::OnceLock;

use batchkit_io::ReadOptions;

/// A temporary directory named `prefix…`, made on first use and kept for the whole run.
pub fn dir(prefix: &str) -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .expect("temp dir")
            .keep()
    })
}

/// Reader options with tiny chunks and reads, so lines straddle every boundary.
pub fn read_opts(max_line_bytes: usize) -> ReadOptions {
    ReadOptions {
        chunk_size: 64,
        read_size: 7,
        max_line_bytes,
        in_flight: 4,
        ..ReadOptions::default()
    }
}
