//! The join itself: read the results, then either probe them in memory with one pass over
//! the requests, or spill and run a partitioned (grace) hash join:
//!
//! 1. (a) results ([`crate::partition`]): parsed in parallel, stored in order; past the
//!    budget everything moves to spill files (payload bytes, fixed-size entries, id records
//!    partitioned by hash). A result's raw line is stored only when it cannot be read back
//!    from its input by position (stdin, zstd); the join keeps its offset otherwise.
//! 2. (b) requests, first pass ([`crate::partition`]): id records partitioned by the same
//!    hash, in request order, and the base of each request's match record.
//! 3. (c) per partition ([`crate::probe`]): its result ids in a hash table, probed with its
//!    requests in order, deciding each request's result (the match table) and each
//!    duplicate's fate; partitions in parallel as the budget allows.
//! 4. (d) requests, second pass ([`crate::render`]): merged and retry lines built in parallel
//!    from the match table and the result bytes, written in order.
//!
//! Both paths apply the same duplicate rules ([`crate::probe::ResultTable`],
//! [`crate::probe::FirstLines`]), render with the same function
//! ([`crate::render::render_line`]), end with the same pass over the results in order for
//! orphans and duplicates, and report events in the same order, so their outputs are
//! identical.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use batchkit_io::part::Part;
use batchkit_io::{AtomicFile, Chunk, Input, Line, ReadOptions, Source};
use batchkit_line::BlankRun;

use crate::answer::{Checker, Want};
use crate::parse::{request_id, request_id_want, RequestId, Tally};
use crate::partition::{Results, Spill};
use crate::probe::{probe_partitions, FirstLines};
use crate::render::{
    content_of, entry_at, oversized_out, render_line, request_said, slices, FileFinal, LineOut,
    MemClaims, MemFinal, Payload, ReqChunk, ResultSource,
};
use crate::store::{hash_id, io_err, Entry, Match, MemStore, MATCH_SIZE, NONE};
use crate::{
    EventSink, JoinError, JoinOptions, JoinSummary, ModelUsage, Problem, Side, Status, StatusSet,
};

/// [`batchkit_io::run`] over one input of `side`, handing `sink` the join's sink with each
/// chunk's result and then telling it the position reached in `label`. The input's first
/// line that parses decides whether it is on the wrong side ([`wrong_side`]), as it is read
/// (stdin cannot be read twice).
pub(crate) fn run_input<T, P, S>(
    label: &str,
    side: Side,
    input: &Input,
    read: ReadOptions,
    on_event: &mut EventSink<'_>,
    process: P,
    mut sink: S,
) -> Result<batchkit_io::ReadStats, JoinError>
where
    T: Send,
    P: Fn(&Chunk) -> T + Sync,
    S: FnMut(&Chunk, T, &mut EventSink<'_>) -> Result<bool, JoinError>,
{
    // Lines left to look at for the one that decides (a file of nothing but broken lines is
    // not parsed twice to its end).
    let mut undecided = 1000u32;
    batchkit_io::run(input, &read, process, |chunk, t| {
        if undecided > 0 {
            wrong_side(label, side, chunk, &mut undecided)?;
        }
        let go = sink(chunk, t, &mut *on_event)?;
        on_event
            .progress(label, chunk.source_pos)
            .map_err(JoinError::Report)?;
        Ok(go)
    })
}

/// What a line says about the side it belongs to.
enum LineSide {
    /// A result line, in this layout.
    Result(batchkit_line::ResultLayout),
    /// A request line: not a result, and it carries a request's payload (`body`, `params`,
    /// `modelInput`, `request`).
    Request,
    /// Neither (an object of no known shape, or not an object).
    Unknown,
}

fn line_side(root: simd_json::tape::Value<'_, '_>) -> LineSide {
    if let Some(r) = batchkit_line::ResultLine::detect(root) {
        return LineSide::Result(r.layout());
    }
    match root.as_object() {
        Some(o)
            if ["body", "params", "modelInput", "request"]
                .iter()
                .any(|k| o.get(*k).is_some()) =>
        {
            LineSide::Request
        }
        _ => LineSide::Unknown,
    }
}

/// Refuses an input given on the wrong side (`--requests` and `--results` swapped, or a file
/// on the wrong one), judged by its first non-blank line that parses, in `chunk` (the
/// input's chunks come in order). `left` counts down the non-blank lines still to look at,
/// and is 0 once the input is judged.
fn wrong_side(label: &str, side: Side, chunk: &Chunk, left: &mut u32) -> Result<(), JoinError> {
    for line in chunk.lines() {
        if *left == 0 {
            return Ok(());
        }
        if line.is_blank() {
            continue;
        }
        *left -= 1;
        let Ok(seen) = batchkit_line::read(line.content, line_side) else {
            continue;
        };
        *left = 0;
        let at = format!("{label}:{}", line.number);
        return match (side, seen) {
            (Side::Request, LineSide::Result(layout)) => Err(JoinError::Usage(format!(
                "--requests {at}: this is {}, not a request: result files go to --results, the uploaded requests to --requests (swapped?)",
                layout.describe()
            ))),
            (Side::Result, LineSide::Request) => Err(JoinError::Usage(format!(
                "--results {at}: this is a request line, not a result: the uploaded requests go to --requests, result files to --results (swapped?)"
            ))),
            _ => Ok(()),
        };
    }
    Ok(())
}

/// More models than this are summed as `(other)`: a bound on a table a hostile file could grow.
pub(crate) const MAX_MODELS: usize = 4096;

/// The result inputs opened for positional reads, when every one is a plain, uncompressed
/// file (its line offsets are then file offsets); `None` otherwise.
fn positional_inputs(opts: &JoinOptions) -> Option<Vec<(File, PathBuf)>> {
    opts.results
        .iter()
        .map(|i| {
            let Source::Path(p) = &i.source else {
                return None;
            };
            let f = File::open(p).ok()?;
            if !f.metadata().ok()?.is_file() {
                return None;
            }
            let mut head = [0u8; 4];
            let n = f.read_at(&mut head, 0).ok()?;
            // zstd frames and skippable frames (what the reader decompresses).
            let zstd = n == 4
                && (head == [0x28, 0xB5, 0x2F, 0xFD]
                    || (head[0] & 0xF0 == 0x50 && head[1..4] == [0x2A, 0x4D, 0x18]));
            (!zstd).then(|| (f, p.clone()))
        })
        .collect()
}

/// Joins `opts.results` back to `opts.requests`; see the crate docs.
pub fn join(opts: &JoinOptions, on_event: &mut EventSink<'_>) -> Result<JoinSummary, JoinError> {
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
    if let Some(f) = opts.raise_max_tokens {
        crate::raise::check_factor(f).map_err(JoinError::Usage)?;
    }
    if opts.requests.is_empty() || opts.results.is_empty() {
        return Err(JoinError::Usage(
            "give at least one requests file and one results file".into(),
        ));
    }
    // The join's share holds its partitions and its reader's chunks in flight together.
    let (read, budget) = opts.read.clone().fit_to(opts.read.budget.join());
    let temp_base = match &opts.temp_dir {
        Some(d) => d.clone(),
        None => match opts.out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        },
    };
    // Results documents (OpenRouter's inline results) are read as JSON Lines of their items.
    // (The directory of their items lives as long as the join.)
    let expanded;
    let (_docs_dir, docs) = crate::document::expand(&opts.results, &temp_base)?;
    let opts = match docs {
        Some(results) => {
            expanded = JoinOptions {
                results,
                ..opts.clone()
            };
            &expanded
        }
        None => opts,
    };
    let checker = Checker::new(
        opts.answer_schema.as_ref(),
        opts.expect_json,
        opts.read.budget.answer_schemas(),
    )
    .map_err(|e| JoinError::Usage(format!("--answer-schema: {e}")))?;
    let id_map = match &opts.id_map {
        Some(p) => Some(std::sync::Arc::new(read_id_map(
            p,
            opts.read.budget.tables(),
        )?)),
        None => None,
    };
    let positional = positional_inputs(opts);
    let inputs = positional.as_deref();
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
        raw_in_payload: positional.is_none(),
        blank_run: BlankRun::default(),
        checker: std::sync::Arc::new(checker),
        id_map,
    };

    let results = ctx.read_results(on_event)?;
    match results {
        Results::Mem(mut mem) => {
            mem.resolve_losers();
            let src = ResultSource {
                inputs,
                names: &opts.results,
                payload: &mem.payload,
            };
            let mut mc = MemClaims {
                first: FirstLines::new(mem.entries.len()),
                allowance: budget.saturating_sub(mem.footprint()),
            };
            for (i, e) in opts.earlier.iter().enumerate() {
                mc.first
                    .first(None, hash_id(&e.id), &e.id, crate::EARLIER_BASE + i as u64);
            }
            if ctx.requests_in_memory(&mem, &src, &mut mc, &mut outs, on_event)? {
                let view = MemFinal {
                    entries: &mem.entries,
                    first: &mc.first,
                };
                ctx.finish_results(&mut outs, on_event, &view, &src)?;
            } else {
                // The request ids outgrew the budget: start the request side again on the
                // spill path, with fresh outputs.
                if opts.requests.iter().any(Input::one_pass) {
                    return Err(JoinError::Usage(
                        "the request ids on stdin do not fit in --memory-limit beside the results; raise it or pass the requests file by path".into(),
                    ));
                }
                drop(mc);
                drop(outs);
                outs = Outputs::create(opts)?;
                ctx.reset_requests();
                let spill = ctx.spill(mem, results_hint(opts))?;
                ctx.grace(spill, inputs, &mut outs, on_event)?;
            }
        }
        Results::Spill(spill) => ctx.grace(spill, inputs, &mut outs, on_event)?,
    }
    outs.commit()?;
    let mut s = ctx.summary;
    s.models = model_usages(ctx.models);
    Ok(s)
}

/// Adds one model's tally to the per-model totals; past [`MAX_MODELS`] names, a new model's
/// results are counted as `(other)` (a bound on a table a hostile file could grow).
pub(crate) fn add_model(models: &mut BTreeMap<String, Tally>, name: String, t: &Tally) {
    let key = if models.len() >= MAX_MODELS && !models.contains_key(&name) {
        "(other)".to_string()
    } else {
        name
    };
    models.entry(key).or_default().add(t);
}

/// The summary's per-model usage, not yet priced.
pub(crate) fn model_usages(models: BTreeMap<String, Tally>) -> Vec<ModelUsage> {
    models
        .into_iter()
        .map(|(model, t)| ModelUsage {
            model,
            usage: t.usage,
            cost_usd: None,
            stop_reasons: t.stops,
        })
        .collect()
}

/// `convert --id-map`'s file: `{"id":new,"original":old}` per line, held in memory within
/// `limit` bytes.
pub(crate) fn read_id_map(p: &Path, limit: u64) -> Result<crate::partition::IdMap, JoinError> {
    use std::io::BufRead;
    let name = p.display().to_string();
    let f = File::open(p).map_err(io_err(p))?;
    let mut map = crate::partition::IdMap::new();
    let mut held = 0u64;
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.map_err(io_err(p))?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = || {
            JoinError::Usage(format!(
                "{name}:{}: not an id map line ({{\"id\":new,\"original\":old}})",
                i + 1
            ))
        };
        let v: serde_json::Value = serde_json::from_str(&line).map_err(|_| bad())?;
        let (Some(new), Some(old)) = (v["id"].as_str(), v["original"].as_str()) else {
            return Err(bad());
        };
        held += (new.len() + old.len() + 64) as u64;
        if held > limit {
            return Err(JoinError::Usage(format!(
                "{name}: the id map does not fit in --memory-limit; raise it"
            )));
        }
        map.insert(new.to_string(), old.to_string());
    }
    Ok(map)
}

/// Bytes of the result files, where known.
pub(crate) fn results_hint(opts: &JoinOptions) -> u64 {
    opts.results.iter().map(|i| i.len_hint().unwrap_or(0)).sum()
}

pub(crate) struct Ctx<'o> {
    pub opts: &'o JoinOptions,
    pub read: ReadOptions,
    pub budget: u64,
    pub temp_base: PathBuf,
    pub summary: JoinSummary,
    pub models: BTreeMap<String, Tally>,
    /// Lines of each request file read so far (global line index = sum of earlier files + line - 1).
    pub request_lines: Vec<u64>,
    /// The in-memory request pass stopped: its id set outgrew the budget.
    pub overflow: bool,
    /// Request-side events counted in this pass, and how many of them an earlier (stopped)
    /// pass already gave.
    pub request_events: u64,
    pub skip_request_events: u64,
    /// Whether the results' raw lines are stored (they cannot be read back from their inputs).
    pub raw_in_payload: bool,
    /// Blank lines of the request file being written, not yet reported.
    pub blank_run: BlankRun,
    /// The answer checks, and their schemas.
    pub checker: std::sync::Arc<Checker>,
    /// `--id-map`: new ids to the original ones.
    pub id_map: Option<std::sync::Arc<crate::partition::IdMap>>,
}

/// One output file of the join and the flag that named it (every error about it says both).
pub(crate) struct Out {
    pub file: AtomicFile,
    pub flag: &'static str,
}

impl Out {
    pub(crate) fn err(&self) -> impl Fn(std::io::Error) -> JoinError {
        let flag = self.flag;
        move |source| JoinError::Output { flag, source }
    }
}

pub(crate) struct Outputs {
    pub out: Out,
    pub retry: Option<Out>,
    pub orphans: Option<Out>,
    pub duplicates: Option<Out>,
    pub rejects: Option<Out>,
}

fn atomic(flag: &'static str) -> impl Fn(&Path) -> Result<Out, JoinError> {
    move |p| match AtomicFile::create(p) {
        Ok(file) => Ok(Out { file, flag }),
        Err(source) => Err(JoinError::Output { flag, source }),
    }
}

impl Outputs {
    fn create(o: &JoinOptions) -> Result<Self, JoinError> {
        Ok(Outputs {
            out: atomic("--out")(&o.out)?,
            retry: o.retry.as_deref().map(atomic("--retry")).transpose()?,
            orphans: o.orphans.as_deref().map(atomic("--orphans")).transpose()?,
            duplicates: o
                .duplicates
                .as_deref()
                .map(atomic("--duplicates"))
                .transpose()?,
            rejects: o.rejects.as_deref().map(atomic("--rejects")).transpose()?,
        })
    }

    /// Puts every output in place, or none: each is written out and synced first, and only
    /// when all of them are, renamed. (Dropped, the ones not renamed are removed.)
    fn commit(self) -> Result<(), JoinError> {
        let mut all: Vec<Out> = [self.retry, self.orphans, self.duplicates, self.rejects]
            .into_iter()
            .flatten()
            .collect();
        all.insert(0, self.out);
        for o in &mut all {
            o.file.prepare().map_err(o.err())?;
        }
        for o in all {
            let err = o.err();
            o.file.commit().map_err(err)?;
        }
        Ok(())
    }
}

fn process_ok<F, T>(f: F) -> F
where
    F: Fn(&Chunk) -> Result<T, JoinError> + Sync,
{
    f
}

/// A request line that cannot be joined by id: its problem and the parser's detail.
fn request_problem(r: RequestId<'_>) -> (Problem, String) {
    let p = r.problem().unwrap_or(Problem::InvalidId);
    match r {
        RequestId::InvalidJson(m) | RequestId::InvalidUtf8(m) => (p, m),
        _ => (p, String::new()),
    }
}

/// Renders one chunk of request lines: the oversized line alone, else `render` on each line
/// that is not blank (its index in the chunk, the line, its fresh [`LineOut`], the chunk's
/// merged-line buffer and a scratch buffer for result bytes), which gives back the line's
/// outcome. A blank line has no merged line; one that ends in a newline is kept as blank, to
/// be reported as validate reports it.
///
/// With `--partition`, a line of another `part` is not rendered: it is passed on as
/// `elsewhere` (it still ends a run of blank lines), and blank lines are part 0's.
fn request_chunk<F>(chunk: &Chunk, part: Part, mut render: F) -> Result<ReqChunk, JoinError>
where
    F: FnMut(usize, &Line<'_>, LineOut, &mut Vec<u8>, &mut Vec<u8>) -> Result<LineOut, JoinError>,
{
    if chunk.oversized.is_some() && !crate::part::holds(part, None) {
        return Ok(ReqChunk {
            merged: Vec::new(),
            lines: Vec::new(),
        });
    }
    let mut merged = Vec::with_capacity(chunk.data.len() * 2);
    if let Some(r) = oversized_out(chunk, &mut merged) {
        return Ok(r);
    }
    let dbase = chunk.data.as_ptr() as usize;
    let mut lines = Vec::new();
    let mut buf = Vec::new();
    for (k, line) in chunk.lines().enumerate() {
        let raw = (line.raw.as_ptr() as usize - dbase, line.raw.len());
        let lo = LineOut::new(line.number, line.offset, raw);
        if line.is_blank() {
            if line.terminated() && part.holds_no_id() {
                lines.push(LineOut { blank: true, ..lo });
            }
            continue;
        }
        if !crate::part::holds_request(part, line.content) {
            lines.push(LineOut {
                elsewhere: true,
                ..lo
            });
            continue;
        }
        lines.push(render(k, &line, lo, &mut merged, &mut buf)?);
    }
    Ok(ReqChunk { merged, lines })
}

/// The merged line of request `line` with no result: `id_raw` its id literal when it has a
/// usable one, `problem` what is wrong with it.
fn render_missing(
    merged: &mut Vec<u8>,
    line: &Line<'_>,
    id_raw: Option<&[u8]>,
    problem: Option<Problem>,
) -> (usize, usize) {
    let (content, number) = (Some(line.content), line.number);
    render_line(
        merged,
        content,
        id_raw,
        Status::Missing,
        None,
        problem,
        number,
    )
}

/// Request `line` that cannot be joined by id because of `p` (`detail`, the parser's words):
/// its merged line and what is said about it.
fn render_problem(
    merged: &mut Vec<u8>,
    line: &Line<'_>,
    p: Problem,
    detail: &str,
    lo: &mut LineOut,
) {
    lo.said = Some(request_said(p, Some(line.content), detail));
    lo.merged = render_missing(merged, line, None, Some(p));
}

/// Request `line` (id literal `id_raw`) joined to result `e`, whose bytes are read into `buf`:
/// its status and merged line.
///
/// A finished answer is checked against what the request asks of it (`want`, or read from
/// the line when not given): one that breaks it is `invalid_answer`.
#[allow(clippy::too_many_arguments)]
fn render_joined<P: Payload + ?Sized>(
    merged: &mut Vec<u8>,
    buf: &mut Vec<u8>,
    src: &ResultSource<'_, P>,
    checker: &Checker,
    want: Option<Want>,
    line: &Line<'_>,
    id_raw: &[u8],
    e: &Entry,
    lo: &mut LineOut,
) -> Result<(), JoinError> {
    src.load(e, true, buf)?;
    lo.status = e.status();
    let mut result = slices(buf, e);
    let problem_json;
    if lo.status == Status::Succeeded {
        let want = want.unwrap_or_else(|| {
            if !checker.may_ask(line.content) {
                return Want::Nothing;
            }
            batchkit_line::read(line.content, |root| checker.want(root)).unwrap_or_default()
        });
        if !matches!(want, Want::Nothing) {
            lo.checked = true;
            if let Some(p) = checker.check(&want, result.text, result.content, result.stop) {
                lo.status = Status::InvalidAnswer;
                problem_json = p.to_json();
                result.answer_problem = Some(&problem_json);
                lo.answer = Some(p);
            }
        }
    }
    let (content, number) = (Some(line.content), line.number);
    lo.merged = render_line(
        merged,
        content,
        Some(id_raw),
        lo.status,
        Some(&result),
        None,
        number,
    );
    Ok(())
}

/// Probes the in-memory results with one chunk of request lines and renders their merged
/// lines (the duplicate-request rule is applied in order when they are written).
fn mem_request_chunk<P: Payload + ?Sized>(
    chunk: &Chunk,
    mem: &MemStore,
    src: &ResultSource<'_, P>,
    checker: &Checker,
    (retry_on, part): (StatusSet, Part),
) -> Result<ReqChunk, JoinError> {
    request_chunk(chunk, part, |_, line, mut lo, merged, buf| {
        let (id, want) = request_id_want(line.content, Some(checker));
        match id {
            RequestId::Id {
                id,
                raw_start,
                raw_len,
            } => {
                let id_raw = &line.content[raw_start..raw_start + raw_len];
                lo.id = (raw_start as u32, raw_len as u32);
                let hash = hash_id(id.as_bytes());
                match mem.find(hash, id.as_bytes()) {
                    Some(idx) => {
                        lo.result = u64::from(idx);
                        let e = &mem.entries[idx as usize];
                        let want = Some(want);
                        render_joined(merged, buf, src, checker, want, line, id_raw, e, &mut lo)?;
                    }
                    None => {
                        lo.merged = render_missing(merged, line, Some(id_raw), None);
                        lo.key = Some((hash, id.into_owned().into_bytes()));
                    }
                }
            }
            RequestId::Content(key) => {
                // The chain's first result, for now: the lines are settled in order
                // ([`settle_content`]) before they are written.
                lo.by_content = true;
                match mem.find(hash_id(&key), &key) {
                    Some(idx) => {
                        lo.result = u64::from(idx);
                        let e = &mem.entries[idx as usize];
                        let want = Some(want);
                        render_joined(merged, buf, src, checker, want, line, b"null", e, &mut lo)?;
                    }
                    None => lo.merged = render_missing(merged, line, None, None),
                }
            }
            other => {
                let (p, detail) = request_problem(other);
                lo.problem = Some(p);
                render_problem(merged, line, p, &detail, &mut lo);
            }
        }
        check_sendable(line, &mut lo, retry_on);
        Ok(lo)
    })
}

/// The in-memory join's lines joined by content, in request order: each takes the first
/// result of its content key no earlier line took (identical requests are matched in order,
/// [`FirstLines::claim_content`]); a line whose result changed is rendered again, joined to
/// the one it takes or missing when none is left, and the chunk's merged lines are laid out
/// again in order.
#[allow(clippy::too_many_arguments)]
fn settle_content<P: Payload + ?Sized>(
    chunk: &Chunk,
    rc: &mut ReqChunk,
    base: u64,
    mem: &MemStore,
    src: &ResultSource<'_, P>,
    checker: &Checker,
    first: &mut FirstLines,
    retry_on: StatusSet,
) -> Result<(), JoinError> {
    let mut again: Vec<(usize, Vec<u8>)> = Vec::new();
    let mut buf = Vec::new();
    for (k, lo) in rc.lines.iter_mut().enumerate() {
        if !lo.by_content || lo.result == NONE {
            continue;
        }
        let head = lo.result as u32;
        let took = first.claim_content(head, &mem.table, base + lo.line - 1);
        if took == Some(head) {
            continue;
        }
        let raw = &chunk.data[lo.raw.0..lo.raw.0 + lo.raw.1];
        let line = Line {
            number: lo.line,
            offset: lo.byte,
            raw,
            content: content_of(raw, lo.line == 1 && lo.byte == 0),
            bom: false,
        };
        let mut fresh = LineOut::new(lo.line, lo.byte, lo.raw);
        fresh.by_content = true;
        let mut merged = Vec::new();
        match took {
            Some(c) => {
                fresh.result = u64::from(c);
                let e = &mem.entries[c as usize];
                render_joined(
                    &mut merged,
                    &mut buf,
                    src,
                    checker,
                    None,
                    &line,
                    b"null",
                    e,
                    &mut fresh,
                )?;
            }
            None => fresh.merged = render_missing(&mut merged, &line, None, None),
        }
        check_sendable(&line, &mut fresh, retry_on);
        *lo = fresh;
        again.push((k, merged));
    }
    if again.is_empty() {
        return Ok(());
    }
    let old = std::mem::take(&mut rc.merged);
    let mut again = again.into_iter().peekable();
    for (k, lo) in rc.lines.iter_mut().enumerate() {
        let start = rc.merged.len();
        match again.next_if(|(j, _)| *j == k) {
            Some((_, m)) => rc.merged.extend_from_slice(&m),
            None => rc
                .merged
                .extend_from_slice(&old[lo.merged.0..lo.merged.0 + lo.merged.1]),
        }
        lo.merged = (start, rc.merged.len() - start);
    }
    Ok(())
}

/// A line with an id bound for the retry file: whether it can be sent again as it is (an
/// extra parse, only for the lines that would be retried).
fn check_sendable(line: &Line<'_>, lo: &mut LineOut, retry_on: StatusSet) {
    if lo.problem.is_none() && lo.status != Status::Succeeded && retry_on.contains(lo.status) {
        lo.unsendable = crate::render::unsendable(line.content);
    }
}

/// Renders one chunk of request lines of the spilled join's second pass from the match table
/// (`recs`, the chunk's records) and the result bytes.
fn grace_request_chunk<P: Payload + ?Sized>(
    chunk: &Chunk,
    recs: &[u8],
    entries: &(File, PathBuf),
    src: &ResultSource<'_, P>,
    checker: &Checker,
    (retry_on, part): (StatusSet, Part),
) -> Result<ReqChunk, JoinError> {
    request_chunk(chunk, part, |k, line, mut lo, merged, buf| {
        let m = Match::decode(&recs[k * MATCH_SIZE..(k + 1) * MATCH_SIZE]);
        lo.status = Status::from_u8(m.status);
        lo.problem = Problem::from_u8(m.problem);
        lo.result = m.result;
        lo.other = m.other;
        lo.by_content = m.by_content;
        let id_raw: &[u8] = if m.by_content {
            b"null"
        } else {
            &line.content[m.id_rel as usize..(m.id_rel + m.id_len) as usize]
        };
        match lo.problem {
            Some(Problem::DuplicateId) => {
                lo.merged = render_missing(merged, line, Some(id_raw), lo.problem);
            }
            Some(p) => {
                let (_, detail) = request_problem(request_id(line.content));
                render_problem(merged, line, p, &detail, &mut lo);
            }
            None if m.result != NONE => {
                let e = entry_at(entries, m.result)?;
                render_joined(merged, buf, src, checker, None, line, id_raw, &e, &mut lo)?;
            }
            None => lo.merged = render_missing(merged, line, Some(id_raw), None),
        }
        check_sendable(line, &mut lo, retry_on);
        Ok(lo)
    })
}

impl Ctx<'_> {
    /// One pass over the requests, probing the in-memory results.
    ///
    /// Returns false when the ids of requests without a result outgrew the budget left beside
    /// the results (`self.overflow`): the caller starts the request side again on the spill
    /// path.
    fn requests_in_memory<P: Payload + ?Sized>(
        &mut self,
        mem: &MemStore,
        src: &ResultSource<'_, P>,
        mc: &mut MemClaims,
        outs: &mut Outputs,
        on_event: &mut EventSink<'_>,
    ) -> Result<bool, JoinError> {
        let mut base = 0u64;
        let opts = self.opts;
        let checker = self.checker.clone();
        for input in opts.requests.iter() {
            let stats = run_input(
                &input.name,
                Side::Request,
                input,
                self.read.clone(),
                on_event,
                process_ok(|chunk: &Chunk| {
                    mem_request_chunk(chunk, mem, src, &checker, (opts.retry_on, opts.partition))
                }),
                |chunk, rc: Result<ReqChunk, JoinError>, on_event| -> Result<bool, JoinError> {
                    let mut rc = rc?;
                    settle_content(
                        chunk,
                        &mut rc,
                        base,
                        mem,
                        src,
                        &checker,
                        &mut mc.first,
                        opts.retry_on,
                    )?;
                    self.emit_request_chunk(
                        chunk,
                        rc,
                        input,
                        base,
                        Some(&mut *mc),
                        outs,
                        on_event,
                    )?;
                    Ok(!self.overflow)
                },
            )?;
            if self.overflow {
                return Ok(false);
            }
            self.blanks_at_end(input, on_event)?;
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
        s.statuses = [0; Status::ALL.len()];
        s.request_problems = 0;
        s.invalid_requests = 0;
        s.to_retry = 0;
        s.matched_by_content = 0;
        s.not_in_retry = 0;
        (s.raised, s.raise_unchanged) = (0, 0);
        self.request_lines.clear();
        self.skip_request_events = self.request_events;
        self.request_events = 0;
        self.overflow = false;
        self.blank_run = BlankRun::default();
    }

    /// The spilled join, (b) to (d), then the last pass over the results.
    fn grace(
        &mut self,
        spill: Spill,
        inputs: Option<&[(File, PathBuf)]>,
        outs: &mut Outputs,
        on_event: &mut EventSink<'_>,
    ) -> Result<(), JoinError> {
        self.summary.spilled = true;
        self.summary.partitions = 1 << spill.bits;
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
        let res_parts = parts.finish()?;
        let opts = self.opts;

        // (b) first pass over the requests.
        let first = self.first_pass(dir.path(), bits, on_event)?;
        let total = first.lines;
        let mut table = first.table;

        // (c) per partition: build from the results, probe with the requests in order.
        let mut claimed = vec![0u64; count.div_ceil(64) as usize];
        probe_partitions(
            &res_parts,
            &first.req_parts,
            &entries,
            &mut table,
            &mut claimed,
            self.budget,
        )?;
        drop(first.req_parts);
        drop(res_parts);

        // (d) second pass: merged and retry lines.
        let checker = self.checker.clone();
        let src = ResultSource {
            inputs,
            names: &opts.results,
            payload: &payload,
        };
        let mut base = 0u64;
        for (fi, input) in first.inputs.iter().enumerate() {
            let table = &table;
            let entries = &entries;
            let src = &src;
            let checker = &*checker;
            let process = |chunk: &Chunk| -> Result<ReqChunk, JoinError> {
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
                let rp = (opts.retry_on, opts.partition);
                grace_request_chunk(chunk, &recs, entries, src, checker, rp)
            };
            let name_input = &opts.requests[fi];
            let stats = run_input(
                &name_input.name,
                Side::Request,
                input,
                self.read.clone(),
                on_event,
                process_ok(process),
                |chunk, rc: Result<ReqChunk, JoinError>, on_event| -> Result<bool, JoinError> {
                    let rc = rc?;
                    self.emit_request_chunk(chunk, rc, name_input, base, None, outs, on_event)?;
                    Ok(true)
                },
            )?;
            self.blanks_at_end(name_input, on_event)?;
            base += stats.lines;
        }
        let view = FileFinal {
            entries: &entries,
            claimed: &claimed,
            count,
        };
        self.finish_results(outs, on_event, &view, &src)?;
        drop(dir);
        Ok(())
    }
}
