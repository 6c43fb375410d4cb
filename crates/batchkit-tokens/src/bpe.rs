//! Token counts of pre-token pieces: tiktoken's byte-pair merge over the embedded ranks, with a
//! per-thread memo so a word seen before costs one hash lookup.
//!
//! The merge is a port of `tiktoken`'s `_byte_pair_merge` (pieces under 100 bytes) and
//! `_byte_pair_merge_large` (a heap, for long pieces such as base64 or minified code): same
//! rank order, same leftmost tie-break, so the same tokens. Only their number is kept.

use std::cell::RefCell;
use std::collections::{BinaryHeap, HashMap};
use std::hash::BuildHasherDefault;

use rustc_hash::FxHasher;

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

const NO_RANK: u32 = u32::MAX;

/// Pieces up to this many bytes are remembered; longer ones are rare and not worth the memory.
const MEMO_MAX_PIECE: usize = 64;
/// Entries per thread and encoding in the memo of longer pieces before it is emptied (a few
/// MiB at most), which
/// keeps memory bounded whatever the input while a language's common words stay hot.
const MEMO_MAX_ENTRIES: usize = 1 << 14;

/// The mergeable ranks of one encoding (special tokens excluded).
pub(crate) struct Ranks {
    map: FxMap<&'static [u8], u32>,
    /// Rank of every two-byte token, indexed by `b0 << 8 | b1`: the first merge pass over a
    /// piece looks up every adjacent pair, so this saves most hash lookups.
    pairs: Box<[u32]>,
}

impl Ranks {
    /// Reads the packed ranks `build.rs` makes: per rank in order, a length byte and the
    /// token's bytes. The keys borrow from the embedded data, so nothing is copied.
    pub(crate) fn load(packed: &'static [u8]) -> Ranks {
        let mut map: FxMap<&'static [u8], u32> =
            FxMap::with_capacity_and_hasher(packed.len() / 7, Default::default());
        let mut rest = packed;
        let mut rank = 0u32;
        while let Some((&len, tail)) = rest.split_first() {
            let Some((token, tail)) = tail.split_at_checked(usize::from(len)) else {
                break;
            };
            map.insert(token, rank);
            rank += 1;
            rest = tail;
        }
        let mut pairs = vec![NO_RANK; 1 << 16].into_boxed_slice();
        for (bytes, &rank) in &map {
            if let [a, b] = **bytes {
                pairs[usize::from(a) << 8 | usize::from(b)] = rank;
            }
        }
        Ranks { map, pairs }
    }

    #[inline]
    fn get(&self, bytes: &[u8]) -> u32 {
        if let [a, b] = *bytes {
            return self.pairs[usize::from(a) << 8 | usize::from(b)];
        }
        self.map.get(bytes).copied().unwrap_or(NO_RANK)
    }

    /// Number of tokens `piece` (non-empty) encodes to.
    pub(crate) fn count_piece(&self, piece: &[u8], parts: &mut Vec<(usize, u32)>) -> u32 {
        match piece.len() {
            0 => 0,
            1 => 1,
            _ if self.get(piece) != NO_RANK => 1,
            n if n < 100 => self.merge_small(piece, parts),
            _ => self.merge_large(piece),
        }
    }

    fn merge_small(&self, piece: &[u8], parts: &mut Vec<(usize, u32)>) -> u32 {
        parts.clear();
        let mut min_rank = (NO_RANK, usize::MAX);
        for i in 0..piece.len() - 1 {
            let rank = self.get(&piece[i..i + 2]);
            if rank < min_rank.0 {
                min_rank = (rank, i);
            }
            parts.push((i, rank));
        }
        parts.push((piece.len() - 1, NO_RANK));
        parts.push((piece.len(), NO_RANK));

        let get_rank = |parts: &Vec<(usize, u32)>, i: usize| {
            if i + 3 < parts.len() {
                self.get(&piece[parts[i].0..parts[i + 3].0])
            } else {
                NO_RANK
            }
        };
        while min_rank.0 != NO_RANK {
            let i = min_rank.1;
            if i > 0 {
                parts[i - 1].1 = get_rank(parts, i - 1);
            }
            parts[i].1 = get_rank(parts, i);
            parts.remove(i + 1);
            min_rank = (NO_RANK, usize::MAX);
            for (i, &(_, rank)) in parts[..parts.len() - 1].iter().enumerate() {
                if rank < min_rank.0 {
                    min_rank = (rank, i);
                }
            }
        }
        (parts.len() - 1) as u32
    }

    fn merge_large(&self, piece: &[u8]) -> u32 {
        #[derive(PartialEq, Eq)]
        struct Merge {
            start: usize,
            rank: u32,
        }
        impl Ord for Merge {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                // Min-heap on (rank, start): the lowest rank, leftmost first, as tiktoken.
                other
                    .rank
                    .cmp(&self.rank)
                    .then_with(|| other.start.cmp(&self.start))
            }
        }
        impl PartialOrd for Merge {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }
        struct State {
            prev: usize,
            end: usize,
            next_end: usize,
            next_rank: u32,
        }

        let n = piece.len();
        let mut state = Vec::with_capacity(n);
        state.push(State {
            prev: usize::MAX,
            end: 1,
            next_end: 2,
            next_rank: NO_RANK,
        });
        let mut heap = BinaryHeap::with_capacity(n);
        for i in 0..n - 1 {
            let rank = self.get(&piece[i..i + 2]);
            if rank != NO_RANK {
                heap.push(Merge { start: i, rank });
                state[i].next_rank = rank;
            }
            state.push(State {
                prev: i,
                end: i + 2,
                next_end: i + 3,
                next_rank: NO_RANK,
            });
        }
        let potential_merge = |state: &mut Vec<State>,
                               heap: &mut BinaryHeap<Merge>,
                               start: usize,
                               next_end: usize| {
            state[start].next_end = next_end;
            state[start].next_rank = NO_RANK;
            if next_end <= n {
                let rank = self.get(&piece[start..next_end]);
                if rank != NO_RANK {
                    heap.push(Merge { start, rank });
                    state[start].next_rank = rank;
                }
            }
        };
        while let Some(left) = heap.pop() {
            if left.rank == NO_RANK {
                break;
            }
            if left.rank != state[left.start].next_rank {
                continue;
            }
            let left_start = left.start;
            let right_start = state[left_start].end;
            let right_end = state[left_start].next_end;
            let right_next_end = state[right_start].next_end;
            state[left_start].end = right_end;
            potential_merge(&mut state, &mut heap, left_start, right_next_end);
            if right_end < state.len() {
                state[right_end].prev = left_start;
            }
            if left_start > 0 {
                let prev_start = state[left_start].prev;
                potential_merge(&mut state, &mut heap, prev_start, right_end);
            }
            state[right_start].next_rank = NO_RANK;
        }
        let mut count = 0;
        let mut i = 0;
        while i < state.len() {
            count += 1;
            i = state[i].end;
        }
        count
    }
}

/// Pieces up to this many bytes (nearly all words, with their leading space) go to the
/// direct-mapped table: key inline, no allocation, no pointer to follow.
const SHORT_PIECE: usize = 24;
/// Slots of the direct-mapped table (32 bytes each: 512 KiB per thread and encoding, so it
/// mostly stays in cache; 2^13 and 2^15 measured no better on the benchmark file).
const SHORT_SLOTS_BITS: u32 = 14;

/// Bytes `at..at + 8` of `piece` as a little-endian word, zero-padded past its end. Loads
/// straight from the slice (no copy through a stack buffer, which stalls store forwarding).
#[inline(always)]
fn word(piece: &[u8], at: usize) -> u64 {
    let Some(p) = piece.get(at..) else { return 0 };
    let n = p.len();
    let u32_at = |i: usize| u64::from(u32::from_le_bytes([p[i], p[i + 1], p[i + 2], p[i + 3]]));
    if n >= 8 {
        u64::from_le_bytes([p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]])
    } else if n >= 4 {
        // Two overlapping loads; the shared bytes are equal, so OR joins them.
        u32_at(0) | u32_at(n - 4) << ((n - 4) * 8)
    } else if n > 0 {
        u64::from(p[0]) | u64::from(p[n / 2]) << (n / 2 * 8) | u64::from(p[n - 1]) << ((n - 1) * 8)
    } else {
        0
    }
}

#[derive(Clone, Copy, Default)]
#[repr(align(32))]
struct Slot {
    key: [u64; 3],
    /// 0 for an empty slot: pieces are never empty.
    len: u32,
    count: u32,
}

/// Remembered piece counts of one encoding, plus the merge's scratch space.
#[derive(Default)]
pub(crate) struct Memo {
    /// Allocated on first use, so a thread that never sees an encoding pays nothing.
    short: Box<[Slot]>,
    long: FxMap<Box<[u8]>, u32>,
    parts: Vec<(usize, u32)>,
}

impl Memo {
    #[inline]
    pub(crate) fn count(&mut self, ranks: &Ranks, piece: &[u8]) -> u32 {
        let len = piece.len();
        if len <= SHORT_PIECE {
            let key = [word(piece, 0), word(piece, 8), word(piece, 16)];
            // Multiplicative mixing; the top bits index the table.
            const K: u64 = 0x9E37_79B9_7F4A_7C15;
            let h = ((key[0].wrapping_mul(K) ^ key[1]).wrapping_mul(K) ^ key[2] ^ len as u64)
                .wrapping_mul(K);
            if self.short.is_empty() {
                self.short = vec![Slot::default(); 1 << SHORT_SLOTS_BITS].into_boxed_slice();
            }
            let slot = &mut self.short[(h >> (64 - SHORT_SLOTS_BITS)) as usize];
            if slot.len == len as u32 && slot.key == key {
                return slot.count;
            }
            let n = ranks.count_piece(piece, &mut self.parts);
            *slot = Slot {
                key,
                len: len as u32,
                count: n,
            };
            return n;
        }
        if len > MEMO_MAX_PIECE {
            return ranks.count_piece(piece, &mut self.parts);
        }
        if let Some(&n) = self.long.get(piece) {
            return n;
        }
        let n = ranks.count_piece(piece, &mut self.parts);
        if self.long.len() >= MEMO_MAX_ENTRIES {
            self.long.clear();
        }
        self.long.insert(piece.into(), n);
        n
    }
}

thread_local! {
    /// One memo per rank table (o200k, cl100k) on each thread of the counting pool.
    pub(crate) static MEMOS: RefCell<[Memo; 2]> = RefCell::new(Default::default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_is_the_zero_padded_little_endian_load() {
        let bytes: Vec<u8> = (1..=SHORT_PIECE as u8)
            .map(|b| b.wrapping_mul(37))
            .collect();
        for len in 0..=SHORT_PIECE {
            let piece = &bytes[..len];
            let mut padded = [0u8; SHORT_PIECE];
            padded[..len].copy_from_slice(piece);
            for at in [0, 8, 16] {
                let mut w = [0u8; 8];
                w.copy_from_slice(&padded[at..at + 8]);
                assert_eq!(word(piece, at), u64::from_le_bytes(w), "len {len} at {at}");
            }
        }
    }
}
