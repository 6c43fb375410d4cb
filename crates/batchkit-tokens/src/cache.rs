//! The prompt-cache plan: which token prefixes of a file a provider would cache, and how many
//! requests share them (the rules and minimums are in batchkit-providers' `data/models.toml`,
//! source: its `sources` per family).
//!
//! While a request is counted, a [`PrefixHasher`] follows the tokens in the order the provider
//! renders them (tools, then system, then messages) and records the hash of the prefix at each
//! position where a cache could end: every 128 tokens from the model's minimum (OpenAI before
//! GPT-5.6, Gemini), every block end (Anthropic, with `cache_control` breakpoints marked;
//! OpenAI from GPT-5.6, at message ends). The hashes are of the pre-token pieces and structure
//! of the prefix, seeded with the model, so two requests have the same hash at a position when
//! (up to a 64-bit collision) they render the same pieces up to it. A boundary that falls inside
//! a multi-token piece gets the hash at that piece's end: a conservative answer, never a hit the
//! provider would not give.
//!
//! In input order, a [`PrefixTable`] of bounded size tells each request the longest of its
//! boundaries an earlier request of the same model also had. When the table fills, prefixes
//! seen once are dropped (and, if that is not enough, new ones are no longer added): the
//! figures become lower bounds and are labelled `exact: false`.

use serde::Serialize;

pub use batchkit_providers::models::{CachePolicy, CacheRule};

use crate::encoding::normalize_model;

/// Steps of the automatic rules (OpenAI before GPT-5.6; the same steps approximate Gemini).
pub const PREFIX_STEP: u32 = 128;

/// Blocks (messages, Anthropic content blocks) at least this long are checked for content
/// repeated away from the start of the prompt.
const BLOCK_MIN: u64 = 256;

/// The caching rule of `model`, or `None` when its batch lane has no prompt cache this plan
/// knows (embeddings, DeepSeek, unknown models): `cache` and `cache_min_tokens` in
/// batchkit-providers' `data/models.toml`.
pub fn cache_policy(model: &str) -> Option<CachePolicy> {
    batchkit_providers::model_facts(model).cache
}

/// What a boundary is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoundaryKind {
    /// A position the provider caches by itself (automatic rules).
    Auto,
    /// A position under the model's minimum, recorded to tell when a shared prefix just
    /// misses it.
    Probe,
    /// An Anthropic block end with `cache_control` (or the last block, with a top-level one).
    Breakpoint,
    /// An Anthropic block end without a breakpoint: where one could go.
    Candidate,
}

/// One position where a cached prefix could end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boundary {
    /// Tokens of the prefix.
    pub tokens: u32,
    /// Hash of the prefix (model included).
    pub hash: u64,
    /// What it is.
    pub kind: BoundaryKind,
    /// JSON pointer of the block that ends there (Anthropic block ends).
    pub pointer: Option<Box<str>>,
    /// A breakpoint with the 1-hour TTL (`"cache_control":{"type":"ephemeral","ttl":"1h"}`):
    /// its writes cost 2x input instead of 1.25x.
    pub long_ttl: bool,
}

/// The time to live a `cache_control` breakpoint asks for (Anthropic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// The default 5 minutes: writes at 1.25x input.
    Minutes5,
    /// `"ttl":"1h"`: writes at 2x input.
    Hour1,
}

/// A long block of the prompt, hashed alone, to find content repeated away from the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    /// Hash of the block's content alone (model included).
    pub hash: u64,
    /// Tokens before it.
    pub start: u32,
    /// Its tokens.
    pub tokens: u32,
}

/// The prefix boundaries of one request, in token order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefixes {
    /// The model's caching rule.
    pub policy: CachePolicy,
    /// Boundaries by increasing `tokens`.
    pub boundaries: Vec<Boundary>,
    /// Long blocks after the first.
    pub blocks: Vec<Block>,
    /// Tokens of the whole request as the hasher saw them.
    pub tokens: u64,
}

const K1: u64 = 0x9E37_79B9_7F4A_7C15;
const K2: u64 = 0xC2B2_AE3D_27D4_EB4F;

#[inline(always)]
fn fold(a: u64, b: u64) -> u64 {
    let m = u128::from(a) * u128::from(b);
    (m as u64) ^ ((m >> 64) as u64)
}

#[inline]
fn mix_bytes(mut h: u64, bytes: &[u8]) -> u64 {
    // 16 bytes per multiply (the wyhash step).
    let mut chunks = bytes.chunks_exact(16);
    for c in &mut chunks {
        let w0 = u64::from_le_bytes(c[..8].try_into().expect("8 bytes"));
        let w1 = u64::from_le_bytes(c[8..].try_into().expect("8 bytes"));
        h = fold(h ^ w0 ^ K2, w1 ^ K1);
    }
    let rest = chunks.remainder();
    let mut buf = [0u8; 16];
    buf[..rest.len()].copy_from_slice(rest);
    let w0 = u64::from_le_bytes(buf[..8].try_into().expect("8 bytes"));
    let w1 = u64::from_le_bytes(buf[8..].try_into().expect("8 bytes"));
    // The length ends the run, so run boundaries are part of the hash.
    fold(h ^ w0 ^ ((bytes.len() as u64) << 56), w1 ^ K1)
}

/// Hash of a JSON value's content alone (keys and leaves), for long blocks; with `dedup`
/// (a line that repeats keys) the first of a repeated key only.
pub(crate) fn value_hash(seed: u64, v: batchkit_line::Value<'_, '_>, dedup: bool) -> u64 {
    use batchkit_line::prelude::*;
    if let Some(s) = v.into_string() {
        mix_bytes(seed ^ 0x73, s.as_bytes())
    } else if let Some(a) = v.as_array() {
        a.iter()
            .fold(fold(seed ^ 0x61, K1), |h, x| value_hash(h, x, dedup))
    } else if let Some(o) = v.as_object() {
        batchkit_line::entries(&o, dedup)
            .filter(|(k, _)| *k != "cache_control")
            .fold(fold(seed ^ 0x6f, K1), |h, (k, x)| {
                value_hash(mix_bytes(h, k.as_bytes()), x, dedup)
            })
    } else {
        mix_bytes(seed ^ 0x6e, v.encode().as_bytes())
    }
}

#[inline]
fn finish(h: u64) -> u64 {
    let h = fold(h, K1) ^ (h >> 29);
    if h == 0 {
        1
    } else {
        h
    }
}

/// Hash seed of a model (so equal prompts of two models never share a prefix).
pub(crate) fn seed_of(model: &str) -> u64 {
    mix_bytes(K2, normalize_model(model).as_bytes())
}

/// Follows one request's tokens in render order and records its boundaries.
#[derive(Debug)]
pub(crate) struct PrefixHasher {
    policy: CachePolicy,
    h: u64,
    seed: u64,
    /// Position parts: structure and lumps, text (scaled by `scale`), media.
    fixed: u64,
    text: u64,
    media: u64,
    scale: (u64, u64),
    /// Next automatic boundary, when the rule has steps.
    next: Option<u64>,
    min: u64,
    block_start: u64,
    block_index: u32,
    out: Prefixes,
}

impl PrefixHasher {
    pub(crate) fn new(policy: CachePolicy, model: &str) -> Self {
        let seed = seed_of(model);
        let min = u64::from(policy.min_tokens);
        let next = match policy.rule {
            CacheRule::OpenaiPrefix | CacheRule::GeminiImplicit => {
                // Probes from half the minimum, so a prefix just under it shows.
                Some((min / 2).div_ceil(u64::from(PREFIX_STEP)) * u64::from(PREFIX_STEP))
            }
            _ => None,
        };
        PrefixHasher {
            policy,
            h: seed,
            seed,
            fixed: 0,
            text: 0,
            media: 0,
            scale: (1, 1),
            next,
            min,
            block_start: 0,
            block_index: 0,
            out: Prefixes {
                policy,
                boundaries: Vec::new(),
                blocks: Vec::new(),
                tokens: 0,
            },
        }
    }

    /// Text tokens count `num/den` each (the newer Claude tokenizer).
    pub(crate) fn set_scale(&mut self, num: u64, den: u64) {
        self.scale = (num, den);
    }

    #[inline]
    fn pos(&self) -> u64 {
        let (num, den) = self.scale;
        let text = if num == den {
            self.text
        } else {
            (self.text * num).div_ceil(den)
        };
        self.fixed + self.media + text
    }

    #[inline]
    fn steps(&mut self) {
        if let Some(mut next) = self.next {
            let pos = self.pos();
            if pos >= next {
                let hash = finish(self.h);
                while pos >= next {
                    let kind = if next >= self.min {
                        BoundaryKind::Auto
                    } else {
                        BoundaryKind::Probe
                    };
                    self.out.boundaries.push(Boundary {
                        tokens: next.min(u64::from(u32::MAX)) as u32,
                        hash,
                        kind,
                        pointer: None,
                        long_ttl: false,
                    });
                    next += u64::from(PREFIX_STEP);
                }
                self.next = Some(next);
            }
        }
    }

    /// Counts the tokens of `s` with `enc`, hashing its bytes in runs: up to the end of the
    /// piece that crosses a boundary (with the position there), and the rest at the end of
    /// the string. Identical prefixes cross at the same pieces, so they hash the same runs.
    pub(crate) fn text(&mut self, enc: crate::Encoding, s: &str) -> u64 {
        let bytes = s.as_bytes();
        let mut off = 0usize;
        let mut flushed = 0usize;
        // Steps come only with unscaled text: the boundary is crossed when the text count
        // reaches `threshold`.
        let threshold = match self.next {
            Some(next) if self.scale.0 == self.scale.1 => {
                next.saturating_sub(self.fixed + self.media)
            }
            _ => u64::MAX,
        };
        let mut threshold = threshold;
        let n = enc.count_each(s, |piece, k| {
            off += piece.len();
            self.text += u64::from(k);
            if self.text >= threshold {
                if let Some(next) = self.next {
                    debug_assert!(self.pos() >= next);
                    self.h = mix_bytes(self.h, &bytes[flushed..off]);
                    self.h = fold(self.h ^ self.pos(), K1);
                    flushed = off;
                    self.steps();
                    threshold = self
                        .next
                        .map_or(u64::MAX, |n| n.saturating_sub(self.fixed + self.media));
                }
            }
        });
        self.h = mix_bytes(self.h ^ 0x73, &bytes[flushed..]);
        n
    }

    /// A part counted as a whole (tool definitions, images): `n` tokens, hashed by `bytes`.
    pub(crate) fn lump(&mut self, bytes: &[u8], n: u64) {
        self.h = mix_bytes(self.h ^ 0x4c, bytes);
        self.fixed += n;
        self.steps();
    }

    /// Inline media (Anthropic, Gemini): `n` tokens not scaled with the tokenizer.
    pub(crate) fn media(&mut self, bytes: &[u8], n: u64) {
        self.h = mix_bytes(self.h ^ 0x6d, bytes);
        self.media += n;
        self.steps();
    }

    /// Structure: `n` fixed tokens (per message, per request), tagged.
    pub(crate) fn fixed(&mut self, tag: u8, n: u64) {
        self.h = fold(self.h ^ (u64::from(tag) << 48) ^ n, K2);
        self.fixed += n;
        self.steps();
    }

    /// Markup that costs no tokens but makes prompts differ (keys, roles, types).
    #[inline]
    pub(crate) fn tag(&mut self, bytes: &[u8]) {
        self.h = mix_bytes(self.h ^ 0x74, bytes);
    }

    /// A block (message, content block, tool) starts.
    pub(crate) fn block_start(&mut self) {
        self.block_start = self.pos();
    }

    /// A block ends: record it when long (hashed alone: `content`), and a boundary at its end
    /// for the breakpoint rules (`breakpoint`: it carries one, with that TTL).
    pub(crate) fn block_end(
        &mut self,
        pointer: impl FnOnce() -> String,
        breakpoint: Option<Ttl>,
        content: Option<(batchkit_line::Value<'_, '_>, bool)>,
    ) {
        let explicit = breakpoint.is_some();
        let pos = self.pos();
        let len = pos - self.block_start;
        if let Some((v, dedup)) = content.filter(|_| self.block_index > 0 && len >= BLOCK_MIN) {
            self.out.blocks.push(Block {
                hash: finish(value_hash(self.seed ^ 0x626c6f636b, v, dedup)),
                start: self.block_start.min(u64::from(u32::MAX)) as u32,
                tokens: len.min(u64::from(u32::MAX)) as u32,
            });
        }
        self.block_index += 1;
        let record = match self.policy.rule {
            CacheRule::AnthropicCacheControl => pos >= self.min / 2 || explicit,
            CacheRule::OpenaiBreakpoints => pos >= self.min / 2,
            _ => false,
        };
        if record && len > 0 {
            let kind = match self.policy.rule {
                CacheRule::OpenaiBreakpoints if pos >= self.min => BoundaryKind::Auto,
                CacheRule::AnthropicCacheControl if explicit => BoundaryKind::Breakpoint,
                CacheRule::AnthropicCacheControl if pos >= self.min => BoundaryKind::Candidate,
                _ => BoundaryKind::Probe,
            };
            let pointer = (self.policy.rule == CacheRule::AnthropicCacheControl)
                .then(|| pointer().into_boxed_str());
            self.out.boundaries.push(Boundary {
                tokens: pos.min(u64::from(u32::MAX)) as u32,
                hash: finish(self.h),
                kind,
                pointer,
                long_ttl: breakpoint == Some(Ttl::Hour1),
            });
        }
    }

    /// Marks the last boundary as a breakpoint (Anthropic's top-level `cache_control`).
    pub(crate) fn last_is_breakpoint(&mut self, ttl: Ttl) {
        if let Some(b) = self.out.boundaries.last_mut() {
            if b.kind == BoundaryKind::Candidate || b.kind == BoundaryKind::Probe {
                b.kind = BoundaryKind::Breakpoint;
                b.long_ttl = ttl == Ttl::Hour1;
            }
        }
    }

    /// The boundaries, once the request is counted.
    pub(crate) fn finish(mut self) -> Prefixes {
        self.out.tokens = self.pos();
        self.out
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Entry {
    hash: u64,
    tokens: u32,
    /// Reads (requests that hit it) in the low 31 bits; the top bit: written at a breakpoint.
    reads: u32,
}

impl Entry {
    #[inline]
    fn pack(self) -> u128 {
        u128::from(self.hash) | (u128::from(self.tokens) << 64) | (u128::from(self.reads) << 96)
    }

    #[inline]
    fn unpack(x: u128) -> Entry {
        Entry {
            hash: x as u64,
            tokens: (x >> 64) as u32,
            reads: (x >> 96) as u32,
        }
    }
}

const WRITTEN: u32 = 1 << 31;

/// Default number of slots of the table (16 bytes each: 32 MiB, touched as it fills).
pub const DEFAULT_TABLE_SLOTS: usize = 1 << 21;

/// Prefix hashes seen so far, bounded.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PrefixTable {
    /// Packed [`Entry`]s; zero is empty (a zeroed allocation: pages are touched as they fill).
    slots: Vec<u128>,
    capacity: usize,
    len: usize,
    /// Entries were dropped (figures are lower bounds from then on).
    pub approximate: bool,
    /// No new entries are added any more.
    frozen: bool,
}

impl PrefixTable {
    /// A table of `slots` slots (a power of two, at least 64), allocated on first use.
    pub fn with_slots(slots: usize) -> Self {
        PrefixTable {
            capacity: slots.next_power_of_two().max(64),
            ..Default::default()
        }
    }

    fn find(&self, hash: u64) -> Result<usize, usize> {
        let mask = self.slots.len() - 1;
        let mut i = (hash as usize) & mask;
        loop {
            let h = self.slots[i] as u64;
            if h == hash {
                return Ok(i);
            }
            if h == 0 {
                return Err(i);
            }
            i = (i + 1) & mask;
        }
    }

    fn get(&self, hash: u64) -> Option<Entry> {
        if self.slots.is_empty() {
            return None;
        }
        self.find(hash).ok().map(|i| Entry::unpack(self.slots[i]))
    }

    /// Adds one read to the entry of `hash`; whether it was its first.
    fn read(&mut self, hash: u64) -> bool {
        if self.slots.is_empty() {
            return false;
        }
        match self.find(hash) {
            Ok(i) => {
                let mut e = Entry::unpack(self.slots[i]);
                let first = e.reads & !WRITTEN == 0;
                e.reads = (e.reads & WRITTEN) | ((e.reads & !WRITTEN) + 1).min(!WRITTEN);
                self.slots[i] = e.pack();
                first
            }
            Err(_) => false,
        }
    }

    fn insert(&mut self, hash: u64, tokens: u32, written: bool) {
        if self.slots.is_empty() {
            if self.capacity == 0 {
                self.capacity = DEFAULT_TABLE_SLOTS;
            }
            self.slots = vec![0u128; self.capacity];
        }
        match self.find(hash) {
            Ok(i) => {
                if written {
                    self.slots[i] |= u128::from(WRITTEN) << 96;
                }
            }
            Err(i) => {
                if self.frozen {
                    self.approximate = true;
                    return;
                }
                self.slots[i] = Entry {
                    hash,
                    tokens,
                    reads: if written { WRITTEN } else { 0 },
                }
                .pack();
                self.len += 1;
                if self.len * 8 >= self.slots.len() * 7 {
                    self.shed();
                }
            }
        }
    }

    /// Drops the entries no request has read (keeping breakpoint writes); freezes the table
    /// when that frees too little.
    fn shed(&mut self) {
        self.approximate = true;
        let old = std::mem::take(&mut self.slots);
        self.slots = vec![0u128; old.len()];
        self.len = 0;
        for x in old {
            let e = Entry::unpack(x);
            if e.hash != 0 && e.reads != 0 {
                let i = self.find(e.hash).unwrap_err();
                self.slots[i] = x;
                self.len += 1;
            }
        }
        if self.len * 2 >= self.slots.len() {
            self.frozen = true;
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A shared prefix: its length and how many requests carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SharedPrefix {
    /// Tokens.
    pub tokens: u64,
    /// Requests that carry it (the first, which writes it, and those that read it).
    pub requests: u64,
    #[serde(skip)]
    hash: u64,
}

/// Where a breakpoint would pay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BreakpointHint {
    /// The input the line is in.
    pub file: String,
    /// A line that carries the shared prefix (the first that repeats it).
    pub line: u64,
    /// JSON pointer of the block that ends the shared prefix: put `cache_control` on it.
    pub pointer: String,
    /// Tokens of the prefix up to the end of that block.
    pub tokens: u64,
    /// Requests that carry it.
    pub requests: u64,
    #[serde(skip)]
    hash: u64,
}

const TOP: usize = 5;
const HINTS: usize = 16;

/// Cache statistics of one model (bounded: a few top lists).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelCache {
    /// The rule (the first request's; `None` when no request of the model has one).
    pub policy: Option<CachePolicy>,
    /// Requests the plan looked at.
    pub requests: u64,
    /// Input tokens read from cache if every request after the first with a prefix hits.
    pub cacheable_input_tokens: u64,
    /// Tokens written to the cache at a price above input (Anthropic, OpenAI from 5.6), with
    /// every possible hit.
    pub cache_write_tokens: u64,
    /// The same with no hit at all (every request writes its breakpoints).
    pub cache_write_tokens_no_hits: u64,
    /// The part of `cache_write_tokens` written at 1-hour breakpoints (2x input).
    pub cache_write_1h_tokens: u64,
    /// The part of `cache_write_tokens_no_hits` written at 1-hour breakpoints.
    pub cache_write_1h_tokens_no_hits: u64,
    /// Distinct shared prefixes (read by at least one request).
    pub shared_prefixes: u64,
    /// The longest shared prefixes.
    pub longest: Vec<SharedPrefix>,
    /// Requests with at least one `cache_control` breakpoint (Anthropic).
    pub requests_with_breakpoints: u64,
    /// Anthropic: tokens that breakpoints at the end of the shared prefixes would read.
    pub potential_cacheable_input_tokens: u64,
    /// Anthropic: what writing those would cost in tokens at the write price.
    pub potential_cache_write_tokens: u64,
    /// Where to put the breakpoint that would read the most.
    pub hints: Vec<BreakpointHint>,
    /// Requests whose shared prefix ends under the minimum (none of it cached).
    pub requests_under_minimum: u64,
    /// Longest such shared prefix.
    pub longest_under_minimum: u64,
    /// Requests that repeat a long block of an earlier request away from the start of the
    /// prompt (not in a cached prefix).
    pub requests_with_shared_content_not_first: u64,
    /// Tokens of those blocks.
    pub shared_content_not_first_tokens: u64,
}

impl ModelCache {
    fn note_shared(&mut self, hash: u64, tokens: u64, first_read: bool) {
        if let Some(s) = self.longest.iter_mut().find(|s| s.hash == hash) {
            s.requests += 1;
            return;
        }
        if !first_read {
            return;
        }
        self.shared_prefixes += 1;
        let s = SharedPrefix {
            tokens,
            requests: 2,
            hash,
        };
        if self.longest.len() < TOP {
            self.longest.push(s);
        } else if let Some(min) = self
            .longest
            .iter_mut()
            .min_by_key(|s| (s.tokens, s.requests))
            .filter(|m| m.tokens < tokens)
        {
            *min = s;
        }
    }

    fn note_hint(&mut self, b: &Boundary, file: &str, line: u64, first_read: bool) {
        if let Some(h) = self.hints.iter_mut().find(|h| h.hash == b.hash) {
            h.requests += 1;
            return;
        }
        if !first_read {
            return;
        }
        let h = BreakpointHint {
            file: file.to_string(),
            line,
            pointer: b.pointer.as_deref().unwrap_or("").to_string(),
            tokens: u64::from(b.tokens),
            requests: 2,
            hash: b.hash,
        };
        if self.hints.len() < HINTS {
            self.hints.push(h);
        } else if let Some(min) = self
            .hints
            .iter_mut()
            .min_by_key(|h| h.tokens * h.requests)
            .filter(|m| m.tokens * m.requests < h.tokens * 2)
        {
            *min = h;
        }
    }

    /// The best place for a breakpoint: the one that would read the most tokens.
    pub fn best_hint(&self) -> Option<&BreakpointHint> {
        self.hints
            .iter()
            .max_by_key(|h| (h.tokens * (h.requests - 1), std::cmp::Reverse(h.line)))
    }

    /// The longest shared prefixes, longest first.
    pub fn longest_sorted(&self) -> Vec<SharedPrefix> {
        let mut v = self.longest.clone();
        v.sort_by_key(|s| (std::cmp::Reverse(s.tokens), std::cmp::Reverse(s.requests)));
        v
    }

    /// Adds the figures of `o` (a model summed into another entry).
    pub fn merge(&mut self, o: &ModelCache) {
        if self.policy.is_none() {
            self.policy = o.policy;
        }
        self.requests += o.requests;
        self.cacheable_input_tokens += o.cacheable_input_tokens;
        self.cache_write_tokens += o.cache_write_tokens;
        self.cache_write_tokens_no_hits += o.cache_write_tokens_no_hits;
        self.cache_write_1h_tokens += o.cache_write_1h_tokens;
        self.cache_write_1h_tokens_no_hits += o.cache_write_1h_tokens_no_hits;
        self.shared_prefixes += o.shared_prefixes;
        self.requests_with_breakpoints += o.requests_with_breakpoints;
        self.potential_cacheable_input_tokens += o.potential_cacheable_input_tokens;
        self.potential_cache_write_tokens += o.potential_cache_write_tokens;
        self.requests_under_minimum += o.requests_under_minimum;
        self.longest_under_minimum = self.longest_under_minimum.max(o.longest_under_minimum);
        self.requests_with_shared_content_not_first += o.requests_with_shared_content_not_first;
        self.shared_content_not_first_tokens += o.shared_content_not_first_tokens;
        self.longest.extend(o.longest.iter().cloned());
        self.longest = self.longest_sorted().into_iter().take(TOP).collect();
        self.hints.extend(o.hints.iter().cloned());
        self.hints
            .sort_by_key(|h| std::cmp::Reverse(h.tokens * (h.requests - 1)));
        self.hints.truncate(HINTS);
    }

    /// Adds one request's prefixes, looking them up in and adding them to `table`.
    pub fn add(&mut self, table: &mut PrefixTable, p: &Prefixes, file: &str, line: u64) {
        if self.policy.is_none() {
            self.policy = Some(p.policy);
        }
        self.requests += 1;
        let min = u64::from(p.policy.min_tokens);
        let anthropic = p.policy.rule == CacheRule::AnthropicCacheControl;
        let written_rule = matches!(
            p.policy.rule,
            CacheRule::AnthropicCacheControl | CacheRule::OpenaiBreakpoints
        );
        // What this request reads: its longest boundary an earlier request wrote.
        let cached = |b: &Boundary| match b.kind {
            BoundaryKind::Auto => true,
            BoundaryKind::Breakpoint => u64::from(b.tokens) >= min,
            _ => false,
        };
        let mut hit: Option<&Boundary> = None;
        for b in p.boundaries.iter().rev().filter(|b| cached(b)) {
            if let Some(e) = table.get(b.hash) {
                if !anthropic || e.reads & WRITTEN != 0 {
                    hit = Some(b);
                    break;
                }
            }
        }
        let hit_tokens = hit.map_or(0, |b| u64::from(b.tokens));
        if let Some(b) = hit {
            let first_read = table.read(b.hash);
            self.cacheable_input_tokens += hit_tokens;
            self.note_shared(b.hash, hit_tokens, first_read);
        }
        // Writes: up to the longest cached boundary, past what was read; each stretch
        // between breakpoints at the TTL of the breakpoint that ends it.
        if written_rule {
            let mut done = 0u64;
            for b in p.boundaries.iter().filter(|b| cached(b)) {
                let end = u64::from(b.tokens);
                if end <= done {
                    continue;
                }
                let fresh = end - done.max(hit_tokens).min(end);
                self.cache_write_tokens += fresh;
                self.cache_write_tokens_no_hits += end - done;
                if b.long_ttl {
                    self.cache_write_1h_tokens += fresh;
                    self.cache_write_1h_tokens_no_hits += end - done;
                }
                done = end;
            }
        }
        if anthropic {
            if p.boundaries
                .iter()
                .any(|b| b.kind == BoundaryKind::Breakpoint)
            {
                self.requests_with_breakpoints += 1;
            }
            // Potential: the longest block end over the minimum an earlier request also had.
            let potential = p
                .boundaries
                .iter()
                .rev()
                .filter(|b| u64::from(b.tokens) >= min)
                .find(|b| table.get(b.hash).is_some());
            if let Some(b) = potential {
                let tokens = u64::from(b.tokens);
                if tokens > hit_tokens {
                    let first_read = table.get(b.hash).is_some_and(|e| e.reads & !WRITTEN == 0)
                        && hit.is_none_or(|h| h.hash != b.hash);
                    self.potential_cacheable_input_tokens += tokens;
                    self.note_hint(b, file, line, first_read);
                    if first_read {
                        // The request that first carried it would have written it.
                        self.potential_cache_write_tokens += tokens;
                    }
                    // Count it as read so the first read is not counted twice.
                    if first_read {
                        table.read(b.hash);
                    }
                } else {
                    self.potential_cacheable_input_tokens += hit_tokens;
                }
            } else {
                self.potential_cacheable_input_tokens += hit_tokens;
            }
        }
        // A shared prefix that ends under the minimum.
        if hit.is_none() {
            let probe = p
                .boundaries
                .iter()
                .rev()
                .filter(|b| u64::from(b.tokens) < min)
                .find(|b| table.get(b.hash).is_some());
            if let Some(b) = probe {
                self.requests_under_minimum += 1;
                self.longest_under_minimum = self.longest_under_minimum.max(u64::from(b.tokens));
            }
        }
        // Long blocks seen before, not inside the prefix read.
        let covered = hit_tokens.max(potential_if(anthropic, p, table));
        let mut flagged = false;
        for blk in &p.blocks {
            let end = u64::from(blk.start) + u64::from(blk.tokens);
            if table.get(blk.hash).is_some() {
                if end > covered && !flagged {
                    flagged = true;
                    self.requests_with_shared_content_not_first += 1;
                    self.shared_content_not_first_tokens += u64::from(blk.tokens);
                }
            } else {
                table.insert(blk.hash, blk.tokens, false);
            }
        }
        // Boundaries up to the one read are in the table already (the request that wrote it
        // had the same prefix, so the same boundaries before it), unless entries were shed:
        // only then are they inserted again. Breakpoints are always inserted, to mark them
        // written.
        let known = if table.approximate { 0 } else { hit_tokens };
        for b in &p.boundaries {
            let breakpoint = b.kind == BoundaryKind::Breakpoint;
            if breakpoint || u64::from(b.tokens) > known {
                table.insert(b.hash, b.tokens, breakpoint);
            }
        }
    }
}

/// The potential read of an Anthropic request (0 for other rules).
fn potential_if(anthropic: bool, p: &Prefixes, table: &PrefixTable) -> u64 {
    if !anthropic {
        return 0;
    }
    let min = u64::from(p.policy.min_tokens);
    p.boundaries
        .iter()
        .rev()
        .filter(|b| u64::from(b.tokens) >= min)
        .find(|b| table.get(b.hash).is_some())
        .map_or(0, |b| u64::from(b.tokens))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_follow_the_models_table() {
        let rule = |m| cache_policy(m).map(|p| (p.rule, p.min_tokens));
        assert_eq!(rule("gpt-4o-mini"), Some((CacheRule::OpenaiPrefix, 1024)));
        assert_eq!(rule("gpt-5.2"), Some((CacheRule::OpenaiPrefix, 1024)));
        assert_eq!(
            rule("gpt-5-mini-2025-08-07"),
            Some((CacheRule::OpenaiPrefix, 1024))
        );
        assert_eq!(rule("gpt-5.6"), Some((CacheRule::OpenaiBreakpoints, 1024)));
        assert_eq!(
            rule("claude-opus-5"),
            Some((CacheRule::AnthropicCacheControl, 512))
        );
        assert_eq!(rule("claude-sonnet-4-5-20250929").unwrap().1, 1024);
        assert_eq!(rule("claude-opus-4-7").unwrap().1, 2048);
        assert_eq!(rule("claude-3-5-haiku-20241022").unwrap().1, 2048);
        assert_eq!(rule("claude-opus-4-6").unwrap().1, 4096);
        assert_eq!(rule("claude-haiku-4-5").unwrap().1, 4096);
        assert_eq!(rule("claude-opus-4-1").unwrap().1, 1024);
        assert_eq!(
            rule("gemini-2.5-flash"),
            Some((CacheRule::GeminiImplicit, 2048))
        );
        assert_eq!(
            rule("gemini-3.1-pro"),
            Some((CacheRule::GeminiImplicit, 4096))
        );
        assert_eq!(rule("gemini-2.0-flash"), None);
        assert_eq!(rule("text-embedding-3-small"), None);
        assert_eq!(rule("deepseek-v3.2"), None);
    }

    #[test]
    fn a_full_table_sheds_and_says_so() {
        let mut t = PrefixTable::with_slots(64);
        for h in 1..=200u64 {
            t.insert(h.wrapping_mul(K1) | 1, 1024, false);
        }
        assert!(t.approximate);
        assert!(t.len() < 64);
    }
}
