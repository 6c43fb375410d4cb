//! The join itself: read results, then either probe them in memory with one pass over the
//! requests, or spill and run a partitioned (grace) hash join:
//!
//! 1. (a) results: parsed in parallel, stored in order; past the budget everything moves to
//!    spill files (payload bytes, fixed-size entries, id records partitioned by hash).
//! 2. (b) requests, first pass: id records partitioned by the same hash, in request order, and
//!    the base of each request's match record.
//! 3. (c) per partition: its result ids in a hash table, probed with its requests in order,
//!    deciding each request's result (the match table) and each duplicate's fate.
//! 4. (d) requests, second pass: merged and retry lines built in parallel from the match
//!    table and the spilled result bytes, written in order.
//!
//! Both paths end with the same pass over the results in order for orphans and duplicates, and
//! report events in the same order, so their outputs are identical.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use batchkit_io::{AtomicFile, Chunk, Input, ReadOptions, Source};
use hashbrown::HashTable;

use crate::parse::{request_id, result_info, RequestId, Text, Unjoinable, Usage};
use crate::store::{
    better, hash_id, io_err, other_offset, read_at, write_at, Entry, IdSet, Match, MatchTable,
    MemStore, SpillFile, BLANK, ENTRY_SIZE, MATCH_SIZE, NONE,
};
use crate::{Event, JoinError, JoinOptions, JoinSummary, Loc, ModelUsage, Problem, Side, Status};

/// Memory the reader, its chunks in flight and the output buffers need beside the store.
fn reserve(read: &ReadOptions) -> u64 {
    (read.chunk_size as u64) * (read.in_flight as u64) * 3 + (8 << 20)
}

/// [`batchkit_io::run_with_progress`], reporting the position in `label` to the caller's
/// progress callback, if any.
fn run_input<T, E, P, S>(
    opts: &JoinOptions,
    label: &str,
    input: &Input,
    read: &ReadOptions,
    process: P,
    sink: S,
) -> Result<batchkit_io::ReadStats, E>
where
    T: Send,
    E: From<batchkit_io::ReadError>,
    P: Fn(&Chunk) -> T + Sync,
    S: FnMut(&Chunk, T) -> Result<bool, E>,
{
    let cb = |pos: u64| {
        if let Some(p) = &opts.progress {
            (p.0)(label, pos);
        }
    };
    batchkit_io::run_with_progress(input, read, process, sink, Some(&cb))
}

/// More models than this are summed as `(other)`: a bound on a table a hostile file could grow.
const MAX_MODELS: usize = 4096;

/// Joins `opts.results` back to `opts.requests`; see the crate docs.
pub fn join(
    opts: &JoinOptions,
    on_event: &mut dyn FnMut(&Event),
) -> Result<JoinSummary, JoinError> {
    let stdins = opts
        .requests
        .iter()
        .chain(&opts.results)
        .filter(|i| i.source == Source::Stdin)
        .count();
    if stdins > 1 {
        return Err(JoinError::Usage(
            "stdin (`-`) can be given only once".into(),
        ));
    }
    if opts.requests.is_empty() || opts.results.is_empty() {
        return Err(JoinError::Usage(
            "give at least one requests file and one results file".into(),
        ));
    }
    let mut read = opts.read.clone();
    if opts.memory_limit < (64 << 20) {
        // Small budgets (tests, tiny machines): smaller chunks keep the reader inside them.
        read.chunk_size = read
            .chunk_size
            .min(((opts.memory_limit / 16) as usize).max(64 << 10));
        read.in_flight = read.in_flight.min(4);
    }
    let budget = opts.memory_limit.saturating_sub(reserve(&read)).max(1);
    let temp_base = match &opts.temp_dir {
        Some(d) => d.clone(),
        None => match opts.out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        },
    };
    let mut outs = Outputs::create(opts)?;
    let mut ctx = Ctx {
        opts,
        read,
        budget,
        temp_base,
        summary: JoinSummary::default(),
        models: BTreeMap::new(),
        request_lines: Vec::new(),
        overflow: false,
        request_events: 0,
        skip_request_events: 0,
    };

    let results = ctx.read_results(on_event)?;
    match results {
        Results::Mem(mut mem) => {
            mem.resolve_losers();
            let mut claims = vec![NONE; mem.entries.len()];
            if ctx.requests_in_memory(&mem, &mut claims, &mut outs, on_event)? {
                ctx.finish_results(
                    &mut outs,
                    on_event,
                    &mut MemView {
                        mem: &mem,
                        claims: &claims,
                    },
                )?;
            } else {
                // The request ids outgrew the budget: start the request side again on the
                // spill path, with fresh outputs.
                if opts.requests.iter().any(|i| i.source == Source::Stdin) {
                    return Err(JoinError::Usage(
                        "the request ids on stdin do not fit in --memory-limit beside the results; raise it or pass the requests file by path".into(),
                    ));
                }
                drop(claims);
                drop(outs);
                outs = Outputs::create(opts)?;
                ctx.reset_requests();
                let spill = ctx.spill(mem, results_hint(opts))?;
                ctx.summary.spilled = true;
                ctx.summary.partitions = 1 << spill.bits;
                let mut g = ctx.grace(spill, &mut outs, on_event)?;
                ctx.finish_results(&mut outs, on_event, &mut g)?;
            }
        }
        Results::Spill(spill) => {
            ctx.summary.spilled = true;
            ctx.summary.partitions = 1 << spill.bits;
            let mut g = ctx.grace(spill, &mut outs, on_event)?;
            ctx.finish_results(&mut outs, on_event, &mut g)?;
        }
    }
    outs.commit()?;
    let mut s = ctx.summary;
    s.models = ctx
        .models
        .into_iter()
        .map(|(model, usage)| ModelUsage { model, usage })
        .collect();
    Ok(s)
}

/// The in-memory request pass's state: which request took each result, and the ids of the
/// requests no result names (bounded by `allowance` bytes).
struct MemClaims<'a> {
    claims: &'a mut [u64],
    missing: IdSet,
    allowance: u64,
}

/// Bytes of the result files, where known.
fn results_hint(opts: &JoinOptions) -> u64 {
    opts.results.iter().map(|i| i.len_hint().unwrap_or(0)).sum()
}

struct Ctx<'o> {
    opts: &'o JoinOptions,
    read: ReadOptions,
    budget: u64,
    temp_base: PathBuf,
    summary: JoinSummary,
    models: BTreeMap<String, Usage>,
    /// Lines of each request file read so far (global line index = sum of earlier files + line - 1).
    request_lines: Vec<u64>,
    /// The in-memory request pass stopped: its id set outgrew the budget.
    overflow: bool,
    /// Request-side events counted in this pass, and how many of them an earlier (stopped)
    /// pass already gave.
    request_events: u64,
    skip_request_events: u64,
}

struct Outputs {
    out: AtomicFile,
    retry: Option<AtomicFile>,
    orphans: Option<AtomicFile>,
    duplicates: Option<AtomicFile>,
}

fn atomic(p: &Path) -> Result<AtomicFile, JoinError> {
    AtomicFile::create(p).map_err(io_err(p))
}

impl Outputs {
    fn create(o: &JoinOptions) -> Result<Self, JoinError> {
        Ok(Outputs {
            out: atomic(&o.out)?,
            retry: o.retry.as_deref().map(atomic).transpose()?,
            orphans: o.orphans.as_deref().map(atomic).transpose()?,
            duplicates: o.duplicates.as_deref().map(atomic).transpose()?,
        })
    }

    fn commit(self) -> Result<(), JoinError> {
        let commit = |f: AtomicFile| {
            let p = f.path().to_path_buf();
            f.commit().map_err(io_err(&p))
        };
        commit(self.out)?;
        for f in [self.retry, self.orphans, self.duplicates]
            .into_iter()
            .flatten()
        {
            commit(f)?;
        }
        Ok(())
    }
}

fn write(f: &mut AtomicFile, b: &[u8]) -> Result<(), JoinError> {
    let p = f.path().to_path_buf();
    f.write_all(b).map_err(io_err(&p))
}

/// Writes a line, adding the `\n` a last line may lack.
fn write_line(f: &mut AtomicFile, raw: &[u8]) -> Result<(), JoinError> {
    write(f, raw)?;
    if !raw.ends_with(b"\n") {
        write(f, b"\n")?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// (a) results

enum Results {
    Mem(MemStore),
    Spill(Spill),
}

struct Spill {
    dir: batchkit_io::staging::StagedDir,
    payload: SpillFile,
    entries: SpillFile,
    parts: Vec<SpillFile>,
    bits: u32,
    count: u64,
}

/// Bytes that are either a range of the chunk or owned.
enum Bytes {
    Chunk(usize, usize),
    Owned(Vec<u8>),
}

struct PRes {
    line: u64,
    byte: u64,
    raw: (usize, usize),
    content_rel: usize,
    content_len: usize,
    id: Option<Bytes>,
    text: Option<Bytes>,
    status: Status,
    problem: Option<(Problem, String)>,
    hash: u64,
    oversized: bool,
}

struct ResChunk {
    items: Vec<PRes>,
    models: BTreeMap<String, Usage>,
}

fn parse_result_chunk(chunk: &Chunk) -> ResChunk {
    let mut items = Vec::new();
    let mut models: BTreeMap<String, Usage> = BTreeMap::new();
    if let Some(o) = chunk.oversized {
        items.push(PRes {
            line: o.line,
            byte: o.offset,
            raw: (0, 0),
            content_rel: 0,
            content_len: 0,
            id: None,
            text: None,
            status: Status::Missing,
            problem: Some((
                Problem::LineTooLarge,
                format!(
                    "line is {} bytes, longer than --max-line-bytes; it cannot be joined or copied",
                    o.len
                ),
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
        let info = result_info(line.content);
        if let Some(u) = info.usage {
            let name = info.model.as_deref().unwrap_or("(unknown)");
            match models.get_mut(name) {
                Some(m) => m.add(&u),
                None => {
                    models.insert(name.to_string(), u);
                }
            }
        }
        let (id, hash) = match &info.id {
            Some(std::borrow::Cow::Borrowed(s)) => (
                Some(Bytes::Chunk(s.as_ptr() as usize - base, s.len())),
                hash_id(s.as_bytes()),
            ),
            Some(std::borrow::Cow::Owned(s)) => (
                Some(Bytes::Owned(s.as_bytes().to_vec())),
                hash_id(s.as_bytes()),
            ),
            None => (None, 0),
        };
        let text = info.text.map(|t| match t {
            Text::Raw { start, len } => Bytes::Chunk(content_start + start, len),
            Text::Owned(s) => Bytes::Owned(s.into_bytes()),
        });
        let problem = info.unjoinable.map(|u| match u {
            Unjoinable::InvalidUtf8(m) => (
                Problem::InvalidUtf8,
                format!("not valid UTF-8: {m}; written to the orphans file"),
            ),
            Unjoinable::InvalidJson(m) => (
                Problem::InvalidJson,
                format!("not valid JSON: {m}; written to the orphans file"),
            ),
            Unjoinable::NotObject => (
                Problem::NotObject,
                "not a JSON object; written to the orphans file".into(),
            ),
            Unjoinable::MissingId => (
                Problem::MissingId,
                "no `custom_id`, `key` or `recordId`: cannot be joined; written to the orphans file".into(),
            ),
            Unjoinable::InvalidId => (
                Problem::InvalidId,
                "the id (`custom_id`, `key` or `recordId`) is not a string: cannot be joined; written to the orphans file"
                    .into(),
            ),
            Unjoinable::VertexNoId => (Problem::VertexNoId, String::new()),
        });
        items.push(PRes {
            line: line.number,
            byte: line.offset,
            raw: (raw_start, line.raw.len()),
            content_rel: content_start - raw_start,
            content_len: line.content.len(),
            id,
            text,
            status: info.status.unwrap_or(Status::Errored),
            problem,
            hash,
            oversized: false,
        });
    }
    ResChunk { items, models }
}

impl Ctx<'_> {
    fn read_results(&mut self, on_event: &mut dyn FnMut(&Event)) -> Result<Results, JoinError> {
        let hint = results_hint(self.opts);
        // Results already larger on disk than the budget will not fit: spill from the start
        // rather than fill the budget first (keeps the peak low).
        let mut results = if hint > self.budget {
            Results::Spill(self.spill(MemStore::default(), hint)?)
        } else {
            Results::Mem(MemStore::default())
        };
        let opts = self.opts;
        for (fi, input) in opts.results.iter().enumerate() {
            let mut vertex: Option<(Loc, u64)> = None;
            let read = self.read.clone();
            run_input(
                opts,
                &input.name,
                input,
                &read,
                parse_result_chunk,
                |chunk, rc: ResChunk| -> Result<bool, JoinError> {
                    for (name, u) in rc.models {
                        let key = if self.models.len() >= MAX_MODELS
                            && !self.models.contains_key(&name)
                        {
                            "(other)".to_string()
                        } else {
                            name
                        };
                        self.models.entry(key).or_default().add(&u);
                        self.summary.usage.add(&u);
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
                                on_event(&Event::Problem {
                                    side: Side::Result,
                                    problem: *p,
                                    loc,
                                    custom_id: None,
                                    first: None,
                                    message: msg.clone(),
                                });
                            }
                        }
                        self.store_result(&mut results, chunk, fi as u32, it, hint)?;
                    }
                    Ok(true)
                },
            )?;
            if let Some((first, count)) = vertex {
                on_event(&Event::VertexNoId { first, count });
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
        };
        let mut parts: Vec<&[u8]> = vec![raw];
        parts.extend(extra);
        match results {
            Results::Mem(mem) => {
                e.off = mem.arena.push(&parts);
                mem.insert(e);
                if mem.footprint() > self.budget {
                    let mem = std::mem::take(mem);
                    *results = Results::Spill(self.spill(mem, hint)?);
                }
            }
            Results::Spill(s) => s.push(e, &parts)?,
        }
        Ok(())
    }

    /// Moves everything held so far into spill files.
    fn spill(&self, mem: MemStore, hint: u64) -> Result<Spill, JoinError> {
        let dir = batchkit_io::staging::StagedDir::new_in(Some(&self.temp_base), "join")
            .map_err(io_err(&self.temp_base))?;
        // Enough partitions that one partition's ids fit an eighth of the budget even when the
        // results are all ids (unknown sizes, e.g. stdin, count as 4x what was read); at most
        // 256, so the open spill files (two per partition) stay well under the usual fd limit.
        // Partitions hold ids only (~30 bytes each), so 256 of them cover billions of results.
        let total = hint.max(mem.arena.len() * 4);
        let want = (total / (self.budget / 8).max(1)).max(1);
        let bits = (64 - want.leading_zeros()).clamp(4, 8);
        let parts = (0..1u32 << bits)
            .map(|p| SpillFile::create(dir.path().join(format!("res-{p:04}")), 32 << 10))
            .collect::<Result<Vec<_>, _>>()?;
        let mut s = Spill {
            payload: SpillFile::create(dir.path().join("payload"), 1 << 20)?,
            entries: SpillFile::create(dir.path().join("entries"), 256 << 10)?,
            dir,
            parts,
            bits,
            count: 0,
        };
        {
            let p = s.payload.path.clone();
            mem.arena.write_to(&mut s.payload.w).map_err(io_err(&p))?;
            s.payload.len = mem.arena.len();
        }
        for e in &mem.entries {
            s.push_entry(e, mem.id(e))?;
        }
        Ok(s)
    }
}

impl Spill {
    fn push(&mut self, mut e: Entry, parts: &[&[u8]]) -> Result<(), JoinError> {
        e.off = self.payload.len;
        for p in parts {
            self.payload.write(p)?;
        }
        let whole: Vec<u8>;
        let id: &[u8] = if e.kind == 0 {
            let at = e.id_rel as usize;
            if at < parts[0].len() {
                &parts[0][at..at + e.id_len as usize]
            } else {
                whole = parts.concat();
                &whole[at..at + e.id_len as usize]
            }
        } else {
            &[]
        };
        self.push_entry(&e, id)
    }

    fn push_entry(&mut self, e: &Entry, id: &[u8]) -> Result<(), JoinError> {
        let mut b = [0u8; ENTRY_SIZE];
        e.encode(&mut b);
        self.entries.write(&b)?;
        if e.kind == 0 {
            let p = partition(e.hash, self.bits);
            let f = &mut self.parts[p];
            let mut rec = Vec::with_capacity(21 + id.len());
            rec.extend_from_slice(&self.count.to_le_bytes());
            rec.extend_from_slice(&e.hash.to_le_bytes());
            rec.push(e.status);
            rec.extend_from_slice(&(id.len() as u32).to_le_bytes());
            rec.extend_from_slice(id);
            f.write(&rec)?;
        }
        self.count += 1;
        Ok(())
    }
}

fn partition(hash: u64, bits: u32) -> usize {
    (hash >> (64 - bits)) as usize
}

// ---------------------------------------------------------------------------------------------
// Requests: building merged and retry lines

/// One request line's outcome, with its merged line at `merged` in the chunk's buffer.
struct LineOut {
    line: u64,
    byte: u64,
    raw: (usize, usize),
    merged: (usize, usize),
    status: Status,
    problem: Option<Problem>,
    result: u64,
    other: u64,
    custom_id: Option<String>,
    message: Option<String>,
    /// In-memory path: the decoded id of a request no result names (checked against earlier
    /// requests' ids at emit time).
    key: Option<Vec<u8>>,
}

struct ReqChunk {
    merged: Vec<u8>,
    lines: Vec<LineOut>,
}

/// A result's bytes as the merged line needs them.
struct ResultBytes<'a> {
    content: &'a [u8],
    text: Option<&'a [u8]>,
}

#[allow(clippy::too_many_arguments)]
fn write_merged(
    out: &mut Vec<u8>,
    id_raw: Option<&[u8]>,
    status: Status,
    request: Option<&[u8]>,
    result: Option<&ResultBytes<'_>>,
    problem: Option<Problem>,
    line: u64,
) {
    out.extend_from_slice(b"{\"custom_id\":");
    out.extend_from_slice(id_raw.unwrap_or(b"null"));
    out.extend_from_slice(b",\"status\":\"");
    out.extend_from_slice(status.as_str().as_bytes());
    out.extend_from_slice(b"\",\"request\":");
    out.extend_from_slice(request.unwrap_or(b"null"));
    out.extend_from_slice(b",\"result\":");
    out.extend_from_slice(result.map_or(&b"null"[..], |r| r.content));
    out.extend_from_slice(b",\"output_text\":");
    out.extend_from_slice(result.and_then(|r| r.text).unwrap_or(b"null"));
    if let Some(p) = problem {
        out.extend_from_slice(b",\"problem\":\"");
        out.extend_from_slice(p.code().as_bytes());
        out.extend_from_slice(b"\",\"line\":");
        out.extend_from_slice(line.to_string().as_bytes());
    }
    out.extend_from_slice(b"}\n");
}

fn request_problem_message(p: Problem, detail: &str) -> String {
    match p {
        Problem::InvalidJson => format!("not valid JSON: {detail}; left out of the merged and retry files"),
        Problem::InvalidUtf8 => format!("not valid UTF-8: {detail}; left out of the merged and retry files"),
        Problem::MissingId => "no `custom_id`, `key` or `recordId`: cannot be joined; status missing, copied to the retry file".into(),
        Problem::InvalidId => "the id (`custom_id`, `key` or `recordId`) is not a string: cannot be joined; status missing, copied to the retry file".into(),
        Problem::LineTooLarge => {
            format!("line is {detail} bytes, longer than --max-line-bytes; status missing, NOT copied to the retry file")
        }
        _ => detail.to_string(),
    }
}

/// The merged line of a request line that is not joined by id (or that lost its id to an
/// earlier line).
fn problem_line(
    out: &mut Vec<u8>,
    content: &[u8],
    p: Problem,
    line: u64,
    id_raw: Option<&[u8]>,
) -> (usize, usize) {
    let start = out.len();
    if p.not_json() {
        // Not JSON: no merged line at all (the event names the line).
        return (start, 0);
    }
    let request = (p != Problem::LineTooLarge).then_some(content);
    write_merged(out, id_raw, Status::Missing, request, None, Some(p), line);
    (start, out.len() - start)
}

fn oversized_out(chunk: &Chunk, merged: &mut Vec<u8>) -> Option<ReqChunk> {
    let o = chunk.oversized?;
    let start = merged.len();
    write_merged(
        merged,
        None,
        Status::Missing,
        None,
        None,
        Some(Problem::LineTooLarge),
        o.line,
    );
    let lines = vec![LineOut {
        line: o.line,
        byte: o.offset,
        raw: (0, 0),
        merged: (start, merged.len() - start),
        status: Status::Missing,
        problem: Some(Problem::LineTooLarge),
        result: NONE,
        other: NONE,
        custom_id: None,
        key: None,
        message: Some(request_problem_message(
            Problem::LineTooLarge,
            &o.len.to_string(),
        )),
    }];
    Some(ReqChunk {
        merged: std::mem::take(merged),
        lines,
    })
}

/// How a request pass finds a request's result.
trait Lookup: Sync {
    fn entry(&self, idx: u64) -> Result<Entry, JoinError>;
    /// The result's content and answer text, handed to `f`.
    fn with_bytes(&self, e: &Entry, f: &mut dyn FnMut(&ResultBytes<'_>)) -> Result<(), JoinError>;
}

fn with_result<L: Lookup + ?Sized>(
    l: &L,
    idx: u64,
    out: &mut Vec<u8>,
    id_raw: &[u8],
    request: &[u8],
) -> Result<Status, JoinError> {
    let e = l.entry(idx)?;
    let status = e.status();
    l.with_bytes(&e, &mut |rb| {
        write_merged(out, Some(id_raw), status, Some(request), Some(rb), None, 0)
    })?;
    Ok(status)
}

struct MemView<'a> {
    mem: &'a MemStore,
    claims: &'a [u64],
}

impl Lookup for MemView<'_> {
    fn entry(&self, idx: u64) -> Result<Entry, JoinError> {
        Ok(self.mem.entries[idx as usize])
    }
    fn with_bytes(&self, e: &Entry, f: &mut dyn FnMut(&ResultBytes<'_>)) -> Result<(), JoinError> {
        let all = self.mem.arena.get(e.off, e.raw_len as usize + extra_len(e));
        f(&slices(all, e));
        Ok(())
    }
}

/// Bytes stored after the raw line (decoded id, re-encoded text).
fn extra_len(e: &Entry) -> usize {
    let mut end = e.raw_len;
    if e.id_rel >= e.raw_len {
        end = end.max(e.id_rel + e.id_len);
    }
    if let Some((r, l)) = e.text() {
        if r >= e.raw_len {
            end = end.max(r + l);
        }
    }
    (end - e.raw_len) as usize
}

fn slices<'a>(all: &'a [u8], e: &Entry) -> ResultBytes<'a> {
    let c = e.content_rel as usize;
    ResultBytes {
        content: &all[c..c + e.content_len as usize],
        text: e.text().map(|(r, l)| &all[r as usize..(r + l) as usize]),
    }
}

impl Ctx<'_> {
    /// One pass over the requests, probing the in-memory results.
    ///
    /// Returns false when the ids of requests without a result outgrew the budget left beside
    /// the results (`self.overflow`): the caller starts the request side again on the spill
    /// path.
    fn requests_in_memory(
        &mut self,
        mem: &MemStore,
        claims: &mut [u64],
        outs: &mut Outputs,
        on_event: &mut dyn FnMut(&Event),
    ) -> Result<bool, JoinError> {
        let view = MemView { mem, claims: &[] };
        let mut mc = MemClaims {
            claims,
            missing: IdSet::default(),
            allowance: self.budget.saturating_sub(mem.footprint()),
        };
        let mut base = 0u64;
        let opts = self.opts;
        for input in opts.requests.iter() {
            let read = self.read.clone();
            let process = |chunk: &Chunk| -> Result<ReqChunk, JoinError> {
                let mut merged = Vec::with_capacity(chunk.data.len() * 2);
                if let Some(r) = oversized_out(chunk, &mut merged) {
                    return Ok(r);
                }
                let dbase = chunk.data.as_ptr() as usize;
                let mut lines = Vec::new();
                for line in chunk.lines() {
                    if line.is_blank() {
                        continue;
                    }
                    let raw = (line.raw.as_ptr() as usize - dbase, line.raw.len());
                    let start = merged.len();
                    let mut lo = LineOut {
                        line: line.number,
                        byte: line.offset,
                        raw,
                        merged: (0, 0),
                        status: Status::Missing,
                        problem: None,
                        result: NONE,
                        other: NONE,
                        custom_id: None,
                        message: None,
                        key: None,
                    };
                    match request_id(line.content) {
                        RequestId::Id {
                            id,
                            raw_start,
                            raw_len,
                        } => {
                            let id_raw = &line.content[raw_start..raw_start + raw_len];
                            match mem.find(hash_id(id.as_bytes()), id.as_bytes()) {
                                Some(idx) => {
                                    lo.result = u64::from(idx);
                                    lo.status = with_result(
                                        &view,
                                        lo.result,
                                        &mut merged,
                                        id_raw,
                                        line.content,
                                    )?;
                                }
                                None => {
                                    write_merged(
                                        &mut merged,
                                        Some(id_raw),
                                        Status::Missing,
                                        Some(line.content),
                                        None,
                                        None,
                                        0,
                                    );
                                    lo.key = Some(id.into_owned().into_bytes());
                                }
                            }
                            lo.merged = (start, merged.len() - start);
                        }
                        other => {
                            let (p, detail) = match other {
                                RequestId::InvalidJson(m) => (Problem::InvalidJson, m),
                                RequestId::InvalidUtf8(m) => (Problem::InvalidUtf8, m),
                                RequestId::MissingId => (Problem::MissingId, String::new()),
                                _ => (Problem::InvalidId, String::new()),
                            };
                            lo.merged =
                                problem_line(&mut merged, line.content, p, line.number, None);
                            lo.problem = Some(p);
                            lo.message = Some(request_problem_message(p, &detail));
                        }
                    }
                    lines.push(lo);
                }
                Ok(ReqChunk { merged, lines })
            };
            let stats = run_input(
                opts,
                &input.name,
                input,
                &read,
                process_ok(process),
                |chunk, rc: Result<ReqChunk, JoinError>| -> Result<bool, JoinError> {
                    let rc = rc?;
                    self.emit_request_chunk(chunk, rc, input, base, Some(&mut mc), outs, on_event)?;
                    Ok(!self.overflow)
                },
            )?;
            if self.overflow {
                return Ok(false);
            }
            base += stats.lines;
            self.request_lines.push(stats.lines);
        }
        Ok(true)
    }

    /// Forgets what a stopped in-memory request pass counted; the events it gave are not
    /// given again.
    fn reset_requests(&mut self) {
        let s = &mut self.summary;
        s.requests = 0;
        s.statuses = [0; 5];
        s.request_problems = 0;
        s.invalid_requests = 0;
        s.to_retry = 0;
        s.not_in_retry = 0;
        self.request_lines.clear();
        self.skip_request_events = self.request_events;
        self.request_events = 0;
        self.overflow = false;
    }

    /// Writes a request chunk's lines in order. On the in-memory path (`mem`) it also gives
    /// each result to the first request that names it and finds the requests whose id an
    /// earlier request without a result used; it stops (setting `self.overflow`) when that id
    /// set outgrows its share of the budget.
    #[allow(clippy::too_many_arguments)]
    fn emit_request_chunk(
        &mut self,
        chunk: &Chunk,
        rc: ReqChunk,
        input: &Input,
        base: u64,
        mut mem: Option<&mut MemClaims<'_>>,
        outs: &mut Outputs,
        on_event: &mut dyn FnMut(&Event),
    ) -> Result<(), JoinError> {
        let mut regen = Vec::new();
        for mut lo in rc.lines {
            let gidx = base + lo.line - 1;
            let raw = &chunk.data[lo.raw.0..lo.raw.0 + lo.raw.1];
            let mut merged = &rc.merged[lo.merged.0..lo.merged.0 + lo.merged.1];
            if let Some(m) = mem.as_deref_mut() {
                let first = if lo.result != NONE {
                    let c = &mut m.claims[lo.result as usize];
                    if *c == NONE {
                        *c = gidx;
                        None
                    } else {
                        Some(*c)
                    }
                } else if let Some(key) = &lo.key {
                    let first = m.missing.first_or_insert(hash_id(key), key, gidx);
                    if m.missing.footprint() > m.allowance {
                        self.overflow = true;
                        return Ok(());
                    }
                    first
                } else {
                    None
                };
                if let Some(first) = first {
                    lo.other = first;
                    lo.status = Status::Missing;
                    lo.problem = Some(Problem::DuplicateId);
                    lo.result = NONE;
                    let content = content_of(raw, lo.line == 1 && lo.byte == 0);
                    let id_raw = match request_id(content) {
                        RequestId::Id {
                            raw_start, raw_len, ..
                        } => &content[raw_start..raw_start + raw_len],
                        _ => &b"null"[..],
                    };
                    regen.clear();
                    problem_line(
                        &mut regen,
                        content,
                        Problem::DuplicateId,
                        lo.line,
                        Some(id_raw),
                    );
                    merged = &regen;
                }
            }
            if lo.problem == Some(Problem::DuplicateId) {
                let content = content_of(raw, lo.line == 1 && lo.byte == 0);
                let id = crate::hot::request_id(content);
                let first = self.loc_of_request(lo.other);
                lo.message = Some(format!(
                    "custom_id {:?} was already used on {}:{}; status missing, NOT copied to the retry file",
                    id.as_deref().unwrap_or(""),
                    first.file,
                    first.line
                ));
                lo.custom_id = id;
            }
            let not_json = lo.problem.is_some_and(Problem::not_json);
            if not_json {
                self.summary.invalid_requests += 1;
            } else {
                write(&mut outs.out, merged)?;
                self.summary.requests += 1;
                self.summary.statuses[lo.status as usize] += 1;
                if lo.status != Status::Succeeded {
                    if matches!(
                        lo.problem,
                        Some(Problem::LineTooLarge | Problem::DuplicateId)
                    ) {
                        self.summary.not_in_retry += 1;
                    } else {
                        self.summary.to_retry += 1;
                        if let Some(r) = &mut outs.retry {
                            write_line(r, raw)?;
                        }
                    }
                }
            }
            if let Some(p) = lo.problem {
                self.summary.request_problems += 1;
                let first = (p == Problem::DuplicateId).then(|| self.loc_of_request(lo.other));
                self.request_events += 1;
                if self.request_events > self.skip_request_events {
                    on_event(&Event::Problem {
                        side: Side::Request,
                        problem: p,
                        loc: Loc {
                            file: input.name.clone(),
                            line: lo.line,
                            offset: Some(lo.byte),
                        },
                        custom_id: lo.custom_id.take(),
                        first,
                        message: lo.message.take().unwrap_or_default(),
                    });
                }
            }
        }
        Ok(())
    }

    /// File and line of the request with global line index `gidx`.
    fn loc_of_request(&self, gidx: u64) -> Loc {
        let mut g = gidx;
        for (i, n) in self.request_lines.iter().enumerate() {
            if g < *n {
                return Loc {
                    file: self.opts.requests[i].name.clone(),
                    line: g + 1,
                    offset: None,
                };
            }
            g -= n;
        }
        let file = self
            .opts
            .requests
            .get(self.request_lines.len())
            .map(|i| i.name.clone())
            .unwrap_or_default();
        Loc {
            file,
            line: g + 1,
            offset: None,
        }
    }
}

/// The line's content from its raw bytes (terminator and, on line 1, a BOM removed).
fn content_of(raw: &[u8], first: bool) -> &[u8] {
    let mut c = raw.strip_suffix(b"\n").unwrap_or(raw);
    c = c.strip_suffix(b"\r").unwrap_or(c);
    if first {
        c = c.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(c);
    }
    c
}

fn process_ok<F, T>(f: F) -> F
where
    F: Fn(&Chunk) -> Result<T, JoinError> + Sync,
{
    f
}

// ---------------------------------------------------------------------------------------------
// (b)–(d): the grace hash join over spill files

struct GraceView {
    _dir: batchkit_io::staging::StagedDir,
    entries: (File, PathBuf),
    payload: (File, PathBuf),
    claimed: Vec<u64>,
    count: u64,
}

impl Lookup for GraceView {
    fn entry(&self, idx: u64) -> Result<Entry, JoinError> {
        let mut b = [0u8; ENTRY_SIZE];
        read_at(
            &self.entries.0,
            &self.entries.1,
            idx * ENTRY_SIZE as u64,
            &mut b,
        )?;
        Ok(Entry::decode(&b))
    }
    fn with_bytes(&self, e: &Entry, f: &mut dyn FnMut(&ResultBytes<'_>)) -> Result<(), JoinError> {
        let mut all = vec![0u8; e.raw_len as usize + extra_len(e)];
        read_at(&self.payload.0, &self.payload.1, e.off, &mut all)?;
        f(&slices(&all, e));
        Ok(())
    }
}

/// A request line as the first pass sees it.
enum ReqRec {
    Blank,
    Problem(Problem),
    Id {
        hash: u64,
        id: Vec<u8>,
        id_rel: u32,
        id_len: u32,
    },
}

fn first_pass_chunk(chunk: &Chunk) -> Vec<ReqRec> {
    if chunk.oversized.is_some() {
        return vec![ReqRec::Problem(Problem::LineTooLarge)];
    }
    chunk
        .lines()
        .map(|line| {
            if line.is_blank() {
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
                },
                RequestId::InvalidJson(_) => ReqRec::Problem(Problem::InvalidJson),
                RequestId::InvalidUtf8(_) => ReqRec::Problem(Problem::InvalidUtf8),
                RequestId::MissingId => ReqRec::Problem(Problem::MissingId),
                RequestId::InvalidId => ReqRec::Problem(Problem::InvalidId),
            }
        })
        .collect()
}

fn finish_all(files: Vec<SpillFile>) -> Result<Vec<(File, PathBuf)>, JoinError> {
    files.into_iter().map(SpillFile::finish).collect()
}

impl Ctx<'_> {
    fn grace(
        &mut self,
        spill: Spill,
        outs: &mut Outputs,
        on_event: &mut dyn FnMut(&Event),
    ) -> Result<GraceView, JoinError> {
        let Spill {
            dir,
            payload,
            entries,
            parts,
            bits,
            count,
        } = spill;
        let payload = payload.finish()?;
        let entries = entries.finish()?;
        let res_parts = finish_all(parts)?;
        let opts = self.opts;

        // (b) first pass over the requests.
        let mut req_parts = (0..1u32 << bits)
            .map(|p| SpillFile::create(dir.path().join(format!("req-{p:04}")), 32 << 10))
            .collect::<Result<Vec<_>, _>>()?;
        let mut match_w = SpillFile::create(dir.path().join("match"), 256 << 10)?;
        let mut second_inputs = Vec::new();
        let mut gidx = 0u64;
        for (fi, input) in opts.requests.iter().enumerate() {
            let mut tee = match input.source {
                Source::Stdin => Some(SpillFile::create(
                    dir.path().join(format!("stdin-{fi}")),
                    1 << 20,
                )?),
                Source::Path(_) => None,
            };
            let read = self.read.clone();
            let stats = run_input(
                opts,
                &input.name,
                input,
                &read,
                first_pass_chunk,
                |chunk, recs: Vec<ReqRec>| -> Result<bool, JoinError> {
                    if let Some(t) = &mut tee {
                        if chunk.oversized.is_some() {
                            return Err(JoinError::Usage(format!(
                            "{}:{}: a line longer than --max-line-bytes on stdin cannot be joined past the memory limit; pass the file by path",
                            input.name, chunk.first_line
                        )));
                        }
                        t.write(&chunk.data)?;
                    }
                    for rec in recs {
                        let m = match &rec {
                            ReqRec::Blank => Match {
                                result: NONE,
                                other: NONE,
                                status: Status::Missing.to_u8(),
                                problem: BLANK,
                                id_rel: 0,
                                id_len: 0,
                            },
                            ReqRec::Problem(p) => Match {
                                result: NONE,
                                other: NONE,
                                status: Status::Missing.to_u8(),
                                problem: p.to_u8(),
                                id_rel: 0,
                                id_len: 0,
                            },
                            ReqRec::Id {
                                hash,
                                id,
                                id_rel,
                                id_len,
                            } => {
                                let f = &mut req_parts[partition(*hash, bits)];
                                let mut r = Vec::with_capacity(20 + id.len());
                                r.extend_from_slice(&gidx.to_le_bytes());
                                r.extend_from_slice(&hash.to_le_bytes());
                                r.extend_from_slice(&(id.len() as u32).to_le_bytes());
                                r.extend_from_slice(id);
                                f.write(&r)?;
                                Match {
                                    result: NONE,
                                    other: NONE,
                                    status: Status::Missing.to_u8(),
                                    problem: 0,
                                    id_rel: *id_rel,
                                    id_len: *id_len,
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
        let req_parts = finish_all(req_parts)?;
        let (match_f, match_p) = match_w.finish()?;
        let mut table = if gidx * MATCH_SIZE as u64 <= self.budget / 2 {
            let mut v = Vec::new();
            File::open(&match_p)
                .and_then(|mut f| f.read_to_end(&mut v))
                .map_err(io_err(&match_p))?;
            drop(match_f);
            MatchTable::Mem(v)
        } else {
            MatchTable::File(match_f, match_p)
        };

        // (c) per partition: build from the results, probe with the requests in order.
        let mut claimed = vec![0u64; count.div_ceil(64) as usize];
        for (p, (_, res_path)) in res_parts.iter().enumerate() {
            let data = std::fs::read(res_path).map_err(io_err(res_path))?;
            let mut recs: Vec<(u64, u64, u8, usize, usize)> = Vec::new();
            let mut at = 0;
            while at < data.len() {
                let idx = u64::from_le_bytes(data[at..at + 8].try_into().expect("8"));
                let hash = u64::from_le_bytes(data[at + 8..at + 16].try_into().expect("8"));
                let status = data[at + 16];
                let len =
                    u32::from_le_bytes(data[at + 17..at + 21].try_into().expect("4")) as usize;
                recs.push((idx, hash, status, at + 21, len));
                at += 21 + len;
            }
            let id = |i: u32| {
                let r = &recs[i as usize];
                &data[r.3..r.3 + r.4]
            };
            let mut ht: HashTable<u32> = HashTable::with_capacity(recs.len());
            let mut losers = Vec::new();
            for i in 0..recs.len() as u32 {
                let (_, hash, status, _, _) = recs[i as usize];
                match ht.find_mut(hash, |&j| id(j) == id(i)) {
                    Some(slot) => {
                        if better(
                            Status::from_u8(status),
                            Status::from_u8(recs[*slot as usize].2),
                        ) {
                            losers.push(*slot);
                            *slot = i;
                        } else {
                            losers.push(i);
                        }
                    }
                    None => {
                        ht.insert_unique(hash, i, |&j| recs[j as usize].1);
                    }
                }
            }
            for &l in &losers {
                let hash = recs[l as usize].1;
                let w = *ht
                    .find(hash, |&j| id(j) == id(l))
                    .expect("a loser's id is in the table");
                write_at(
                    &entries.0,
                    &entries.1,
                    other_offset(recs[l as usize].0),
                    &recs[w as usize].0.to_le_bytes(),
                )?;
            }
            // The partition's requests, in order: the first line of each id probes the
            // results, later ones are duplicates. Their ids are held in passes that each take a
            // bounded share of the budget (one pass unless the partition is large).
            let (req_f, req_path) = &req_parts[p];
            let req_len = req_f.metadata().map_err(io_err(req_path))?.len();
            // (At least 1 MiB a pass: tiny test budgets must not read a partition per id.)
            let share = (self.budget / 4).max(1 << 20);
            let passes = req_len.div_ceil(share).max(1);
            for pass in 0..passes {
                let mut seen = IdSet::default();
                let mut r = BufReader::with_capacity(
                    256 << 10,
                    File::open(req_path).map_err(io_err(req_path))?,
                );
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
                    if let Some(first) = seen.first_or_insert(hash, &idbuf, g) {
                        table.set_result(
                            g,
                            &Match {
                                result: NONE,
                                other: first,
                                status: Status::Missing.to_u8(),
                                problem: Problem::DuplicateId.to_u8(),
                                id_rel: 0,
                                id_len: 0,
                            },
                        )?;
                        continue;
                    }
                    let Some(&w) = ht.find(hash, |&j| id(j) == idbuf.as_slice()) else {
                        continue;
                    };
                    let (ridx, _, status, _, _) = recs[w as usize];
                    claimed[(ridx / 64) as usize] |= 1 << (ridx % 64);
                    table.set_result(
                        g,
                        &Match {
                            result: ridx,
                            other: NONE,
                            status,
                            problem: 0,
                            id_rel: 0,
                            id_len: 0,
                        },
                    )?;
                }
            }
        }
        drop(req_parts);
        drop(res_parts);

        // (d) second pass: merged and retry lines.
        let view = GraceView {
            _dir: dir,
            entries,
            payload,
            claimed,
            count,
        };
        let mut base = 0u64;
        for (fi, input) in second_inputs.iter().enumerate() {
            let read = self.read.clone();
            let table = &table;
            let view_ref = &view;
            let total = gidx;
            let process = |chunk: &Chunk| -> Result<ReqChunk, JoinError> {
                let mut merged = Vec::with_capacity(chunk.data.len() * 2);
                if let Some(r) = oversized_out(chunk, &mut merged) {
                    return Ok(r);
                }
                let n = chunk.line_count() as usize;
                let from = base + chunk.first_line - 1;
                if from + n as u64 > total {
                    return Err(JoinError::Usage(format!(
                        "{}: the file changed while it was being joined",
                        input.name
                    )));
                }
                let mut recs = Vec::new();
                table.read(from, n, &mut recs)?;
                let dbase = chunk.data.as_ptr() as usize;
                let mut lines = Vec::new();
                for (k, line) in chunk.lines().enumerate() {
                    let m = Match::decode(&recs[k * MATCH_SIZE..(k + 1) * MATCH_SIZE]);
                    if m.problem == BLANK {
                        continue;
                    }
                    let raw = (line.raw.as_ptr() as usize - dbase, line.raw.len());
                    let mut lo = LineOut {
                        line: line.number,
                        byte: line.offset,
                        raw,
                        merged: (0, 0),
                        status: Status::from_u8(m.status),
                        problem: Problem::from_u8(m.problem),
                        result: m.result,
                        other: m.other,
                        custom_id: None,
                        message: None,
                        key: None,
                    };
                    let id_raw = &line.content[m.id_rel as usize..(m.id_rel + m.id_len) as usize];
                    let start = merged.len();
                    match lo.problem {
                        Some(Problem::DuplicateId) => {
                            lo.merged = problem_line(
                                &mut merged,
                                line.content,
                                Problem::DuplicateId,
                                line.number,
                                Some(id_raw),
                            );
                        }
                        Some(p) => {
                            let detail = match request_id(line.content) {
                                RequestId::InvalidJson(msg) | RequestId::InvalidUtf8(msg) => msg,
                                _ => String::new(),
                            };
                            lo.merged =
                                problem_line(&mut merged, line.content, p, line.number, None);
                            lo.message = Some(request_problem_message(p, &detail));
                        }
                        None if m.result != NONE => {
                            lo.status =
                                with_result(view_ref, m.result, &mut merged, id_raw, line.content)?;
                            lo.merged = (start, merged.len() - start);
                        }
                        None => {
                            write_merged(
                                &mut merged,
                                Some(id_raw),
                                Status::Missing,
                                Some(line.content),
                                None,
                                None,
                                0,
                            );
                            lo.merged = (start, merged.len() - start);
                        }
                    }
                    lines.push(lo);
                }
                Ok(ReqChunk { merged, lines })
            };
            let name_input = &opts.requests[fi];
            let stats = run_input(
                opts,
                &name_input.name,
                input,
                &read,
                process_ok(process),
                |chunk, rc: Result<ReqChunk, JoinError>| -> Result<bool, JoinError> {
                    let rc = rc?;
                    self.emit_request_chunk(chunk, rc, name_input, base, None, outs, on_event)?;
                    Ok(true)
                },
            )?;
            base += stats.lines;
        }
        Ok(view)
    }
}

// ---------------------------------------------------------------------------------------------
// The last pass: orphans and duplicates, in result order

trait FinalView: Lookup {
    fn count(&self) -> u64;
    fn claimed(&self, idx: u64) -> bool;
    fn entries(&self)
        -> Result<Box<dyn Iterator<Item = Result<Entry, JoinError>> + '_>, JoinError>;
    fn with_raw(
        &self,
        e: &Entry,
        f: &mut dyn FnMut(&[u8]) -> Result<(), JoinError>,
    ) -> Result<(), JoinError>;
    fn id(&self, e: &Entry) -> Result<String, JoinError> {
        let mut s = String::new();
        self.with_id(e, &mut |b| s = String::from_utf8_lossy(b).into_owned())?;
        Ok(s)
    }
    fn with_id(&self, e: &Entry, f: &mut dyn FnMut(&[u8])) -> Result<(), JoinError>;
}

impl FinalView for MemView<'_> {
    fn count(&self) -> u64 {
        self.mem.entries.len() as u64
    }
    fn claimed(&self, idx: u64) -> bool {
        self.claims[idx as usize] != NONE
    }
    fn entries(
        &self,
    ) -> Result<Box<dyn Iterator<Item = Result<Entry, JoinError>> + '_>, JoinError> {
        Ok(Box::new(self.mem.entries.iter().map(|e| Ok(*e))))
    }
    fn with_raw(
        &self,
        e: &Entry,
        f: &mut dyn FnMut(&[u8]) -> Result<(), JoinError>,
    ) -> Result<(), JoinError> {
        f(self.mem.arena.get(e.off, e.raw_len as usize))
    }
    fn with_id(&self, e: &Entry, f: &mut dyn FnMut(&[u8])) -> Result<(), JoinError> {
        f(self.mem.id(e));
        Ok(())
    }
}

impl FinalView for GraceView {
    fn count(&self) -> u64 {
        self.count
    }
    fn claimed(&self, idx: u64) -> bool {
        self.claimed[(idx / 64) as usize] & (1 << (idx % 64)) != 0
    }
    fn entries(
        &self,
    ) -> Result<Box<dyn Iterator<Item = Result<Entry, JoinError>> + '_>, JoinError> {
        let path = &self.entries.1;
        let mut r = BufReader::with_capacity(256 << 10, File::open(path).map_err(io_err(path))?);
        let mut b = [0u8; ENTRY_SIZE];
        Ok(Box::new((0..self.count).map(move |_| {
            r.read_exact(&mut b).map_err(io_err(path))?;
            Ok(Entry::decode(&b))
        })))
    }
    fn with_raw(
        &self,
        e: &Entry,
        f: &mut dyn FnMut(&[u8]) -> Result<(), JoinError>,
    ) -> Result<(), JoinError> {
        let mut b = vec![0u8; e.raw_len as usize];
        read_at(&self.payload.0, &self.payload.1, e.off, &mut b)?;
        f(&b)
    }
    fn with_id(&self, e: &Entry, f: &mut dyn FnMut(&[u8])) -> Result<(), JoinError> {
        let mut b = vec![0u8; e.id_len as usize];
        read_at(
            &self.payload.0,
            &self.payload.1,
            e.off + u64::from(e.id_rel),
            &mut b,
        )?;
        f(&b);
        Ok(())
    }
}

impl Ctx<'_> {
    fn finish_results<V: FinalView>(
        &mut self,
        outs: &mut Outputs,
        on_event: &mut dyn FnMut(&Event),
        view: &mut V,
    ) -> Result<(), JoinError> {
        let loc = |e: &Entry| Loc {
            file: self.opts.results[e.file as usize].name.clone(),
            line: e.line,
            offset: Some(e.byte),
        };
        let mut events = Vec::new();
        for (idx, e) in view.entries()?.enumerate() {
            let e = e?;
            let idx = idx as u64;
            match e.kind {
                0 if e.other != NONE => {
                    self.summary.duplicates += 1;
                    if let Some(f) = outs.duplicates.as_mut().or(outs.orphans.as_mut()) {
                        view.with_raw(&e, &mut |raw| write_line(f, raw))?;
                    }
                    let kept = view.entry(e.other)?;
                    events.push(Event::DuplicateResult {
                        custom_id: view.id(&e)?,
                        kept: loc(&kept),
                        dropped: loc(&e),
                    });
                }
                0 if view.claimed(idx) => self.summary.joined += 1,
                0 | 1 => {
                    if e.kind == 0 {
                        self.summary.orphans += 1;
                    }
                    if let Some(f) = outs.orphans.as_mut() {
                        view.with_raw(&e, &mut |raw| write_line(f, raw))?;
                    }
                }
                _ => {}
            }
            // Events go out as they come; the vector only batches the borrow of `view`.
            for ev in events.drain(..) {
                on_event(&ev);
            }
        }
        debug_assert!(view.count() >= self.summary.joined);
        Ok(())
    }
}
