use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Read;

use super::*;
use crate::staging::StagedDir;

/// Counts the bytes live on the current thread, so tests running in parallel do not mix.
struct Counting;

thread_local! {
    static LIVE: Cell<i64> = const { Cell::new(0) };
}

fn add(n: i64) {
    // `try_with`: the slot may be gone while the thread exits.
    let _ = LIVE.try_with(|l| l.set(l.get() + n));
}

fn live() -> i64 {
    LIVE.with(Cell::get)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            add(l.size() as i64);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        add(-(l.size() as i64));
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            add(new as i64 - l.size() as i64);
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn ids(n: usize) -> Vec<Vec<u8>> {
    // Lengths 1 to 40, so the arena grows at uneven steps.
    (0..n)
        .map(|i| format!("{i:0w$}", w = 1 + i % 40).into_bytes())
        .collect()
}

#[test]
fn accounting_matches_allocation() {
    let ids = ids(20_000);
    let base = live();
    let mut t: IdTable<(u32, u64)> = IdTable::default();
    assert_eq!(t.mem_bytes(), 0);
    let mut rehashes = 0;
    for (k, id) in ids.iter().enumerate() {
        let h = id_hash(id);
        assert_eq!(t.find(h, id), None);
        let (before, old_table, cap) = (
            t.mem_bytes(),
            t.table.allocation_size() as u64,
            t.table.capacity(),
        );
        let cost = t.growth(id.len());
        assert_eq!(t.push(h, id, (k as u32, k as u64)), k);
        let after = t.mem_bytes();
        // What the table holds is what the allocator gave it.
        assert_eq!(after as i64, live() - base, "after {} ids", k + 1);
        if cap == 0 {
            // The first table: exact with 16-byte control groups, 8 over with 8-byte ones.
            assert!(cost >= after - before && cost - (after - before) <= 8);
        } else if t.table.capacity() != cap {
            // A rehash: the old table was held while the new one was filled.
            rehashes += 1;
            assert_eq!(cost, after - before + old_table, "rehash at {} ids", k + 1);
        } else {
            assert_eq!(cost, after - before, "at {} ids", k + 1);
        }
    }
    assert!(rehashes > 10, "{rehashes}");
    for (k, id) in ids.iter().enumerate() {
        let i = t.find(id_hash(id), id).expect("present");
        assert_eq!(
            (i, t.id(i), *t.value(i)),
            (k, &id[..], (k as u32, k as u64))
        );
    }
    assert_eq!(t.len(), ids.len());
    drop(t);
    assert_eq!(live(), base);
}

#[test]
fn full_stops_at_the_budget() {
    let ids = ids(5_000);
    let budget = 100_000;
    let mut t: IdTable<u64> = IdTable::default();
    let mut n = 0;
    for id in &ids {
        if t.full(id.len(), budget) {
            break;
        }
        t.push(id_hash(id), id, 0);
        n += 1;
        assert!(t.mem_bytes() <= budget);
    }
    assert!(n > 100 && n < ids.len(), "{n}");
    let next = &ids[n];
    assert!(t.mem_bytes() + t.growth(next.len()) > budget);
}

#[test]
fn same_hash_different_ids() {
    let mut t: IdTable<()> = IdTable::default();
    t.push(42, b"a", ());
    t.push(42, b"b", ());
    assert_eq!(
        (t.find(42, b"a"), t.find(42, b"b"), t.find(42, b"c")),
        (Some(0), Some(1), None)
    );
    assert_eq!(
        t.iter().map(|(h, id, _)| (h, id)).collect::<Vec<_>>(),
        [(42, &b"a"[..]), (42, &b"b"[..])]
    );
}

fn read_recs(path: &Path) -> Vec<(u64, Vec<u8>)> {
    let mut data = Vec::new();
    File::open(path).unwrap().read_to_end(&mut data).unwrap();
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let h = u64::from_le_bytes(data[at..at + 8].try_into().unwrap());
        let len = u32::from_le_bytes(data[at + 8..at + 12].try_into().unwrap()) as usize;
        out.push((h, data[at + 12..at + 12 + len].to_vec()));
        at += 12 + len;
    }
    out
}

#[test]
fn partitions_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let ids = ids(3_000);
    for (level, eager) in [(0, false), (1, true), (3, false)] {
        let dir = tmp.path().join(format!("l{level}"));
        std::fs::create_dir(&dir).unwrap();
        let mut parts = Partitions::new(&dir, "p-", 4, level, 1 << 10);
        if eager {
            parts = parts.create_all().unwrap();
        }
        assert_eq!(parts.count(), 16);
        for id in &ids {
            let h = id_hash(id);
            parts
                .write(h, &[&h.to_le_bytes(), &(id.len() as u32).to_le_bytes(), id])
                .unwrap();
        }
        let files = parts.finish().unwrap();
        assert_eq!(files.len(), 16, "3000 ids fill every partition");
        let mut back = Vec::new();
        for (p, (_, path)) in files.iter().enumerate() {
            assert_eq!(path, &dir.join(format!("p-{p:04}")));
            let recs = read_recs(path);
            assert!(!recs.is_empty());
            for (h, id) in &recs {
                assert_eq!(partition_of(*h, 4, level), p);
                assert_eq!(*h, id_hash(id));
            }
            back.extend(recs.into_iter().map(|(_, id)| id));
        }
        // Every record once, and in input order within its partition.
        let pos = |id: &Vec<u8>| ids.iter().position(|x| x == id).unwrap();
        let mut seen: Vec<usize> = back.iter().map(pos).collect();
        for (_, path) in &files {
            let order: Vec<usize> = read_recs(path).iter().map(|(_, id)| pos(id)).collect();
            assert!(order.windows(2).all(|w| w[0] < w[1]));
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..ids.len()).collect::<Vec<_>>());
    }
    // The next level splits one partition by the next bits.
    let h = 0xABCD_0000_0000_0000u64;
    assert_eq!(
        (
            partition_of(h, 4, 0),
            partition_of(h, 4, 1),
            partition_of(h, 4, 2)
        ),
        (0xA, 0xB, 0xC)
    );
    assert_eq!(partition_of(h, 6, 0), 0xABCD >> 10);
}

#[test]
fn lazy_partitions_create_only_what_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let mut parts = Partitions::new(tmp.path(), "x-", 6, 0, 64);
    parts.write(0, &[b"a"]).unwrap();
    parts.write(u64::MAX, &[b"b", b"c"]).unwrap();
    let files = parts.finish().unwrap();
    let names: Vec<_> = files
        .iter()
        .map(|(_, p)| p.file_name().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["x-0000", "x-0063"]);
    assert_eq!(std::fs::read(&files[1].1).unwrap(), b"bc");
}

#[test]
fn spill_file_positional_reads_and_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("f");
    let mut f = SpillFile::create(path.clone(), 4).unwrap();
    f.write(b"hello ").unwrap();
    f.write_parts(&[b"wor", b"ld"]).unwrap();
    std::io::Write::write_all(&mut f, b"!").unwrap();
    assert_eq!(f.len(), 12);
    let (file, p) = f.finish().unwrap();
    assert_eq!(p, path);
    let mut buf = [0u8; 5];
    read_at(&file, &p, 6, &mut buf).unwrap();
    assert_eq!(&buf, b"world");
    write_at(&file, &p, 0, b"J").unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"Jello world!");
    // Past the end: an error that names the file.
    let e = read_at(&file, &p, 10, &mut buf).unwrap_err();
    assert_eq!(e.path, p);
    assert_eq!(e.source.kind(), io::ErrorKind::UnexpectedEof);
    let io: io::Error = e.into();
    assert!(io.to_string().starts_with(&p.display().to_string()), "{io}");
    // Never over an existing file.
    let e = SpillFile::create(path.clone(), 4).err().expect("exists");
    assert_eq!(e.source.kind(), io::ErrorKind::AlreadyExists);
}

#[test]
fn staging_dir_removed_on_drop() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = StagedDir::new_in(Some(tmp.path()), "spilltest").unwrap();
    let path = dir.path().to_path_buf();
    let mut parts = Partitions::new(&path, "p-", 2, 0, 16).create_all().unwrap();
    parts.write(7, &[b"record"]).unwrap();
    let files = parts.finish().unwrap();
    assert_eq!(files.len(), 4);
    assert!(files.iter().all(|(_, p)| p.exists()));
    drop(files);
    drop(dir);
    assert!(!path.exists());
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}
