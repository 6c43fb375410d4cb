//! Token counts of pre-token pieces: tiktoken's byte-pair merge over the embedded ranks, with a
//! per-thread memo so a word seen before costs one hash lookup.
//!
//! The merge is a port of `tiktoken`'s `_byte_pair_merge` (pieces under 100 bytes) and
//! `_byte_pair_merge_large` (a heap, for long pieces such as base64 or minified code): same
//! rank order, same leftmost tie-break, so the same tokens. Only their number is kept.
//!
//! A piece longer than 64 KiB (a pre-token without a break: a run of one character, base64
//! without digits, CJK text without punctuation) is merged one 64 KiB window at a time, each
//! window resuming at a token boundary 4 KiB before the previous one's end: memory stays at
//! about 3 MiB per thread and time linear. The count is exact when that boundary is one of
//! the whole piece's, which the tests find on every piece they try; beyond 64 KiB it is
//! documented as a close approximation of tiktoken's.

use std::cell::RefCell;
use std::collections::{BinaryHeap, HashMap};
use std::hash::BuildHasherDefault;

use rustc_hash::FxHasher;

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

const NO_RANK: u32 = u32::MAX;

/// Pieces shorter than this are merged by [`Ranks::merge_small`], longer ones with a heap
/// (tiktoken's threshold).
const SMALL_PIECE: usize = 100;

/// Pieces longer than this are merged in windows of this many bytes ([`Ranks::count_long`]):
/// the heap merge takes about 48 bytes of memory per byte of its piece, so 3 MiB per thread.
const WINDOW: usize = 64 * 1024;
/// The end of a window that may merge differently from the whole piece: tokens ending in it
/// are merged again at the start of the next window.
const WINDOW_MARGIN: usize = 4 * 1024;

/// Pieces up to this many bytes are remembered; longer ones are rare and not worth the memory.
const MEMO_MAX_PIECE: usize = 64;
/// Slots of the direct-mapped table of pieces longer than [`SHORT_PIECE`] (72 bytes each:
/// 288 KiB per thread and encoding).
const LONG_SLOTS_BITS: u32 = 12;

/// Tokens up to this many bytes are keyed by value in [`Ranks`], longer ones by reference.
const INLINE_TOKEN: usize = 16;

/// A token of up to [`INLINE_TOKEN`] bytes as a map key: its bytes as two zero-padded
/// little-endian words, and its length.
#[derive(Clone, Copy, PartialEq, Eq)]
struct InlineKey([u64; 2], u32);

impl std::hash::Hash for InlineKey {
    /// One multiplicative mix of the words and the length, written as a single `u64` (the
    /// derived hash would feed the hasher four values, the array's length among them).
    #[inline(always)]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        state.write_u64((self.0[0].wrapping_mul(K) ^ self.0[1]) ^ u64::from(self.1) << 59);
    }
}

impl InlineKey {
    #[inline(always)]
    fn new(bytes: &[u8]) -> InlineKey {
        InlineKey([word(bytes, 0), word(bytes, 8)], bytes.len() as u32)
    }
}

/// The mergeable ranks of one encoding (special tokens excluded).
pub(crate) struct Ranks {
    /// Tokens of up to [`INLINE_TOKEN`] bytes (all but 2% of them), keys inline: a hit reads
    /// one bucket, with no pointer to follow and no `memcmp`, and a miss (most look-ups of
    /// the byte-pair merge) mostly reads only the map's small control bytes.
    short: FxMap<InlineKey, u32>,
    /// Longer tokens.
    long: FxMap<&'static [u8], u32>,
    /// Rank of every two-byte token, indexed by `b0 << 8 | b1`: the first merge pass over a
    /// piece looks up every adjacent pair, so this saves most hash lookups.
    pairs: Box<[u32]>,
}

impl Ranks {
    /// Reads the packed ranks `build.rs` makes: per rank in order, a length byte and the
    /// token's bytes. The long tokens' keys borrow from the embedded data.
    pub(crate) fn load(packed: &'static [u8]) -> Ranks {
        let mut short: FxMap<InlineKey, u32> =
            FxMap::with_capacity_and_hasher(packed.len() / 7, Default::default());
        let mut long = FxMap::default();
        let mut pairs = vec![NO_RANK; 1 << 16].into_boxed_slice();
        let mut rest = packed;
        let mut rank = 0u32;
        while let Some((&len, tail)) = rest.split_first() {
            let Some((token, tail)) = tail.split_at_checked(usize::from(len)) else {
                break;
            };
            if let [a, b] = *token {
                pairs[usize::from(a) << 8 | usize::from(b)] = rank;
            }
            if token.len() > INLINE_TOKEN {
                long.insert(token, rank);
            } else {
                short.insert(InlineKey::new(token), rank);
            }
            rank += 1;
            rest = tail;
        }
        Ranks { short, long, pairs }
    }

    #[inline]
    fn get(&self, bytes: &[u8]) -> u32 {
        if let [a, b] = *bytes {
            return self.pairs[usize::from(a) << 8 | usize::from(b)];
        }
        let found = if bytes.len() > INLINE_TOKEN {
            self.long.get(bytes)
        } else {
            self.short.get(&InlineKey::new(bytes))
        };
        found.copied().unwrap_or(NO_RANK)
    }

    /// Number of tokens `piece` (non-empty) encodes to.
    pub(crate) fn count_piece(&self, piece: &[u8]) -> u32 {
        match piece.len() {
            0 => 0,
            1 => 1,
            _ if self.get(piece) != NO_RANK => 1,
            n if n < SMALL_PIECE => self.merge_small(piece),
            n if n <= WINDOW => self.merge_large(piece),
            _ => self.count_long(piece, WINDOW, WINDOW_MARGIN),
        }
    }

    /// Tokens of a piece longer than `window` bytes (a base64 image without digits, a run of
    /// one character, CJK text without punctuation, a minified blob), merged one window at a
    /// time so that memory stays bounded and time linear: each window is merged whole, its
    /// tokens are kept up to the last one ending before its final `margin` bytes, and the
    /// next window starts where they end.
    ///
    /// A token boundary of the whole piece splits its merge in two independent ones (no
    /// merge crosses it, and each side picks its lowest rank as it would alone), so the count
    /// is exact whenever the cut is such a boundary: when the end of a window changes none of
    /// the tokens `margin` bytes before it. Merges reach back a few tokens, never kilobytes,
    /// so in practice the count is tiktoken's; it is documented as an approximation beyond
    /// [`WINDOW`] bytes without a pre-token break.
    fn count_long(&self, piece: &[u8], window: usize, margin: usize) -> u32 {
        debug_assert!(margin < window);
        let mut total = 0;
        let mut start = 0;
        while piece.len() - start > window {
            let (count, cut) =
                self.merge_large_upto(&piece[start..start + window], window - margin);
            total += count;
            start += cut;
        }
        total + self.count_piece(&piece[start..])
    }

    /// tiktoken's `_byte_pair_merge`: repeatedly merge the adjacent pair of lowest rank
    /// (leftmost on ties). Part boundaries and the rank of each part joined with the next
    /// are kept in two arrays on the stack; the lowest rank is found by a scan for the
    /// minimum, then one for its first position, both simple enough to vectorise.
    fn merge_small(&self, piece: &[u8]) -> u32 {
        let n = piece.len();
        debug_assert!((2..SMALL_PIECE).contains(&n));
        // starts[i]: where part i begins (starts[len] = n); ranks[i]: rank of parts i and
        // i + 1 merged, NO_RANK when that is no token or there is no part i + 1.
        let mut starts = [0u8; SMALL_PIECE + 1];
        let mut ranks = [NO_RANK; SMALL_PIECE];
        for (i, start) in starts[..=n].iter_mut().enumerate() {
            *start = i as u8;
        }
        for i in 0..n - 1 {
            ranks[i] = self.pairs[usize::from(piece[i]) << 8 | usize::from(piece[i + 1])];
        }
        // Parts 0..parts, and ranks[parts - 1] == NO_RANK.
        let mut parts = n;
        loop {
            let live = &ranks[..parts - 1];
            let min = live.iter().copied().fold(NO_RANK, u32::min);
            if min == NO_RANK {
                break;
            }
            let i = live.iter().position(|&r| r == min).unwrap_or(0);
            // Part i absorbs part i + 1.
            starts.copy_within(i + 2..=parts, i + 1);
            ranks.copy_within(i + 2..parts, i + 1);
            parts -= 1;
            let span = |a: usize, b: usize| -> u32 {
                if b <= parts {
                    self.get(&piece[usize::from(starts[a])..usize::from(starts[b])])
                } else {
                    NO_RANK
                }
            };
            ranks[i] = span(i, i + 2);
            if i > 0 {
                ranks[i - 1] = span(i - 1, i + 1);
            }
        }
        parts as u32
    }

    fn merge_large(&self, piece: &[u8]) -> u32 {
        self.merge_large_upto(piece, piece.len()).0
    }

    /// The heap merge of `piece`: the number of its leading tokens that end at or before
    /// `limit`, and where the last of them ends (at least the first token's end, so a
    /// caller moving on by it always moves).
    fn merge_large_upto(&self, piece: &[u8], limit: usize) -> (u32, usize) {
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
        while i < state.len() && (count == 0 || state[i].end <= limit) {
            count += 1;
            i = state[i].end;
        }
        (count, i)
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

/// A remembered piece of more than [`SHORT_PIECE`] bytes: a run of Chinese or Japanese, a long
/// word or identifier, indentation.
#[derive(Clone, Copy)]
struct LongSlot {
    /// 0 for an empty slot.
    len: u32,
    count: u32,
    key: [u8; MEMO_MAX_PIECE],
}

impl Default for LongSlot {
    fn default() -> Self {
        LongSlot {
            len: 0,
            count: 0,
            key: [0; MEMO_MAX_PIECE],
        }
    }
}

/// Remembered piece counts of one encoding: two direct-mapped tables, keys inline, nothing
/// allocated per piece.
#[derive(Default)]
pub(crate) struct Memo {
    /// Allocated on first use, so a thread that never sees an encoding pays nothing.
    short: Box<[Slot]>,
    long: Box<[LongSlot]>,
}

impl Memo {
    #[inline]
    pub(crate) fn count(&mut self, ranks: &Ranks, piece: &[u8]) -> u32 {
        let len = piece.len();
        // Multiplicative mixing; the top bits index the table.
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        if len <= SHORT_PIECE {
            let key = [word(piece, 0), word(piece, 8), word(piece, 16)];
            let h = ((key[0].wrapping_mul(K) ^ key[1]).wrapping_mul(K) ^ key[2] ^ len as u64)
                .wrapping_mul(K);
            if self.short.is_empty() {
                self.short = vec![Slot::default(); 1 << SHORT_SLOTS_BITS].into_boxed_slice();
            }
            let slot = &mut self.short[(h >> (64 - SHORT_SLOTS_BITS)) as usize];
            if slot.len == len as u32 && slot.key == key {
                return slot.count;
            }
            let n = ranks.count_piece(piece);
            *slot = Slot {
                key,
                len: len as u32,
                count: n,
            };
            return n;
        }
        if len > MEMO_MAX_PIECE {
            return ranks.count_piece(piece);
        }
        // The first, middle and last eight bytes and the length pick the slot; the whole
        // piece is compared.
        let h = ((word(piece, 0).wrapping_mul(K) ^ word(piece, len / 2 - 4)).wrapping_mul(K)
            ^ word(piece, len - 8)
            ^ len as u64)
            .wrapping_mul(K);
        if self.long.is_empty() {
            self.long = vec![LongSlot::default(); 1 << LONG_SLOTS_BITS].into_boxed_slice();
        }
        let slot = &mut self.long[(h >> (64 - LONG_SLOTS_BITS)) as usize];
        if slot.len == len as u32 && slot.key[..len] == *piece {
            return slot.count;
        }
        let n = ranks.count_piece(piece);
        slot.len = len as u32;
        slot.count = n;
        slot.key[..len].copy_from_slice(piece);
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
    use proptest::prelude::*;

    fn o200k() -> &'static Ranks {
        static RANKS: std::sync::OnceLock<Ranks> = std::sync::OnceLock::new();
        RANKS.get_or_init(|| {
            Ranks::load(include_bytes!(concat!(
                env!("OUT_DIR"),
                "/o200k_base.ranks"
            )))
        })
    }

    #[test]
    fn every_token_is_found_with_its_rank() {
        let packed = include_bytes!(concat!(env!("OUT_DIR"), "/o200k_base.ranks"));
        let ranks = o200k();
        let (mut rest, mut rank, mut long) = (&packed[..], 0u32, 0);
        while let Some((&len, tail)) = rest.split_first() {
            let (token, tail) = tail.split_at(usize::from(len));
            assert_eq!(ranks.get(token), rank, "{token:?}");
            long += usize::from(token.len() > INLINE_TOKEN);
            rank += 1;
            rest = tail;
        }
        assert!(rank > 199_000 && long > 0, "{rank} tokens, {long} long");
        // Not tokens: a zero byte added (the padding of the inline keys), and bytes no token is.
        assert_eq!(ranks.get(b"the\0"), NO_RANK);
        assert_eq!(ranks.get(b"\xff\xfe\xfd"), NO_RANK);
    }

    proptest! {
        /// The merge of short pieces (stack arrays) and the heap merge of long ones are two
        /// implementations of one algorithm: they agree on every piece.
        #[test]
        fn small_and_large_merges_agree(
            piece in proptest::collection::vec(
                prop_oneof![
                    4 => proptest::sample::select(&b"abcdeilnorst  '.,\n\xe6\x95\xb0\xe6\x8d\xae\xe7\x9a\x84"[..]),
                    1 => any::<u8>(),
                ],
                2..SMALL_PIECE,
            ),
        ) {
            let ranks = o200k();
            prop_assert_eq!(ranks.merge_small(&piece), ranks.merge_large(&piece));
        }
    }

    proptest! {
        /// Merged in small windows, long pieces give the count of one merge of the whole:
        /// the window's cut falls on a token boundary of the whole piece.
        #[test]
        fn windowed_merge_counts_like_the_whole_merge(
            units in proptest::collection::vec(
                prop_oneof![
                    3 => "[a-z]{1,9}",
                    1 => "[A-Z]{1,4}",
                    1 => "[東京データ的数据]{1,4}",
                    1 => "a{1,40}|={1,40}| {1,40}",
                    1 => "[a-zA-Z0-9+/]{1,12}",
                ],
                100..400,
            ),
        ) {
            let piece = units.concat().into_bytes();
            let ranks = o200k();
            prop_assert_eq!(ranks.count_long(&piece, 512, 128), ranks.merge_large(&piece));
        }
    }

    /// Pieces past the window, counted as tiktoken-rs counts them (one merge of the whole).
    #[test]
    fn long_pieces_count_like_tiktoken() {
        let bpe = tiktoken_rs::o200k_base_singleton();
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize
        };
        let lower: Vec<u8> = (0..200_000).map(|_| b'a' + (next() % 26) as u8).collect();
        let cjk: String = (0..60_000)
            .map(|_| ['東', '京', '的', '数', '据', 'デ', 'ー', 'タ'][next() % 8])
            .collect();
        let pieces: [&[u8]; 5] = [
            &[b'a'; 150_000],
            &[b' '; 140_000],
            &[b'='; 130_000],
            &lower,
            cjk.as_bytes(),
        ];
        for piece in pieces {
            assert!(piece.len() > WINDOW);
            let text = std::str::from_utf8(piece).unwrap();
            let want = bpe.encode_ordinary(text).len();
            assert_eq!(o200k().count_piece(piece) as usize, want, "{}", &text[..30]);
        }
    }

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
