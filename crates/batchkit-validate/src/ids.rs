//! An exact set of ids that stays within a memory budget: in memory while it fits, then
//! partitioned by hash into files in a temporary directory and finished from disk.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use hashbrown::HashTable;

/// Where an id occurs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Occurrence {
    /// Index of the input file among those given.
    pub file: u32,
    /// 1-based line number.
    pub line: u64,
    /// Byte offset of the line start.
    pub offset: u64,
}

/// What inserting an id found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insert {
    /// First time this id is seen (or, after spilling, not known yet).
    New,
    /// Seen before, first at this occurrence.
    Duplicate(Occurrence),
}

/// One id used more than once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DupGroup {
    /// The id bytes.
    pub id: Vec<u8>,
    /// Every occurrence, in input order; the first is the one kept.
    pub occurrences: Vec<Occurrence>,
    /// For each occurrence after the first: whether [`IdIndex::insert`] already reported it.
    pub reported: Vec<bool>,
}

struct Entry {
    hash: u64,
    start: usize,
    len: u32,
    occ: Occurrence,
    /// Index into `dups` + 1, or 0.
    dup: u32,
}

/// Bytes an entry costs besides its id bytes (entry + table slot + allocator slack).
const ENTRY_COST: u64 = std::mem::size_of::<Entry>() as u64 + 12;
const PARTITION_BITS: u32 = 6;
const PARTITIONS: usize = 1 << PARTITION_BITS;
/// Partitions smaller than this are always loaded whole: splitting them costs more files
/// than it saves memory.
const MIN_SPLIT: u64 = 1 << 20;

/// Exact id set with a memory budget.
pub struct IdIndex {
    limit: u64,
    temp_parent: Option<PathBuf>,
    table: HashTable<u32>,
    entries: Vec<Entry>,
    arena: Vec<u8>,
    dups: Vec<(u32, Vec<Occurrence>)>,
    spill: Option<Spill>,
    count: u64,
    min_split: u64,
}

struct Spill {
    dir: tempfile::TempDir,
    writers: Vec<BufWriter<File>>,
}

/// Hash used to bucket ids.
pub fn id_hash(id: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(id)
}

impl IdIndex {
    /// An index that holds ids in memory up to about `limit` bytes, then spills to a
    /// temporary directory under `temp_parent` (the system temp dir when `None`).
    pub fn new(limit: u64, temp_parent: Option<PathBuf>) -> Self {
        IdIndex {
            limit: limit.max(1),
            temp_parent,
            table: HashTable::new(),
            entries: Vec::new(),
            arena: Vec::new(),
            dups: Vec::new(),
            spill: None,
            count: 0,
            min_split: MIN_SPLIT,
        }
    }

    /// Whether the set has spilled to disk (later duplicates are found at [`IdIndex::finish`]).
    pub fn spilled(&self) -> bool {
        self.spill.is_some()
    }

    /// Ids inserted.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Whether nothing was inserted.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn mem_bytes(&self) -> u64 {
        self.entries.capacity() as u64 * ENTRY_COST
            + self.arena.capacity() as u64
            + self.table.capacity() as u64 * 5
            + self
                .dups
                .iter()
                .map(|(_, v)| 32 + v.capacity() as u64 * 24)
                .sum::<u64>()
    }

    /// Adds one occurrence of `id`.
    pub fn insert(&mut self, id: &[u8], occ: Occurrence) -> io::Result<Insert> {
        self.count += 1;
        let hash = id_hash(id);
        if let Some(spill) = &mut self.spill {
            spill.write(hash, occ, false, id)?;
            return Ok(Insert::New);
        }
        let entries = &self.entries;
        let arena = &self.arena;
        let found = self.table.find(hash, |&i| {
            let e = &entries[i as usize];
            e.hash == hash && &arena[e.start..e.start + e.len as usize] == id
        });
        if let Some(&i) = found {
            let e = &mut self.entries[i as usize];
            let first = e.occ;
            if e.dup == 0 {
                self.dups.push((i, Vec::new()));
                e.dup = self.dups.len() as u32;
            }
            self.dups[e.dup as usize - 1].1.push(occ);
            return Ok(Insert::Duplicate(first));
        }
        let idx = self.entries.len() as u32;
        let start = self.arena.len();
        self.arena.extend_from_slice(id);
        self.entries.push(Entry {
            hash,
            start,
            len: id.len() as u32,
            occ,
            dup: 0,
        });
        let entries = &self.entries;
        self.table
            .insert_unique(hash, idx, |&i| entries[i as usize].hash);
        if self.mem_bytes() > self.limit {
            self.spill_all()?;
        }
        Ok(Insert::New)
    }

    fn spill_all(&mut self) -> io::Result<()> {
        let dir = match &self.temp_parent {
            Some(p) => tempfile::Builder::new()
                .prefix(".batchkit-ids-")
                .tempdir_in(p),
            None => tempfile::Builder::new().prefix("batchkit-ids-").tempdir(),
        }
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot create a temporary directory for spilling ids: {e}"),
            )
        })?;
        let mut spill = Spill::create(dir, 0)?;
        let mut reported: Vec<Option<&Vec<Occurrence>>> = vec![None; 0];
        reported.resize(self.entries.len(), None);
        for (i, occs) in &self.dups {
            reported[*i as usize] = Some(occs);
        }
        for (i, e) in self.entries.iter().enumerate() {
            let id = &self.arena[e.start..e.start + e.len as usize];
            spill.write(e.hash, e.occ, false, id)?;
            if let Some(occs) = reported[i] {
                for o in occs {
                    spill.write(e.hash, *o, true, id)?;
                }
            }
        }
        self.table = HashTable::new();
        self.entries = Vec::new();
        self.arena = Vec::new();
        self.dups = Vec::new();
        self.spill = Some(spill);
        Ok(())
    }

    /// Every id used more than once, ordered by first occurrence.
    pub fn finish(self) -> io::Result<Vec<DupGroup>> {
        let mut groups = match self.spill {
            None => {
                let mut g = Vec::with_capacity(self.dups.len());
                for (i, occs) in self.dups {
                    let e = &self.entries[i as usize];
                    let mut all = Vec::with_capacity(occs.len() + 1);
                    all.push(e.occ);
                    all.extend(occs);
                    let n = all.len();
                    g.push(DupGroup {
                        id: self.arena[e.start..e.start + e.len as usize].to_vec(),
                        occurrences: all,
                        reported: vec![true; n - 1],
                    });
                }
                g
            }
            Some(spill) => {
                let dir = spill.dir;
                let paths = Spill::close(spill.writers, dir.path(), 0)?;
                let mut g = Vec::new();
                for p in paths {
                    finish_partition(&p, self.limit, self.min_split, 1, &mut g)?;
                }
                drop(dir);
                g
            }
        };
        groups.sort_by_key(|g| g.occurrences[0]);
        Ok(groups)
    }
}

impl Spill {
    fn create(dir: tempfile::TempDir, level: u32) -> io::Result<Spill> {
        let writers = create_writers(dir.path(), level)?;
        Ok(Spill { dir, writers })
    }

    fn write(&mut self, hash: u64, occ: Occurrence, reported: bool, id: &[u8]) -> io::Result<()> {
        write_rec(&mut self.writers, 0, hash, occ, reported, id)
    }

    fn close(writers: Vec<BufWriter<File>>, dir: &Path, level: u32) -> io::Result<Vec<PathBuf>> {
        let mut paths = Vec::with_capacity(writers.len());
        for (i, mut w) in writers.into_iter().enumerate() {
            w.flush()?;
            paths.push(part_path(dir, level, i));
        }
        Ok(paths)
    }
}

fn part_path(dir: &Path, level: u32, i: usize) -> PathBuf {
    dir.join(format!("ids-{level}-{i:02}.bin"))
}

fn create_writers(dir: &Path, level: u32) -> io::Result<Vec<BufWriter<File>>> {
    (0..PARTITIONS)
        .map(|i| {
            let p = part_path(dir, level, i);
            File::create(&p)
                .map(|f| BufWriter::with_capacity(32 << 10, f))
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))
        })
        .collect()
}

fn partition_of(hash: u64, level: u32) -> usize {
    let shift = 64 - PARTITION_BITS * (level + 1);
    ((hash >> shift) as usize) & (PARTITIONS - 1)
}

fn write_rec(
    writers: &mut [BufWriter<File>],
    level: u32,
    hash: u64,
    occ: Occurrence,
    reported: bool,
    id: &[u8],
) -> io::Result<()> {
    let w = &mut writers[partition_of(hash, level)];
    let mut head = [0u8; 33];
    head[0..8].copy_from_slice(&hash.to_le_bytes());
    head[8..12].copy_from_slice(&occ.file.to_le_bytes());
    head[12..20].copy_from_slice(&occ.line.to_le_bytes());
    head[20..28].copy_from_slice(&occ.offset.to_le_bytes());
    head[28] = u8::from(reported);
    head[29..33].copy_from_slice(&(id.len() as u32).to_le_bytes());
    w.write_all(&head)?;
    w.write_all(id)
}

struct Rec {
    hash: u64,
    occ: Occurrence,
    reported: bool,
    id: Box<[u8]>,
}

fn read_rec(r: &mut impl Read) -> io::Result<Option<Rec>> {
    let mut head = [0u8; 33];
    match r.read_exact(&mut head[..1]) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    r.read_exact(&mut head[1..])?;
    let u64_at = |i: usize| u64::from_le_bytes(head[i..i + 8].try_into().expect("8 bytes"));
    let len = u32::from_le_bytes(head[29..33].try_into().expect("4 bytes")) as usize;
    let mut id = vec![0u8; len];
    r.read_exact(&mut id)?;
    Ok(Some(Rec {
        hash: u64_at(0),
        occ: Occurrence {
            file: u32::from_le_bytes(head[8..12].try_into().expect("4 bytes")),
            line: u64_at(12),
            offset: u64_at(20),
        },
        reported: head[28] != 0,
        id: id.into_boxed_slice(),
    }))
}

/// Finds the duplicates of one partition file, splitting it further when it is too big to
/// load within the budget.
fn finish_partition(
    path: &Path,
    limit: u64,
    min_split: u64,
    level: u32,
    out: &mut Vec<DupGroup>,
) -> io::Result<()> {
    let size = std::fs::metadata(path)?.len();
    let mut reader = BufReader::with_capacity(64 << 10, File::open(path)?);
    // Loaded records cost roughly twice their on-disk size.
    if size * 2 > limit && size >= min_split && level < 64 / PARTITION_BITS - 1 {
        let dir = path.with_extension("d");
        std::fs::create_dir(&dir)?;
        let mut writers = create_writers(&dir, level)?;
        while let Some(r) = read_rec(&mut reader)? {
            write_rec(&mut writers, level, r.hash, r.occ, r.reported, &r.id)?;
        }
        drop(reader);
        std::fs::remove_file(path)?;
        for p in Spill::close(writers, &dir, level)? {
            finish_partition(&p, limit, min_split, level + 1, out)?;
        }
        return std::fs::remove_dir_all(&dir);
    }
    let mut recs = Vec::new();
    while let Some(r) = read_rec(&mut reader)? {
        recs.push(r);
    }
    drop(reader);
    std::fs::remove_file(path)?;
    recs.sort_unstable_by(|a, b| (a.hash, &a.id, a.occ).cmp(&(b.hash, &b.id, b.occ)));
    let mut i = 0;
    while i < recs.len() {
        let mut j = i + 1;
        while j < recs.len() && recs[j].hash == recs[i].hash && recs[j].id == recs[i].id {
            j += 1;
        }
        if j - i > 1 {
            out.push(DupGroup {
                id: recs[i].id.to_vec(),
                occurrences: recs[i..j].iter().map(|r| r.occ).collect(),
                reported: recs[i + 1..j].iter().map(|r| r.reported).collect(),
            });
        }
        i = j;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    type Groups = Vec<(Vec<u8>, Vec<(u32, u64)>)>;

    fn naive(ids: &[(u32, Vec<u8>)]) -> Groups {
        let mut m: BTreeMap<Vec<u8>, Vec<(u32, u64)>> = BTreeMap::new();
        for (line, (file, id)) in ids.iter().enumerate() {
            m.entry(id.clone())
                .or_default()
                .push((*file, line as u64 + 1));
        }
        let mut v: Vec<_> = m.into_iter().filter(|(_, o)| o.len() > 1).collect();
        v.sort_by_key(|(_, o)| o[0]);
        v
    }

    fn run(ids: &[(u32, Vec<u8>)], limit: u64) -> (Groups, bool, usize) {
        let mut idx = IdIndex::new(limit, None);
        idx.min_split = 4 << 10;
        let mut inline = 0;
        for (line, (file, id)) in ids.iter().enumerate() {
            let occ = Occurrence {
                file: *file,
                line: line as u64 + 1,
                offset: line as u64 * 10,
            };
            if let Insert::Duplicate(_) = idx.insert(id, occ).unwrap() {
                inline += 1;
            }
        }
        let spilled = idx.spilled();
        let groups = idx.finish().unwrap();
        let reported_inline: usize = groups
            .iter()
            .map(|g| g.reported.iter().filter(|r| **r).count())
            .sum();
        assert_eq!(
            reported_inline, inline,
            "every inline report is marked, no more"
        );
        let v = groups
            .into_iter()
            .map(|g| {
                (
                    g.id,
                    g.occurrences.iter().map(|o| (o.file, o.line)).collect(),
                )
            })
            .collect();
        (v, spilled, inline)
    }

    proptest! {
        #[test]
        fn agrees_with_a_naive_set(ids in proptest::collection::vec((0u32..3, proptest::collection::vec(b'a'..b'e', 0..4)), 0..300),
                                   limit in prop_oneof![Just(64u64), Just(2048u64), Just(1u64 << 30)]) {
            // Files are read one after the other, so file indexes never decrease.
            let mut ids = ids;
            ids.sort_by_key(|(f, _)| *f);
            let (got, _, _) = run(&ids, limit);
            prop_assert_eq!(got, naive(&ids));
        }
    }

    #[test]
    fn spill_path_finds_every_duplicate() {
        let mut ids: Vec<(u32, Vec<u8>)> = (0..20_000u32)
            .map(|i| (0, format!("id-{i}").into_bytes()))
            .collect();
        for i in (0..20_000).step_by(997) {
            ids.push((1, format!("id-{i}").into_bytes()));
        }
        let (got, spilled, _) = run(&ids, 16 << 10);
        assert!(spilled);
        assert_eq!(got, naive(&ids));
        assert_eq!(got.len(), 21);
    }

    #[test]
    fn deep_partitions_recurse() {
        // A budget so small that each first-level partition must be split again.
        let ids: Vec<(u32, Vec<u8>)> = (0..30_000u32)
            .map(|i| (0, format!("x{}", i % 25_000).into_bytes()))
            .collect();
        let (got, spilled, _) = run(&ids, 4 << 10);
        assert!(spilled);
        assert_eq!(got, naive(&ids));
        assert_eq!(got.len(), 5_000);
    }
}
