//! Helpers the benchmarks share (each bench includes this with `mod common;`).

use batchkit_io::Chunk;

/// Xorshift64 from a fixed seed: a cheap pseudo-random sequence, the same on every run, so a
/// generated corpus is too.
pub struct XorShift(pub u64);

impl XorShift {
    /// The next value.
    pub fn step(&mut self) -> u64 {
        let x = &mut self.0;
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }
}

/// `data` (whole lines) as the first and only chunk of an input.
#[allow(dead_code)] // not every bench measures a single chunk
pub fn whole_chunk(data: Vec<u8>) -> Chunk {
    Chunk {
        seq: 0,
        offset: 0,
        first_line: 1,
        data,
        oversized: None,
        source_pos: 0,
    }
}
