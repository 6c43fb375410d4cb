//! An exact set of ids that stays within a memory budget: in memory while it fits, then
//! partitioned by hash into files in a temporary directory and finished from disk.
//!
//! Two ways to use it, chosen with [`Track`]:
//! - [`Track::First`] (`validate`, `shard`) keeps only each id's first occurrence, so memory is
//!   bounded by the distinct ids however often they repeat. [`IdIndex::insert`] reports repeats
//!   while the set is in memory; after a spill, [`IdIndex::finish_late`] streams the rest in
//!   input order, reading each partition once with a table of its distinct ids.
//! - [`Track::All`] (`dupes`) keeps every occurrence of every repeated id, the occurrence lists
//!   counted against the budget too. [`IdIndex::finish`] returns [`Dups`], which streams the
//!   repeated ids in order of first occurrence; after a spill they come from an external sort
//!   of the occurrences by (first occurrence, position), never from a list held whole.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

pub use batchkit_io::spill::id_hash;
use batchkit_io::spill::{vec_growth, Partitions};
use batchkit_io::staging::StagedDir;

use crate::sort::{read_or_eof, Record, Sorted, Sorter, FAN_IN};

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

/// What an [`IdIndex`] remembers of repeated ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    /// Only each id's first occurrence: enough to name it when the id repeats. Finish with
    /// [`IdIndex::finish_late`].
    First,
    /// Every occurrence of every repeated id. Finish with [`IdIndex::finish`] (or
    /// [`IdIndex::finish_late`]).
    All,
}

/// A repeat of an id that [`IdIndex::insert`] could not report because the set had spilled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LateDuplicate<'a> {
    /// The id bytes.
    pub id: &'a [u8],
    /// Where it repeats.
    pub at: Occurrence,
    /// Its first occurrence.
    pub first: Occurrence,
}

/// Creates a directory for spill files in `parent` (the system temp dir when `None`).
/// Every temporary directory of this crate comes from here.
pub(crate) fn make_spill_dir(parent: Option<&Path>) -> io::Result<StagedDir> {
    // Named with the process id and removed on Ctrl-C (batchkit_io::staging).
    StagedDir::new_in(parent, "ids")
}

/// What the table keeps of an id besides its bytes.
struct Seen {
    occ: Occurrence,
    /// [`IdIndex`]: index into `dups` + 1, or 0. Finishing: occurrences seen.
    extra: u64,
}

/// Distinct ids with their first occurrence.
type IdTable = batchkit_io::spill::IdTable<Seen>;

const OCC_COST: u64 = std::mem::size_of::<Occurrence>() as u64;
const DUP_COST: u64 = std::mem::size_of::<(u32, Vec<Occurrence>)>() as u64;
const PARTITION_BITS: u32 = 6;
/// Partitions are split by hash at most this deep.
const MAX_LEVEL: u32 = 64 / PARTITION_BITS - 1;
/// Partitions smaller than this are never split: splitting them costs more files than it
/// saves memory.
const MIN_SPLIT: u64 = 1 << 20;
/// Floor of the memory for sorting when finishing (fewer, bigger runs under tiny limits).
const MIN_SORT_BUDGET: u64 = 64 << 10;

/// Settings tests shrink to reach the deep paths with little data.
#[derive(Debug, Clone, Copy)]
struct Knobs {
    min_split: u64,
    fan_in: usize,
    min_sort: u64,
}

/// Exact id set with a memory budget.
pub struct IdIndex {
    limit: u64,
    temp_parent: Option<PathBuf>,
    track: Track,
    ids: IdTable,
    /// [`Track::All`]: (entry, later occurrences) of each repeated id.
    dups: Vec<(u32, Vec<Occurrence>)>,
    /// Heap bytes of the occurrence lists in `dups`.
    occ_bytes: u64,
    spill: Option<Spill>,
    count: u64,
    knobs: Knobs,
}

struct Spill {
    dir: StagedDir,
    writers: Writers,
}

impl IdIndex {
    /// An index that holds ids (and, with [`Track::All`], the occurrence lists of repeated
    /// ids) in memory up to about `limit` bytes, then spills to a temporary directory in
    /// `temp_parent` (the system temp dir when `None`). Finishing stays within about the same
    /// budget.
    pub fn new(limit: u64, temp_parent: Option<PathBuf>, track: Track) -> Self {
        IdIndex {
            limit: limit.max(1),
            temp_parent,
            track,
            ids: IdTable::default(),
            dups: Vec::new(),
            occ_bytes: 0,
            spill: None,
            count: 0,
            knobs: Knobs {
                min_split: MIN_SPLIT,
                fan_in: FAN_IN,
                min_sort: MIN_SORT_BUDGET,
            },
        }
    }

    /// Whether the set has spilled to disk (later duplicates are found when finishing).
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
        self.ids.mem_bytes() + self.dups.capacity() as u64 * DUP_COST + self.occ_bytes
    }

    /// Adds one occurrence of `id`. Occurrences must come in input order.
    pub fn insert(&mut self, id: &[u8], occ: Occurrence) -> io::Result<Insert> {
        self.count += 1;
        let hash = id_hash(id);
        if let Some(spill) = &mut self.spill {
            spill.writers.write(hash, occ, false, id)?;
            return Ok(Insert::New);
        }
        if let Some(i) = self.ids.find(hash, id) {
            let first = self.ids.value(i).occ;
            if self.track == Track::All {
                self.add_repeat(i, hash, id, occ)?;
            }
            return Ok(Insert::Duplicate(first));
        }
        if !self.ids.is_empty() && self.mem_bytes() + self.ids.growth(id.len()) > self.limit {
            self.spill_all()?;
            return self
                .spilled_write(hash, occ, false, id)
                .map(|()| Insert::New);
        }
        self.ids.push(hash, id, Seen { occ, extra: 0 });
        if self.mem_bytes() > self.limit {
            self.spill_all()?;
        }
        Ok(Insert::New)
    }

    fn spilled_write(
        &mut self,
        hash: u64,
        occ: Occurrence,
        rep: bool,
        id: &[u8],
    ) -> io::Result<()> {
        let spill = self.spill.as_mut().expect("spilled");
        spill.writers.write(hash, occ, rep, id)
    }

    /// Records a repeat of entry `i`, spilling first if its list would outgrow the budget.
    fn add_repeat(&mut self, i: usize, hash: u64, id: &[u8], occ: Occurrence) -> io::Result<()> {
        let d = self.ids.value(i).extra as usize;
        let grow = if d == 0 {
            vec_growth(self.dups.len(), self.dups.capacity(), 1, 4) * DUP_COST + 4 * OCC_COST
        } else {
            let v = &self.dups[d - 1].1;
            vec_growth(v.len(), v.capacity(), 1, 4) * OCC_COST
        };
        if self.mem_bytes() + grow > self.limit {
            self.spill_all()?;
            return self.spilled_write(hash, occ, true, id);
        }
        let list = if d == 0 {
            self.dups.push((i as u32, Vec::new()));
            self.ids.value_mut(i).extra = self.dups.len() as u64;
            &mut self.dups.last_mut().expect("just pushed").1
        } else {
            &mut self.dups[d - 1].1
        };
        let before = list.capacity();
        list.push(occ);
        self.occ_bytes += (list.capacity() - before) as u64 * OCC_COST;
        Ok(())
    }

    /// Moves everything to partition files: each id's first occurrence in input order, then
    /// (with [`Track::All`]) the repeats already reported.
    fn spill_all(&mut self) -> io::Result<()> {
        let dir = make_spill_dir(self.temp_parent.as_deref())?;
        let mut writers = Writers::new(dir.path(), 0);
        for (hash, id, seen) in self.ids.iter() {
            writers.write(hash, seen.occ, false, id)?;
        }
        for (i, occs) in &self.dups {
            let (hash, id) = (self.ids.hash(*i as usize), self.ids.id(*i as usize));
            for o in occs {
                writers.write(hash, *o, true, id)?;
            }
        }
        self.ids = IdTable::default();
        self.dups = Vec::new();
        self.occ_bytes = 0;
        self.spill = Some(Spill { dir, writers });
        Ok(())
    }

    /// After a spill: calls `f` with every repeat that [`IdIndex::insert`] did not report,
    /// ordered by position, until `f` returns `false`. Nothing when the set never spilled.
    pub fn finish_late(self, mut f: impl FnMut(LateDuplicate<'_>) -> bool) -> io::Result<()> {
        let Some(Spill { dir, writers }) = self.spill else {
            return Ok(());
        };
        let fin = Finisher::new(self.limit, self.knobs);
        let paths = writers.close()?;
        let mut late = Sorter::new(dir.path(), "late", fin.sort_budget, fin.fan_in);
        for p in paths {
            fin.late_partition(&p, 1, &mut late)?;
        }
        let mut sorted = late.finish()?;
        while let Some(r) = sorted.next()? {
            let go_on = f(LateDuplicate {
                id: &r.id,
                at: r.at,
                first: r.first,
            });
            if !go_on {
                break;
            }
        }
        drop(sorted);
        dir.close()
    }

    /// Every id used more than once ([`Track::All`] only). With `repeated_in_order`,
    /// [`Dups::next_repeated`] also gives every occurrence but the first of those ids in input
    /// order (what a deduplicated copy drops).
    pub fn finish(self, repeated_in_order: bool) -> io::Result<Dups> {
        assert!(self.track == Track::All, "IdIndex::finish needs Track::All");
        let fin = Finisher::new(self.limit, self.knobs);
        let Some(Spill { dir, writers }) = self.spill else {
            let mut dups = self.dups;
            dups.sort_unstable_by_key(|d| d.0);
            let repeated = dups.iter().map(|d| d.1.len() as u64).sum();
            let drops = repeated_in_order.then(|| {
                let mut v: Vec<Place> = dups
                    .iter()
                    .flat_map(|d| d.1.iter().map(|o| Place(o.file, o.line)))
                    .collect();
                v.sort_unstable();
                Sorted::Memory(v.into_iter())
            });
            return Ok(Dups {
                ids: dups.len() as u64,
                repeated,
                spilled: false,
                drops,
                groups: Groups::Memory {
                    table: self.ids,
                    dups,
                    next: 0,
                },
                _dir: None,
            });
        };
        let paths = writers.close()?;
        let (group_budget, drop_budget) = if repeated_in_order {
            (fin.sort_budget / 2, fin.sort_budget / 2)
        } else {
            (fin.sort_budget, 0)
        };
        let mut groups = Sorter::new(dir.path(), "groups", group_budget, fin.fan_in);
        let mut drops =
            repeated_in_order.then(|| Sorter::new(dir.path(), "repeated", drop_budget, fin.fan_in));
        let mut counts = (0, 0);
        for p in paths {
            fin.all_partition(&p, 1, &mut groups, drops.as_mut(), &mut counts)?;
        }
        let groups = groups.finish()?;
        let drops = drops.map(Sorter::finish).transpose()?;
        Ok(Dups {
            ids: counts.0,
            repeated: counts.1,
            spilled: true,
            drops,
            groups: Groups::Disk(DiskGroups {
                sorted: groups,
                pending: 0,
                buf: Vec::new(),
                buf_max: fin.group_buf,
                path: dir.path().join("group.bin"),
            }),
            _dir: Some(dir),
        })
    }
}

/// Budgets and settings of finishing from disk.
struct Finisher {
    table_budget: u64,
    sort_budget: u64,
    group_buf: u64,
    min_split: u64,
    fan_in: usize,
}

impl Finisher {
    fn new(limit: u64, knobs: Knobs) -> Self {
        Finisher {
            table_budget: limit / 2,
            sort_budget: (limit / 4).max(knobs.min_sort),
            group_buf: (limit / 16 / std::mem::size_of::<Place>() as u64).clamp(16, 1 << 16),
            min_split: knobs.min_split,
            fan_in: knobs.fan_in,
        }
    }

    fn can_split(&self, path: &Path, level: u32) -> io::Result<bool> {
        Ok(level < MAX_LEVEL && std::fs::metadata(path)?.len() >= self.min_split)
    }

    /// Whether adding an id of `len` bytes would take `table` over its budget.
    fn full(&self, table: &IdTable, len: usize) -> bool {
        table.full(len, self.table_budget)
    }

    /// Streams one partition (records in input order) with a table of its distinct ids and
    /// pushes the unreported repeats; splits it by hash when the table outgrows the budget.
    fn late_partition(&self, path: &Path, level: u32, out: &mut Sorter<LateRec>) -> io::Result<()> {
        let can_split = self.can_split(path, level)?;
        let mut table = IdTable::default();
        let mut r = open(path)?;
        let mut id = Vec::new();
        let mut done = 0u64;
        while let Some(h) = read_rec(&mut r, &mut id)? {
            match table.find(h.hash, &id) {
                Some(i) => {
                    if !h.reported {
                        out.push(LateRec {
                            at: h.occ,
                            first: table.value(i).occ,
                            id: id.as_slice().into(),
                        })?;
                    }
                }
                None if can_split && self.full(&table, id.len()) => {
                    // The repeats of the records read so far are out: mark them reported.
                    drop((table, r));
                    let (dir, parts) = split(path, level, done)?;
                    for p in parts {
                        self.late_partition(&p, level + 1, out)?;
                    }
                    return std::fs::remove_dir(&dir);
                }
                None => {
                    table.push(
                        h.hash,
                        &id,
                        Seen {
                            occ: h.occ,
                            extra: 0,
                        },
                    );
                }
            }
            done += 1;
        }
        drop(r);
        std::fs::remove_file(path)
    }

    /// Two passes over one partition: count each id's occurrences and find its first, then
    /// push every occurrence of the repeated ones to the sorters. Splits by hash when the
    /// table outgrows the budget.
    fn all_partition(
        &self,
        path: &Path,
        level: u32,
        groups: &mut Sorter<GroupRec>,
        mut drops: Option<&mut Sorter<Place>>,
        counts: &mut (u64, u64),
    ) -> io::Result<()> {
        let can_split = self.can_split(path, level)?;
        let mut table = IdTable::default();
        let mut r = open(path)?;
        let mut id = Vec::new();
        while let Some(h) = read_rec(&mut r, &mut id)? {
            match table.find(h.hash, &id) {
                Some(i) => {
                    let e = table.value_mut(i);
                    e.extra += 1;
                    e.occ = e.occ.min(h.occ);
                }
                None if can_split && self.full(&table, id.len()) => {
                    drop((table, r));
                    let (dir, parts) = split(path, level, 0)?;
                    for p in parts {
                        self.all_partition(&p, level + 1, groups, drops.as_deref_mut(), counts)?;
                    }
                    return std::fs::remove_dir(&dir);
                }
                None => {
                    table.push(
                        h.hash,
                        &id,
                        Seen {
                            occ: h.occ,
                            extra: 1,
                        },
                    );
                }
            }
        }
        let mut any = false;
        for e in table.values().filter(|e| e.extra > 1) {
            counts.0 += 1;
            counts.1 += e.extra - 1;
            any = true;
        }
        if any {
            let mut r = open(path)?;
            while let Some(h) = read_rec(&mut r, &mut id)? {
                let i = table.find(h.hash, &id).ok_or_else(corrupt)?;
                let e = table.value(i);
                if e.extra < 2 {
                    continue;
                }
                let at = Place(h.occ.file, h.occ.line);
                let head = if h.occ == e.occ {
                    Some((e.extra, id.as_slice().into()))
                } else {
                    if let Some(d) = drops.as_deref_mut() {
                        d.push(at)?;
                    }
                    None
                };
                groups.push(GroupRec {
                    first: Place(e.occ.file, e.occ.line),
                    at,
                    head,
                })?;
            }
        }
        std::fs::remove_file(path)
    }
}

fn corrupt() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "temporary id file is corrupt")
}

/// Rewrites partition `path` into sub-partitions by the next bits of the hash (each keeps
/// the order of records), marking the first `done` records reported, and removes it.
/// Returns the sub-partitions' directory and files.
fn split(path: &Path, level: u32, done: u64) -> io::Result<(PathBuf, Vec<PathBuf>)> {
    let dir = path.with_extension("d");
    std::fs::create_dir(&dir)?;
    let mut w = Writers::new(&dir, level);
    let mut r = open(path)?;
    let mut id = Vec::new();
    let mut k = 0u64;
    while let Some(h) = read_rec(&mut r, &mut id)? {
        w.write(h.hash, h.occ, h.reported || k < done, &id)?;
        k += 1;
    }
    drop(r);
    std::fs::remove_file(path)?;
    Ok((dir, w.close()?))
}

fn open(path: &Path) -> io::Result<BufReader<File>> {
    File::open(path)
        .map(|f| BufReader::with_capacity(64 << 10, f))
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// The partition files of one level, created on first use.
struct Writers(Partitions);

impl Writers {
    fn new(dir: &Path, level: u32) -> Self {
        let prefix = format!("ids-{level}-");
        Writers(Partitions::new(
            dir,
            &prefix,
            PARTITION_BITS,
            level,
            32 << 10,
        ))
    }

    fn write(&mut self, hash: u64, occ: Occurrence, reported: bool, id: &[u8]) -> io::Result<()> {
        let mut head = [0u8; 33];
        head[0..8].copy_from_slice(&hash.to_le_bytes());
        head[8..12].copy_from_slice(&occ.file.to_le_bytes());
        head[12..20].copy_from_slice(&occ.line.to_le_bytes());
        head[20..28].copy_from_slice(&occ.offset.to_le_bytes());
        head[28] = u8::from(reported);
        head[29..33].copy_from_slice(&(id.len() as u32).to_le_bytes());
        Ok(self.0.write(hash, &[&head, id])?)
    }

    /// Flushes and returns the files written.
    fn close(self) -> io::Result<Vec<PathBuf>> {
        Ok(self.0.finish()?.into_iter().map(|(_, p)| p).collect())
    }
}

/// A partition record without its id.
struct Head {
    hash: u64,
    occ: Occurrence,
    reported: bool,
}

/// Reads one partition record, its id into `id`.
fn read_rec(r: &mut impl Read, id: &mut Vec<u8>) -> io::Result<Option<Head>> {
    let mut head = [0u8; 33];
    if !read_or_eof(r, &mut head)? {
        return Ok(None);
    }
    let u64_at = |i: usize| u64::from_le_bytes(head[i..i + 8].try_into().expect("8 bytes"));
    let len = u32::from_le_bytes(head[29..33].try_into().expect("4 bytes")) as usize;
    id.resize(len, 0);
    r.read_exact(id)?;
    Ok(Some(Head {
        hash: u64_at(0),
        occ: Occurrence {
            file: u32::from_le_bytes(head[8..12].try_into().expect("4 bytes")),
            line: u64_at(12),
            offset: u64_at(20),
        },
        reported: head[28] != 0,
    }))
}

fn write_occ(w: &mut impl Write, o: &Occurrence) -> io::Result<()> {
    w.write_all(&o.file.to_le_bytes())?;
    w.write_all(&o.line.to_le_bytes())?;
    w.write_all(&o.offset.to_le_bytes())
}

fn occ_from(b: &[u8]) -> Occurrence {
    Occurrence {
        file: u32::from_le_bytes(b[0..4].try_into().expect("4 bytes")),
        line: u64::from_le_bytes(b[4..12].try_into().expect("8 bytes")),
        offset: u64::from_le_bytes(b[12..20].try_into().expect("8 bytes")),
    }
}

/// A late repeat, sorted by position.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct LateRec {
    at: Occurrence,
    first: Occurrence,
    id: Box<[u8]>,
}

impl Record for LateRec {
    fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        write_occ(w, &self.at)?;
        write_occ(w, &self.first)?;
        w.write_all(&(self.id.len() as u32).to_le_bytes())?;
        w.write_all(&self.id)
    }

    fn read_from(r: &mut impl Read) -> io::Result<Option<Self>> {
        let mut h = [0u8; 44];
        if !read_or_eof(r, &mut h)? {
            return Ok(None);
        }
        let len = u32::from_le_bytes(h[40..44].try_into().expect("4 bytes")) as usize;
        let mut id = vec![0u8; len];
        r.read_exact(&mut id)?;
        Ok(Some(LateRec {
            at: occ_from(&h[0..20]),
            first: occ_from(&h[20..40]),
            id: id.into(),
        }))
    }

    fn heap_bytes(&self) -> u64 {
        self.id.len() as u64
    }
}

/// File index and line of an occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Place(u32, u64);

impl Record for Place {
    fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        w.write_all(&self.0.to_le_bytes())?;
        w.write_all(&self.1.to_le_bytes())
    }

    fn read_from(r: &mut impl Read) -> io::Result<Option<Self>> {
        let mut b = [0u8; 12];
        if !read_or_eof(r, &mut b)? {
            return Ok(None);
        }
        Ok(Some(Place(
            u32::from_le_bytes(b[0..4].try_into().expect("4 bytes")),
            u64::from_le_bytes(b[4..12].try_into().expect("8 bytes")),
        )))
    }
}

/// One occurrence of a repeated id, sorted by (first occurrence, position). The group's
/// first occurrence sorts first and carries the id and the number of occurrences.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct GroupRec {
    first: Place,
    at: Place,
    head: Option<(u64, Box<[u8]>)>,
}

impl Record for GroupRec {
    fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        self.first.write_to(w)?;
        self.at.write_to(w)?;
        match &self.head {
            None => w.write_all(&[0]),
            Some((count, id)) => {
                w.write_all(&[1])?;
                w.write_all(&count.to_le_bytes())?;
                w.write_all(&(id.len() as u32).to_le_bytes())?;
                w.write_all(id)
            }
        }
    }

    fn read_from(r: &mut impl Read) -> io::Result<Option<Self>> {
        let Some(first) = Place::read_from(r)? else {
            return Ok(None);
        };
        let at = Place::read_from(r)?.ok_or_else(corrupt)?;
        let mut tag = [0u8; 1];
        r.read_exact(&mut tag)?;
        let head = if tag[0] == 0 {
            None
        } else {
            let mut h = [0u8; 12];
            r.read_exact(&mut h)?;
            let len = u32::from_le_bytes(h[8..12].try_into().expect("4 bytes")) as usize;
            let mut id = vec![0u8; len];
            r.read_exact(&mut id)?;
            Some((
                u64::from_le_bytes(h[0..8].try_into().expect("8 bytes")),
                id.into(),
            ))
        };
        Ok(Some(GroupRec { first, at, head }))
    }

    fn heap_bytes(&self) -> u64 {
        self.head.as_ref().map_or(0, |(_, id)| id.len() as u64)
    }
}

/// The ids used more than once, from [`IdIndex::finish`]: counts up front, then the groups
/// one at a time, in order of first occurrence.
pub struct Dups {
    ids: u64,
    repeated: u64,
    spilled: bool,
    drops: Option<Sorted<Place>>,
    groups: Groups,
    // Last, so the files are closed before their directory is removed.
    _dir: Option<StagedDir>,
}

enum Groups {
    Memory {
        table: IdTable,
        dups: Vec<(u32, Vec<Occurrence>)>,
        next: usize,
    },
    Disk(DiskGroups),
}

struct DiskGroups {
    sorted: Sorted<GroupRec>,
    /// Records of the current group not read yet.
    pending: u64,
    buf: Vec<Place>,
    buf_max: u64,
    /// Where a group too big for `buf` is kept while it is read.
    path: PathBuf,
}

impl DiskGroups {
    fn next_rec(&mut self) -> io::Result<GroupRec> {
        self.pending -= 1;
        self.sorted.next()?.ok_or_else(corrupt)
    }
}

impl Dups {
    /// Ids used more than once.
    pub fn ids(&self) -> u64 {
        self.ids
    }

    /// Occurrences of those ids after their first.
    pub fn repeated(&self) -> u64 {
        self.repeated
    }

    /// Whether the set had spilled to disk.
    pub fn spilled(&self) -> bool {
        self.spilled
    }

    /// The next occurrence (file index, line) that repeats an earlier id, in input order.
    /// Needs `repeated_in_order` at [`IdIndex::finish`]; `None` at the end.
    pub fn next_repeated(&mut self) -> io::Result<Option<(u32, u64)>> {
        let Some(d) = &mut self.drops else {
            return Err(io::Error::other(
                "repeated occurrences were not asked for when finishing",
            ));
        };
        Ok(d.next()?.map(|p| (p.0, p.1)))
    }

    /// The next id used more than once, in order of first occurrence.
    pub fn next_group(&mut self) -> io::Result<Option<DupGroup<'_>>> {
        match &mut self.groups {
            Groups::Memory { table, dups, next } => {
                let Some((i, rest)) = dups.get(*next) else {
                    return Ok(None);
                };
                *next += 1;
                let e = table.value(*i as usize);
                Ok(Some(DupGroup {
                    id: Cow::Borrowed(table.id(*i as usize)),
                    count: rest.len() as u64 + 1,
                    first: Place(e.occ.file, e.occ.line),
                    src: Src::Memory(rest),
                }))
            }
            Groups::Disk(g) => {
                while g.pending > 0 {
                    g.next_rec()?;
                }
                let Some(r) = g.sorted.next()? else {
                    return Ok(None);
                };
                let (count, id) = r.head.ok_or_else(corrupt)?;
                g.pending = count - 1;
                Ok(Some(DupGroup {
                    id: Cow::Owned(id.into_vec()),
                    count,
                    first: r.at,
                    src: Src::Disk {
                        g,
                        state: State::Unread,
                    },
                }))
            }
        }
    }
}

/// One id used more than once, from [`Dups::next_group`].
pub struct DupGroup<'a> {
    id: Cow<'a, [u8]>,
    count: u64,
    first: Place,
    src: Src<'a>,
}

enum Src<'a> {
    Memory(&'a [Occurrence]),
    Disk { g: &'a mut DiskGroups, state: State },
}

enum State {
    Unread,
    InBuf,
    InFile,
    Failed,
}

impl DupGroup<'_> {
    /// The id bytes.
    pub fn id(&self) -> &[u8] {
        &self.id
    }

    /// Occurrences (two or more).
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The first occurrence: file index and line.
    pub fn first(&self) -> (u32, u64) {
        (self.first.0, self.first.1)
    }

    /// Calls `f` with the file index and line of every occurrence, in input order. May be
    /// called again; a big group is kept in a temporary file meanwhile.
    pub fn for_each(&mut self, mut f: impl FnMut(u32, u64) -> io::Result<()>) -> io::Result<()> {
        let rest = self.count - 1;
        f(self.first.0, self.first.1)?;
        match &mut self.src {
            Src::Memory(occs) => {
                for o in occs.iter() {
                    f(o.file, o.line)?;
                }
            }
            Src::Disk { g, state } => {
                if let State::Unread = state {
                    *state = State::Failed;
                    if rest <= g.buf_max {
                        g.buf.clear();
                        for _ in 0..rest {
                            let r = g.next_rec()?;
                            g.buf.push(r.at);
                        }
                        *state = State::InBuf;
                    } else {
                        let mut w = BufWriter::with_capacity(64 << 10, File::create(&g.path)?);
                        for _ in 0..rest {
                            g.next_rec()?.at.write_to(&mut w)?;
                        }
                        w.flush()?;
                        *state = State::InFile;
                    }
                }
                match state {
                    State::InBuf => {
                        for p in &g.buf {
                            f(p.0, p.1)?;
                        }
                    }
                    State::InFile => {
                        let mut r = open(&g.path)?;
                        for _ in 0..rest {
                            let p = Place::read_from(&mut r)?.ok_or_else(corrupt)?;
                            f(p.0, p.1)?;
                        }
                    }
                    State::Unread | State::Failed => {
                        return Err(io::Error::other("a duplicated id could not be read back"));
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
