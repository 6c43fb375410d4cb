//! Results that come as one JSON document rather than JSON Lines: OpenRouter's batch API has
//! no results file, it returns the results inline in `GET /api/v1/batches/{id}` as
//! `{..., "results": [{"id", "custom_id", "response": {"status_code", "request_id", "body"},
//! "error"}, ...]}`, one of `response` and `error` per item (source: providers.toml
//! [openrouter].sources). Saved as it comes, pretty-printed or not, it is a results file.
//!
//! A results input that is a plain file whose first non-blank byte is `{` and which is one
//! JSON object with a top-level `results` array is such a document: its items are written,
//! each on one line (whitespace outside strings left out), to a JSON Lines file in the join's
//! temporary directory, which the join then reads in the document's place under the
//! document's name. A finding's line is then the item's place in `results` (1-based). The
//! copy streams: it holds one byte of the document at a time, whatever its size, and an item
//! is held to `--max-line-bytes` as every line is.
//!
//! A file that is not such a document is read as JSON Lines, as every results file is (a
//! broken first line is reported there, never taken for a document). Standard input and
//! compressed files are always read as JSON Lines.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use batchkit_io::staging::StagedDir;
use batchkit_io::{Input, Source};

use crate::store::io_err;
use crate::JoinError;

/// Why a file is not read as a results document.
#[derive(Debug)]
enum NotDoc {
    /// Not the document's shape (read as JSON Lines).
    Shape,
    /// Reading or writing failed.
    Io(io::Error),
}

impl From<io::Error> for NotDoc {
    fn from(e: io::Error) -> Self {
        NotDoc::Io(e)
    }
}

/// The result inputs of a join with every results document among them replaced by its items
/// as JSON Lines in a temporary directory made in `temp_base` when there is one (see the
/// module docs), and that directory (removed when dropped); `None` when there is none.
pub(crate) fn expand(
    inputs: &[Input],
    temp_base: &Path,
) -> Result<(Option<StagedDir>, Option<Vec<Input>>), JoinError> {
    let mut out = inputs.to_vec();
    let mut any = false;
    let mut dir: Option<StagedDir> = None;
    for (i, input) in inputs.iter().enumerate() {
        let Source::Path(p) = &input.source else {
            continue;
        };
        if !maybe_document(p)? {
            continue;
        }
        if dir.is_none() {
            dir = Some(StagedDir::new_in(Some(temp_base), "join").map_err(io_err(temp_base))?);
        }
        let dest = dir
            .as_ref()
            .expect("made")
            .path()
            .join(format!("results-{i}.jsonl"));
        match copy_items(p, &dest) {
            Ok(()) => {
                out[i] = Input {
                    source: Source::Path(dest),
                    name: input.name.clone(),
                };
                any = true;
            }
            Err(NotDoc::Shape) => {
                let _ = std::fs::remove_file(&dest);
            }
            Err(NotDoc::Io(e)) => return Err(io_err(p)(e)),
        }
    }
    Ok((dir, any.then_some(out)))
}

/// Whether `p` may be a results document: a plain file whose first non-blank byte is `{` and
/// whose first line is not one whole JSON value, or is an object with a `results` array
/// (one-line documents) and no id of a result line.
fn maybe_document(p: &Path) -> Result<bool, JoinError> {
    let Ok(f) = File::open(p) else {
        // The reader names the file and the error.
        return Ok(false);
    };
    if !f.metadata().is_ok_and(|m| m.is_file()) {
        return Ok(false);
    }
    let mut r = BufReader::with_capacity(64 << 10, f);
    let head = r.fill_buf().map_err(io_err(p))?;
    // zstd frames are read by the reader.
    if head.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]) {
        return Ok(false);
    }
    let Some(first) = head.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Ok(false);
    };
    if head[first] != b'{' {
        return Ok(false);
    }
    // The first line, or as much of it as the buffer holds (a longer one is a document's or
    // a result line's: the copy tells them apart).
    let line = match memchr::memchr(b'\n', head) {
        Some(n) => &head[..n],
        None => head,
    };
    Ok(batchkit_line::read(line, |root| {
        root.get("results").is_some_and(|v| v.is_array())
            && batchkit_line::ResultLine::find_id(root).is_none()
    })
    .unwrap_or(true))
}

/// A byte source with one byte of look-ahead.
struct Bytes<R> {
    r: R,
    peeked: Option<u8>,
}

impl<R: BufRead> Bytes<R> {
    fn next(&mut self) -> io::Result<Option<u8>> {
        if let Some(b) = self.peeked.take() {
            return Ok(Some(b));
        }
        let buf = self.r.fill_buf()?;
        let Some(&b) = buf.first() else {
            return Ok(None);
        };
        self.r.consume(1);
        Ok(Some(b))
    }

    fn peek(&mut self) -> io::Result<Option<u8>> {
        if self.peeked.is_none() {
            self.peeked = self.next()?;
        }
        Ok(self.peeked)
    }

    /// The next byte that is not JSON whitespace.
    fn next_token(&mut self) -> io::Result<Option<u8>> {
        while let Some(b) = self.next()? {
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                return Ok(Some(b));
            }
        }
        Ok(None)
    }

    fn expect(&mut self, want: u8) -> Result<(), NotDoc> {
        match self.next_token()? {
            Some(b) if b == want => Ok(()),
            _ => Err(NotDoc::Shape),
        }
    }

    /// A string whose opening quote was read: its raw bytes (escapes as written) into `out`
    /// when given.
    fn string(&mut self, mut out: Option<&mut Vec<u8>>) -> Result<(), NotDoc> {
        let mut escaped = false;
        loop {
            let b = self.next()?.ok_or(NotDoc::Shape)?;
            if let Some(o) = out.as_deref_mut() {
                o.push(b);
            }
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => return Ok(()),
                _ => {}
            }
        }
    }

    /// One JSON value (its first byte `first` already read), whitespace outside strings left
    /// out, written to `w` when given. Its syntax is not checked here (a broken item is
    /// reported where its line is read); only strings and nesting are followed, to find
    /// where it ends.
    fn value(&mut self, first: u8, mut w: Option<&mut dyn Write>) -> Result<(), NotDoc> {
        let mut depth = 0u64;
        let mut b = first;
        let mut buf = Vec::new();
        // Whitespace between two bare tokens (`[1 2]`, not JSON) is kept as one space, so
        // a broken item stays broken rather than becoming another value.
        let bare = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'+');
        let (mut last, mut gap) = (0u8, false);
        loop {
            buf.clear();
            if gap && bare(last) && bare(b) {
                buf.push(b' ');
            }
            buf.push(b);
            match b {
                b'"' => self.string(Some(&mut buf))?,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => depth = depth.checked_sub(1).ok_or(NotDoc::Shape)?,
                _ => {}
            }
            if let Some(w) = w.as_deref_mut() {
                w.write_all(&buf)?;
            }
            if depth == 0 {
                // A scalar runs to the next `,` `}` `]` or whitespace; anything else ends
                // here.
                let scalar = !matches!(b, b'"' | b'}' | b']');
                if !scalar {
                    return Ok(());
                }
                match self.peek()? {
                    None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') => return Ok(()),
                    Some(_) => {}
                }
            }
            last = *buf.last().expect("a byte");
            gap = false;
            b = loop {
                let n = self.next()?.ok_or(NotDoc::Shape)?;
                if !matches!(n, b' ' | b'\t' | b'\n' | b'\r') {
                    break n;
                }
                gap = true;
            };
        }
    }
}

/// Writes the items of document `src`'s top-level `results` array to `dest`, one a line.
fn copy_items(src: &Path, dest: &Path) -> Result<(), NotDoc> {
    let f = File::open(src)?;
    let mut r = Bytes {
        r: BufReader::with_capacity(256 << 10, f),
        peeked: None,
    };
    // A BOM is the reader's to allow or report; a document with one is read as lines.
    r.expect(b'{')?;
    let mut w = BufWriter::with_capacity(256 << 10, File::create(dest)?);
    let mut found = false;
    let mut key = Vec::new();
    let mut first = true;
    loop {
        let b = r.next_token()?.ok_or(NotDoc::Shape)?;
        match b {
            b'}' if first => break,
            b'"' => {}
            _ => return Err(NotDoc::Shape),
        }
        first = false;
        key.clear();
        r.string(Some(&mut key))?;
        r.expect(b':')?;
        let v = r.next_token()?.ok_or(NotDoc::Shape)?;
        if key == b"results\"" && !found {
            if v != b'[' {
                return Err(NotDoc::Shape);
            }
            found = true;
            items(&mut r, &mut w)?;
        } else {
            r.value(v, None)?;
        }
        match r.next_token()? {
            Some(b',') => continue,
            Some(b'}') => break,
            _ => return Err(NotDoc::Shape),
        }
    }
    if !found || r.next_token()?.is_some() {
        return Err(NotDoc::Shape);
    }
    w.flush()?;
    Ok(())
}

/// The items of an array whose `[` was read, one a line.
fn items<R: BufRead>(r: &mut Bytes<R>, w: &mut impl Write) -> Result<(), NotDoc> {
    let mut b = r.next_token()?.ok_or(NotDoc::Shape)?;
    if b == b']' {
        return Ok(());
    }
    loop {
        r.value(b, Some(w))?;
        w.write_all(b"\n")?;
        match r.next_token()? {
            Some(b',') => b = r.next_token()?.ok_or(NotDoc::Shape)?,
            Some(b']') => return Ok(()),
            _ => return Err(NotDoc::Shape),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items_of(doc: &str) -> Option<String> {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("doc.json");
        std::fs::write(&src, doc).unwrap();
        let dest = dir.path().join("out.jsonl");
        match copy_items(&src, &dest) {
            Ok(()) => Some(std::fs::read_to_string(&dest).unwrap()),
            Err(NotDoc::Shape) => None,
            Err(NotDoc::Io(e)) => panic!("{e}"),
        }
    }

    #[test]
    fn items_one_a_line() {
        let doc = "{\n  \"id\": \"b1\",\n  \"status\": {\"state\": \"done\", \"n\": [1, 2]},\n  \"results\": [\n    {\n      \"custom_id\": \"a\",\n      \"response\": {\"status_code\": 200, \"body\": {\"text\": \"x, y ] } \\\" z\"}},\n      \"error\": null\n    },\n    {\"custom_id\": \"b\", \"error\": {\"code\": \"x\"}},\n    7,\n    \"s\"\n  ],\n  \"count\": -1.5e3\n}\n";
        assert_eq!(
            items_of(doc).as_deref(),
            Some("{\"custom_id\":\"a\",\"response\":{\"status_code\":200,\"body\":{\"text\":\"x, y ] } \\\" z\"}},\"error\":null}\n{\"custom_id\":\"b\",\"error\":{\"code\":\"x\"}}\n7\n\"s\"\n")
        );
        assert_eq!(items_of("{\"results\":[]}").as_deref(), Some(""));
        // A broken item stays broken (and is reported where its line is read).
        assert_eq!(
            items_of("{\"results\":[{\"a\": [1 2, tru e]}]}").as_deref(),
            Some("{\"a\":[1 2,tru e]}\n")
        );
        // Not the document's shape: read as JSON Lines.
        for bad in [
            "{\"custom_id\":\"a\",\"response\":{}}\n{\"custom_id\":\"b\",\"response\":{}}\n",
            "{\"results\":{}}",
            "{\"results\":[1}",
            "{\"requests\":[]}",
            "{\"results\":[1,2]} {}",
            "{\"results\":[{\"a\":1]",
            "[1]",
        ] {
            assert_eq!(items_of(bad), None, "{bad}");
        }
    }
}
