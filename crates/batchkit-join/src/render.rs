//! Writing the outputs: the one renderer of merged lines ([`render_line`]) for every path,
//! result bytes read back from memory, spill files or the result inputs by position
//! ([`ResultSource`]), the request lines' merged and retry output in order, and the last pass
//! over the results for orphans and duplicates.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use batchkit_io::{Chunk, Input};

use crate::engine::{Ctx, Out, Outputs};
use crate::probe::FirstLines;
use crate::store::{hash_id, io_err, read_at, Arena, Entry, ENTRY_SIZE, NONE};
use crate::{Event, EventSink, JoinError, Loc, Problem, Side, Status};

pub(crate) fn write(f: &mut Out, b: &[u8]) -> Result<(), JoinError> {
    if b.is_empty() {
        return Ok(());
    }
    let err = f.err();
    f.file.write_all(b).map_err(err)
}

/// Writes a line, adding the `\n` a last line may lack.
pub(crate) fn write_line(f: &mut Out, raw: &[u8]) -> Result<(), JoinError> {
    write(f, raw)?;
    if !raw.ends_with(b"\n") {
        write(f, b"\n")?;
    }
    Ok(())
}

/// Writes request line `raw`, which cannot be sent again as it is, to the rejects file.
fn write_reject(outs: &mut Outputs, raw: &[u8]) -> Result<(), JoinError> {
    match &mut outs.rejects {
        Some(r) => write_line(r, raw),
        None => Ok(()),
    }
}

/// Why request line `content` (with an id) cannot be sent again as it is, in validate's
/// words: no payload where its shape keeps one (`body`, `params`, `request`, `modelInput`),
/// or an empty one; a line of no known shape has none. `None` for a sendable line, and for
/// a line that does not parse (reported apart).
pub(crate) fn unsendable(content: &[u8]) -> Option<String> {
    use batchkit_json::syntax;
    batchkit_line::read(content, |root| {
        let Some(line) = batchkit_line::RequestLine::detect(root) else {
            return Some(
                "cannot tell the request format: no `body`, `params`, `request` or `modelInput` to send"
                    .to_string(),
            );
        };
        let path = line.layout().payload.0.join(".");
        match line.payload() {
            None => Some(syntax::missing_field(&path)),
            Some(p) if p.is_empty() => Some(format!("`{path}` is empty: nothing to send")),
            Some(_) => None,
        }
    })
    .ok()
    .flatten()
}

/// A result's bytes as the merged line needs them.
pub(crate) struct ResultBytes<'a> {
    pub content: &'a [u8],
    pub text: Option<&'a [u8]>,
    /// The stop reason's JSON string literal, as it stands in the result line.
    pub stop: Option<&'a [u8]>,
    /// For an `invalid_answer`: `{"pointer":...,"message":...}`.
    pub answer_problem: Option<&'a [u8]>,
}

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
    out.extend_from_slice(b",\"stop_reason\":");
    out.extend_from_slice(result.and_then(|r| r.stop).unwrap_or(b"null"));
    if let Some(p) = result.and_then(|r| r.answer_problem) {
        out.extend_from_slice(b",\"answer_problem\":");
        out.extend_from_slice(p);
    }
    if let Some(p) = problem {
        out.extend_from_slice(b",\"problem\":\"");
        out.extend_from_slice(p.code().as_bytes());
        out.extend_from_slice(b"\",\"line\":");
        out.extend_from_slice(line.to_string().as_bytes());
    }
    out.extend_from_slice(b"}\n");
}

/// The one renderer of merged lines, for the in-memory and the spilled join alike: request
/// line `content` (number `line`, raw id literal `id_raw`), joined to `result` with `status`,
/// or not joined because of `problem`. A line that is not JSON gets no merged line; one too
/// long to hold gets `"request": null`. Returns the range written in `out`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn render_line(
    out: &mut Vec<u8>,
    content: Option<&[u8]>,
    id_raw: Option<&[u8]>,
    status: Status,
    result: Option<&ResultBytes<'_>>,
    problem: Option<Problem>,
    line: u64,
) -> (usize, usize) {
    let start = out.len();
    if problem.is_some_and(Problem::not_json) {
        return (start, 0);
    }
    let request = if problem == Some(Problem::LineTooLarge) {
        None
    } else {
        content
    };
    write_merged(out, id_raw, status, request, result, problem, line);
    (start, out.len() - start)
}

/// What the join says about one line: validate's words (message, 1-based column) and, apart,
/// what the join did with the line.
#[derive(Debug, Clone, Default)]
pub(crate) struct Said {
    pub message: String,
    pub column: Option<u64>,
    pub context: Option<&'static str>,
}

/// The id field of a request line by the one id rule (batchkit-line), as a JSON pointer, and
/// what is there, as validate names a JSON type; for a line without one, the field its shape
/// calls for (`custom_id` for a line of no known shape).
fn id_field(content: &[u8]) -> (String, Option<&'static str>) {
    batchkit_line::read(content, |root| {
        match batchkit_line::RequestLine::find_id(root, None) {
            Some(id) => (id.pointer(), Some(batchkit_line::type_name(&id.value))),
            None => (
                format!("/{}", batchkit_line::RequestLine::expected_id(root, None)),
                None,
            ),
        }
    })
    .unwrap_or_else(|_| ("/custom_id".to_string(), None))
}

/// Blank request lines, in validate's words (`empty_line`: an error between requests, a
/// warning at the end of the file).
fn blank_lines(input: &Input, d: batchkit_line::Diagnostic) -> Event {
    Event::Problem {
        side: Side::Request,
        file: input.name.clone(),
        diagnostic: d.with_context("skipped: no merged line"),
        first: None,
    }
}

/// What the join says about result line `content` it cannot join: the same words as for a
/// request line; the line goes to the orphans file.
pub(crate) fn result_said(p: Problem, content: &[u8]) -> Said {
    let said = request_said(p, Some(content), "");
    Said {
        context: Some("written to the orphans file"),
        ..said
    }
}

/// What the join says about request line `content` (absent when too long to hold) with
/// problem `p`; `detail` is the parser's words, used only when the shared ones cannot be had.
pub(crate) fn request_said(p: Problem, content: Option<&[u8]>, detail: &str) -> Said {
    use batchkit_json::syntax;
    let content = content.unwrap_or_default();
    match p {
        Problem::InvalidJson | Problem::InvalidUtf8 => {
            let e = batchkit_line::read(content, |_| ()).err();
            Said {
                column: e.as_ref().and_then(|e| e.column),
                message: e.map_or_else(|| format!("not valid JSON: {detail}"), |e| e.message),
                context: Some("left out of the merged and retry files"),
            }
        }
        Problem::NotObject => Said {
            message: batchkit_json::syntax::not_object(
                batchkit_line::read(content, |v| batchkit_line::type_name(&v))
                    .unwrap_or("not an object"),
            ),
            column: None,
            context: Some(
                "cannot be joined or sent again: status missing, NOT copied to the retry file",
            ),
        },
        Problem::MissingId | Problem::InvalidId => {
            let (pointer, value) = id_field(content);
            let message = match (p, value) {
                (Problem::InvalidId, Some(found)) => {
                    syntax::wrong_type(&pointer, "a string", found)
                }
                _ => syntax::missing_field(&pointer),
            };
            Said {
                message,
                column: None,
                context: Some(
                    "cannot be joined or sent again: status missing, NOT copied to the retry file",
                ),
            }
        }
        Problem::LineTooLarge => Said {
            message: format!("line is {detail} bytes, over --max-line-bytes"),
            column: None,
            context: Some("status missing, NOT copied to the retry file"),
        },
        _ => Said {
            message: detail.to_string(),
            ..Said::default()
        },
    }
}

/// One request line's outcome, with its merged line at `merged` in the chunk's buffer.
pub(crate) struct LineOut {
    pub line: u64,
    pub byte: u64,
    pub raw: (usize, usize),
    pub merged: (usize, usize),
    pub status: Status,
    pub problem: Option<Problem>,
    pub result: u64,
    pub other: u64,
    pub custom_id: Option<String>,
    pub said: Option<Said>,
    /// The raw id literal's range in the line's content.
    pub id: (u32, u32),
    /// In-memory path: the decoded id and its hash of a request no result names (checked
    /// against earlier requests' ids at emit time).
    pub key: Option<(u64, Vec<u8>)>,
    /// A blank line (ending in a newline): no merged line, reported as validate reports it.
    pub blank: bool,
    /// A line of another part (`--partition`): left out, but it ends a run of blank lines.
    pub elsewhere: bool,
    /// Whether the answer was checked against the structured output asked for.
    pub checked: bool,
    /// How it breaks it (status `invalid_answer`).
    pub answer: Option<crate::answer::AnswerProblem>,
    /// Why a line with an id cannot be sent again as it is (no payload where its shape needs
    /// one), in validate's words: it goes to the rejects file, never to the retry file.
    pub unsendable: Option<String>,
    /// The line has no id and is joined by content (a Vertex request).
    pub by_content: bool,
}

impl LineOut {
    pub fn new(line: u64, byte: u64, raw: (usize, usize)) -> Self {
        LineOut {
            line,
            byte,
            raw,
            merged: (0, 0),
            status: Status::Missing,
            problem: None,
            result: NONE,
            other: NONE,
            custom_id: None,
            said: None,
            id: (0, 0),
            key: None,
            blank: false,
            elsewhere: false,
            checked: false,
            answer: None,
            unsendable: None,
            by_content: false,
        }
    }
}

pub(crate) struct ReqChunk {
    pub merged: Vec<u8>,
    pub lines: Vec<LineOut>,
}

/// The merged line of a chunk that stands for one line too long to hold.
pub(crate) fn oversized_out(chunk: &Chunk, merged: &mut Vec<u8>) -> Option<ReqChunk> {
    let o = chunk.oversized?;
    let mut lo = LineOut::new(o.line, o.offset, (0, 0));
    lo.merged = render_line(
        merged,
        None,
        None,
        Status::Missing,
        None,
        Some(Problem::LineTooLarge),
        o.line,
    );
    lo.problem = Some(Problem::LineTooLarge);
    lo.said = Some(request_said(
        Problem::LineTooLarge,
        None,
        &o.len.to_string(),
    ));
    Some(ReqChunk {
        merged: std::mem::take(merged),
        lines: vec![lo],
    })
}

// ---------------------------------------------------------------------------------------------
// Result bytes

/// Where the stored bytes of the results are: raw lines and extras, or only the extras when
/// the raw lines are read back from the result inputs.
pub(crate) trait Payload: Sync {
    fn read(&self, off: u64, buf: &mut [u8]) -> Result<(), JoinError>;
}

impl Payload for Arena {
    fn read(&self, off: u64, buf: &mut [u8]) -> Result<(), JoinError> {
        buf.copy_from_slice(self.get(off, buf.len()));
        Ok(())
    }
}

impl Payload for (File, PathBuf) {
    fn read(&self, off: u64, buf: &mut [u8]) -> Result<(), JoinError> {
        read_at(&self.0, &self.1, off, buf)
    }
}

/// Reads a result's bytes back: its raw line from its input by position (`inputs`, when
/// every result input is a plain file) or from the payload, then its extras (decoded id,
/// re-encoded answer text) from the payload.
pub(crate) struct ResultSource<'a, P: Payload + ?Sized> {
    pub inputs: Option<&'a [(File, PathBuf)]>,
    pub names: &'a [Input],
    pub payload: &'a P,
}

impl<P: Payload + ?Sized> ResultSource<'_, P> {
    /// The raw line of `e`, followed by its extras when `extras`, into `buf`.
    pub fn load(&self, e: &Entry, extras: bool, buf: &mut Vec<u8>) -> Result<(), JoinError> {
        let raw = e.raw_len as usize;
        let total = if extras { raw + extra_len(e) } else { raw };
        buf.clear();
        buf.resize(total, 0);
        let Some(files) = self.inputs else {
            return self.payload.read(e.off, buf);
        };
        let (f, p) = &files[e.file as usize];
        let changed = || {
            JoinError::Usage(format!(
                "{}: the file changed while it was being joined",
                self.names[e.file as usize].name
            ))
        };
        match f.read_exact_at(&mut buf[..raw], e.byte) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => return Err(changed()),
            Err(err) => return Err(io_err(p)(err)),
        }
        // The id read back must be the one stored: else the input changed under the join.
        let (ir, il) = (e.id_rel as usize, e.id_len as usize);
        if e.kind == 0 && ir + il <= raw && hash_id(&buf[ir..ir + il]) != e.hash {
            return Err(changed());
        }
        if total > raw {
            self.payload.read(e.off, &mut buf[raw..])?;
        }
        Ok(())
    }
}

/// Bytes stored after the raw line (decoded id, re-encoded text).
pub(crate) fn extra_len(e: &Entry) -> usize {
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

/// The content and answer text of a result loaded with its extras.
pub(crate) fn slices<'a>(all: &'a [u8], e: &Entry) -> ResultBytes<'a> {
    let c = e.content_rel as usize;
    ResultBytes {
        content: &all[c..c + e.content_len as usize],
        text: e.text().map(|(r, l)| &all[r as usize..(r + l) as usize]),
        stop: e.stop().map(|(r, l)| &all[r as usize..(r + l) as usize]),
        answer_problem: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Request lines: merged and retry output, in order

/// The in-memory request pass's state: which request took each result, and the ids of the
/// requests no result names (bounded by `allowance` bytes).
pub(crate) struct MemClaims {
    pub first: FirstLines,
    pub allowance: u64,
}

/// The line's content from its raw bytes (terminator and, on line 1, a BOM removed).
pub(crate) fn content_of(raw: &[u8], first: bool) -> &[u8] {
    let mut c = raw.strip_suffix(b"\n").unwrap_or(raw);
    c = c.strip_suffix(b"\r").unwrap_or(c);
    if first {
        c = c.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(c);
    }
    c
}

impl Ctx<'_> {
    /// Writes a request chunk's lines in order. On the in-memory path (`mem`) it also applies
    /// the duplicate-request rule there (see [`FirstLines`]); it stops (setting
    /// `self.overflow`) when the ids of requests without a result outgrow their share of the
    /// budget.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn emit_request_chunk(
        &mut self,
        chunk: &Chunk,
        rc: ReqChunk,
        input: &Input,
        base: u64,
        mut mem: Option<&mut MemClaims>,
        outs: &mut Outputs,
        on_event: &mut EventSink<'_>,
    ) -> Result<(), JoinError> {
        let mut regen = Vec::new();
        // Merged lines lie in order in `rc.merged`: written in runs, cut only where a line
        // was rendered again.
        let mut run = 0usize;
        for mut lo in rc.lines {
            if lo.blank {
                self.blank_run.blank(lo.line, lo.byte);
                continue;
            }
            if let Some(d) = self.blank_run.before_request() {
                // An error, as in validate and tokens: the run ends with problems (exit 1).
                self.summary.request_problems += 1;
                self.request_event(blank_lines(input, d), on_event)?;
            }
            if lo.elsewhere {
                continue;
            }
            let gidx = base + lo.line - 1;
            let raw = &chunk.data[lo.raw.0..lo.raw.0 + lo.raw.1];
            self.summary.matched_by_content += u64::from(lo.by_content && lo.result != NONE);
            if let Some(m) = mem.as_deref_mut() {
                // (Lines joined by content took their result in order already.)
                let first = if lo.by_content {
                    None
                } else if lo.result != NONE {
                    m.first.first(Some(lo.result as u32), 0, &[], gidx)
                } else if let Some((hash, key)) = &lo.key {
                    let first = m.first.first(None, *hash, key, gidx);
                    if m.first.others_footprint() > m.allowance {
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
                    let id_raw = &content[lo.id.0 as usize..(lo.id.0 + lo.id.1) as usize];
                    regen.clear();
                    render_line(
                        &mut regen,
                        Some(content),
                        Some(id_raw),
                        Status::Missing,
                        None,
                        Some(Problem::DuplicateId),
                        lo.line,
                    );
                    write(&mut outs.out, &rc.merged[run..lo.merged.0])?;
                    write(&mut outs.out, &regen)?;
                    run = lo.merged.0 + lo.merged.1;
                }
            }
            if lo.problem == Some(Problem::DuplicateId) {
                let content = content_of(raw, lo.line == 1 && lo.byte == 0);
                let id = crate::hot::request_id(content);
                let first = self.loc_of_request(lo.other);
                let (pointer, _) = id_field(content);
                let field = pointer.trim_start_matches('/').replace('/', ".");
                let at = if first.file == input.name {
                    format!("line {}", first.line)
                } else {
                    format!("{}:{}", first.file, first.line)
                };
                lo.said = Some(Said {
                    message: format!(
                        "{field} {:?} already used on {at}",
                        id.as_deref().unwrap_or("")
                    ),
                    column: None,
                    context: Some("status missing, NOT copied to the retry file"),
                });
                lo.custom_id = id;
            }
            let not_json = lo.problem.is_some_and(Problem::not_json);
            let first_line = lo.line == 1 && lo.byte == 0;
            if not_json {
                self.summary.invalid_requests += 1;
                write_reject(outs, raw)?;
            } else {
                self.summary.requests += 1;
                self.summary.statuses[lo.status as usize] += 1;
                let retry_on = self.opts.retry_on.contains(lo.status);
                let unsendable = matches!(
                    lo.problem,
                    Some(Problem::NotObject | Problem::MissingId | Problem::InvalidId)
                ) || (lo.problem.is_none() && lo.unsendable.is_some());
                if unsendable {
                    write_reject(outs, raw)?;
                }
                if lo.status != Status::Succeeded && retry_on {
                    if unsendable
                        || matches!(
                            lo.problem,
                            Some(Problem::LineTooLarge | Problem::DuplicateId)
                        )
                    {
                        self.summary.not_in_retry += 1;
                    } else {
                        self.summary.to_retry += 1;
                        self.write_retry(outs, raw, lo.status, first_line)?;
                    }
                }
            }
            if let (None, Some(message)) = (lo.problem, lo.unsendable.take()) {
                self.summary.request_problems += 1;
                let content = content_of(raw, first_line);
                let mut d = batchkit_line::Diagnostic::unplaced(
                    batchkit_line::Code::MissingField,
                    batchkit_line::Severity::Error,
                    message,
                );
                d.line = Some(lo.line);
                d.offset = Some(lo.byte);
                d.custom_id = crate::hot::request_id(content);
                d.context =
                    Some("cannot be sent again as it is: NOT copied to the retry file".into());
                let ev = Event::Problem {
                    side: Side::Request,
                    file: input.name.clone(),
                    diagnostic: d,
                    first: None,
                };
                self.request_event(ev, on_event)?;
            }
            self.summary.answers_checked += u64::from(lo.checked);
            if let Some(a) = lo.answer.take() {
                let content = content_of(raw, lo.line == 1 && lo.byte == 0);
                let ev = Event::InvalidAnswer {
                    custom_id: crate::hot::request_id(content).unwrap_or_default(),
                    request: Loc {
                        file: input.name.clone(),
                        line: lo.line,
                        offset: Some(lo.byte),
                    },
                    pointer: a.pointer,
                    message: a.message,
                };
                self.request_event(ev, on_event)?;
            }
            if let Some(p) = lo.problem {
                self.summary.request_problems += 1;
                let first = (p == Problem::DuplicateId).then(|| self.loc_of_request(lo.other));
                let said = lo.said.take().unwrap_or_default();
                let loc = Loc {
                    file: input.name.clone(),
                    line: lo.line,
                    offset: Some(lo.byte),
                };
                let ev =
                    crate::problem_event(Side::Request, p, loc, lo.custom_id.take(), first, said);
                self.request_event(ev, on_event)?;
            }
        }
        write(&mut outs.out, &rc.merged[run..])
    }

    /// Writes request line `raw` to the retry file, its output cap raised when it was
    /// truncated and `--raise-max-tokens` asks for it (counted either way).
    fn write_retry(
        &mut self,
        outs: &mut Outputs,
        raw: &[u8],
        status: Status,
        first: bool,
    ) -> Result<(), JoinError> {
        use crate::raise::{raise_cap, spliced, Raise};
        let raise = match self.opts.raise_max_tokens {
            Some(f) if status == Status::Truncated => Some(raise_cap(content_of(raw, first), f)),
            _ => None,
        };
        match &raise {
            Some(Raise::Raised { .. }) => self.summary.raised += 1,
            Some(Raise::Unchanged(_)) => self.summary.raise_unchanged += 1,
            None => {}
        }
        let Some(r) = &mut outs.retry else {
            return Ok(());
        };
        match raise {
            Some(Raise::Raised { at, new, .. }) => {
                let digits = new.to_string();
                let [head, num, tail] = spliced(raw, content_of(raw, first), at, digits.as_bytes());
                write(r, head)?;
                write(r, num)?;
                write_line(r, tail)
            }
            _ => write_line(r, raw),
        }
    }

    /// Passes on an event about a request line, unless an earlier, stopped pass over the
    /// requests already did (the events of both passes come in the same order).
    fn request_event(&mut self, ev: Event, on_event: &mut EventSink<'_>) -> Result<(), JoinError> {
        self.request_events += 1;
        if self.request_events > self.skip_request_events {
            on_event.event(&ev).map_err(JoinError::Report)?;
        }
        Ok(())
    }

    /// The end of request file `input`: the blank lines at its end, if any, as a warning.
    pub(crate) fn blanks_at_end(
        &mut self,
        input: &Input,
        on_event: &mut EventSink<'_>,
    ) -> Result<(), JoinError> {
        match self.blank_run.at_end() {
            Some(d) => self.request_event(blank_lines(input, d), on_event),
            None => Ok(()),
        }
    }

    /// File and line of the request with global line index `gidx`.
    pub(crate) fn loc_of_request(&self, gidx: u64) -> Loc {
        if let Some(e) = gidx
            .checked_sub(crate::EARLIER_BASE)
            .and_then(|i| self.opts.earlier.get(i as usize))
        {
            return Loc {
                file: e.file.clone(),
                line: e.line,
                offset: None,
            };
        }
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

// ---------------------------------------------------------------------------------------------
// The last pass: orphans and duplicates, in result order

/// The results' entries and which of them a request took, as the last pass reads them.
pub(crate) trait FinalView {
    fn claimed(&self, idx: u64) -> bool;
    fn entry(&self, idx: u64) -> Result<Entry, JoinError>;
    fn entries(&self)
        -> Result<Box<dyn Iterator<Item = Result<Entry, JoinError>> + '_>, JoinError>;
}

/// Entries held in memory.
pub(crate) struct MemFinal<'a> {
    pub entries: &'a [Entry],
    pub first: &'a FirstLines,
}

impl FinalView for MemFinal<'_> {
    fn claimed(&self, idx: u64) -> bool {
        self.first.claimed(idx)
    }
    fn entry(&self, idx: u64) -> Result<Entry, JoinError> {
        Ok(self.entries[idx as usize])
    }
    fn entries(
        &self,
    ) -> Result<Box<dyn Iterator<Item = Result<Entry, JoinError>> + '_>, JoinError> {
        Ok(Box::new(self.entries.iter().map(|e| Ok(*e))))
    }
}

/// Entries in the spilled join's entries file.
pub(crate) struct FileFinal<'a> {
    pub entries: &'a (File, PathBuf),
    pub claimed: &'a [u64],
    pub count: u64,
}

impl FinalView for FileFinal<'_> {
    fn claimed(&self, idx: u64) -> bool {
        self.claimed[(idx / 64) as usize] & (1 << (idx % 64)) != 0
    }
    fn entry(&self, idx: u64) -> Result<Entry, JoinError> {
        entry_at(self.entries, idx)
    }
    fn entries(
        &self,
    ) -> Result<Box<dyn Iterator<Item = Result<Entry, JoinError>> + '_>, JoinError> {
        let path: &Path = &self.entries.1;
        let mut r = BufReader::with_capacity(256 << 10, File::open(path).map_err(io_err(path))?);
        let mut b = [0u8; ENTRY_SIZE];
        Ok(Box::new((0..self.count).map(move |_| {
            r.read_exact(&mut b).map_err(io_err(path))?;
            Ok(Entry::decode(&b))
        })))
    }
}

/// Entry `idx` of an entries file.
pub(crate) fn entry_at(entries: &(File, PathBuf), idx: u64) -> Result<Entry, JoinError> {
    let mut b = [0u8; ENTRY_SIZE];
    read_at(&entries.0, &entries.1, idx * ENTRY_SIZE as u64, &mut b)?;
    Ok(Entry::decode(&b))
}

impl Ctx<'_> {
    /// Orphans and duplicate results, in result order, for both paths.
    pub(crate) fn finish_results<V: FinalView, P: Payload + ?Sized>(
        &mut self,
        outs: &mut Outputs,
        on_event: &mut EventSink<'_>,
        view: &V,
        src: &ResultSource<'_, P>,
    ) -> Result<(), JoinError> {
        let loc = |e: &Entry| Loc {
            file: self.opts.results[e.file as usize].name.clone(),
            line: e.line,
            offset: Some(e.byte),
        };
        let mut buf = Vec::new();
        for (idx, e) in view.entries()?.enumerate() {
            let e = e?;
            match e.kind {
                0 if e.other != NONE => {
                    self.summary.duplicates += 1;
                    src.load(&e, true, &mut buf)?;
                    if let Some(f) = outs.duplicates.as_mut().or(outs.orphans.as_mut()) {
                        write_line(f, &buf[..e.raw_len as usize])?;
                    }
                    let kept = view.entry(e.other)?;
                    let id = &buf[e.id_rel as usize..(e.id_rel + e.id_len) as usize];
                    on_event
                        .event(&Event::DuplicateResult {
                            custom_id: String::from_utf8_lossy(id).into_owned(),
                            kept: loc(&kept),
                            dropped: loc(&e),
                        })
                        .map_err(JoinError::Report)?;
                }
                0 if view.claimed(idx as u64) => self.summary.joined += 1,
                0 | 1 => {
                    if e.kind == 0 {
                        self.summary.orphans += 1;
                    }
                    if let Some(f) = outs.orphans.as_mut() {
                        src.load(&e, false, &mut buf)?;
                        write_line(f, &buf)?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(line: &[u8], id: &[u8]) -> Entry {
        let at = line.windows(id.len()).position(|w| w == id).unwrap() as u32;
        Entry {
            off: 0,
            raw_len: line.len() as u32,
            content_rel: 0,
            content_len: line.len() as u32 - 1,
            id_rel: at,
            id_len: id.len() as u32,
            text_rel: 0,
            text_len: u32::MAX,
            file: 0,
            line: 2,
            byte: 4,
            hash: hash_id(id),
            other: NONE,
            status: Status::Succeeded.to_u8(),
            kind: 0,
            stop_rel: 0,
            stop_len: u32::MAX,
        }
    }

    #[test]
    fn result_lines_are_read_back_by_position_and_a_changed_input_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.jsonl");
        let line = b"{\"custom_id\":\"r1\",\"response\":null}\n";
        std::fs::write(&p, [b"{}\n\n".as_slice(), line].concat()).unwrap();
        let files = [(File::open(&p).unwrap(), p.clone())];
        let names = [Input::path(&p)];
        let payload = Arena::default();
        let src = ResultSource {
            inputs: Some(&files[..]),
            names: &names,
            payload: &payload,
        };
        let e = entry(line, b"r1");
        let mut buf = Vec::new();
        src.load(&e, true, &mut buf).unwrap();
        assert_eq!(buf, line);
        assert_eq!(slices(&buf, &e).content, &line[..line.len() - 1]);

        // Same length, another id: the join must not copy it into a merged line.
        std::fs::write(&p, b"{}\n\n{\"custom_id\":\"r2\",\"response\":null}\n").unwrap();
        let err = src.load(&e, true, &mut buf).unwrap_err();
        assert!(
            err.to_string()
                .contains("changed while it was being joined"),
            "{err}"
        );
        // Shorter: the line is gone.
        std::fs::write(&p, b"{}\n").unwrap();
        assert!(src.load(&e, true, &mut buf).is_err());
    }

    #[test]
    fn one_renderer_for_joined_missing_and_problem_lines() {
        let mut out = Vec::new();
        let rb = ResultBytes {
            content: b"{\"r\":1}",
            text: Some(b"\"hi\""),
            stop: Some(b"\"stop\""),
            answer_problem: None,
        };
        let (s, n) = render_line(
            &mut out,
            Some(b"{\"custom_id\":\"a\"}"),
            Some(b"\"a\""),
            Status::Succeeded,
            Some(&rb),
            None,
            1,
        );
        assert_eq!(
            &out[s..s + n],
            b"{\"custom_id\":\"a\",\"status\":\"succeeded\",\"request\":{\"custom_id\":\"a\"},\"result\":{\"r\":1},\"output_text\":\"hi\",\"stop_reason\":\"stop\"}\n"
        );
        let (_, n) = render_line(
            &mut out,
            Some(b"{"),
            None,
            Status::Missing,
            None,
            Some(Problem::InvalidJson),
            3,
        );
        assert_eq!(n, 0, "a line that is not JSON gets no merged line");
        let (s, n) = render_line(
            &mut out,
            Some(b"x"),
            None,
            Status::Missing,
            None,
            Some(Problem::LineTooLarge),
            4,
        );
        assert_eq!(
            &out[s..s + n],
            b"{\"custom_id\":null,\"status\":\"missing\",\"request\":null,\"result\":null,\"output_text\":null,\"stop_reason\":null,\"problem\":\"line_too_large\",\"line\":4}\n"
        );
    }
}
