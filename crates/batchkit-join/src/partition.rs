//! The first passes: results read, parsed and stored (in memory, or spilled to a payload
//! file, an entries file and id partitions by hash), and, for the spilled join, the requests'
//! first pass (their ids partitioned by the same hash, and the match table's base).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::PathBuf;

use batchkit_io::part::Part;
use batchkit_io::{Chunk, Input, Source};

use crate::engine::{results_hint, run_input, Ctx};
use crate::parse::{request_id, result_info, RequestId, Tally, Text, Unjoinable};
use crate::render::{result_said, Said};
use crate::store::{
    hash_id, io_err, Entry, Match, MatchTable, MemStore, Partitions, SpillFile, BLANK, ENTRY_SIZE,
    MATCH_SIZE, NONE,
};
use crate::{Event, EventSink, JoinError, Loc, Problem, Side, Status};

// ---------------------------------------------------------------------------------------------
// (a) results

pub(crate) enum Results {
    Mem(MemStore),
    Spill(Spill),
}

pub(crate) struct Spill {
    pub dir: batchkit_io::staging::StagedDir,
    /// Raw lines and extras, or only the extras when the raw lines are read back from the
    /// result inputs.
    pub payload: SpillFile,
    pub entries: SpillFile,
    /// Joinable results' id records by hash, every partition's file created.
    pub parts: Partitions,
    pub bits: u32,
    pub count: u64,
}

/// Bytes that are either a range of the chunk or owned.
enum Bytes {
    Chunk(usize, usize),
    Owned(Vec<u8>),
}

pub(crate) struct PRes {
    pub line: u64,
    byte: u64,
    raw: (usize, usize),
    content_rel: usize,
    content_len: usize,
    id: Option<Bytes>,
    text: Option<Bytes>,
    /// The stop reason's literal: start in the chunk, length.
    stop: Option<(usize, usize)>,
    pub status: Status,
    problem: Option<(Problem, Said)>,
    hash: u64,
    oversized: bool,
}

/// What a parsed result line joins by ([`crate::keys`]).
pub(crate) enum ResItemKey<'a> {
    /// Its decoded id, or its content key: the key of a result the join stores as joinable.
    Joinable(&'a [u8]),
    /// No usable id (or too long to hold).
    Unjoinable,
}

impl PRes {
    /// What the line joins by, as [`Ctx::store_result`] tells joinable results apart.
    pub(crate) fn key<'a>(&'a self, chunk: &'a Chunk) -> ResItemKey<'a> {
        if self.oversized || self.problem.is_some() {
            return ResItemKey::Unjoinable;
        }
        match &self.id {
            Some(Bytes::Chunk(s, l)) => ResItemKey::Joinable(&chunk.data[*s..*s + *l]),
            Some(Bytes::Owned(v)) => ResItemKey::Joinable(v),
            None => ResItemKey::Unjoinable,
        }
    }
}

pub(crate) struct ResChunk {
    pub items: Vec<PRes>,
    pub models: BTreeMap<String, Tally>,
}

/// New ids and the original ids they stand for (`--id-map`).
pub(crate) type IdMap = std::collections::HashMap<String, String>;

pub(crate) fn parse_result_chunk(chunk: &Chunk, id_map: Option<&IdMap>, part: Part) -> ResChunk {
    let mut items = Vec::new();
    let mut models: BTreeMap<String, Tally> = BTreeMap::new();
    if chunk.oversized.is_some() && !crate::part::holds(part, None) {
        return ResChunk { items, models };
    }
    if let Some(o) = chunk.oversized {
        items.push(PRes {
            line: o.line,
            byte: o.offset,
            raw: (0, 0),
            content_rel: 0,
            content_len: 0,
            id: None,
            text: None,
            stop: None,
            status: Status::Missing,
            problem: Some((
                Problem::LineTooLarge,
                Said {
                    message: format!("line is {} bytes, over --max-line-bytes", o.len),
                    column: None,
                    context: Some("cannot be joined or copied"),
                },
            )),
            hash: 0,
            oversized: true,
        });
        return ResChunk { items, models };
    }
    let base = chunk.data.as_ptr() as usize;
    for line in chunk.lines() {
        if line.is_blank() {
            continue;
        }
        let raw_start = line.raw.as_ptr() as usize - base;
        let content_start = line.content.as_ptr() as usize - base;
        let mut info = result_info(line.content);
        if let (Some(map), Some(id)) = (id_map, &info.id) {
            if let Some(original) = map.get(id.as_ref()) {
                info.id = Some(std::borrow::Cow::Owned(original.clone()));
            }
        }
        if !crate::part::holds(part, info.id.as_deref().map(str::as_bytes)) {
            continue;
        }
        if let Some(u) = info.usage {
            let name = info.model.as_deref().unwrap_or("(unknown)");
            let m = match models.get_mut(name) {
                Some(m) => m,
                None => models.entry(name.to_string()).or_default(),
            };
            m.usage.add(&u);
            if let Some(s) = &info.stop {
                m.stop(&s.value, 1);
            }
        }
        let stop = info.stop.as_ref().map(|s| (content_start + s.start, s.len));
        let (id, hash) = match &info.id {
            Some(std::borrow::Cow::Borrowed(s)) => (
                Some(Bytes::Chunk(s.as_ptr() as usize - base, s.len())),
                hash_id(s.as_bytes()),
            ),
            Some(std::borrow::Cow::Owned(s)) => (
                Some(Bytes::Owned(s.as_bytes().to_vec())),
                hash_id(s.as_bytes()),
            ),
            // A Vertex row without an id: its content key stands in the id's place.
            None => match info.content {
                Some(k) => (Some(Bytes::Owned(k.to_vec())), hash_id(&k)),
                None => (None, 0),
            },
        };
        let text = info.text.map(|t| match t {
            Text::Raw { start, len } => Bytes::Chunk(content_start + start, len),
            Text::Owned(s) => Bytes::Owned(s.into_bytes()),
        });
        let problem = info.unjoinable.map(|u| {
            let p = match u {
                Unjoinable::InvalidUtf8(_) => Problem::InvalidUtf8,
                Unjoinable::InvalidJson(_) => Problem::InvalidJson,
                Unjoinable::NotObject => Problem::NotObject,
                Unjoinable::MissingId => Problem::MissingId,
                Unjoinable::InvalidId => Problem::InvalidId,
                Unjoinable::VertexNoId => return (Problem::VertexNoId, Said::default()),
            };
            (p, result_said(p, line.content))
        });
        items.push(PRes {
            line: line.number,
            byte: line.offset,
            raw: (raw_start, line.raw.len()),
            content_rel: content_start - raw_start,
            content_len: line.content.len(),
            id,
            text,
            stop,
            status: info.status.unwrap_or(Status::Errored),
            problem,
            hash,
            oversized: false,
        });
    }
    ResChunk { items, models }
}

impl Ctx<'_> {
    pub(crate) fn read_results(
        &mut self,
        on_event: &mut EventSink<'_>,
    ) -> Result<Results, JoinError> {
        let hint = results_hint(self.opts);
        // Results already larger on disk than the budget will not fit: spill from the start
        // rather than fill the budget first (keeps the peak low). Results read back from
        // their inputs hold far less than their size: they start in memory.
        let mut results = if self.raw_in_payload && hint > self.budget {
            Results::Spill(self.spill(MemStore::default(), hint)?)
        } else {
            Results::Mem(MemStore::default())
        };
        let opts = self.opts;
        let id_map = self.id_map.clone();
        let id_map = id_map.as_deref();
        for (fi, input) in opts.results.iter().enumerate() {
            let mut vertex: Option<(Loc, u64)> = None;
            run_input(
                &input.name,
                Side::Result,
                input,
                self.read.clone(),
                on_event,
                |chunk: &Chunk| parse_result_chunk(chunk, id_map, opts.partition),
                |chunk, rc: ResChunk, on_event| -> Result<bool, JoinError> {
                    for (name, u) in rc.models {
                        self.summary.usage.add(&u.usage);
                        crate::engine::add_model(&mut self.models, name, &u);
                    }
                    for it in rc.items {
                        self.summary.results += 1;
                        if let Some((p, msg)) = &it.problem {
                            self.summary.unjoinable += 1;
                            let loc = Loc {
                                file: input.name.clone(),
                                line: it.line,
                                offset: Some(it.byte),
                            };
                            if *p == Problem::VertexNoId {
                                vertex.get_or_insert((loc, 0)).1 += 1;
                            } else {
                                let ev = crate::problem_event(
                                    Side::Result,
                                    *p,
                                    loc,
                                    None,
                                    None,
                                    msg.clone(),
                                );
                                on_event.event(&ev).map_err(JoinError::Report)?;
                            }
                        }
                        self.store_result(&mut results, chunk, fi as u32, it, hint)?;
                    }
                    Ok(true)
                },
            )?;
            if let Some((first, count)) = vertex {
                on_event
                    .event(&Event::VertexNoId { first, count })
                    .map_err(JoinError::Report)?;
            }
        }
        Ok(results)
    }

    fn store_result(
        &mut self,
        results: &mut Results,
        chunk: &Chunk,
        file: u32,
        it: PRes,
        hint: u64,
    ) -> Result<(), JoinError> {
        let data = &chunk.data[..];
        let raw = &data[it.raw.0..it.raw.0 + it.raw.1];
        let raw_len = u32::try_from(raw.len())
            .map_err(|_| JoinError::Usage("result lines over 4 GiB are not supported".into()))?;
        let mut extra: Vec<&[u8]> = Vec::new();
        let mut rel = raw_len;
        let mut placed = [(0u32, u32::MAX); 2];
        for (k, b) in [&it.id, &it.text].into_iter().enumerate() {
            placed[k] = match b {
                None => (0, u32::MAX),
                Some(Bytes::Chunk(s, l)) => ((*s - it.raw.0) as u32, *l as u32),
                Some(Bytes::Owned(v)) => {
                    let at = rel;
                    rel += v.len() as u32;
                    extra.push(v);
                    (at, v.len() as u32)
                }
            };
        }
        let [(id_rel, id_len), (text_rel, text_len)] = placed;
        let id: &[u8] = match &it.id {
            Some(Bytes::Chunk(s, l)) => &data[*s..*s + *l],
            Some(Bytes::Owned(v)) => v,
            None => &[],
        };
        let kind = if it.oversized {
            2
        } else if it.id.is_some() && it.problem.is_none() {
            0
        } else {
            1
        };
        let mut e = Entry {
            off: 0,
            raw_len,
            content_rel: it.content_rel as u32,
            content_len: it.content_len as u32,
            id_rel,
            id_len: if id_len == u32::MAX { 0 } else { id_len },
            text_rel,
            text_len,
            file,
            line: it.line,
            byte: it.byte,
            hash: it.hash,
            other: NONE,
            status: it.status.to_u8(),
            kind,
            stop_rel: it.stop.map_or(0, |(s, _)| (s - it.raw.0) as u32),
            stop_len: it.stop.map_or(u32::MAX, |(_, l)| l as u32),
        };
        // The raw line is stored only when it cannot be read back from its input.
        let mut parts: Vec<&[u8]> = Vec::with_capacity(3);
        if self.raw_in_payload {
            parts.push(raw);
        }
        parts.extend(extra);
        match results {
            Results::Mem(mem) => {
                e.off = mem.payload.push(&parts);
                mem.insert(e, id);
                if mem.footprint() > self.budget {
                    let mem = std::mem::take(mem);
                    *results = Results::Spill(self.spill(mem, hint)?);
                }
            }
            Results::Spill(s) => s.push(e, &parts, id)?,
        }
        Ok(())
    }

    /// Moves everything held so far into spill files.
    pub(crate) fn spill(&self, mem: MemStore, hint: u64) -> Result<Spill, JoinError> {
        let dir = batchkit_io::staging::StagedDir::new_in(Some(&self.temp_base), "join")
            .map_err(io_err(&self.temp_base))?;
        // Enough partitions that one partition's ids fit an eighth of the budget even when the
        // results are all ids (unknown sizes, e.g. stdin, count as 4x what was read); at most
        // 256, so the open spill files (two per partition) stay well under the usual fd limit.
        // Partitions hold ids only (~30 bytes each), so 256 of them cover billions of results.
        let total = hint.max(mem.payload.len() * 4);
        let want = (total / (self.budget / 8).max(1)).max(1);
        let bits = (64 - want.leading_zeros()).clamp(4, 8);
        let parts = Partitions::new(dir.path(), "res-", bits, 0, 32 << 10).create_all()?;
        let mut s = Spill {
            payload: SpillFile::create(dir.path().join("payload"), 1 << 20)?,
            entries: SpillFile::create(dir.path().join("entries"), 256 << 10)?,
            dir,
            parts,
            bits,
            count: 0,
        };
        if let Err(e) = mem.payload.write_to(&mut s.payload) {
            return Err(io_err(s.payload.path())(e));
        }
        for (i, e) in mem.entries.iter().enumerate() {
            let id = if e.kind == 0 { mem.id(i as u32) } else { &[] };
            s.push_entry(e, id)?;
        }
        Ok(s)
    }
}

impl Spill {
    fn push(&mut self, mut e: Entry, parts: &[&[u8]], id: &[u8]) -> Result<(), JoinError> {
        e.off = self.payload.len();
        self.payload.write_parts(parts)?;
        self.push_entry(&e, id)
    }

    fn push_entry(&mut self, e: &Entry, id: &[u8]) -> Result<(), JoinError> {
        let mut b = [0u8; ENTRY_SIZE];
        e.encode(&mut b);
        self.entries.write(&b)?;
        if e.kind == 0 {
            self.parts.write(
                e.hash,
                &[
                    &self.count.to_le_bytes(),
                    &e.hash.to_le_bytes(),
                    &[e.status],
                    &e.file.to_le_bytes(),
                    &(id.len() as u32).to_le_bytes(),
                    id,
                ],
            )?;
        }
        self.count += 1;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The spilled join's first pass over the requests

/// A request line as the first pass sees it.
enum ReqRec {
    Blank,
    Problem(Problem),
    /// An id, or (`content`) a content key.
    Id {
        hash: u64,
        id: Vec<u8>,
        id_rel: u32,
        id_len: u32,
        content: bool,
    },
}

/// A line of another part (`--partition`) is a blank one to the first pass: it has no id
/// record, and the second pass leaves it out.
fn first_pass_chunk(chunk: &Chunk, part: Part) -> Vec<ReqRec> {
    if chunk.oversized.is_some() {
        if !crate::part::holds(part, None) {
            return vec![ReqRec::Blank];
        }
        return vec![ReqRec::Problem(Problem::LineTooLarge)];
    }
    chunk
        .lines()
        .map(|line| {
            if line.is_blank() || !crate::part::holds_request(part, line.content) {
                return ReqRec::Blank;
            }
            match request_id(line.content) {
                RequestId::Id {
                    id,
                    raw_start,
                    raw_len,
                } => ReqRec::Id {
                    hash: hash_id(id.as_bytes()),
                    id: id.as_bytes().to_vec(),
                    id_rel: raw_start as u32,
                    id_len: raw_len as u32,
                    content: false,
                },
                RequestId::Content(key) => ReqRec::Id {
                    hash: hash_id(&key),
                    id: key.to_vec(),
                    id_rel: 0,
                    id_len: 0,
                    content: true,
                },
                other => ReqRec::Problem(other.problem().expect("not an id")),
            }
        })
        .collect()
}

/// What the requests' first pass leaves: their id partitions, the match table, the inputs to
/// read again (stdin teed to a file), and the number of request lines.
pub(crate) struct FirstPass {
    pub req_parts: Vec<(File, PathBuf)>,
    pub table: MatchTable,
    pub inputs: Vec<Input>,
    pub lines: u64,
}

impl Ctx<'_> {
    /// The requests' first pass: each id record to its partition, in request order, and each
    /// line's base match record.
    pub(crate) fn first_pass(
        &mut self,
        dir: &std::path::Path,
        bits: u32,
        on_event: &mut EventSink<'_>,
    ) -> Result<FirstPass, JoinError> {
        let opts = self.opts;
        let mut req_parts = Partitions::new(dir, "req-", bits, 0, 32 << 10).create_all()?;
        let mut match_w = SpillFile::create(dir.join("match"), 256 << 10)?;
        let mut second_inputs = Vec::new();
        for (i, e) in opts.earlier.iter().enumerate() {
            // Before every request line, so that each is the first line of its id.
            let g = crate::EARLIER_BASE + i as u64;
            let hash = hash_id(&e.id);
            let len = (e.id.len() as u32).to_le_bytes();
            req_parts.write(hash, &[&g.to_le_bytes(), &hash.to_le_bytes(), &len, &e.id])?;
        }
        let mut gidx = 0u64;
        for (fi, input) in opts.requests.iter().enumerate() {
            // Stdin or a pipe: read once, so teed to a file for the second pass.
            let mut tee = match input.one_pass() {
                true => Some(SpillFile::create(dir.join(format!("stdin-{fi}")), 1 << 20)?),
                false => None,
            };
            let stats = run_input(
                &input.name,
                Side::Request,
                input,
                self.read.clone(),
                on_event,
                |chunk: &Chunk| first_pass_chunk(chunk, opts.partition),
                |chunk, recs: Vec<ReqRec>, _| -> Result<bool, JoinError> {
                    if let Some(t) = &mut tee {
                        if chunk.oversized.is_some() {
                            return Err(JoinError::Usage(format!(
                            "{}:{}: a line longer than --max-line-bytes on stdin cannot be joined past the memory limit; pass the file by path",
                            input.name, chunk.first_line
                        )));
                        }
                        t.write(&chunk.data)?;
                    }
                    for r in recs {
                        let base = Match {
                            result: NONE,
                            other: NONE,
                            status: Status::Missing.to_u8(),
                            problem: 0,
                            id_rel: 0,
                            id_len: 0,
                            by_content: false,
                        };
                        let m = match &r {
                            ReqRec::Blank => Match {
                                problem: BLANK,
                                ..base
                            },
                            ReqRec::Problem(p) => Match {
                                problem: p.to_u8(),
                                ..base
                            },
                            ReqRec::Id {
                                hash,
                                id,
                                id_rel,
                                id_len,
                                content,
                            } => {
                                req_parts.write(
                                    *hash,
                                    &[
                                        &gidx.to_le_bytes(),
                                        &hash.to_le_bytes(),
                                        &(id.len() as u32).to_le_bytes(),
                                        id,
                                    ],
                                )?;
                                Match {
                                    id_rel: *id_rel,
                                    id_len: *id_len,
                                    by_content: *content,
                                    ..base
                                }
                            }
                        };
                        match_w.write(&m.encode())?;
                        gidx += 1;
                    }
                    Ok(true)
                },
            )?;
            second_inputs.push(match tee {
                Some(t) => {
                    let (_, p) = t.finish()?;
                    Input {
                        source: Source::Path(p),
                        name: input.name.clone(),
                    }
                }
                None => input.clone(),
            });
            self.request_lines.push(stats.lines);
        }
        let req_parts = req_parts.finish()?;
        let (match_f, match_p) = match_w.finish()?;
        let table = if gidx * MATCH_SIZE as u64 <= self.budget / 2 {
            let mut v = Vec::new();
            File::open(&match_p)
                .and_then(|mut f| f.read_to_end(&mut v))
                .map_err(io_err(&match_p))?;
            drop(match_f);
            MatchTable::Mem(v)
        } else {
            MatchTable::File(match_f, match_p)
        };
        Ok(FirstPass {
            req_parts,
            table,
            inputs: second_inputs,
            lines: gidx,
        })
    }
}
