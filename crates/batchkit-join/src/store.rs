//! Where results live during a join: in memory (a block arena plus an index-only hash table)
//! or, past the memory budget, in spill files (payload bytes, fixed-size entries, id
//! partitions, and the per-request match table). The id hash, the id table, spill files and
//! partitions are `batchkit_io::spill`'s, shared with `dupes`.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use batchkit_io::spill::{IdTable, SpillError};

use crate::probe::{Keys, ResultTable};
use crate::{JoinError, Status};

/// Hash of an id for partitions (top bits) and the probe table.
pub(crate) use batchkit_io::spill::id_hash as hash_id;
pub(crate) use batchkit_io::spill::{Partitions, SpillFile};

pub(crate) const NONE: u64 = u64::MAX;

/// One result line. Offsets are into the arena (in memory) or the payload file (spilled);
/// the result's bytes are stored together: raw line, then the decoded id when it had escapes,
/// then the re-encoded answer text when it had several parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub off: u64,
    pub raw_len: u32,
    pub content_rel: u32,
    pub content_len: u32,
    pub id_rel: u32,
    pub id_len: u32,
    pub text_rel: u32,
    /// `u32::MAX` when the result has no answer text.
    pub text_len: u32,
    pub file: u32,
    pub line: u64,
    pub byte: u64,
    pub hash: u64,
    /// For a duplicate that lost: the index of the result that was kept.
    pub other: u64,
    pub status: u8,
    /// 0 joinable, 1 not (no usable id), 2 too long to hold.
    pub kind: u8,
    /// The stop reason's JSON string literal, relative to the raw line (it stands in the
    /// content); `u32::MAX` length when the result has none.
    pub stop_rel: u32,
    pub stop_len: u32,
}

pub(crate) const ENTRY_SIZE: usize = 8 * 5 + 4 * 8 + 2 + 8;
const OTHER_AT: usize = 40 + 32 - 8;

impl Entry {
    pub fn status(&self) -> Status {
        Status::from_u8(self.status)
    }

    pub fn stop(&self) -> Option<(u32, u32)> {
        (self.stop_len != u32::MAX).then_some((self.stop_rel, self.stop_len))
    }

    pub fn text(&self) -> Option<(u32, u32)> {
        (self.text_len != u32::MAX).then_some((self.text_rel, self.text_len))
    }

    pub fn encode(&self, b: &mut [u8; ENTRY_SIZE]) {
        let mut w = 0;
        for v in [self.off, self.line, self.byte, self.hash] {
            b[w..w + 8].copy_from_slice(&v.to_le_bytes());
            w += 8;
        }
        for v in [
            self.raw_len,
            self.content_rel,
            self.content_len,
            self.id_rel,
            self.id_len,
            self.text_rel,
            self.text_len,
            self.file,
        ] {
            b[w..w + 4].copy_from_slice(&v.to_le_bytes());
            w += 4;
        }
        debug_assert_eq!(w, 64);
        b[64..72].copy_from_slice(&self.other.to_le_bytes());
        b[72] = self.status;
        b[73] = self.kind;
        b[74..78].copy_from_slice(&self.stop_rel.to_le_bytes());
        b[78..82].copy_from_slice(&self.stop_len.to_le_bytes());
    }

    pub fn decode(b: &[u8]) -> Entry {
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        Entry {
            off: u64_at(0),
            line: u64_at(8),
            byte: u64_at(16),
            hash: u64_at(24),
            raw_len: u32_at(32),
            content_rel: u32_at(36),
            content_len: u32_at(40),
            id_rel: u32_at(44),
            id_len: u32_at(48),
            text_rel: u32_at(52),
            text_len: u32_at(56),
            file: u32_at(60),
            other: u64_at(64),
            status: b[72],
            kind: b[73],
            stop_rel: u32_at(74),
            stop_len: u32_at(78),
        }
    }
}

const _: () = assert!(ENTRY_SIZE == 82 && OTHER_AT == 64);

/// Bytes in fixed blocks so growth never doubles a huge buffer (the budget would jump).
#[derive(Default)]
pub(crate) struct Arena {
    blocks: Vec<Vec<u8>>,
    starts: Vec<u64>,
    len: u64,
    capacity: u64,
}

const BLOCK: usize = 4 << 20;

impl Arena {
    /// Appends the parts contiguously and returns the offset of the first byte.
    pub fn push(&mut self, parts: &[&[u8]]) -> u64 {
        let need: usize = parts.iter().map(|p| p.len()).sum();
        if need == 0 {
            return self.len;
        }
        let fits = self
            .blocks
            .last()
            .is_some_and(|b| b.capacity() - b.len() >= need);
        if !fits {
            let cap = need.max(BLOCK);
            self.blocks.push(Vec::with_capacity(cap));
            self.starts.push(self.len);
            self.capacity += cap as u64;
        }
        let off = self.len;
        let b = self.blocks.last_mut().expect("a block");
        for p in parts {
            b.extend_from_slice(p);
        }
        self.len += need as u64;
        off
    }

    pub fn get(&self, off: u64, len: usize) -> &[u8] {
        if len == 0 {
            return &[];
        }
        let i = self.starts.partition_point(|&s| s <= off) - 1;
        let rel = (off - self.starts[i]) as usize;
        &self.blocks[i][rel..rel + len]
    }

    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Writes the used bytes in order (offsets stay valid in the file).
    pub fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        self.blocks.iter().try_for_each(|b| w.write_all(b))
    }

    pub fn len(&self) -> u64 {
        self.len
    }
}

/// Results held in memory: their entries, their ids (for the probe table), and the payload
/// (raw lines and extras, or only the extras when the raw lines are read back from the
/// inputs by position).
#[derive(Default)]
pub(crate) struct MemStore {
    pub payload: Arena,
    pub ids: Arena,
    /// Per entry: where its id is in `ids` (joinable entries only).
    pub id_at: Vec<u64>,
    pub entries: Vec<Entry>,
    pub table: ResultTable,
}

/// The ids of a [`MemStore`], as the result table reads them.
pub(crate) struct MemKeys<'a> {
    entries: &'a [Entry],
    ids: &'a Arena,
    id_at: &'a [u64],
}

impl Keys for MemKeys<'_> {
    fn id(&self, i: u32) -> &[u8] {
        let e = &self.entries[i as usize];
        self.ids.get(self.id_at[i as usize], e.id_len as usize)
    }
    fn hash(&self, i: u32) -> u64 {
        self.entries[i as usize].hash
    }
    fn status(&self, i: u32) -> Status {
        self.entries[i as usize].status()
    }
    fn file(&self, i: u32) -> u32 {
        self.entries[i as usize].file
    }
}

impl MemStore {
    pub fn keys(&self) -> MemKeys<'_> {
        MemKeys {
            entries: &self.entries,
            ids: &self.ids,
            id_at: &self.id_at,
        }
    }

    /// The id of joinable entry `idx`.
    pub fn id(&self, idx: u32) -> &[u8] {
        let e = &self.entries[idx as usize];
        self.ids.get(self.id_at[idx as usize], e.id_len as usize)
    }

    /// Bytes the store holds, with what the request pass will add (one claim slot per entry).
    pub fn footprint(&self) -> u64 {
        self.payload.capacity()
            + self.ids.capacity()
            + (self.entries.capacity() * (std::mem::size_of::<Entry>() + 8)) as u64
            + (self.id_at.capacity() * 8) as u64
            + self.table.footprint()
    }

    /// Adds an entry (`id`: its decoded id, when joinable); joinable ones go into the table
    /// under the duplicate-result rule.
    pub fn insert(&mut self, e: Entry, id: &[u8]) {
        let idx = self.entries.len() as u32;
        self.entries.push(e);
        if e.kind != 0 {
            self.id_at.push(0);
            return;
        }
        self.id_at.push(self.ids.push(&[id]));
        let keys = MemKeys {
            entries: &self.entries,
            ids: &self.ids,
            id_at: &self.id_at,
        };
        self.table.insert(idx, &keys);
    }

    /// The kept entry for `id`.
    pub fn find(&self, hash: u64, id: &[u8]) -> Option<u32> {
        self.table.find(hash, id, &self.keys())
    }

    /// Points every loser at the entry finally kept for its id.
    pub fn resolve_losers(&mut self) {
        for (l, w) in self.table.losers(&self.keys()) {
            self.entries[l as usize].other = u64::from(w);
        }
    }
}

/// Request ids seen so far, each with the global line of its first request: exact (ids are
/// compared, not only hashed), and its footprint is known so callers can bound it.
#[derive(Default)]
pub(crate) struct IdSet(IdTable<u64>);

impl IdSet {
    /// Bytes held.
    pub fn footprint(&self) -> u64 {
        self.0.mem_bytes()
    }

    /// The first line of `id` when it was seen before; else records it at `gidx`.
    pub fn first_or_insert(&mut self, hash: u64, id: &[u8], gidx: u64) -> Option<u64> {
        match self.0.find(hash, id) {
            Some(i) => Some(*self.0.value(i)),
            None => {
                self.0.push(hash, id, gidx);
                None
            }
        }
    }
}

pub(crate) fn io_err(path: &Path) -> impl Fn(io::Error) -> JoinError + '_ {
    move |source| JoinError::Io {
        path: batchkit_io::staging::display_path(path),
        source,
    }
}

impl From<SpillError> for JoinError {
    fn from(e: SpillError) -> JoinError {
        io_err(&e.path)(e.source)
    }
}

/// Reads exactly `buf.len()` bytes at `off`.
pub(crate) fn read_at(f: &File, path: &Path, off: u64, buf: &mut [u8]) -> Result<(), JoinError> {
    Ok(batchkit_io::spill::read_at(f, path, off, buf)?)
}

pub(crate) fn write_at(f: &File, path: &Path, off: u64, buf: &[u8]) -> Result<(), JoinError> {
    Ok(batchkit_io::spill::write_at(f, path, off, buf)?)
}

/// Per request line: what it was joined to. Fixed-size records indexed by the request's
/// global line number (0-based over all request files).
pub(crate) const MATCH_SIZE: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Match {
    /// Result entry index, or NONE.
    pub result: u64,
    /// For a duplicate request: global line of the request that got the result.
    pub other: u64,
    pub status: u8,
    /// 0 none, else `Problem::to_u8`; 255 for a blank line (not a request).
    pub problem: u8,
    /// The raw id literal in the request content.
    pub id_rel: u32,
    pub id_len: u32,
    /// The request has no id: it is joined by content (set by the first pass; phase (c)
    /// leaves it as it is).
    pub by_content: bool,
}

pub(crate) const BLANK: u8 = 255;

impl Match {
    pub fn encode(&self) -> [u8; MATCH_SIZE] {
        let mut b = [0u8; MATCH_SIZE];
        b[0..8].copy_from_slice(&self.result.to_le_bytes());
        b[8..16].copy_from_slice(&self.other.to_le_bytes());
        b[16] = self.status;
        b[17] = self.problem;
        b[19] = u8::from(self.by_content);
        b[20..24].copy_from_slice(&self.id_rel.to_le_bytes());
        b[24..28].copy_from_slice(&self.id_len.to_le_bytes());
        b
    }

    pub fn decode(b: &[u8]) -> Match {
        Match {
            result: u64::from_le_bytes(b[0..8].try_into().expect("8")),
            other: u64::from_le_bytes(b[8..16].try_into().expect("8")),
            status: b[16],
            problem: b[17],
            by_content: b[19] != 0,
            id_rel: u32::from_le_bytes(b[20..24].try_into().expect("4")),
            id_len: u32::from_le_bytes(b[24..28].try_into().expect("4")),
        }
    }
}

/// The match table: in memory when it fits the budget, else a file.
pub(crate) enum MatchTable {
    Mem(Vec<u8>),
    File(File, PathBuf),
}

impl MatchTable {
    /// The first 18 bytes of a record: what phase (c) decides.
    pub fn set_result(&mut self, gidx: u64, m: &Match) -> Result<(), JoinError> {
        let rec = m.encode();
        let at = gidx as usize * MATCH_SIZE;
        match self {
            MatchTable::Mem(v) => {
                v[at..at + 18].copy_from_slice(&rec[..18]);
                Ok(())
            }
            MatchTable::File(f, p) => write_at(f, p, at as u64, &rec[..18]),
        }
    }

    /// Records of lines `from..from+n` into `buf`.
    pub fn read(&self, from: u64, n: usize, buf: &mut Vec<u8>) -> Result<(), JoinError> {
        buf.clear();
        let at = from as usize * MATCH_SIZE;
        match self {
            MatchTable::Mem(v) => {
                buf.extend_from_slice(&v[at..at + n * MATCH_SIZE]);
                Ok(())
            }
            MatchTable::File(f, p) => {
                buf.resize(n * MATCH_SIZE, 0);
                read_at(f, p, at as u64, buf)
            }
        }
    }
}

/// Entries file offset of entry `idx`'s `other` field.
pub(crate) fn other_offset(idx: u64) -> u64 {
    idx * ENTRY_SIZE as u64 + OTHER_AT as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_round_trip() {
        let e = Entry {
            off: 1,
            raw_len: 2,
            content_rel: 3,
            content_len: 4,
            id_rel: 5,
            id_len: 6,
            text_rel: 7,
            text_len: u32::MAX,
            file: 9,
            line: 10,
            byte: 11,
            hash: 12,
            other: 13,
            status: 3,
            kind: 1,
            stop_rel: 14,
            stop_len: 15,
        };
        let mut b = [0u8; ENTRY_SIZE];
        e.encode(&mut b);
        assert_eq!(Entry::decode(&b), e);
        assert_eq!(&b[OTHER_AT..OTHER_AT + 8], &13u64.to_le_bytes());
        let m = Match {
            result: 5,
            other: NONE,
            status: 4,
            problem: 2,
            id_rel: 9,
            id_len: 3,
            by_content: true,
        };
        assert_eq!(Match::decode(&m.encode()), m);
    }

    #[test]
    fn arena_blocks_keep_offsets() {
        let mut a = Arena::default();
        let big = vec![7u8; BLOCK + 10];
        let o1 = a.push(&[b"abc", b"de"]);
        let o2 = a.push(&[&big]);
        let o3 = a.push(&[b"xyz"]);
        assert_eq!((o1, o2, o3), (0, 5, 5 + BLOCK as u64 + 10));
        assert_eq!(a.get(o1, 5), b"abcde");
        assert_eq!(a.get(o3, 3), b"xyz");
        let mut out = Vec::new();
        a.write_to(&mut out).unwrap();
        assert_eq!(&out[o3 as usize..], b"xyz");
    }
}
