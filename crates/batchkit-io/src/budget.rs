//! One memory budget per job (`--memory-limit`), split among the parts that hold data.
//!
//! A [`Budget`] is a value: it is computed once from the flags and travels inside every
//! job's options ([`crate::ReadOptions::budget`]), so two jobs in one process (two calls
//! from Python, say) each keep to their own limit. Every share is named here and nowhere
//! else. The split is fixed, so that no input can make one part crowd out another:
//!
//! | part | share of what is left after the process's fixed cost |
//! |---|---|
//! | reader: chunks in flight and their results ([`Budget::reader`]) | 1/4 |
//! | the job's own tables: id set, per-model totals ([`Budget::tables`]) | 1/4 |
//! | a zstd window, and parsing one long line ([`Budget::big`]) | 1/2 |
//!
//! A zstd window larger than the long-line share takes the rest from the reader's share
//! (up to half of it): fewer chunks are in flight while it is held
//! ([`Budget::reader_beside`]), and long lines are read one at a time.
//!
//! The join holds its partitions and its own reader in one share ([`Budget::join`]): the
//! whole budget less the fixed cost and half the long-line share, less 1/32 of that (at most
//! 16 MiB) for the schemas answers are checked against ([`Budget::answer_schemas`]); the
//! reader's chunks in flight are taken out of it by [`crate::ReadOptions::fit_to`].
//!
//! Threads share the reader's part: more threads means more chunks only while they fit.
//! Lines longer than [`BIG_LINE`] are parsed one at a time ([`big_line_gate`]), and a line
//! whose parse would not fit ([`Budget::parse_fits`]) is reported, not parsed.

use std::sync::{Mutex, MutexGuard};

/// The default `--memory-limit`.
pub const DEFAULT_LIMIT: u64 = 256 << 20;
/// The smallest `--memory-limit` accepted: the program itself, its embedded tables and its
/// threads need about this much.
pub const MIN_LIMIT: u64 = 48 << 20;
/// What the process costs before it reads anything (code, embedded tokenizer tables,
/// thread stacks, allocator slack).
const BASE: u64 = 32 << 20;
/// Lines longer than this are parsed one at a time.
pub const BIG_LINE: usize = 1 << 20;

/// A job's memory budget, with its named shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    total: u64,
    /// Set by hand (`--table-limit`): the tables' share, and the join's, whatever the total.
    tables: Option<u64>,
}

static BIG: Mutex<()> = Mutex::new(());

impl Default for Budget {
    fn default() -> Self {
        Budget {
            total: DEFAULT_LIMIT,
            tables: None,
        }
    }
}

impl Budget {
    /// A budget of `total` bytes, or why it is too small.
    pub fn new(total: u64) -> Result<Budget, String> {
        if total < MIN_LIMIT {
            return Err(format!(
                "--memory-limit {} is below the {} the program itself needs",
                crate::format_size(total),
                crate::format_size(MIN_LIMIT)
            ));
        }
        Ok(Budget {
            total,
            tables: None,
        })
    }

    /// The same budget with the tables' share (and the join's) set to `bytes` by hand: a
    /// knob for tests and benchmarks that force spilling (`--table-limit`).
    pub fn with_tables(self, bytes: u64) -> Budget {
        Budget {
            tables: Some(bytes),
            ..self
        }
    }

    /// The whole budget.
    pub fn total(&self) -> u64 {
        self.total
    }

    fn work(&self) -> u64 {
        self.total.saturating_sub(BASE).max(8 << 20)
    }

    /// Bytes the reader may hold: chunks in flight and what processing them produced.
    pub fn reader(&self) -> u64 {
        self.work() / 4
    }

    /// Bytes for the job's own tables (id set, per-model state) before they spill.
    pub fn tables(&self) -> u64 {
        self.tables.unwrap_or(self.work() / 4)
    }

    /// Bytes for `convert --cache auto`'s counts of the prefixes requests share: an eighth of
    /// the whole (a conversion holds no other table beside its reader and one line's parse).
    pub fn cache_prefixes(&self) -> u64 {
        self.total / 8
    }

    /// Bytes for one long line's parse (or a zstd window).
    pub fn big(&self) -> u64 {
        self.work() / 2
    }

    /// Bytes for the join: its partitions and its reader's chunks in flight together (the
    /// reader's part is taken out by [`crate::ReadOptions::fit_to`]); the compiled answer
    /// schemas' share ([`Budget::answer_schemas`]) is not in it.
    pub fn join(&self) -> u64 {
        self.tables
            .unwrap_or_else(|| self.join_whole() - self.answer_schemas())
    }

    /// Bytes for the schemas the join checks answers against, compiled once each: 1/32 of
    /// the join's whole share, at most 16 MiB (a file usually asks for one or a few); a
    /// table limit set by hand does not change it.
    pub fn answer_schemas(&self) -> u64 {
        (self.join_whole() / 32).min(16 << 20)
    }

    fn join_whole(&self) -> u64 {
        self.total.saturating_sub(self.big() / 2 + BASE)
    }

    /// The largest zstd window (as a power of two) the decoder may use: the long-line share,
    /// and half the reader's, which gives way to it (fewer chunks in flight, see
    /// [`Budget::reader_beside`]). At the default 256 MiB that is 128 MiB, the window of
    /// `zstd --long=27`.
    pub fn zstd_window_log(&self) -> u32 {
        let room = self.big() + self.reader() / 2;
        let mut log = 10;
        while log < 31 && (1u64 << (log + 1)) <= room {
            log += 1;
        }
        log
    }

    /// The reader's share while a zstd window of `window` bytes is held: the window lives in
    /// the long-line share, and what it takes beyond that comes out of the reader's.
    pub fn reader_beside(&self, window: u64) -> u64 {
        self.reader()
            .saturating_sub(window.saturating_sub(self.big()))
    }

    /// What is left of the long-line share for chunks of long lines while a zstd window of
    /// `window` bytes is held.
    pub fn big_beside(&self, window: u64) -> u64 {
        self.big().saturating_sub(window)
    }

    /// Whether parsing `content` fits this budget; `Err(needed bytes)` when it does not.
    pub fn parse_fits(&self, content: &[u8]) -> Result<(), u64> {
        if content.len() <= BIG_LINE {
            return Ok(());
        }
        // The bound with every byte structural: when even that fits, no need to count.
        let big = self.big();
        if (content.len() as u64).saturating_mul(30) <= big {
            return Ok(());
        }
        let cost = parse_cost(content);
        if cost > big {
            Err(cost)
        } else {
            Ok(())
        }
    }
}

/// Held while a line longer than [`BIG_LINE`] is parsed, so only one such parse runs at a
/// time whatever the thread count (and whichever job of the process parses it: the gate
/// only serialises, it holds no budget). `None` for short lines.
pub fn big_line_gate(len: usize) -> Option<MutexGuard<'static, ()>> {
    (len > BIG_LINE).then(|| BIG.lock().unwrap_or_else(|p| p.into_inner()))
}

/// Bytes a DOM or tape parse of `content` may take: a copy, string buffers and one tape
/// entry per structural character (counted as an upper bound).
pub fn parse_cost(content: &[u8]) -> u64 {
    if content.len() <= BIG_LINE {
        return content.len() as u64 * 3;
    }
    let structural = content
        .iter()
        .filter(|&&b| matches!(b, b'{' | b'}' | b'[' | b']' | b',' | b':'))
        .count() as u64;
    content.len() as u64 * 2 + structural * 28
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_and_window() {
        assert!(Budget::new(16 << 20).is_err());
        let b = Budget::new(256 << 20).unwrap();
        assert_eq!(b.reader() + b.tables() + b.big(), (256 - 32) << 20);
        // `zstd --long=27` fits the default budget, the reader giving way; 256 MiB does not.
        assert_eq!(b.zstd_window_log(), 27);
        assert_eq!(b.reader_beside(1 << 27), b.reader() - ((1 << 27) - b.big()));
        assert_eq!(b.reader_beside(1 << 20), b.reader());
        assert_eq!(b.big_beside(1 << 27), 0);
        assert_eq!(Budget::new(64 << 20).unwrap().zstd_window_log(), 24);
        assert_eq!(Budget::new(1 << 30).unwrap().zstd_window_log(), 29);
    }

    #[test]
    fn the_join_share_and_a_forced_table_limit() {
        let b = Budget::new(256 << 20).unwrap();
        // Everything but the fixed cost and half the long-line share, less the answer
        // schemas' 1/32 of that.
        let whole = (256 - 32 - 56) << 20;
        assert_eq!(b.answer_schemas(), whole / 32);
        assert_eq!(b.join() + b.answer_schemas(), whole);
        assert_eq!(Budget::new(8 << 30).unwrap().answer_schemas(), 16 << 20);
        let forced = b.with_tables(1 << 20);
        assert_eq!((forced.tables(), forced.join()), (1 << 20, 1 << 20));
        assert_eq!(forced.answer_schemas(), b.answer_schemas());
        assert_eq!(forced.reader(), b.reader());
        // The join's reader is taken out of its share, with smaller chunks when it is small.
        let small = Budget::new(64 << 20).unwrap();
        let (read, left) = crate::ReadOptions::for_budget(&small).fit_to(small.join());
        assert!(read.chunk_size <= (small.join() / 16) as usize && read.in_flight <= 4);
        let held = (read.chunk_size * read.in_flight * 3) as u64 + (8 << 20);
        assert_eq!(left, small.join() - held);
        assert_eq!(read.budget, small);
    }

    #[test]
    fn dense_lines_cost_more() {
        let plain = vec![b'a'; 2 << 20];
        let dense: Vec<u8> = b"[0,".repeat(1 << 20);
        assert!(parse_cost(&dense) > 3 * parse_cost(&plain));
    }
}
