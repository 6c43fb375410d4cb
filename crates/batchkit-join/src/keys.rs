//! The join as the tasks of a cluster engine run it (`batchkit.ray`, `batchkit.spark`), with
//! only compact key rows shuffled and every input read where it lies:
//!
//! 1. one task per input file reads it once and deals its **key rows** to the parts of the
//!    id space (`--partition`'s hash of the decoded id, or of a Vertex row's content key):
//!    [`request_keys`] (file, line, key) and [`result_keys`] (file, line, status, key), the
//!    latter with the file's share of the summary ([`ResultSide`]: results, unjoinable,
//!    usage per model);
//! 2. one task per part ([`decide`]) applies the join's rules to its rows: the result kept
//!    for each id (the better status, among equals the later file, within a file the earlier
//!    line), the first request line of each id (across request files), Vertex rows by content
//!    in order. It says, per result line, where the line goes ([`Dest`]: the request file
//!    whose line took it, orphan or duplicate), and per request file, the ids an earlier
//!    file used first;
//! 3. one task per result file ([`deal`]) reads it again and writes each line where it goes:
//!    into a small results file per request file, or into the result file's orphans and
//!    duplicates (lines without a usable id are orphans, as in one join);
//! 4. one task per request file runs the ordinary [`crate::join`] on its requests and the
//!    results dealt to it, told the ids earlier files used ([`crate::JoinOptions::earlier`]).
//!
//! Its merged, retry and rejects lines are exactly the lines one join over all the files
//! writes for that file's lines, and the orphans and duplicates of each result file those
//! one join writes for that file's lines, in order. The summary is the sum of the request
//! files' request-side counts and the result files' [`ResultSide`], with [`Decided`]'s
//! counts ([`summary`]).
//!
//! A results document (OpenRouter's inline results) is read as the join reads it, as JSON Lines
//! of its items, by steps 1 and 3 alike.
//!
//! A key row is `flags u8 | status u8 | file u32 | line u64 | key length u32 | key`, little
//! endian (flags bit 0: a content key): 18 bytes and the decoded id.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use batchkit_io::part::Part;
use batchkit_io::staging::StagedDir;
use batchkit_io::{Chunk, Input, ReadOptions};
use serde::{Deserialize, Serialize};

use crate::parse::{request_id, RequestId, Tally};
use crate::partition::{parse_result_chunk, ResItemKey};
use crate::{JoinError, JoinSummary, Status, Usage};

/// One key row, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    pub content: bool,
    pub status: u8,
    pub file: u32,
    pub line: u64,
    pub key: Vec<u8>,
}

const HEAD: usize = 18;

fn push_row(out: &mut Vec<u8>, content: bool, status: u8, file: u32, line: u64, key: &[u8]) {
    out.push(u8::from(content));
    out.push(status);
    out.extend_from_slice(&file.to_le_bytes());
    out.extend_from_slice(&line.to_le_bytes());
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(key);
}

/// The rows of a blob of key rows; `Err` names what is wrong with a cut or foreign blob.
pub fn rows(blob: &[u8]) -> Result<Vec<KeyRow>, String> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < blob.len() {
        if blob.len() - at < HEAD {
            return Err(format!("key rows cut at byte {at}"));
        }
        let h = &blob[at..at + HEAD];
        let len = u32::from_le_bytes(h[14..18].try_into().expect("4")) as usize;
        if blob.len() - at - HEAD < len {
            return Err(format!("key rows cut at byte {at}"));
        }
        out.push(KeyRow {
            content: h[0] & 1 == 1,
            status: h[1],
            file: u32::from_le_bytes(h[2..6].try_into().expect("4")),
            line: u64::from_le_bytes(h[6..14].try_into().expect("8")),
            key: blob[at + HEAD..at + HEAD + len].to_vec(),
        });
        at += HEAD + len;
    }
    Ok(out)
}

fn part_of(key: &[u8], n: u32) -> usize {
    Part::of(key, n) as usize
}

/// The key rows of request file number `file` (one blob per part of `n`): every line with an
/// id or a content key. Lines without one need no other file and stay with their file's task.
pub fn request_keys(
    input: &Input,
    file: u32,
    n: u32,
    read: &ReadOptions,
) -> Result<Vec<Vec<u8>>, JoinError> {
    let n = n.max(1);
    let mut parts = vec![Vec::new(); n as usize];
    batchkit_io::run(
        input,
        read,
        |chunk: &Chunk| {
            let mut rows: Vec<(usize, Vec<u8>)> = Vec::new();
            if chunk.oversized.is_some() {
                return rows;
            }
            for line in chunk.lines() {
                if line.is_blank() {
                    continue;
                }
                let mut b = Vec::new();
                let part = match request_id(line.content) {
                    RequestId::Id { id, .. } => {
                        push_row(&mut b, false, 0, file, line.number, id.as_bytes());
                        part_of(id.as_bytes(), n)
                    }
                    RequestId::Content(k) => {
                        push_row(&mut b, true, 0, file, line.number, &k[..]);
                        part_of(&k[..], n)
                    }
                    _ => continue,
                };
                rows.push((part, b));
            }
            rows
        },
        |_, rows: Vec<(usize, Vec<u8>)>| -> Result<bool, JoinError> {
            for (p, b) in rows {
                parts[p].extend_from_slice(&b);
            }
            Ok(true)
        },
    )?;
    Ok(parts)
}

/// A chunk's result key rows (part, row), its result lines, those without a usable id, and
/// its usage per model.
type ChunkKeys = (Vec<(usize, Vec<u8>)>, u64, u64, BTreeMap<String, Tally>);

/// A result file's share of the summary: its result lines, those without a usable id, and
/// the usage they reported, per model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultSide {
    pub results: u64,
    pub unjoinable: u64,
    /// (model, usage, stop reasons).
    pub models: Vec<(String, Usage, BTreeMap<String, u64>)>,
}

/// The key rows of result file number `file` (one blob per part of `n`), read through
/// `id_map` (`--id-map`) as the join reads it, and the file's [`ResultSide`].
pub fn result_keys(
    input: &Input,
    file: u32,
    n: u32,
    id_map: Option<&std::path::Path>,
    read: &ReadOptions,
) -> Result<(Vec<Vec<u8>>, ResultSide), JoinError> {
    let n = n.max(1);
    let id_map = id_map
        .map(|p| crate::engine::read_id_map(p, read.budget.tables()))
        .transpose()?;
    let id_map = id_map.as_ref();
    let (_dir, input) = as_lines(input)?;
    let input = &input;
    let mut parts = vec![Vec::new(); n as usize];
    let mut side = ResultSide::default();
    let mut models: BTreeMap<String, Tally> = BTreeMap::new();
    batchkit_io::run(
        input,
        read,
        |chunk: &Chunk| {
            let rc = parse_result_chunk(chunk, id_map, Part::WHOLE);
            let mut rows: Vec<(usize, Vec<u8>)> = Vec::new();
            let mut items = 0u64;
            let mut unjoinable = 0u64;
            for it in rc.items.iter() {
                items += 1;
                match it.key(chunk) {
                    ResItemKey::Joinable(key) => {
                        let content = crate::content::is_content_key(key);
                        let mut b = Vec::new();
                        push_row(&mut b, content, it.status.to_u8(), file, it.line, key);
                        rows.push((part_of(key, n), b));
                    }
                    ResItemKey::Unjoinable => unjoinable += 1,
                }
            }
            (rows, items, unjoinable, rc.models)
        },
        |_, (rows, items, unjoinable, m): ChunkKeys| -> Result<bool, JoinError> {
            for (p, b) in rows {
                parts[p].extend_from_slice(&b);
            }
            side.results += items;
            side.unjoinable += unjoinable;
            for (name, t) in m {
                crate::engine::add_model(&mut models, name, &t);
            }
            Ok(true)
        },
    )?;
    side.models = models
        .into_iter()
        .map(|(m, t)| (m, t.usage, t.stops))
        .collect();
    Ok((parts, side))
}

/// A result input as the join reads it: a results document (OpenRouter's inline results,
/// [`crate::document`]) as JSON Lines of its items in a temporary directory, which lives as
/// long as the returned guard; any other input as it is.
fn as_lines(input: &Input) -> Result<(Option<StagedDir>, Input), JoinError> {
    let (dir, docs) = crate::document::expand(std::slice::from_ref(input), &std::env::temp_dir())?;
    let input = docs
        .and_then(|v| v.into_iter().next())
        .unwrap_or_else(|| input.clone());
    Ok((dir, input))
}

/// Where a result line goes ([`decide`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    /// To the request file of this number: a line of it took the result.
    Request(u32),
    /// To the orphans: no request took it.
    Orphan,
    /// To the duplicates (or the orphans when there is no duplicates file): another result
    /// for its id was kept.
    Duplicate,
}

impl Dest {
    fn code(self) -> u32 {
        match self {
            Dest::Request(f) => f,
            Dest::Orphan => u32::MAX,
            Dest::Duplicate => u32::MAX - 1,
        }
    }

    fn from_code(c: u32) -> Dest {
        match c {
            u32::MAX => Dest::Orphan,
            c if c == u32::MAX - 1 => Dest::Duplicate,
            f => Dest::Request(f),
        }
    }
}

/// What one part decided.
#[derive(Debug, Default)]
pub struct Decided {
    /// Per result file (by number): `line u64 | dest u32` records ([`dests`] reads them).
    pub dests: BTreeMap<u32, Vec<u8>>,
    /// Per request file (by number): the ids an earlier request file used first, as
    /// `(id, file number, line)`.
    pub earlier: BTreeMap<u32, Vec<(Vec<u8>, u32, u64)>>,
    pub joined: u64,
    pub matched_by_content: u64,
    pub orphans: u64,
    pub duplicates: u64,
}

/// The records of a blob of [`Decided::dests`], in line order.
pub fn dests(blob: &[u8]) -> Result<Vec<(u64, Dest)>, String> {
    if !blob.chunks_exact(12).remainder().is_empty() {
        return Err("destination records cut".into());
    }
    let mut v: Vec<(u64, Dest)> = blob
        .chunks_exact(12)
        .map(|c| {
            (
                u64::from_le_bytes(c[0..8].try_into().expect("8")),
                Dest::from_code(u32::from_le_bytes(c[8..12].try_into().expect("4"))),
            )
        })
        .collect();
    v.sort_unstable_by_key(|d| d.0);
    Ok(v)
}

/// The join's rules over one part's key rows (request rows and result rows from every file,
/// in any order); see the module's documentation.
pub fn decide(requests: Vec<KeyRow>, results: Vec<KeyRow>) -> Decided {
    let mut requests = requests;
    let mut results = results;
    requests.sort_unstable_by_key(|r| (r.file, r.line));
    results.sort_unstable_by_key(|r| (r.file, r.line));
    let mut d = Decided::default();
    let mut dest: Vec<Option<Dest>> = vec![None; results.len()];
    // Per id: the kept result. Per content key: its results in order, and the next to take.
    let mut kept: HashMap<&[u8], usize> = HashMap::new();
    let mut chains: HashMap<&[u8], (Vec<usize>, usize)> = HashMap::new();
    for (i, r) in results.iter().enumerate() {
        if r.content {
            chains.entry(&r.key).or_default().0.push(i);
            continue;
        }
        match kept.get_mut(&r.key[..]) {
            Some(k) => {
                let old = &results[*k];
                let new = (Status::from_u8(r.status), r.file);
                if crate::probe::better(new, (Status::from_u8(old.status), old.file)) {
                    dest[*k] = Some(Dest::Duplicate);
                    *k = i;
                } else {
                    dest[i] = Some(Dest::Duplicate);
                }
            }
            None => {
                kept.insert(&r.key, i);
            }
        }
    }
    let mut first: HashMap<&[u8], (u32, u64)> = HashMap::new();
    for q in &requests {
        if q.content {
            if let Some((chain, next)) = chains.get_mut(&q.key[..]) {
                if let Some(&i) = chain.get(*next) {
                    *next += 1;
                    dest[i] = Some(Dest::Request(q.file));
                    d.joined += 1;
                    d.matched_by_content += 1;
                }
            }
            continue;
        }
        match first.get(&q.key[..]) {
            Some(&(f, line)) => {
                if f != q.file {
                    let e = d.earlier.entry(q.file).or_default();
                    if !e.iter().any(|(k, _, _)| k == &q.key) {
                        e.push((q.key.clone(), f, line));
                    }
                }
            }
            None => {
                first.insert(&q.key, (q.file, q.line));
                if let Some(&i) = kept.get(&q.key[..]) {
                    dest[i] = Some(Dest::Request(q.file));
                    d.joined += 1;
                }
            }
        }
    }
    for (r, to) in results.iter().zip(dest) {
        let to = to.unwrap_or(Dest::Orphan);
        match to {
            Dest::Orphan => d.orphans += 1,
            Dest::Duplicate => d.duplicates += 1,
            Dest::Request(_) => {}
        }
        let b = d.dests.entry(r.file).or_default();
        b.extend_from_slice(&r.line.to_le_bytes());
        b.extend_from_slice(&to.code().to_le_bytes());
    }
    d
}

/// Writes each line of result file `input` where [`decide`] sent it (`dests`, the records of
/// every part for this file): to `to_request[f]` for request file `f` (a line 1's BOM
/// removed), to `orphans`, or to `duplicates` (else `orphans`). A line with no record is one
/// without a usable id: an orphan, as in one join. Blank lines and lines too long to hold are
/// written nowhere. Returns the lines written per request file.
pub fn deal(
    input: &Input,
    dests: &[(u64, Dest)],
    to_request: &[Option<PathBuf>],
    orphans: Option<&PathBuf>,
    duplicates: Option<&PathBuf>,
    read: &ReadOptions,
) -> Result<Vec<u64>, JoinError> {
    let open = |p: &PathBuf| -> Result<BufWriter<File>, JoinError> {
        File::create(p)
            .map(|f| BufWriter::with_capacity(64 << 10, f))
            .map_err(crate::store::io_err(p))
    };
    let (_dir, input) = as_lines(input)?;
    let input = &input;
    let mut reqs: Vec<Option<BufWriter<File>>> = to_request.iter().map(|_| None).collect();
    let mut orph = orphans.map(open).transpose()?;
    let mut dups = duplicates.map(open).transpose()?;
    let mut counts = vec![0u64; to_request.len()];
    let mut at = 0usize;
    use crate::store::io_err as err;
    batchkit_io::run(
        input,
        read,
        |_: &Chunk| (),
        |chunk: &Chunk, ()| -> Result<bool, JoinError> {
            if chunk.oversized.is_some() {
                while at < dests.len() && dests[at].0 == chunk.first_line {
                    at += 1;
                }
                return Ok(true);
            }
            for line in chunk.lines() {
                if line.is_blank() {
                    continue;
                }
                while at < dests.len() && dests[at].0 < line.number {
                    at += 1;
                }
                let to = match dests.get(at) {
                    Some(&(l, to)) if l == line.number => to,
                    _ => Dest::Orphan,
                };
                let mut raw = line.raw;
                let (w, path) = match to {
                    Dest::Request(f) => {
                        let f = f as usize;
                        let Some(Some(p)) = to_request.get(f) else {
                            return Err(JoinError::Usage(format!(
                                "{}:{}: no results file for request file {f}",
                                input.name, line.number
                            )));
                        };
                        if reqs[f].is_none() {
                            reqs[f] = Some(open(p)?);
                        }
                        counts[f] += 1;
                        if line.bom {
                            raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
                        }
                        (reqs[f].as_mut(), p)
                    }
                    Dest::Duplicate if dups.is_some() => {
                        (dups.as_mut(), duplicates.expect("a duplicates file"))
                    }
                    Dest::Orphan | Dest::Duplicate => match orphans {
                        Some(p) => (orph.as_mut(), p),
                        None => continue,
                    },
                };
                let w = w.expect("opened");
                w.write_all(raw).map_err(err(path))?;
                if !raw.ends_with(b"\n") {
                    w.write_all(b"\n").map_err(err(path))?;
                }
            }
            Ok(true)
        },
    )?;
    let flush = |w: &mut Option<BufWriter<File>>, p: Option<&PathBuf>| -> Result<(), JoinError> {
        match (w, p) {
            (Some(w), Some(p)) => w.flush().map_err(err(p)),
            _ => Ok(()),
        }
    };
    for (w, p) in reqs.iter_mut().zip(to_request) {
        flush(w, p.as_ref())?;
    }
    flush(&mut orph, orphans)?;
    flush(&mut dups, duplicates)?;
    Ok(counts)
}

/// The result side of the summary of one join over all the files: the result files'
/// [`ResultSide`]s and the parts' [`Decided`] counts, priced at the embedded prices. The
/// request-side counts are the sums of the request files' runs.
pub fn summary(sides: &[ResultSide], parts: &[(u64, u64, u64, u64)]) -> JoinSummary {
    let mut s = JoinSummary::default();
    let mut models: BTreeMap<String, Tally> = BTreeMap::new();
    for side in sides {
        s.results += side.results;
        s.unjoinable += side.unjoinable;
        for (name, usage, stops) in &side.models {
            s.usage.add(usage);
            let t = Tally {
                usage: *usage,
                stops: stops.clone(),
            };
            crate::engine::add_model(&mut models, name.clone(), &t);
        }
    }
    for &(joined, by_content, orphans, duplicates) in parts {
        s.joined += joined;
        s.matched_by_content += by_content;
        s.orphans += orphans;
        s.duplicates += duplicates;
    }
    s.models = crate::engine::model_usages(models);
    s.price(&crate::default_prices());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(content: bool, status: Status, file: u32, line: u64, key: &str) -> KeyRow {
        KeyRow {
            content,
            status: status.to_u8(),
            file,
            line,
            key: key.as_bytes().to_vec(),
        }
    }

    fn blob(rs: &[KeyRow]) -> Vec<u8> {
        let mut b = Vec::new();
        for r in rs {
            push_row(&mut b, r.content, r.status, r.file, r.line, &r.key);
        }
        b
    }

    #[test]
    fn rows_read_back_and_a_cut_blob_is_named() {
        let rs = vec![
            row(false, Status::Succeeded, 3, 7, "a"),
            row(true, Status::Errored, 0, 1, "ééé"),
        ];
        let b = blob(&rs);
        assert_eq!(rows(&b).unwrap(), rs);
        for cut in [1, HEAD, b.len() - 1] {
            assert!(rows(&b[..cut]).unwrap_err().contains("cut"), "{cut}");
        }
        assert!(dests(&[0u8; 13]).is_err());
    }

    fn dest_of(d: &Decided, file: u32, line: u64) -> Dest {
        let all = dests(&d.dests[&file]).unwrap();
        all.into_iter().find(|x| x.0 == line).unwrap().1
    }

    #[test]
    fn the_rules_of_one_join_over_every_file() {
        let q = vec![
            row(false, Status::Missing, 0, 1, "a"),
            row(false, Status::Missing, 1, 4, "a"),
            row(false, Status::Missing, 1, 5, "b"),
            row(false, Status::Missing, 1, 6, "b"),
            row(true, Status::Missing, 0, 2, "k"),
            row(true, Status::Missing, 1, 1, "k"),
            row(false, Status::Missing, 2, 9, "c"),
        ];
        let r = vec![
            // "a": the better status wins, whatever the file.
            row(false, Status::Succeeded, 0, 1, "a"),
            row(false, Status::Errored, 1, 1, "a"),
            // "b": equal statuses: the later file wins; within a file, the earlier line.
            row(false, Status::Errored, 0, 2, "b"),
            row(false, Status::Errored, 1, 2, "b"),
            row(false, Status::Errored, 1, 3, "b"),
            // "k" by content: in order, to the requests in order; one left over.
            row(true, Status::Succeeded, 0, 5, "k"),
            row(true, Status::Succeeded, 1, 6, "k"),
            row(true, Status::Succeeded, 1, 7, "k"),
            // No request.
            row(false, Status::Succeeded, 0, 9, "z"),
        ];
        let d = decide(q, r);
        assert_eq!(dest_of(&d, 0, 1), Dest::Request(0));
        assert_eq!(dest_of(&d, 1, 1), Dest::Duplicate);
        assert_eq!(dest_of(&d, 0, 2), Dest::Duplicate);
        assert_eq!(dest_of(&d, 1, 2), Dest::Request(1));
        assert_eq!(dest_of(&d, 1, 3), Dest::Duplicate);
        assert_eq!(dest_of(&d, 0, 5), Dest::Request(0));
        assert_eq!(dest_of(&d, 1, 6), Dest::Request(1));
        assert_eq!(dest_of(&d, 1, 7), Dest::Orphan);
        assert_eq!(dest_of(&d, 0, 9), Dest::Orphan);
        // "a" was used first by file 0, line 1: file 1 is told once; "b"'s second line is a
        // duplicate within file 1, which its own join finds.
        assert_eq!(d.earlier.len(), 1);
        assert_eq!(d.earlier[&1], vec![(b"a".to_vec(), 0, 1)]);
        assert_eq!(
            (d.joined, d.matched_by_content, d.orphans, d.duplicates),
            (4, 2, 2, 3)
        );
    }
}
