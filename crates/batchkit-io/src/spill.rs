//! The pieces of an exact id store that spills to disk, shared by `dupes` (the id index of
//! `batchkit-validate`) and `join` (its result store):
//!
//! - [`id_hash`]: the one hash of ids, for tables and partitions alike;
//! - [`IdTable`]: distinct ids in one byte arena, each with a value, behind an index-only hash
//!   table, with exact memory accounting ([`IdTable::mem_bytes`] is what it holds,
//!   [`IdTable::growth`] what one more id would allocate, rehash included);
//! - [`SpillFile`]: a buffered file appended to, then read (and patched) by position
//!   ([`read_at`], [`write_at`]);
//! - [`Partitions`]: records routed by the top bits of their hash into files of a directory
//!   (a [`crate::staging::StagedDir`], removed on Ctrl-C), level by level.
//!
//! What a record holds and how a store finishes from its partitions stays with its command.
//!
//! ```
//! use batchkit_io::spill::{id_hash, IdTable};
//! let mut t: IdTable<u64> = IdTable::default();
//! let h = id_hash(b"req-1");
//! assert_eq!(t.find(h, b"req-1"), None);
//! let i = t.push(h, b"req-1", 7);
//! assert_eq!((t.find(h, b"req-1"), *t.value(i), t.id(i)), (Some(0), 7, &b"req-1"[..]));
//! // What one more id costs is what the table then holds more.
//! let before = t.mem_bytes();
//! let cost = t.growth(5);
//! t.push(id_hash(b"req-2"), b"req-2", 8);
//! assert_eq!(t.mem_bytes() - before, cost);
//! ```

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use hashbrown::HashTable;

/// Hash of an id: which partition it goes to (top bits) and where it sits in a table.
pub fn id_hash(id: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(id)
}

/// An I/O error on a spill file, with the file's path.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct SpillError {
    pub path: PathBuf,
    pub source: io::Error,
}

impl SpillError {
    /// Wraps an error on `path`.
    pub fn at(path: &Path) -> impl Fn(io::Error) -> SpillError + '_ {
        move |source| SpillError {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl From<SpillError> for io::Error {
    fn from(e: SpillError) -> io::Error {
        io::Error::new(
            e.source.kind(),
            format!("{}: {}", e.path.display(), e.source),
        )
    }
}

/// Extra elements a `Vec` allocates when `add` elements are pushed (`min_cap`: the smallest
/// capacity it allocates for its element size).
pub fn vec_growth(len: usize, cap: usize, add: usize, min_cap: usize) -> u64 {
    if len + add <= cap {
        0
    } else {
        ((cap * 2).max(len + add).max(min_cap) - cap) as u64
    }
}

/// Buckets of a hash table of `capacity` (hashbrown: 7/8 load past 8 buckets).
fn buckets(capacity: usize) -> usize {
    if capacity < 8 {
        capacity + 1
    } else {
        capacity / 7 * 8
    }
}

/// Bytes hashbrown allocates for the first table of `u32` (4 buckets: the slots, a control
/// byte per bucket, and a trailing group of control bytes: 16 with SSE2, 8 elsewhere, where
/// this is 8 bytes over).
const FIRST_TABLE: u64 = 4 * 4 + 4 + 16;

struct Slot<V> {
    hash: u64,
    start: usize,
    len: u32,
    value: V,
}

/// Distinct ids with a value each: the ids' bytes in one arena, entries in insertion order,
/// and an index-only hash table over them (ids are compared, not only hashed).
pub struct IdTable<V> {
    table: HashTable<u32>,
    entries: Vec<Slot<V>>,
    arena: Vec<u8>,
}

impl<V> Default for IdTable<V> {
    fn default() -> Self {
        IdTable {
            table: HashTable::new(),
            entries: Vec::new(),
            arena: Vec::new(),
        }
    }
}

impl<V> IdTable<V> {
    /// Bytes one entry takes besides its id bytes and its table slot.
    pub const ENTRY_BYTES: u64 = std::mem::size_of::<Slot<V>>() as u64;

    /// The entry of `id` (whose hash is `hash`).
    pub fn find(&self, hash: u64, id: &[u8]) -> Option<usize> {
        let (entries, arena) = (&self.entries, &self.arena);
        self.table
            .find(hash, |&i| {
                let e = &entries[i as usize];
                e.hash == hash && &arena[e.start..e.start + e.len as usize] == id
            })
            .map(|&i| i as usize)
    }

    /// Adds `id`, which must not be in the table yet; returns its entry.
    pub fn push(&mut self, hash: u64, id: &[u8], value: V) -> usize {
        let idx = self.entries.len();
        let start = self.arena.len();
        self.arena.extend_from_slice(id);
        self.entries.push(Slot {
            hash,
            start,
            len: id.len() as u32,
            value,
        });
        let entries = &self.entries;
        self.table
            .insert_unique(hash, idx as u32, |&i| entries[i as usize].hash);
        idx
    }

    /// Entry `i`'s id bytes.
    pub fn id(&self, i: usize) -> &[u8] {
        let e = &self.entries[i];
        &self.arena[e.start..e.start + e.len as usize]
    }

    /// Entry `i`'s hash.
    pub fn hash(&self, i: usize) -> u64 {
        self.entries[i].hash
    }

    pub fn value(&self, i: usize) -> &V {
        &self.entries[i].value
    }

    pub fn value_mut(&mut self, i: usize) -> &mut V {
        &mut self.entries[i].value
    }

    /// Values in insertion order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|e| &e.value)
    }

    /// Entries in insertion order: hash, id, value.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[u8], &V)> {
        self.entries.iter().map(|e| {
            (
                e.hash,
                &self.arena[e.start..e.start + e.len as usize],
                &e.value,
            )
        })
    }

    /// Distinct ids held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Heap bytes held: entries, id bytes and hash table, as allocated.
    pub fn mem_bytes(&self) -> u64 {
        self.entries.capacity() as u64 * Self::ENTRY_BYTES
            + self.arena.capacity() as u64
            + self.table.allocation_size() as u64
    }

    /// Bytes that adding an id of `len` bytes would allocate. A full hash table is rehashed
    /// into a new one twice its size while the old one is still held, so its growth counts
    /// the new table whole.
    pub fn growth(&self, len: usize) -> u64 {
        let cap = self.table.capacity();
        let table = if cap == 0 {
            FIRST_TABLE
        } else if self.table.len() == cap {
            // Twice the buckets: the slots and control bytes double, the trailing group
            // stays (slots of 4 or more buckets fill whole groups, so there is no padding).
            self.table.allocation_size() as u64 + 5 * buckets(cap) as u64
        } else {
            0
        };
        let entry_min = if Self::ENTRY_BYTES <= 1024 { 4 } else { 1 };
        vec_growth(self.entries.len(), self.entries.capacity(), 1, entry_min) * Self::ENTRY_BYTES
            + vec_growth(self.arena.len(), self.arena.capacity(), len, 8)
            + table
    }

    /// Whether adding an id of `len` bytes would take a non-empty table over `budget`.
    pub fn full(&self, len: usize, budget: u64) -> bool {
        !self.is_empty() && self.mem_bytes() + self.growth(len) > budget
    }
}

/// A spill file being appended to, through a buffer; [`SpillFile::finish`] hands it over
/// for reads and writes by position.
pub struct SpillFile {
    path: PathBuf,
    w: BufWriter<File>,
    len: u64,
}

impl SpillFile {
    /// Creates `path` (which must not exist), with a write buffer of `buf` bytes.
    pub fn create(path: PathBuf, buf: usize) -> Result<Self, SpillError> {
        let f = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(SpillError::at(&path))?;
        Ok(SpillFile {
            w: BufWriter::with_capacity(buf, f),
            path,
            len: 0,
        })
    }

    /// Appends `b`.
    pub fn write(&mut self, b: &[u8]) -> Result<(), SpillError> {
        self.w.write_all(b).map_err(SpillError::at(&self.path))?;
        self.len += b.len() as u64;
        Ok(())
    }

    /// Appends the parts of one record.
    pub fn write_parts(&mut self, parts: &[&[u8]]) -> Result<(), SpillError> {
        parts.iter().try_for_each(|p| self.write(p))
    }

    /// Bytes written.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes and returns the file (for [`read_at`] and [`write_at`]) and its path.
    pub fn finish(mut self) -> Result<(File, PathBuf), SpillError> {
        self.w.flush().map_err(SpillError::at(&self.path))?;
        let f = self
            .w
            .into_inner()
            .map_err(|e| SpillError::at(&self.path)(e.into_error()))?;
        Ok((f, self.path))
    }
}

/// Appends through the buffer, counting the bytes (errors without the path).
impl Write for SpillFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.w.write(buf)?;
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

/// Reads exactly `buf.len()` bytes of `f` (at `path`) at `off`.
pub fn read_at(f: &File, path: &Path, off: u64, buf: &mut [u8]) -> Result<(), SpillError> {
    #[cfg(unix)]
    let r = std::os::unix::fs::FileExt::read_exact_at(f, buf, off);
    #[cfg(not(unix))]
    let r = {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = f;
        f.seek(SeekFrom::Start(off)).and_then(|_| f.read_exact(buf))
    };
    r.map_err(SpillError::at(path))
}

/// Writes all of `buf` into `f` (at `path`) at `off`.
pub fn write_at(f: &File, path: &Path, off: u64, buf: &[u8]) -> Result<(), SpillError> {
    #[cfg(unix)]
    let r = std::os::unix::fs::FileExt::write_all_at(f, buf, off);
    #[cfg(not(unix))]
    let r = {
        use std::io::{Seek, SeekFrom};
        let mut f = f;
        f.seek(SeekFrom::Start(off)).and_then(|_| f.write_all(buf))
    };
    r.map_err(SpillError::at(path))
}

/// Partition of `hash` among `1 << bits` at `level`: level 0 takes the top `bits` bits, each
/// level below the next `bits` (so a partition splits by hash into sub-partitions).
pub fn partition_of(hash: u64, bits: u32, level: u32) -> usize {
    let shift = 64 - bits * (level + 1);
    ((hash >> shift) as usize) & ((1usize << bits) - 1)
}

/// Records partitioned by hash into `1 << bits` files of a directory, named
/// `{prefix}{index:04}`, each created on first write (or all at once, see
/// [`Partitions::create_all`]). Records keep their order within a partition.
pub struct Partitions {
    dir: PathBuf,
    prefix: String,
    bits: u32,
    level: u32,
    buf: usize,
    files: Vec<Option<SpillFile>>,
}

impl Partitions {
    /// Partitions of `hash` at `level` (see [`partition_of`]) in `dir`, with write buffers of
    /// `buf` bytes.
    pub fn new(dir: &Path, prefix: &str, bits: u32, level: u32, buf: usize) -> Self {
        assert!(
            (1..=16).contains(&bits) && bits * (level + 1) <= 64,
            "partition bits"
        );
        Partitions {
            dir: dir.to_path_buf(),
            prefix: prefix.to_string(),
            bits,
            level,
            buf,
            files: (0..1usize << bits).map(|_| None).collect(),
        }
    }

    /// Creates every partition file now (an empty partition is then an empty file).
    pub fn create_all(mut self) -> Result<Self, SpillError> {
        for p in 0..self.files.len() {
            self.file(p)?;
        }
        Ok(self)
    }

    /// Number of partitions.
    pub fn count(&self) -> usize {
        self.files.len()
    }

    /// Partition of `hash`.
    pub fn of(&self, hash: u64) -> usize {
        partition_of(hash, self.bits, self.level)
    }

    fn file(&mut self, p: usize) -> Result<&mut SpillFile, SpillError> {
        if self.files[p].is_none() {
            let path = self.dir.join(format!("{}{p:04}", self.prefix));
            self.files[p] = Some(SpillFile::create(path, self.buf)?);
        }
        Ok(self.files[p].as_mut().expect("just created"))
    }

    /// Appends one record (its parts, contiguously) to the partition of `hash`.
    pub fn write(&mut self, hash: u64, parts: &[&[u8]]) -> Result<(), SpillError> {
        let p = self.of(hash);
        self.file(p)?.write_parts(parts)
    }

    /// Flushes and returns the files written (every partition after
    /// [`Partitions::create_all`]), in partition order.
    pub fn finish(self) -> Result<Vec<(File, PathBuf)>, SpillError> {
        self.files
            .into_iter()
            .flatten()
            .map(SpillFile::finish)
            .collect()
    }
}

#[cfg(test)]
mod tests;
