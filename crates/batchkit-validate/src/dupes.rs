//! The `dupes` job: every id used more than once across several files.

use std::io::Write;
use std::path::PathBuf;

use batchkit_io::part::Part;
use batchkit_io::{AtomicFile, Input, ReadOptions, Source};
use batchkit_line::{RequestLine, Sink};
use batchkit_providers::Style;
use serde::{Deserialize, Serialize};
use simd_json::prelude::*;

use crate::check::with_parsed;
use crate::ids::{make_spill_dir, DupGroup, Dups, IdIndex, Occurrence, Track};
use crate::{resolve_provider, ValidateError};

/// Options of [`find_dupes`] (its memory budget is the one in its [`ReadOptions`]).
#[derive(Debug, Clone, Default)]
pub struct DupesOptions {
    /// Provider name; `None` or `auto` reads each line's id as its shape calls for (the one id
    /// rule of `batchkit_line::RequestLine::find_id`).
    pub provider: Option<String>,
    /// Where spilled ids go (the system temp dir when `None`).
    pub temp_dir: Option<PathBuf>,
    /// Write the inputs minus later duplicates here (first occurrence kept, bytes unchanged).
    pub write_unique: Option<PathBuf>,
    /// Only the ids of this part ([`Part`]); lines without an id (blank, not JSON, too large)
    /// are part 0's. Every count of the report is then this part's (an input's `lines` too),
    /// so the counts of all parts add up to those of the whole run.
    pub partition: Part,
}

/// One id used more than once, read whole (see [`Duplicate::read`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Duplicate {
    /// The id (invalid UTF-8 replaced).
    pub custom_id: String,
    /// Input index of each occurrence (into [`DupesReport::inputs`]).
    pub files: Vec<u32>,
    /// Line of each occurrence, in input order; the first is the one kept.
    pub lines: Vec<u64>,
}

impl Duplicate {
    /// Reads every occurrence of a group into memory (for tests and callers that know their
    /// groups are small; printers should stream with [`DupGroup::for_each`]).
    pub fn read(g: &mut DupGroup<'_>) -> std::io::Result<Duplicate> {
        let mut d = Duplicate {
            custom_id: String::from_utf8_lossy(g.id()).into_owned(),
            files: Vec::new(),
            lines: Vec::new(),
        };
        g.for_each(|f, l| {
            d.files.push(f);
            d.lines.push(l);
            Ok(())
        })?;
        Ok(d)
    }
}

/// Totals of one input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputStats {
    /// Input name.
    pub file: String,
    /// Lines read.
    pub lines: u64,
    /// Lines with an id.
    pub ids: u64,
    /// Non-blank lines whose id could not be read (not JSON, no id field).
    pub without_id: u64,
    /// Lines too long to read (over `--max-line-bytes`, or whose parse would not fit the
    /// memory budget): their ids are unknown, so the answer is incomplete.
    pub too_large: u64,
    /// The first such line.
    pub first_too_large: Option<u64>,
    /// Why the input could not be read (or stopped being readable part way), when it could
    /// not: the other inputs are still checked, and the answer leaves this one out (or the
    /// rest of it).
    pub unreadable: Option<String>,
}

/// What [`find_dupes`] found (the duplicated ids themselves go to its callback).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DupesReport {
    /// Per-input totals, in the order given.
    pub inputs: Vec<InputStats>,
    /// Ids used more than once.
    pub duplicate_ids: u64,
    /// Lines that repeat an earlier id (what `write_unique` drops).
    pub duplicate_lines: u64,
    /// Whether the id set outgrew the memory limit and was finished from disk.
    pub spilled: bool,
    /// Lines written by `write_unique`.
    pub unique_lines: Option<u64>,
    /// Why lines had no id (input index, finding), the first [`MAX_PROBLEMS`] of them; the
    /// rest are only counted in `without_id`.
    pub problems: Vec<(usize, crate::Diagnostic)>,
}

/// Findings about lines without an id that a [`DupesReport`] keeps.
pub const MAX_PROBLEMS: usize = 100;

/// The ids of one chunk's lines (also read by [`crate::keys`]).
pub(crate) struct ChunkIds {
    pub(crate) arena: Vec<u8>,
    /// Why a line has no id, in validate's words (lines with `len == NO_ID`, blank aside).
    pub(crate) problems: Vec<crate::Diagnostic>,
    /// (line, offset, start, len); len == NO_ID means no id, TOO_LARGE a line not read.
    pub(crate) items: Vec<(u64, u64, u32, u32)>,
    pub(crate) blank: Vec<bool>,
}

pub(crate) const NO_ID: u32 = u32::MAX;
pub(crate) const TOO_LARGE: u32 = u32::MAX - 1;

impl InputStats {
    /// Nothing counted yet of input `file`.
    pub(crate) fn new(file: &str) -> InputStats {
        InputStats {
            file: file.to_string(),
            lines: 0,
            ids: 0,
            without_id: 0,
            too_large: 0,
            first_too_large: None,
            unreadable: None,
        }
    }

    /// Counts item `k` of `ids`: a line too long to read, a non-blank line without an id, or
    /// a line with an id, whose decoded bytes it returns.
    pub(crate) fn count<'a>(&mut self, ids: &'a ChunkIds, k: usize) -> Option<&'a [u8]> {
        let (line, _, start, len) = ids.items[k];
        if len == TOO_LARGE {
            self.too_large += 1;
            self.first_too_large.get_or_insert(line);
            None
        } else if len == NO_ID {
            if !ids.blank[k] {
                self.without_id += 1;
            }
            None
        } else {
            self.ids += 1;
            Some(&ids.arena[start as usize..(start + len) as usize])
        }
    }
}

pub(crate) fn extract_ids(
    chunk: &batchkit_io::Chunk,
    style: Option<Style>,
    budget: &batchkit_io::Budget,
) -> ChunkIds {
    let mut out = ChunkIds {
        arena: Vec::new(),
        problems: Vec::new(),
        items: Vec::new(),
        blank: Vec::new(),
    };
    if let Some(o) = chunk.oversized {
        out.items.push((o.line, o.offset, 0, TOO_LARGE));
        out.blank.push(false);
        return out;
    }
    for line in chunk.lines() {
        let blank = line.is_blank();
        let start = out.arena.len() as u32;
        let mut len = NO_ID;
        if !blank && crate::check::too_big_to_parse(line.content, budget).is_some() {
            len = TOO_LARGE;
        } else if !blank {
            let arena = &mut out.arena;
            let mut problem = None;
            let (n, at) = (line.number, line.offset);
            let parsed = with_parsed(line.content, |root| {
                if !root.is_object() {
                    problem = Some(crate::Diagnostic::at(
                        crate::Code::NotObject,
                        crate::Severity::Error,
                        n,
                        at,
                        batchkit_json::syntax::not_object(crate::check::type_name(&root)),
                    ));
                    return;
                }
                // The one id rule (batchkit-line): the id field of the line's shape (the
                // provider's when named, else the one its keys show) or one of its `also_id`
                // fields; for a line of no known shape, the first id field of any shape.
                let d = match RequestLine::find_id(root, style) {
                    Some(found) => match found.as_str() {
                        Some(id) => {
                            arena.extend_from_slice(id.as_bytes());
                            len = id.len() as u32;
                            return;
                        }
                        None => {
                            let pointer = found.pointer();
                            let msg = batchkit_json::syntax::wrong_type(
                                &pointer,
                                "a string",
                                crate::check::type_name(&found.value),
                            );
                            crate::Diagnostic::at(
                                crate::Code::WrongType,
                                crate::Severity::Error,
                                n,
                                at,
                                msg,
                            )
                            .with_pointer(pointer)
                        }
                    },
                    None => {
                        let pointer = format!("/{}", RequestLine::expected_id(root, style));
                        crate::Diagnostic::at(
                            crate::Code::MissingField,
                            crate::Severity::Error,
                            n,
                            at,
                            batchkit_json::syntax::missing_field(&pointer),
                        )
                        .with_pointer(pointer)
                    }
                };
                problem = Some(d);
            });
            if let Err(e) = parsed {
                let e = batchkit_json::syntax::describe(&e, line.content);
                problem = Some(crate::Diagnostic::syntax(n, at, e));
            }
            out.problems.extend(
                problem.map(|d| {
                    d.with_context("no id read from this line: not checked for duplicates")
                }),
            );
        }
        out.items.push((line.number, line.offset, start, len));
        out.blank.push(blank);
    }
    out
}

/// Where `dupes` puts what it finds: progress through [`Sink`] (after each chunk of each
/// input) and every duplicated id with all its occurrences.
pub trait DupesSink: Sink {
    /// One id used more than once; `Ok(false)` ends the listing.
    fn duplicate(&mut self, g: &mut DupGroup<'_>) -> Result<bool, Self::Error>;
}

/// A [`DupesSink`] that keeps every duplicate (tests, library callers) and ignores progress.
#[derive(Debug, Default)]
pub struct CollectDuplicates(pub Vec<Duplicate>);

impl Sink for CollectDuplicates {
    type Error = ValidateError;

    fn finding(&mut self, _: &str, _: &crate::Diagnostic) -> Result<bool, ValidateError> {
        Ok(true)
    }
}

impl DupesSink for CollectDuplicates {
    fn duplicate(&mut self, g: &mut DupGroup<'_>) -> Result<bool, ValidateError> {
        self.0
            .push(Duplicate::read(g).map_err(ValidateError::io("reading spilled ids"))?);
        Ok(true)
    }
}

/// Finds every id used more than once across `inputs` (taken together, in order), exactly,
/// within the tables' share of `read.budget`; optionally writes the inputs minus later duplicates. Progress
/// goes to `sink` as the inputs are read. Lines without an id are counted and the first
/// [`MAX_PROBLEMS`] of them described in the report.
///
/// The totals are known before the first duplicate is passed on, so the report comes back
/// once the sink has seen every duplicated id, in order of first occurrence, or has
/// returned `false` to stop early (a closed pipe). A group is streamed from disk when the
/// id set spilled: read its occurrences with [`DupGroup::for_each`] (as often as needed).
pub fn find_dupes<S>(
    inputs: &[Input],
    read: &ReadOptions,
    opts: &DupesOptions,
    sink: &mut S,
) -> Result<DupesReport, S::Error>
where
    S: DupesSink,
    S::Error: From<ValidateError>,
{
    let mut sink_err = None;
    let scanned = scan(
        inputs,
        read,
        opts,
        &mut |file, pos| match sink.progress(file, pos) {
            Ok(go) => go,
            Err(e) => {
                sink_err = Some(e);
                false
            }
        },
    );
    if let Some(e) = sink_err {
        return Err(e);
    }
    let (mut dups, report) = scanned?;
    while let Some(mut g) = dups
        .next_group()
        .map_err(ValidateError::io("reading spilled ids"))?
    {
        if !sink.duplicate(&mut g)? {
            break;
        }
    }
    Ok(report)
}

/// The line shape whose id field `provider` reads (`None`: each line's own shape), or why
/// that provider's lines have no id.
pub(crate) fn id_style(provider: Option<&str>) -> Result<Option<Style>, ValidateError> {
    Ok(match resolve_provider(provider)? {
        None => None,
        // A shape may carry its id in `also_id` fields only (the ids Vertex echoes).
        Some(p) if p.style.layout().id.is_none() && p.style.layout().also_id.is_empty() => {
            return Err(ValidateError::NoIdField(p.label.clone()))
        }
        Some(p) => Some(p.style),
    })
}

/// Reads the inputs into the id set (writing the unique copy while nothing has spilled),
/// finishes it, and rewrites the unique copy from the inputs if it had spilled.
fn scan(
    inputs: &[Input],
    read: &ReadOptions,
    opts: &DupesOptions,
    progress: &mut dyn FnMut(&str, u64) -> bool,
) -> Result<(Dups, DupesReport), ValidateError> {
    let style = id_style(opts.provider.as_deref())?;
    // Duplicates found after a spill are only known at the end, so rewriting needs a second
    // pass over the inputs: keep a copy of stdin for that.
    let mut inputs: Vec<Input> = inputs.to_vec();
    let mut spool_dir = None;
    if opts.write_unique.is_some() {
        for (i, input) in inputs.iter_mut().enumerate() {
            // Stdin or a pipe (`/dev/fd/N`): read once, so copied first.
            if input.one_pass() {
                if spool_dir.is_none() {
                    spool_dir = Some(
                        make_spill_dir(opts.temp_dir.as_deref())
                            .map_err(ValidateError::io("creating a temporary directory"))?,
                    );
                }
                let dir = spool_dir.as_ref().expect("just made");
                let p = dir.path().join(format!("stdin-{i}"));
                let mut f = std::fs::File::create(&p)
                    .map_err(ValidateError::io(format!("{}", p.display())))?;
                match &input.source {
                    Source::Stdin => std::io::copy(&mut std::io::stdin().lock(), &mut f)
                        .map_err(ValidateError::io("copying stdin"))?,
                    Source::Path(from) => std::fs::File::open(from)
                        .and_then(|mut r| std::io::copy(&mut r, &mut f))
                        .map_err(ValidateError::io(input.name.clone()))?,
                };
                input.source = Source::Path(p);
            }
        }
    }
    let mut index = IdIndex::new(read.budget.tables(), opts.temp_dir.clone(), Track::All);
    let mut out = match &opts.write_unique {
        Some(p) => Some(AtomicFile::create(p).map_err(ValidateError::io("--write-unique"))?),
        None => None,
    };
    let mut written = 0u64;
    let mut problems = Vec::new();
    let mut stats = Vec::with_capacity(inputs.len());
    for (fi, input) in inputs.iter().enumerate() {
        let mut st = InputStats::new(&input.name);
        // Lines seen, for an input that fails part way (no read totals then), and the lines
        // of this part among them.
        let mut seen = 0u64;
        let mut mine = 0u64;
        let part = opts.partition;
        let rs = batchkit_io::run(
            input,
            read,
            |chunk| extract_ids(chunk, style, &read.budget),
            |chunk, ids| -> Result<bool, ValidateError> {
                if let (Some(o), Some(_), true) =
                    (chunk.oversized, out.as_ref(), part.holds_no_id())
                {
                    return Err(lost(input, o.line));
                }
                if part.holds_no_id() {
                    let room = MAX_PROBLEMS.saturating_sub(problems.len());
                    problems.extend(ids.problems.iter().take(room).map(|d| (fi, d.clone())));
                }
                let mut raw_lines = chunk.lines();
                seen += ids.items.len() as u64;
                for (k, &(line, offset, start, len)) in ids.items.iter().enumerate() {
                    let raw = if chunk.oversized.is_some() {
                        None
                    } else {
                        raw_lines.next().map(|l| l.raw)
                    };
                    let mut keep = if len == TOO_LARGE || len == NO_ID {
                        part.holds_no_id()
                    } else {
                        part.holds(&ids.arena[start as usize..(start + len) as usize])
                    };
                    if !keep {
                        continue;
                    }
                    mine += 1;
                    if let Some(id) = st.count(&ids, k) {
                        let occ = Occurrence {
                            file: fi as u32,
                            line,
                            offset,
                        };
                        let r = index
                            .insert(id, occ)
                            .map_err(ValidateError::io("spilling ids"))?;
                        keep = r == crate::ids::Insert::New;
                    }
                    if let (Some(w), Some(raw), false) = (out.as_mut(), raw, index.spilled()) {
                        if keep {
                            w.write_all(raw)
                                .map_err(ValidateError::io("--write-unique"))?;
                            if !raw.ends_with(b"\n") {
                                w.write_all(b"\n")
                                    .map_err(ValidateError::io("--write-unique"))?;
                            }
                            written += 1;
                        }
                    }
                }
                Ok(progress(&input.name, chunk.source_pos))
            },
        );
        match rs {
            Ok(rs) if part.is_whole() => st.lines = rs.lines,
            Ok(_) => st.lines = mine,
            // One unreadable input does not stop the others (as in validate and tokens),
            // unless a unique copy is being written: it would silently lack that input.
            Err(ValidateError::Read(e)) if opts.write_unique.is_none() => {
                st.lines = if part.is_whole() { seen } else { mine };
                st.unreadable = Some(e.to_string());
            }
            Err(e) => return Err(e),
        }
        stats.push(st);
    }
    let spilled = index.spilled();
    let rewrite = spilled && out.is_some();
    let mut dups = index
        .finish(rewrite)
        .map_err(ValidateError::io("reading spilled ids"))?;
    if let Some(w) = out.take() {
        if rewrite {
            drop(w);
            written = rewrite_unique(
                &inputs,
                read,
                (style, opts.partition),
                &mut dups,
                opts.write_unique.as_ref().expect("set"),
            )?;
        } else {
            w.commit().map_err(ValidateError::io("--write-unique"))?;
        }
    }
    drop(spool_dir);
    let report = DupesReport {
        inputs: stats,
        duplicate_ids: dups.ids(),
        duplicate_lines: dups.repeated(),
        spilled,
        unique_lines: opts.write_unique.as_ref().map(|_| written),
        problems,
    };
    Ok((dups, report))
}

/// A line over `--max-line-bytes` is never held, so it cannot be copied.
fn lost(input: &Input, line: u64) -> ValidateError {
    ValidateError::Io {
        context: format!("{}:{line}: --write-unique", input.name),
        source: std::io::Error::other(
            "the line is over --max-line-bytes and cannot be copied; raise --max-line-bytes",
        ),
    }
}

/// Second pass after a spill: copy every line (of the part) except the later occurrences,
/// which come from the id set in input order.
fn rewrite_unique(
    inputs: &[Input],
    read: &ReadOptions,
    (style, part): (Option<Style>, Part),
    dups: &mut Dups,
    path: &PathBuf,
) -> Result<u64, ValidateError> {
    let spilled_ids = || ValidateError::io("reading spilled ids");
    let mut next = dups.next_repeated().map_err(spilled_ids())?;
    let mut w = AtomicFile::create(path).map_err(ValidateError::io("--write-unique"))?;
    let mut written = 0u64;
    for (fi, input) in inputs.iter().enumerate() {
        batchkit_io::run(
            input,
            read,
            // Which lines are the part's (every line of the whole).
            |chunk| {
                (!part.is_whole()).then(|| {
                    let ids = extract_ids(chunk, style, &read.budget);
                    (ids.items.iter())
                        .map(|&(_, _, start, len)| match len {
                            NO_ID | TOO_LARGE => part.holds_no_id(),
                            _ => part.holds(&ids.arena[start as usize..(start + len) as usize]),
                        })
                        .collect::<Vec<bool>>()
                })
            },
            |chunk, mine| -> Result<bool, ValidateError> {
                if let Some(o) = chunk.oversized {
                    if !part.holds_no_id() {
                        return Ok(true);
                    }
                    return Err(lost(input, o.line));
                }
                for (k, l) in chunk.lines().enumerate() {
                    if mine.as_ref().is_some_and(|m| !m[k]) {
                        continue;
                    }
                    let here = (fi as u32, l.number);
                    while next.is_some_and(|n| n < here) {
                        next = dups.next_repeated().map_err(spilled_ids())?;
                    }
                    if next == Some(here) {
                        continue;
                    }
                    w.write_all(l.raw)
                        .map_err(ValidateError::io("--write-unique"))?;
                    if !l.raw.ends_with(b"\n") {
                        w.write_all(b"\n")
                            .map_err(ValidateError::io("--write-unique"))?;
                    }
                    written += 1;
                }
                Ok(true)
            },
        )?;
    }
    w.commit().map_err(ValidateError::io("--write-unique"))?;
    Ok(written)
}
