//! The comparison: join raw result files first when asked, then hold both sides' ids and
//! answers in memory and compare them; when they outgrow the budget, start again on the
//! spill path:
//!
//! 1. both sides read once more, their records (id, line, status, answer) partitioned by
//!    the id hash ([`batchkit_io::spill::Partitions`]);
//! 2. per partition pair, the same tables and the same comparison as in memory ([`Pair`]),
//!    a partition that still does not fit split again by the next bits of the hash; each
//!    pair's diff lines and duplicate ids go to one runs file, sorted within the pair;
//! 3. the runs merged by (A's line, then B's line), so the diffs file is written in the same
//!    order, byte for byte, as in memory.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use batchkit_io::spill::{id_hash, vec_growth, IdTable, Partitions, SpillFile};
use batchkit_io::staging::StagedDir;
use batchkit_io::{AtomicFile, Chunk, Input, ReadOptions, Source};
use batchkit_join::{JoinOptions, ModelUsage, Status, Usage};
use batchkit_line::{Code, Diagnostic, Severity};

use crate::answer::{compare_answers, FieldTally};
use crate::merged::{read_line, Billing, LineRead};
use crate::{
    io_err, CompareError, CompareOptions, CompareSink, CompareSummary, Event, Outcome, Side,
    SideSummary,
};

/// More models than this are summed as `(other)`.
const MAX_MODELS: usize = 4096;
/// More stop reasons per model than this are counted as `(other)`.
const MAX_STOPS: usize = 64;
/// Deepest level a partition is split to; past it a partition is compared whatever it holds
/// (only an id repeated past the budget gets there).
const MAX_LEVEL: u32 = 4;
/// Bytes held in memory per byte of a partition file, at most.
const SPILL_TO_MEM: u64 = 5;
/// At most `1 << MAX_BITS` partitions a side at the first level (each an open file while the
/// side is read).
const MAX_BITS: u32 = 7;

/// Record classes in the runs file, in merge order.
const DIFF_A: u8 = 0;
const DIFF_B: u8 = 1;
const DUP_A: u8 = 2;
const DUP_B: u8 = 3;

/// Usage and stop reasons per model, as one side's lines report them.
#[derive(Default)]
struct Billed {
    models: BTreeMap<String, (Usage, BTreeMap<String, u64>)>,
}

impl Billed {
    fn model(&mut self, name: &str) -> &mut (Usage, BTreeMap<String, u64>) {
        let name = if self.models.contains_key(name) || self.models.len() < MAX_MODELS {
            name
        } else {
            "(other)"
        };
        if !self.models.contains_key(name) {
            self.models.insert(name.to_string(), Default::default());
        }
        self.models.get_mut(name).expect("just inserted")
    }

    fn stop(m: &mut (Usage, BTreeMap<String, u64>), reason: &str, n: u64) {
        let key = if m.1.contains_key(reason) || m.1.len() < MAX_STOPS {
            reason
        } else {
            "(other)"
        };
        *m.1.entry(key.to_string()).or_default() += n;
    }

    fn add(&mut self, b: &Billing) {
        let m = self.model(b.model.as_deref().unwrap_or("(unknown)"));
        m.0.add(&b.usage);
        if let Some(s) = &b.stop {
            Self::stop(m, s, 1);
        }
    }

    fn merge(&mut self, o: Billed) {
        for (name, (u, stops)) in o.models {
            let m = self.model(&name);
            m.0.add(&u);
            for (s, n) in stops {
                Self::stop(m, &s, n);
            }
        }
    }

    fn into_summary(self, s: &mut SideSummary) {
        for (model, (usage, stop_reasons)) in self.models {
            s.usage.add(&usage);
            s.models.push(ModelUsage {
                model,
                usage,
                cost_usd: None,
                stop_reasons,
            });
        }
    }
}

/// A line's id as the chunk holds it: a range of the chunk, or decoded.
enum IdBytes {
    At(usize, usize),
    Owned(String),
    Bytes(Vec<u8>),
}

impl IdBytes {
    /// The bytes, from the chunk's `data` when they stand there.
    fn bytes<'a>(&'a self, data: &'a [u8]) -> &'a [u8] {
        match self {
            IdBytes::At(s, l) => &data[*s..s + l],
            IdBytes::Owned(s) => s.as_bytes(),
            IdBytes::Bytes(b) => b,
        }
    }
}

/// One line of a chunk, read.
enum Item {
    Rec {
        line: u64,
        status: Status,
        id: IdBytes,
        answer: IdBytes,
    },
    Problem(Diagnostic),
    NotMerged {
        line: u64,
        offset: u64,
    },
}

struct ChunkOut {
    items: Vec<Item>,
    billed: Billed,
    lines: u64,
}

fn read_chunk(chunk: &Chunk) -> ChunkOut {
    let mut out = ChunkOut {
        items: Vec::new(),
        billed: Billed::default(),
        lines: 0,
    };
    if let Some(o) = chunk.oversized {
        out.lines = 1;
        out.items.push(Item::Problem(Diagnostic::at(
            Code::LineTooLarge,
            Severity::Error,
            o.line,
            o.offset,
            batchkit_json::syntax::line_too_large(o.len, chunk.data.len() as u64),
        )));
        return out;
    }
    let base = chunk.data.as_ptr() as usize;
    for line in chunk.lines() {
        if line.is_blank() {
            continue;
        }
        out.lines += 1;
        let (read, billing) = read_line(line.content);
        if let Some(b) = &billing {
            out.billed.add(b);
        }
        out.items.push(match read {
            LineRead::Merged(m) => {
                let id = match m.id {
                    std::borrow::Cow::Borrowed(s) => {
                        IdBytes::At(s.as_ptr() as usize - base, s.len())
                    }
                    std::borrow::Cow::Owned(s) => IdBytes::Owned(s),
                };
                Item::Rec {
                    line: line.number,
                    status: m.status,
                    id,
                    answer: match m.answer {
                        std::borrow::Cow::Borrowed(a) => {
                            IdBytes::At(a.as_ptr() as usize - base, a.len())
                        }
                        std::borrow::Cow::Owned(a) => IdBytes::Bytes(a),
                    },
                }
            }
            LineRead::Problem(d) => Item::Problem(d.placed(line.number, line.offset)),
            LineRead::NotMerged => Item::NotMerged {
                line: line.number,
                offset: line.offset,
            },
        });
    }
    out
}

/// One record of a side: what the comparison keeps of a merged line.
#[derive(Clone, Copy)]
struct Rec<'a> {
    line: u64,
    status: Status,
    id: &'a [u8],
    answer: &'a [u8],
}

const REC_HEADER: usize = 8 + 1 + 4 + 4;

impl Rec<'_> {
    fn write(&self, parts: &mut Partitions) -> Result<(), CompareError> {
        let mut h = [0u8; REC_HEADER];
        h[..8].copy_from_slice(&self.line.to_le_bytes());
        h[8] = Status::ALL
            .iter()
            .position(|s| *s == self.status)
            .unwrap_or(0) as u8;
        h[9..13].copy_from_slice(&(self.id.len() as u32).to_le_bytes());
        h[13..17].copy_from_slice(&(self.answer.len() as u32).to_le_bytes());
        parts.write(id_hash(self.id), &[&h, self.id, self.answer])?;
        Ok(())
    }
}

/// Reads the records of a partition file in order, calling `f` on each until it says stop.
fn each_rec(
    path: &Path,
    file: &File,
    mut f: impl FnMut(Rec<'_>) -> Result<bool, CompareError>,
) -> Result<(), CompareError> {
    let len = file.metadata().map_err(io_err(path))?.len();
    let mut r = BufReader::with_capacity(
        256 << 10,
        PosReader {
            f: file,
            pos: 0,
            end: len,
        },
    );
    let mut h = [0u8; REC_HEADER];
    let mut buf = Vec::new();
    loop {
        match r.read_exact(&mut h) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(io_err(path)(e)),
        }
        let line = u64::from_le_bytes(h[..8].try_into().expect("8 bytes"));
        let status = Status::ALL[(h[8] as usize).min(7)];
        let il = u32::from_le_bytes(h[9..13].try_into().expect("4 bytes")) as usize;
        let al = u32::from_le_bytes(h[13..17].try_into().expect("4 bytes")) as usize;
        buf.resize(il + al, 0);
        r.read_exact(&mut buf).map_err(io_err(path))?;
        let rec = Rec {
            line,
            status,
            id: &buf[..il],
            answer: &buf[il..],
        };
        if !f(rec)? {
            return Ok(());
        }
    }
}

/// Reads `file` from `pos` to `end` by position (clones of one file share no offset).
struct PosReader<'f> {
    f: &'f File,
    pos: u64,
    end: u64,
}

impl Read for PosReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.end - self.pos) as usize;
        if n == 0 {
            return Ok(0);
        }
        let got = std::os::unix::fs::FileExt::read_at(self.f, &mut buf[..n], self.pos)?;
        self.pos += got as u64;
        Ok(got)
    }
}

#[derive(Clone, Copy)]
struct Val {
    line: u64,
    status: Status,
    start: u64,
    len: u32,
}

/// One side's distinct ids, each with its first line, status and answer.
#[derive(Default)]
struct Table {
    t: IdTable<Val>,
    answers: Vec<u8>,
}

impl Table {
    fn mem(&self) -> u64 {
        self.t.mem_bytes() + self.answers.capacity() as u64
    }

    fn growth(&self, r: &Rec<'_>) -> u64 {
        self.t.growth(r.id.len())
            + vec_growth(
                self.answers.len(),
                self.answers.capacity(),
                r.answer.len(),
                8,
            )
    }

    fn answer(&self, v: &Val) -> &[u8] {
        &self.answers[v.start as usize..v.start as usize + v.len as usize]
    }
}

/// Both sides' tables under one budget: one partition pair, or everything in memory.
struct Pair {
    a: Table,
    b: Table,
    budget: u64,
}

/// A record added, or why not.
enum Added {
    Yes,
    /// The id is already there, first at this line.
    Dup(u64),
    /// It would take the tables over the budget.
    Full,
}

impl Pair {
    fn new(budget: u64) -> Self {
        Pair {
            a: Table::default(),
            b: Table::default(),
            budget,
        }
    }

    fn add(&mut self, side: Side, r: Rec<'_>) -> Added {
        let hash = id_hash(r.id);
        let held = self.a.mem() + self.b.mem();
        let empty = self.a.t.is_empty() && self.b.t.is_empty();
        let t = match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        };
        if let Some(i) = t.t.find(hash, r.id) {
            return Added::Dup(t.t.value(i).line);
        }
        if !empty && held + t.growth(&r) > self.budget {
            return Added::Full;
        }
        let start = t.answers.len() as u64;
        t.answers.extend_from_slice(r.answer);
        t.t.push(
            hash,
            r.id,
            Val {
                line: r.line,
                status: r.status,
                start,
                len: r.answer.len() as u32,
            },
        );
        Added::Yes
    }
}

/// Where a pair's findings go: the diffs file and the sink (in memory), or the runs file.
trait Emit {
    /// The diff line of an id, `class` [`DIFF_A`] (keyed by A's line) or [`DIFF_B`].
    fn diff(&mut self, class: u8, line: u64, bytes: &[u8]) -> Result<(), CompareError>;
    /// A duplicate id at `line` of `side`, first at `first`.
    fn dup(&mut self, side: Side, line: u64, first: u64, id: &[u8]) -> Result<(), CompareError>;
    /// Whether diff lines are wanted at all.
    fn wants_diffs(&self) -> bool;
}

/// What the comparison counts, summed over pairs.
struct Counts<'f> {
    outcomes: [u64; 8],
    ids: u64,
    a_ids: u64,
    b_ids: u64,
    a_succeeded: u64,
    b_succeeded: u64,
    fields: FieldTally<'f>,
}

fn push_status(out: &mut Vec<u8>, s: Option<Status>) {
    match s {
        Some(s) => {
            out.push(b'"');
            out.extend_from_slice(s.as_str().as_bytes());
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
}

/// Writes the diff line of `id` into `out`.
#[allow(clippy::too_many_arguments)]
fn diff_line(
    out: &mut Vec<u8>,
    id: &[u8],
    outcome: Outcome,
    sa: Option<Status>,
    sb: Option<Status>,
    a: Option<&[u8]>,
    b: Option<&[u8]>,
    fields: &[String],
) {
    out.clear();
    out.extend_from_slice(b"{\"custom_id\":");
    let id = String::from_utf8_lossy(id);
    serde_json::to_writer(&mut *out, &*id).expect("a string serialises");
    out.extend_from_slice(b",\"outcome\":\"");
    out.extend_from_slice(outcome.as_str().as_bytes());
    out.extend_from_slice(b"\",\"a_status\":");
    push_status(out, sa);
    out.extend_from_slice(b",\"b_status\":");
    push_status(out, sb);
    out.extend_from_slice(b",\"a\":");
    out.extend_from_slice(a.unwrap_or(b"null"));
    out.extend_from_slice(b",\"b\":");
    out.extend_from_slice(b.unwrap_or(b"null"));
    out.extend_from_slice(b",\"fields\":");
    serde_json::to_writer(&mut *out, fields).expect("strings serialise");
    out.extend_from_slice(b"}\n");
}

impl Counts<'_> {
    /// Compares the two tables of a pair: every id of A in A's order, then the ids only B
    /// has, in B's order.
    fn compare(&mut self, p: &Pair, emit: &mut dyn Emit) -> Result<(), CompareError> {
        let want = emit.wants_diffs();
        let mut line = Vec::new();
        for (hash, id, va) in p.a.t.iter() {
            self.ids += 1;
            self.a_ids += 1;
            self.a_succeeded += u64::from(va.status == Status::Succeeded);
            let ans_a = p.a.answer(va);
            let (outcome, sb, ans_b, fields) = match p.b.t.find(hash, id) {
                None => (Outcome::MissingB, None, None, Vec::new()),
                Some(j) => {
                    let vb = p.b.t.value(j);
                    let ans_b = p.b.answer(vb);
                    let ok = (
                        va.status == Status::Succeeded,
                        vb.status == Status::Succeeded,
                    );
                    let (o, f) = match ok {
                        (true, true) => compare_answers(ans_a, ans_b, &mut self.fields),
                        (true, false) => (Outcome::OnlyA, Vec::new()),
                        (false, true) => (Outcome::OnlyB, Vec::new()),
                        (false, false) => (Outcome::Neither, Vec::new()),
                    };
                    (o, Some(vb.status), Some(ans_b), f)
                }
            };
            self.outcomes[outcome as usize] += 1;
            if want && !outcome.agrees() {
                diff_line(
                    &mut line,
                    id,
                    outcome,
                    Some(va.status),
                    sb,
                    Some(ans_a),
                    ans_b,
                    &fields,
                );
                emit.diff(DIFF_A, va.line, &line)?;
            }
        }
        for (hash, id, vb) in p.b.t.iter() {
            self.b_ids += 1;
            self.b_succeeded += u64::from(vb.status == Status::Succeeded);
            if p.a.t.find(hash, id).is_some() {
                continue;
            }
            self.ids += 1;
            self.outcomes[Outcome::MissingA as usize] += 1;
            if want {
                let ans_b = p.b.answer(vb);
                diff_line(
                    &mut line,
                    id,
                    Outcome::MissingA,
                    None,
                    Some(vb.status),
                    None,
                    Some(ans_b),
                    &[],
                );
                emit.diff(DIFF_B, vb.line, &line)?;
            }
        }
        Ok(())
    }
}

/// The in-memory path's findings: diff lines straight to the diffs file, duplicates to the
/// sink.
struct Direct<'x, 's> {
    out: Option<&'x mut AtomicFile>,
    sink: &'x mut (dyn CompareSink + 's),
    names: [&'x str; 2],
}

impl Emit for Direct<'_, '_> {
    fn diff(&mut self, _: u8, _: u64, bytes: &[u8]) -> Result<(), CompareError> {
        if let Some(out) = self.out.as_deref_mut() {
            let p = out.path().to_path_buf();
            out.write_all(bytes).map_err(io_err(&p))?;
        }
        Ok(())
    }

    fn dup(&mut self, side: Side, line: u64, first: u64, id: &[u8]) -> Result<(), CompareError> {
        self.sink
            .event(&dup_event(side, self.names[side as usize], line, first, id))
            .map_err(CompareError::Report)
    }

    fn wants_diffs(&self) -> bool {
        self.out.is_some()
    }
}

fn dup_event(side: Side, file: &str, line: u64, first: u64, id: &[u8]) -> Event {
    Event::DuplicateId {
        side,
        file: file.to_string(),
        custom_id: String::from_utf8_lossy(id).into_owned(),
        line,
        first_line: first,
    }
}

/// The spilled path's findings: records of the runs file, each pair's run sorted.
struct Runs {
    file: SpillFile,
    runs: Vec<(u64, u64)>,
    diffs: bool,
}

impl Runs {
    fn record(&mut self, class: u8, key: u64, parts: &[&[u8]]) -> Result<(), CompareError> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let mut h = [0u8; 13];
        h[0] = class;
        h[1..9].copy_from_slice(&key.to_le_bytes());
        h[9..13].copy_from_slice(&(len as u32).to_le_bytes());
        self.file.write(&h)?;
        self.file.write_parts(parts)?;
        Ok(())
    }
}

impl Emit for Runs {
    fn diff(&mut self, class: u8, line: u64, bytes: &[u8]) -> Result<(), CompareError> {
        self.record(class, line, &[bytes])
    }

    fn dup(&mut self, side: Side, line: u64, first: u64, id: &[u8]) -> Result<(), CompareError> {
        let class = match side {
            Side::A => DUP_A,
            Side::B => DUP_B,
        };
        self.record(class, line, &[&first.to_le_bytes(), id])
    }

    fn wants_diffs(&self) -> bool {
        self.diffs
    }
}

/// What the reading of both sides gave, apart from the records.
#[derive(Default)]
struct SideRead {
    lines: u64,
    invalid: u64,
    duplicates: u64,
    billed: Billed,
}

struct Ctx {
    read: ReadOptions,
    /// The tables' bytes while a side is read (the reader's chunks taken out).
    budget: u64,
    /// The tables' bytes of a partition pair (no read under way); at least a megabyte, so a
    /// forced tiny budget (`--table-limit`) spills without splitting every pair.
    pair_budget: u64,
    temp_base: PathBuf,
    inputs: [Input; 2],
    sides: [SideRead; 2],
    /// Problem and duplicate events an earlier (stopped) pass gave, not to be given again.
    skip_problems: u64,
    skip_dups: u64,
    problems_given: u64,
    dups_given: u64,
    /// Input bytes read so far, and the in-memory tables' size when they overflowed.
    consumed: u64,
}

/// Compares `opts.a` with `opts.b`; see the crate docs.
pub fn compare(
    opts: &CompareOptions,
    sink: &mut dyn CompareSink,
) -> Result<CompareSummary, CompareError> {
    let stdins = [&opts.a, &opts.b]
        .into_iter()
        .chain(&opts.requests)
        .filter(|i| i.source == Source::Stdin)
        .count();
    if stdins > 1 {
        return Err(CompareError::Usage(
            "stdin (`-`) can be given only once".into(),
        ));
    }
    if opts.requests.iter().any(|i| i.source == Source::Stdin) {
        return Err(CompareError::Usage(
            "--requests cannot be stdin (`-`): both sides are joined to them in turn".into(),
        ));
    }
    for f in &opts.fields {
        if !f.starts_with('/') {
            return Err(CompareError::Usage(format!(
                "--fields {f:?} is not a JSON pointer (write /{f})"
            )));
        }
    }
    let temp_base = match (&opts.temp_dir, &opts.out, &opts.a.source) {
        (Some(d), _, _) => d.clone(),
        (None, Some(o), _) => parent(o),
        (None, None, Source::Path(p)) => parent(p),
        _ => PathBuf::from("."),
    };
    let mut out = opts
        .out
        .as_deref()
        .map(|p| AtomicFile::create(p).map_err(io_err(p)))
        .transpose()?;
    let names = [opts.a.name.clone(), opts.b.name.clone()];
    // Result files: join each side to the requests first, into staging removed at the end.
    let (joined, inputs) = if opts.requests.is_empty() {
        (None, [opts.a.clone(), opts.b.clone()])
    } else {
        let dir = StagedDir::new_in(Some(&temp_base), "compare").map_err(io_err(&temp_base))?;
        let a = prejoin(opts, Side::A, &opts.a, dir.path(), sink)?;
        let b = prejoin(opts, Side::B, &opts.b, dir.path(), sink)?;
        (Some(dir), [a, b])
    };
    let (read, budget) = opts.read.clone().fit_to(opts.read.budget.join());
    let mut ctx = Ctx {
        read,
        budget,
        pair_budget: opts.read.budget.join().max(1 << 20),
        temp_base,
        inputs,
        sides: Default::default(),
        skip_problems: 0,
        skip_dups: 0,
        problems_given: 0,
        dups_given: 0,
        consumed: 0,
    };
    let mut counts = Counts {
        outcomes: [0; 8],
        ids: 0,
        a_ids: 0,
        b_ids: 0,
        a_succeeded: 0,
        b_succeeded: 0,
        fields: FieldTally::new(&opts.fields),
    };
    let mut summary = CompareSummary::default();
    match ctx.in_memory(sink, &names, &mut counts, out.as_mut())? {
        true => {}
        false => {
            if ctx.inputs.iter().any(|i| i.source == Source::Stdin) {
                return Err(CompareError::Usage(
                    "the ids and answers on stdin do not fit in --memory-limit beside the other side; raise it or pass the file by path".into(),
                ));
            }
            // Start again on the spill path, with a fresh diffs file.
            drop(out);
            out = opts
                .out
                .as_deref()
                .map(|p| AtomicFile::create(p).map_err(io_err(p)))
                .transpose()?;
            ctx.skip_problems = ctx.problems_given;
            ctx.skip_dups = ctx.dups_given;
            ctx.sides = Default::default();
            let parts = ctx.spilled(sink, &names, &mut counts, out.as_mut())?;
            summary.spilled = true;
            summary.partitions = parts;
        }
    }
    if let Some(o) = out {
        let p = o.path().to_path_buf();
        o.commit().map_err(io_err(&p))?;
    }
    drop(joined);
    summary.ids = counts.ids;
    summary.outcomes = counts.outcomes;
    let [sa, sb] = std::mem::take(&mut ctx.sides);
    for (s, r, name, ids, succ) in [
        (
            &mut summary.a,
            sa,
            &names[0],
            counts.a_ids,
            counts.a_succeeded,
        ),
        (
            &mut summary.b,
            sb,
            &names[1],
            counts.b_ids,
            counts.b_succeeded,
        ),
    ] {
        s.file = name.clone();
        s.lines = r.lines;
        s.ids = ids;
        s.succeeded = succ;
        s.duplicates = r.duplicates;
        s.invalid_lines = r.invalid;
        r.billed.into_summary(s);
    }
    summary.finish(counts.fields.stats, &opts.fields);
    Ok(summary)
}

fn parent(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The join's events and progress, passed on with their side.
struct JoinForward<'x, 's> {
    side: Side,
    sink: &'x mut (dyn CompareSink + 's),
}

impl batchkit_line::Sink for JoinForward<'_, '_> {
    type Error = std::io::Error;

    fn finding(&mut self, _: &str, _: &Diagnostic) -> std::io::Result<bool> {
        Ok(true)
    }

    fn progress(&mut self, file: &str, read: u64) -> std::io::Result<bool> {
        self.sink.progress(file, read)
    }
}

impl batchkit_join::JoinSink for JoinForward<'_, '_> {
    fn event(&mut self, e: &batchkit_join::Event) -> std::io::Result<()> {
        // Both sides read the same requests: their findings are said once, with A's join.
        if let batchkit_join::Event::Problem {
            side: batchkit_join::Side::Request,
            ..
        } = e
        {
            if self.side == Side::B {
                return Ok(());
            }
        }
        self.sink.event(&Event::Join {
            side: self.side,
            event: e.clone(),
        })
    }
}

/// Joins result file `input` to the requests into `dir`; returns the merged file as an input
/// named after the result file.
fn prejoin(
    opts: &CompareOptions,
    side: Side,
    input: &Input,
    dir: &Path,
    sink: &mut dyn CompareSink,
) -> Result<Input, CompareError> {
    let out = dir.join(format!("{}.jsonl", side.as_str()));
    let mut jo = JoinOptions::new(opts.requests.clone(), vec![input.clone()], &out);
    jo.temp_dir = Some(dir.to_path_buf());
    jo.read = opts.read.clone();
    let mut fwd = JoinForward { side, sink };
    batchkit_join::join(&jo, &mut fwd).map_err(|source| CompareError::Join {
        file: input.name.clone(),
        source,
    })?;
    Ok(Input {
        source: Source::Path(out),
        name: format!("{} (joined)", input.name),
    })
}

impl Ctx {
    /// Reads one side, handing each record to `on_rec` (which may stop the read: `Ok(false)`),
    /// reporting the lines that are not merged lines.
    fn read_side(
        &mut self,
        side: Side,
        sink: &mut dyn CompareSink,
        mut on_rec: impl FnMut(Rec<'_>, &mut dyn CompareSink) -> Result<bool, CompareError>,
    ) -> Result<bool, CompareError> {
        let input = self.inputs[side as usize].clone();
        let mut go = true;
        let mut first = true;
        let read = self.read.clone();
        batchkit_io::run(&input, &read, read_chunk, |chunk, out: ChunkOut| {
            self.consumed += chunk.data.len() as u64;
            let s = &mut self.sides[side as usize];
            s.lines += out.lines;
            s.billed.merge(out.billed);
            for item in out.items {
                match item {
                    Item::Rec {
                        line,
                        status,
                        id,
                        answer,
                    } => {
                        first = false;
                        let rec = Rec {
                            line,
                            status,
                            id: id.bytes(&chunk.data),
                            answer: answer.bytes(&chunk.data),
                        };
                        if !on_rec(rec, sink)? {
                            go = false;
                            return Ok(false);
                        }
                    }
                    Item::NotMerged { line, .. } if first => {
                        return Err(CompareError::NotMerged {
                            file: input.name.clone(),
                            line,
                        });
                    }
                    Item::NotMerged { line, offset } => {
                        let d = Diagnostic::at(
                            Code::MissingField,
                            Severity::Error,
                            line,
                            offset,
                            batchkit_json::syntax::missing_field("/status"),
                        )
                        .with_pointer("/status");
                        self.problem(side, &input.name, d, sink)?;
                    }
                    Item::Problem(d) => {
                        first = false;
                        self.problem(side, &input.name, d, sink)?;
                    }
                }
            }
            sink.progress(&input.name, chunk.source_pos)
                .map_err(CompareError::Report)?;
            Ok(true)
        })?;
        Ok(go)
    }

    fn problem(
        &mut self,
        side: Side,
        file: &str,
        d: Diagnostic,
        sink: &mut dyn CompareSink,
    ) -> Result<(), CompareError> {
        self.sides[side as usize].invalid += 1;
        self.problems_given += 1;
        if self.problems_given <= self.skip_problems {
            return Ok(());
        }
        let diagnostic = d.with_context("not compared");
        sink.event(&Event::Problem {
            side,
            file: file.to_string(),
            diagnostic,
        })
        .map_err(CompareError::Report)
    }

    /// Both sides in memory; false when they outgrew the budget.
    fn in_memory(
        &mut self,
        sink: &mut dyn CompareSink,
        names: &[String; 2],
        counts: &mut Counts<'_>,
        out: Option<&mut AtomicFile>,
    ) -> Result<bool, CompareError> {
        let mut pair = Pair::new(self.budget);
        let mut dups = [0u64; 2];
        let mut given = 0u64;
        for side in [Side::A, Side::B] {
            let done = self.read_side(side, sink, |rec, sink| match pair.add(side, rec) {
                Added::Yes => Ok(true),
                Added::Full => Ok(false),
                Added::Dup(first) => {
                    dups[side as usize] += 1;
                    given += 1;
                    let ev = dup_event(side, &names[side as usize], rec.line, first, rec.id);
                    sink.event(&ev).map_err(CompareError::Report)?;
                    Ok(true)
                }
            })?;
            if !done {
                self.dups_given = given;
                return Ok(false);
            }
        }
        for (s, d) in self.sides.iter_mut().zip(dups) {
            s.duplicates = d;
        }
        let mut emit = Direct {
            out,
            sink,
            names: [&names[0], &names[1]],
        };
        counts.compare(&pair, &mut emit)?;
        Ok(true)
    }

    /// The spilled path; returns the number of top-level partitions.
    fn spilled(
        &mut self,
        sink: &mut dyn CompareSink,
        names: &[String; 2],
        counts: &mut Counts<'_>,
        out: Option<&mut AtomicFile>,
    ) -> Result<u32, CompareError> {
        let dir =
            StagedDir::new_in(Some(&self.temp_base), "compare").map_err(io_err(&self.temp_base))?;
        // Enough partitions that a pair fits in the tables' budget even if every input byte
        // were a record byte (merged lines hold their request and result besides the id and
        // answer, so pairs come out smaller); a pair that still does not fit is split again.
        let total: u64 = self
            .inputs
            .iter()
            .map(|i| i.len_hint().unwrap_or(self.consumed))
            .sum();
        let want = total
            .saturating_mul(SPILL_TO_MEM)
            .div_ceil(self.pair_budget)
            .max(2);
        let bits = want.next_power_of_two().trailing_zeros().clamp(1, MAX_BITS);
        let count = 1usize << bits;
        let buf = ((self.pair_budget / 4) as usize / (2 * count)).clamp(4 << 10, 256 << 10);
        let mut files = Vec::new();
        for side in [Side::A, Side::B] {
            let mut parts =
                Partitions::new(dir.path(), &format!("{}-", side.as_str()), bits, 0, buf)
                    .create_all()?;
            self.read_side(side, sink, |rec, _| {
                rec.write(&mut parts)?;
                Ok(true)
            })?;
            files.push(parts.finish()?);
        }
        let fb = files.pop().expect("two sides");
        let fa = files.pop().expect("two sides");
        let mut runs = Runs {
            file: SpillFile::create(dir.path().join("runs"), 256 << 10)?,
            runs: Vec::new(),
            diffs: out.is_some(),
        };
        let mut dups = [0u64; 2];
        let mut seq = 0u32;
        for (a, b) in fa.into_iter().zip(fb) {
            self.pair(
                dir.path(),
                a,
                b,
                0,
                bits,
                &mut seq,
                &mut runs,
                counts,
                &mut dups,
            )?;
        }
        for (s, d) in self.sides.iter_mut().zip(dups) {
            s.duplicates = d;
        }
        self.merge(runs, sink, names, out)?;
        drop(dir);
        Ok(count as u32)
    }

    /// Compares one partition pair, splitting it by the next bits of the hash when it does
    /// not fit.
    #[allow(clippy::too_many_arguments)]
    fn pair(
        &mut self,
        dir: &Path,
        a: (File, PathBuf),
        b: (File, PathBuf),
        level: u32,
        bits: u32,
        seq: &mut u32,
        runs: &mut Runs,
        counts: &mut Counts<'_>,
        dups: &mut [u64; 2],
    ) -> Result<(), CompareError> {
        let len = |f: &File, p: &Path| f.metadata().map(|m| m.len()).map_err(io_err(p));
        let bytes = len(&a.0, &a.1)? + len(&b.0, &b.1)?;
        // A record held costs at most about five times its bytes in the spill file (its
        // table entry and slot, the arena, and the doubling of both).
        if bytes.saturating_mul(SPILL_TO_MEM) > self.pair_budget && level < MAX_LEVEL {
            let mut subs = Vec::new();
            for (f, p) in [&a, &b] {
                *seq += 1;
                let mut parts =
                    Partitions::new(dir, &format!("s{seq}-"), bits, level + 1, 64 << 10)
                        .create_all()?;
                each_rec(p, f, |rec| {
                    rec.write(&mut parts)?;
                    Ok(true)
                })?;
                subs.push(parts.finish()?);
            }
            for (_, p) in [&a, &b] {
                std::fs::remove_file(p).map_err(io_err(p))?;
            }
            let sb = subs.pop().expect("two sides");
            let sa = subs.pop().expect("two sides");
            for (x, y) in sa.into_iter().zip(sb) {
                self.pair(dir, x, y, level + 1, bits, seq, runs, counts, dups)?;
            }
            return Ok(());
        }
        let mut pair = Pair::new(u64::MAX);
        let start = runs.file.len();
        for (side, (f, p)) in [(Side::A, &a), (Side::B, &b)] {
            each_rec(p, f, |rec| {
                if let Added::Dup(first) = pair.add(side, rec) {
                    dups[side as usize] += 1;
                    runs.dup(side, rec.line, first, rec.id)?;
                }
                Ok(true)
            })?;
        }
        counts.compare(&pair, runs)?;
        let end = runs.file.len();
        if end > start {
            runs.runs.push((start, end));
        }
        for (_, p) in [&a, &b] {
            std::fs::remove_file(p).map_err(io_err(p))?;
        }
        Ok(())
    }

    /// Merges the sorted runs: diff lines to the diffs file in order, then duplicate ids to
    /// the sink.
    fn merge(
        &mut self,
        runs: Runs,
        sink: &mut dyn CompareSink,
        names: &[String; 2],
        mut out: Option<&mut AtomicFile>,
    ) -> Result<(), CompareError> {
        let list = runs.runs;
        let (file, path) = runs.file.finish()?;
        let per = ((self.pair_budget / 4) as usize / list.len().max(1)).clamp(4 << 10, 256 << 10);
        let mut readers: Vec<BufReader<PosReader<'_>>> = list
            .iter()
            .map(|&(pos, end)| BufReader::with_capacity(per, PosReader { f: &file, pos, end }))
            .collect();
        let mut heads: Vec<Option<(u8, u64, Vec<u8>)>> = Vec::with_capacity(readers.len());
        let mut heap = BinaryHeap::new();
        for (i, r) in readers.iter_mut().enumerate() {
            let h = next_record(r, &path)?;
            if let Some((c, k, _)) = &h {
                heap.push(Reverse((*c, *k, i)));
            }
            heads.push(h);
        }
        let mut given = 0u64;
        while let Some(Reverse((class, key, i))) = heap.pop() {
            let (_, _, payload) = heads[i].take().expect("a head for each heap entry");
            match class {
                DIFF_A | DIFF_B => {
                    if let Some(o) = out.as_deref_mut() {
                        let p = o.path().to_path_buf();
                        o.write_all(&payload).map_err(io_err(&p))?;
                    }
                }
                _ => {
                    given += 1;
                    if given > self.skip_dups {
                        let side = if class == DUP_A { Side::A } else { Side::B };
                        let first = u64::from_le_bytes(payload[..8].try_into().expect("8 bytes"));
                        let ev = dup_event(side, &names[side as usize], key, first, &payload[8..]);
                        sink.event(&ev).map_err(CompareError::Report)?;
                    }
                }
            }
            let h = next_record(&mut readers[i], &path)?;
            if let Some((c, k, _)) = &h {
                heap.push(Reverse((*c, *k, i)));
            }
            heads[i] = h;
        }
        drop(readers);
        drop(file);
        let _ = std::fs::remove_file(&path);
        Ok(())
    }
}

/// The next record of a run: class, key and payload.
fn next_record(
    r: &mut BufReader<PosReader<'_>>,
    path: &Path,
) -> Result<Option<(u8, u64, Vec<u8>)>, CompareError> {
    let mut h = [0u8; 13];
    match r.read_exact(&mut h) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(io_err(path)(e)),
    }
    let key = u64::from_le_bytes(h[1..9].try_into().expect("8 bytes"));
    let len = u32::from_le_bytes(h[9..13].try_into().expect("4 bytes")) as usize;
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).map_err(io_err(path))?;
    Ok(Some((h[0], key, payload)))
}
