//! Matching results to requests: the one duplicate-result rule ([`ResultTable`]), the one
//! duplicate-request rule ([`FirstLines`]), and the per-partition probe of the spilled join.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::PathBuf;

use hashbrown::HashTable;
use rayon::prelude::*;

use crate::store::{io_err, other_offset, write_at, IdSet, Match, MatchTable, NONE};
use crate::{JoinError, Problem, Status};

/// Ids, hashes and statuses of results by index, as a [`ResultTable`] reads them.
pub(crate) trait Keys {
    fn id(&self, i: u32) -> &[u8];
    fn hash(&self, i: u32) -> u64;
    fn status(&self, i: u32) -> Status;
    /// The index of the result file the result is in.
    fn file(&self, i: u32) -> u32;
}

/// Whether result `new`, added after `old` (same id), replaces it: the better status
/// ([`Status::rank`]), among equals the later result file (the newer round); within one file
/// the earlier line is kept.
pub(crate) fn better(new: (Status, u32), old: (Status, u32)) -> bool {
    (new.0.rank(), new.1) > (old.0.rank(), old.1)
}

/// The duplicate-result rule, for the in-memory and the spilled join alike: per id, the
/// result kept (see [`better`]), and the ones that lost.
///
/// Results joined by content ([`crate::content`]) are never duplicates: the results of one
/// content key are all kept, chained in result order, and requests of that key take them in
/// turn ([`FirstLines::claim_content`]).
#[derive(Default)]
pub(crate) struct ResultTable {
    table: HashTable<u32>,
    losers: Vec<u32>,
    /// Content chains, circular: the table holds a chain's last result, whose `next` is the
    /// first. Grown only as far as the last chained result.
    next: Vec<u32>,
}

/// No result.
const END: u32 = u32::MAX;

impl ResultTable {
    pub fn with_capacity(n: usize) -> Self {
        ResultTable {
            table: HashTable::with_capacity(n),
            losers: Vec::new(),
            next: Vec::new(),
        }
    }

    pub fn footprint(&self) -> u64 {
        (self.table.capacity() * 5 + self.losers.capacity() * 4 + self.next.capacity() * 4) as u64
    }

    fn next_of(&self, i: u32) -> Option<u32> {
        self.next.get(i as usize).copied().filter(|&n| n != END)
    }

    fn set_next(&mut self, i: u32, n: u32) {
        if self.next.len() <= i as usize {
            self.next.resize(i as usize + 1, END);
        }
        self.next[i as usize] = n;
    }

    /// The result after `i` in the content chain that starts at `head`, if any.
    pub fn chain_next(&self, i: u32, head: u32) -> Option<u32> {
        self.next_of(i).filter(|&n| n != head)
    }

    /// Adds result `i` (results are added in result order).
    pub fn insert<K: Keys>(&mut self, i: u32, k: &K) {
        let hash = k.hash(i);
        let id = k.id(i);
        match self.table.find_mut(hash, |&j| k.id(j) == id) {
            Some(slot) if crate::content::is_content_key(id) => {
                let tail = *slot;
                *slot = i;
                let head = self.next_of(tail).unwrap_or(tail);
                self.set_next(tail, i);
                self.set_next(i, head);
            }
            Some(slot) => {
                if better((k.status(i), k.file(i)), (k.status(*slot), k.file(*slot))) {
                    self.losers.push(*slot);
                    *slot = i;
                } else {
                    self.losers.push(i);
                }
            }
            None => {
                self.table.insert_unique(hash, i, |&j| k.hash(j));
            }
        }
    }

    /// The result kept for `id`; for a content key, the first of its chain.
    pub fn find<K: Keys>(&self, hash: u64, id: &[u8], k: &K) -> Option<u32> {
        let kept = self.table.find(hash, |&j| k.id(j) == id).copied()?;
        Some(self.next_of(kept).unwrap_or(kept))
    }

    /// (loser, kept) for every result that lost, in result order.
    pub fn losers<K: Keys>(&self, k: &K) -> Vec<(u32, u32)> {
        let mut l = self.losers.clone();
        l.sort_unstable();
        l.into_iter()
            .map(|i| {
                let w = self
                    .find(k.hash(i), k.id(i), k)
                    .expect("a loser's id is in the table");
                (i, w)
            })
            .collect()
    }
}

/// The duplicate-request rule, for the in-memory and the spilled join alike: the first
/// request line (in request order) that names an id takes its result; a later line with
/// that id gets none (status missing, problem `duplicate_id`) and points at the first.
pub(crate) struct FirstLines {
    /// Per result: the global line of the request that took it, or NONE.
    by_result: Vec<u64>,
    /// Ids of requests that no result names, with their first line.
    others: IdSet,
    /// Per content chain of several results (by its first): the next result to take, END
    /// when all are taken.
    cursor: std::collections::HashMap<u32, u32>,
}

impl FirstLines {
    pub fn new(results: usize) -> Self {
        FirstLines {
            by_result: vec![NONE; results],
            others: IdSet::default(),
            cursor: std::collections::HashMap::new(),
        }
    }

    /// Request line `gidx`, joined by content to the chain of results that starts at `head`
    /// in `table`: takes the chain's first result no earlier request took (identical requests
    /// are matched in order), `None` when every one is taken.
    pub fn claim_content(&mut self, head: u32, table: &ResultTable, gidx: u64) -> Option<u32> {
        let at = match self.cursor.get(&head) {
            Some(&c) => c,
            None if self.by_result[head as usize] == NONE => head,
            None => return None,
        };
        if at == END {
            return None;
        }
        self.by_result[at as usize] = gidx;
        let next = table.chain_next(at, head);
        if next.is_some() || at != head {
            self.cursor.insert(head, next.unwrap_or(END));
        }
        Some(at)
    }

    /// The first line of the request's id when an earlier line named it; else records
    /// `gidx` as that first line. `result` is the result kept for the id, if any.
    pub fn first(&mut self, result: Option<u32>, hash: u64, id: &[u8], gidx: u64) -> Option<u64> {
        match result {
            Some(r) => {
                let c = &mut self.by_result[r as usize];
                if *c == NONE {
                    *c = gidx;
                    None
                } else {
                    Some(*c)
                }
            }
            None => self.others.first_or_insert(hash, id, gidx),
        }
    }

    /// Whether a request took result `r`.
    pub fn claimed(&self, r: u64) -> bool {
        self.by_result[r as usize] != NONE
    }

    /// Bytes of the ids of requests without a result (and of the content chains' places).
    pub fn others_footprint(&self) -> u64 {
        self.others.footprint() + (self.cursor.capacity() * 16) as u64
    }
}

/// One result partition's id records, as the spilled join's result pass wrote them.
struct PartRecs {
    data: Vec<u8>,
    /// (result index, hash, status, id start in `data`, id length, result file).
    recs: Vec<(u64, u64, u8, usize, usize, u32)>,
}

impl Keys for PartRecs {
    fn id(&self, i: u32) -> &[u8] {
        let r = &self.recs[i as usize];
        &self.data[r.3..r.3 + r.4]
    }
    fn hash(&self, i: u32) -> u64 {
        self.recs[i as usize].1
    }
    fn status(&self, i: u32) -> Status {
        Status::from_u8(self.recs[i as usize].2)
    }
    fn file(&self, i: u32) -> u32 {
        self.recs[i as usize].5
    }
}

fn read_part(path: &PathBuf) -> Result<PartRecs, JoinError> {
    let data = std::fs::read(path).map_err(io_err(path))?;
    let mut recs = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let idx = u64::from_le_bytes(data[at..at + 8].try_into().expect("8"));
        let hash = u64::from_le_bytes(data[at + 8..at + 16].try_into().expect("8"));
        let status = data[at + 16];
        let file = u32::from_le_bytes(data[at + 17..at + 21].try_into().expect("4"));
        let len = u32::from_le_bytes(data[at + 21..at + 25].try_into().expect("4")) as usize;
        recs.push((idx, hash, status, at + 25, len, file));
        at += 25 + len;
    }
    Ok(PartRecs { data, recs })
}

/// What probing one partition decided: match records by global request line, results that
/// lost to another (loser, kept), and results taken.
struct PartOut {
    matches: Vec<(u64, Match)>,
    losers: Vec<(u64, u64)>,
    claimed: Vec<u64>,
}

/// Probes one partition: its results in a [`ResultTable`], its requests in order through
/// [`FirstLines`]. The request ids are held in passes that each take at most `share` bytes;
/// `sink` gets what each pass decided (the losers with the first).
fn probe_part(
    res_path: &PathBuf,
    req_path: &PathBuf,
    share: u64,
    sink: &mut dyn FnMut(PartOut) -> Result<(), JoinError>,
) -> Result<(), JoinError> {
    let part = read_part(res_path)?;
    let mut table = ResultTable::with_capacity(part.recs.len());
    for i in 0..part.recs.len() as u32 {
        table.insert(i, &part);
    }
    let mut losers: Vec<(u64, u64)> = table
        .losers(&part)
        .into_iter()
        .map(|(l, w)| (part.recs[l as usize].0, part.recs[w as usize].0))
        .collect();
    let req_len = std::fs::metadata(req_path).map_err(io_err(req_path))?.len();
    let passes = req_len.div_ceil(share).max(1);
    for pass in 0..passes {
        let mut out = PartOut {
            matches: Vec::new(),
            losers: std::mem::take(&mut losers),
            claimed: Vec::new(),
        };
        let mut first = FirstLines::new(part.recs.len());
        let mut r =
            BufReader::with_capacity(256 << 10, File::open(req_path).map_err(io_err(req_path))?);
        let mut head = [0u8; 20];
        let mut idbuf = Vec::new();
        loop {
            match r.read_exact(&mut head) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(io_err(req_path)(e)),
            }
            let g = u64::from_le_bytes(head[0..8].try_into().expect("8"));
            let hash = u64::from_le_bytes(head[8..16].try_into().expect("8"));
            let len = u32::from_le_bytes(head[16..20].try_into().expect("4")) as usize;
            idbuf.resize(len, 0);
            r.read_exact(&mut idbuf).map_err(io_err(req_path))?;
            if passes > 1 && hash % passes != pass {
                continue;
            }
            let found = table.find(hash, &idbuf, &part);
            if crate::content::is_content_key(&idbuf) {
                let Some(c) = found.and_then(|h| first.claim_content(h, &table, g)) else {
                    continue;
                };
                let (ridx, _, status, _, _, _) = part.recs[c as usize];
                out.claimed.push(ridx);
                out.matches.push((g, content_match(ridx, status)));
                continue;
            }
            if let Some(f) = first.first(found, hash, &idbuf, g) {
                out.matches.push((g, duplicate_match(f)));
                continue;
            }
            let Some(w) = found else { continue };
            let (ridx, _, status, _, _, _) = part.recs[w as usize];
            out.claimed.push(ridx);
            out.matches.push((
                g,
                Match {
                    result: ridx,
                    other: NONE,
                    status,
                    problem: 0,
                    id_rel: 0,
                    id_len: 0,
                    by_content: false,
                },
            ));
        }
        sink(out)?;
    }
    Ok(())
}

/// The match record of a request joined by content to result `ridx` of `status`.
fn content_match(ridx: u64, status: u8) -> Match {
    Match {
        result: ridx,
        other: NONE,
        status,
        problem: 0,
        id_rel: 0,
        id_len: 0,
        by_content: true,
    }
}

/// The match record of a request whose id the line `first` already used.
pub(crate) fn duplicate_match(first: u64) -> Match {
    Match {
        result: NONE,
        other: first,
        status: Status::Missing.to_u8(),
        problem: Problem::DuplicateId.to_u8(),
        id_rel: 0,
        id_len: 0,
        by_content: false,
    }
}

/// Probes every partition, decides each request's result in `table`, points each losing
/// result at the kept one in the entries file, and marks the results taken in `claimed`.
///
/// Partitions are probed in parallel, in groups of as many as half the budget holds at once
/// (each partition's result ids and request ids, and what probing them holds); a partition
/// whose request ids exceed `share` is probed alone, in passes of `share` bytes.
pub(crate) fn probe_partitions(
    res_parts: &[(File, PathBuf)],
    req_parts: &[(File, PathBuf)],
    entries: &(File, PathBuf),
    table: &mut MatchTable,
    claimed: &mut [u64],
    budget: u64,
) -> Result<(), JoinError> {
    // (At least 1 MiB a pass: tiny test budgets must not read a partition per id.)
    let share = (budget / 4).max(1 << 20);
    let mut apply = |o: PartOut| -> Result<(), JoinError> {
        for (l, w) in o.losers {
            write_at(&entries.0, &entries.1, other_offset(l), &w.to_le_bytes())?;
        }
        for r in o.claimed {
            claimed[(r / 64) as usize] |= 1 << (r % 64);
        }
        for (g, m) in o.matches {
            table.set_result(g, &m)?;
        }
        Ok(())
    };
    let size = |f: &(File, PathBuf)| f.0.metadata().map(|m| m.len()).unwrap_or(0);
    let threads = rayon::current_num_threads().max(1);
    let mut p = 0;
    while p < res_parts.len() {
        if size(&req_parts[p]) > share {
            probe_part(&res_parts[p].1, &req_parts[p].1, share, &mut apply)?;
            p += 1;
            continue;
        }
        let mut n = 0;
        let mut held = 0u64;
        while p + n < res_parts.len() && n < threads {
            let req = size(&req_parts[p + n]);
            if req > share {
                break;
            }
            let need = (size(&res_parts[p + n]) + req) * 3;
            if n > 0 && held + need > budget / 2 {
                break;
            }
            held += need;
            n += 1;
        }
        let outs = (p..p + n)
            .into_par_iter()
            .map(|q| {
                let mut got = Vec::new();
                probe_part(&res_parts[q].1, &req_parts[q].1, share, &mut |o| {
                    got.push(o);
                    Ok(())
                })
                .map(|()| got)
            })
            .collect::<Vec<_>>();
        for o in outs {
            for part in o? {
                apply(part)?;
            }
        }
        p += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::hash_id;

    struct K(Vec<(&'static [u8], Status, u32)>);
    impl Keys for K {
        fn id(&self, i: u32) -> &[u8] {
            self.0[i as usize].0
        }
        fn hash(&self, i: u32) -> u64 {
            hash_id(self.0[i as usize].0)
        }
        fn status(&self, i: u32) -> Status {
            self.0[i as usize].1
        }
        fn file(&self, i: u32) -> u32 {
            self.0[i as usize].2
        }
    }

    #[test]
    fn the_best_status_wins_then_the_later_file_then_the_earlier_line() {
        let k = K(vec![
            (b"a", Status::Errored, 0),
            (b"b", Status::Expired, 0),
            (b"a", Status::Succeeded, 0),
            (b"a", Status::Succeeded, 0),
            (b"b", Status::Errored, 0),
            (b"c", Status::Truncated, 0),
            (b"c", Status::Refused, 1),
            (b"c", Status::Truncated, 1),
            (b"d", Status::Succeeded, 0),
            (b"d", Status::Truncated, 1),
            (b"e", Status::Canceled, 0),
            (b"e", Status::Expired, 1),
        ]);
        let mut t = ResultTable::default();
        for i in 0..k.0.len() as u32 {
            t.insert(i, &k);
        }
        assert_eq!(t.find(hash_id(b"a"), b"a", &k), Some(2));
        assert_eq!(t.find(hash_id(b"b"), b"b", &k), Some(4));
        assert_eq!(t.find(hash_id(b"c"), b"c", &k), Some(7));
        assert_eq!(t.find(hash_id(b"d"), b"d", &k), Some(8));
        assert_eq!(t.find(hash_id(b"e"), b"e", &k), Some(11));
        assert_eq!(t.find(hash_id(b"x"), b"x", &k), None);
        assert_eq!(
            t.losers(&k),
            vec![(0, 2), (1, 4), (3, 2), (5, 7), (6, 7), (9, 8), (10, 11)]
        );
    }

    #[test]
    fn requests_joined_by_content_take_their_results_in_order() {
        let a = crate::content::content_key_of(b"{\"n\":1}");
        let b = crate::content::content_key_of(b"{\"n\":2}");
        let k = K(vec![
            (Box::leak(Box::new(a)), Status::Errored, 0),
            (Box::leak(Box::new(b)), Status::Succeeded, 0),
            (Box::leak(Box::new(a)), Status::Succeeded, 0),
            (Box::leak(Box::new(a)), Status::Truncated, 1),
        ]);
        let mut t = ResultTable::default();
        for i in 0..k.0.len() as u32 {
            t.insert(i, &k);
        }
        // Never duplicates: every result is kept, the first of a key found.
        assert!(t.losers(&k).is_empty());
        assert_eq!(t.find(hash_id(&a), &a, &k), Some(0));
        assert_eq!(t.find(hash_id(&b), &b, &k), Some(1));
        let mut f = FirstLines::new(4);
        let claims: Vec<_> = [(0, 10), (0, 11), (1, 12), (0, 13), (1, 14), (0, 15)]
            .into_iter()
            .map(|(head, g)| f.claim_content(head, &t, g))
            .collect();
        assert_eq!(claims, [Some(0), Some(2), Some(1), Some(3), None, None]);
        assert!((0..4).all(|r| f.claimed(r)));
    }

    #[test]
    fn the_first_request_line_of_an_id_takes_it() {
        let mut f = FirstLines::new(2);
        assert_eq!(f.first(Some(1), 0, b"r", 5), None);
        assert_eq!(f.first(Some(1), 0, b"r", 9), Some(5));
        let h = hash_id(b"x");
        assert_eq!(f.first(None, h, b"x", 3), None);
        assert_eq!(f.first(None, h, b"x", 7), Some(3));
        assert!(f.claimed(1));
        assert!(!f.claimed(0));
        assert!(f.others_footprint() > 0);
    }
}
