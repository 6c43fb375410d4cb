//! The outputs of a join run in parts (`--partition K/N`, one run per part, as `batchkit.ray`
//! and `batchkit.spark` run them) put back per request file: merged, retry and rejects lines
//! of every part, each part's in request order, dealt to the request file and line they
//! belong to. Each request line is read once more (by the one reader, zstd included): its
//! part comes from its decoded id (part 0 without one), and then
//! - its merged line is the next of its part's merged lines, unless it has none (blank, or
//!   not JSON);
//! - its retry line, if any, is the next of its part's retry lines when that one has its id
//!   (a later line with the same id is a duplicate, never retried);
//! - its rejects line, if any, is the next of its part's rejects lines when that one is its
//!   bytes (lines with the same bytes are rejected alike).
//!
//! So the files of request file F hold exactly the lines one join run writes for F's lines,
//! in order, and their concatenation in request order is that run's file, byte for byte.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;

use batchkit_io::part::Part;
use batchkit_io::{Input, ReadOptions};

/// Merged, retry, rejects.
pub const KINDS: usize = 3;

/// One part's output of one kind, read a line at a time with one line of look-ahead.
struct Stream {
    path: PathBuf,
    r: Option<BufReader<File>>,
    next: Option<Vec<u8>>,
}

impl Stream {
    fn open(path: Option<&PathBuf>) -> std::io::Result<Stream> {
        let mut s = Stream {
            path: path.cloned().unwrap_or_default(),
            r: match path {
                Some(p) => Some(BufReader::new(File::open(p).map_err(|e| named(p, e))?)),
                None => None,
            },
            next: None,
        };
        s.fill()?;
        Ok(s)
    }

    fn fill(&mut self) -> std::io::Result<()> {
        self.next = None;
        if let Some(r) = &mut self.r {
            let mut line = Vec::new();
            if r.read_until(b'\n', &mut line)
                .map_err(|e| named(&self.path, e))?
                > 0
            {
                self.next = Some(line);
            }
        }
        Ok(())
    }

    fn take(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let line = self.next.take();
        self.fill()?;
        Ok(line)
    }
}

/// A reading error of a request file, or an I/O error on the outputs.
pub struct SplitError(pub String);

impl From<batchkit_io::ReadError> for SplitError {
    fn from(e: batchkit_io::ReadError) -> Self {
        SplitError(e.to_string())
    }
}

impl From<std::io::Error> for SplitError {
    fn from(e: std::io::Error) -> Self {
        SplitError(e.to_string())
    }
}

fn named(p: &std::path::Path, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{}: {e}", p.display()))
}

fn mismatch(what: &str, name: &str, line: u64) -> std::io::Error {
    std::io::Error::other(format!(
        "{name}:{line}: the parts' {what} lines do not match the requests (did a file change?)"
    ))
}

/// Deals the outputs of `parts` (per part: merged, retry and rejects files, `None` when not
/// written) to `outs` (per request file: the same three) by reading `requests` in order.
pub fn split(
    requests: &[Input],
    parts: &[[Option<PathBuf>; KINDS]],
    outs: &[[Option<PathBuf>; KINDS]],
    read: &ReadOptions,
) -> Result<(), SplitError> {
    let n = u32::try_from(parts.len()).map_err(|e| SplitError(e.to_string()))?;
    let mut streams: Vec<[Stream; KINDS]> = Vec::with_capacity(parts.len());
    for p in parts {
        streams.push([
            Stream::open(p[0].as_ref())?,
            Stream::open(p[1].as_ref())?,
            Stream::open(p[2].as_ref())?,
        ]);
    }
    for (input, out) in requests.iter().zip(outs) {
        let mut w: Vec<Option<BufWriter<File>>> = Vec::with_capacity(KINDS);
        for p in out {
            w.push(match p {
                Some(p) => Some(BufWriter::new(File::create(p).map_err(|e| named(p, e))?)),
                None => None,
            });
        }
        let mut emit = |k: usize, line: &[u8]| -> std::io::Result<()> {
            match &mut w[k] {
                Some(f) => f.write_all(line),
                None => Ok(()),
            }
        };
        let name = input.name.clone();
        batchkit_io::run(
            input,
            read,
            |_| (),
            |chunk, ()| -> Result<bool, SplitError> {
                if let Some(o) = chunk.oversized {
                    // Too long to read: part 0's, a merged line only.
                    let l = streams[0][0]
                        .take()?
                        .ok_or_else(|| mismatch("merged", &name, o.line))?;
                    emit(0, &l)?;
                    return Ok(true);
                }
                for line in chunk.lines() {
                    if line.is_blank() {
                        continue;
                    }
                    let id = batchkit_join::hot::request_id(line.content);
                    let k = id.as_deref().map_or(0, |id| Part::of(id.as_bytes(), n)) as usize;
                    let s = &mut streams[k];
                    let json = batchkit_line::read(line.content, |_| ()).is_ok();
                    if json {
                        let l = s[0]
                            .take()?
                            .ok_or_else(|| mismatch("merged", &name, line.number))?;
                        emit(0, &l)?;
                    }
                    if let (Some(id), Some(next)) = (&id, &s[1].next) {
                        let content = trim_end(next);
                        if batchkit_join::hot::request_id(strip_bom(content)).as_ref() == Some(id) {
                            let l = s[1].take()?.expect("peeked");
                            emit(1, &l)?;
                        }
                    }
                    if let Some(next) = &s[2].next {
                        let raw = line.raw;
                        if next == raw || (next.strip_suffix(b"\n") == Some(raw)) {
                            let l = s[2].take()?.expect("peeked");
                            emit(2, &l)?;
                        }
                    }
                }
                Ok(true)
            },
        )?;
        for f in w.into_iter().flatten() {
            f.into_inner().map_err(|e| e.into_error())?;
        }
    }
    for s in &streams {
        for (k, what) in ["merged", "retry", "rejects"].iter().enumerate() {
            if s[k].next.is_some() {
                return Err(SplitError(format!(
                    "{}: lines left over that no request line takes (did a file change?)",
                    if s[k].path.as_os_str().is_empty() {
                        what.to_string()
                    } else {
                        s[k].path.display().to_string()
                    }
                )));
            }
        }
    }
    Ok(())
}

fn trim_end(l: &[u8]) -> &[u8] {
    let l = l.strip_suffix(b"\n").unwrap_or(l);
    l.strip_suffix(b"\r").unwrap_or(l)
}

fn strip_bom(l: &[u8]) -> &[u8] {
    l.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(l)
}
