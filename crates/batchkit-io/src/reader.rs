use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Where a stream of JSONL comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file on disk.
    Path(PathBuf),
    /// Standard input (`-` on the command line).
    Stdin,
}

/// One input of a command: its source and the name diagnostics use for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// Where the bytes come from.
    pub source: Source,
    /// What diagnostics call it (`path` as given, or `<stdin>`).
    pub name: String,
}

impl Input {
    /// An input read from `path`.
    pub fn path(path: impl AsRef<Path>) -> Self {
        let path = path.as_ref();
        Input {
            source: Source::Path(path.to_path_buf()),
            name: path.display().to_string(),
        }
    }

    /// Standard input.
    pub fn stdin() -> Self {
        Input {
            source: Source::Stdin,
            name: "<stdin>".to_string(),
        }
    }

    /// A command-line argument: `-` means stdin, anything else a path.
    pub fn from_arg(arg: &str) -> Self {
        if arg == "-" {
            Self::stdin()
        } else {
            Self::path(arg)
        }
    }

    /// Whether the input can be read only once: stdin, or a path that is not a regular file
    /// (a pipe such as `<(zstdcat x)` or `/dev/fd/N`). A job that reads an input twice keeps
    /// a copy of such an input.
    pub fn one_pass(&self) -> bool {
        match &self.source {
            Source::Path(p) => std::fs::metadata(p).is_ok_and(|m| !m.is_file() && !m.is_dir()),
            Source::Stdin => true,
        }
    }

    /// The size on disk, when the input is a regular file (for progress bars).
    pub fn len_hint(&self) -> Option<u64> {
        match &self.source {
            Source::Path(p) => std::fs::metadata(p)
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len()),
            Source::Stdin => None,
        }
    }
}

/// Errors of the reader. Each names the input, and the position where that makes sense.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The input could not be opened.
    #[error("{name}: cannot open: {}", crate::describe(source))]
    Open {
        /// Input name.
        name: String,
        /// Cause.
        source: io::Error,
    },
    /// A read failed part way (disk error, truncated or corrupt zstd stream).
    #[error(
        "{name}:{line}: read failed at byte {offset}{what}: {}",
        crate::describe(source)
    )]
    Read {
        /// Input name.
        name: String,
        /// Line being read when it failed.
        line: u64,
        /// Byte offset (decompressed) reached.
        offset: u64,
        /// " (zstd stream)" when the input was compressed.
        what: &'static str,
        /// Cause.
        source: io::Error,
    },
}

/// How to read.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Target size of one chunk of lines.
    pub chunk_size: usize,
    /// Longest line accepted (bytes, without its line terminator). Longer lines become
    /// [`Oversized`] records and are never held in memory.
    pub max_line_bytes: usize,
    /// Chunks in flight at once (being read, processed or waiting for the sink). Bounds
    /// memory at about `in_flight * chunk_size`.
    pub in_flight: usize,
    /// Size of each `read` call into a chunk (tests set it tiny to force partial-line rolls).
    pub read_size: usize,
    /// Most lines in one chunk: what processing a chunk produces (a finding per line, say)
    /// stays bounded even when lines are a few bytes each.
    pub max_lines: usize,
    /// The job's memory budget. Chunks holding long lines (over twice `chunk_size`) may take
    /// its long-line share ([`Budget::big`](crate::Budget::big)) together: the reader waits
    /// for them to be consumed before reading another long line, and one such chunk is
    /// always allowed. A zstd frame asking for a larger window than
    /// [`Budget::zstd_window_log`](crate::Budget::zstd_window_log) is refused with an error
    /// naming `--memory-limit`. Jobs take their tables' share from it too.
    pub budget: crate::Budget,
    /// Set from another thread to stop the run: the next read fails with an `Interrupted`
    /// error (the Python module uses it for Ctrl-C; the binary exits on signals instead).
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

/// The error of a cancelled read (see [`ReadOptions::cancel`]).
pub fn cancelled() -> io::Error {
    io::Error::other(Cancelled)
}

/// The cause of a cancelled read, found with `downcast_ref` on the error chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("interrupted")]
pub struct Cancelled;

/// Estimated bytes a job's result for one line may take (a finding with its message).
const RESULT_PER_LINE: usize = 512;

impl Default for ReadOptions {
    fn default() -> Self {
        Self::for_budget(&crate::Budget::default())
    }
}

impl ReadOptions {
    /// Options whose chunks in flight, with what processing them produces, stay within the
    /// reader's share of `budget` whatever the thread count.
    pub fn for_budget(budget: &crate::Budget) -> Self {
        let threads = rayon::current_num_threads().max(1);
        let chunk_size: usize = 2 << 20;
        let max_lines = 4096;
        let per_chunk = (chunk_size + max_lines * RESULT_PER_LINE) as u64;
        let fit = usize::try_from(budget.reader() / per_chunk).unwrap_or(usize::MAX);
        ReadOptions {
            chunk_size,
            max_line_bytes: 64 << 20,
            in_flight: (threads * 3).max(4).min(fit).max(2),
            read_size: 1 << 20,
            max_lines,
            budget: *budget,
            cancel: None,
        }
    }

    /// These options with chunks small enough for a job that holds its tables and its
    /// reader in `limit` bytes together (the join), and what is left of `limit` for the
    /// tables once the chunks in flight are counted. Small limits (tests, tiny machines)
    /// take smaller chunks, so the reader stays inside them.
    pub fn fit_to(mut self, limit: u64) -> (ReadOptions, u64) {
        if limit < (64 << 20) {
            self.chunk_size = self.chunk_size.min(((limit / 16) as usize).max(64 << 10));
            self.in_flight = self.in_flight.min(4);
        }
        // Chunks in flight, a copy being cut and what processing them produced, plus slack.
        let held = (self.chunk_size as u64) * (self.in_flight as u64) * 3 + (8 << 20);
        (self, limit.saturating_sub(held).max(1))
    }
}

/// A line too long to hold, reported without its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Oversized {
    /// 1-based line number.
    pub line: u64,
    /// Byte offset of the line start.
    pub offset: u64,
    /// Length of the line without its terminator.
    pub len: u64,
    /// Whether a `\n` ended it (false only at the end of the input).
    pub terminated: bool,
}

/// A run of complete lines, or one oversized line.
#[derive(Debug)]
pub struct Chunk {
    /// Position of this chunk in the input (0, 1, 2, ...).
    pub seq: u64,
    /// Byte offset of `data[0]` in the (decompressed) stream.
    pub offset: u64,
    /// Number of the first line in `data`.
    pub first_line: u64,
    /// Whole lines, each ending in `\n` except possibly the last line of the input.
    pub data: Vec<u8>,
    /// Set when this chunk stands for one line longer than the limit; `data` is then empty.
    pub oversized: Option<Oversized>,
    /// Bytes of the raw (possibly compressed) source consumed when this chunk was cut.
    pub source_pos: u64,
}

impl Chunk {
    /// The lines of this chunk, with their numbers and offsets.
    pub fn lines(&self) -> Lines<'_> {
        Lines {
            data: &self.data,
            pos: 0,
            number: self.first_line,
            base: self.offset,
        }
    }

    /// Number of lines this chunk stands for.
    pub fn line_count(&self) -> u64 {
        if self.oversized.is_some() {
            return 1;
        }
        let n = memchr::memchr_iter(b'\n', &self.data).count() as u64;
        n + u64::from(!self.data.is_empty() && !self.data.ends_with(b"\n"))
    }
}

/// One line of input.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    /// 1-based line number.
    pub number: u64,
    /// Byte offset of the line start (a leading BOM counts as part of line 1).
    pub offset: u64,
    /// The bytes exactly as in the input, terminator included.
    pub raw: &'a [u8],
    /// The line without its terminator (`\n` or `\r\n`) and without a leading BOM.
    pub content: &'a [u8],
    /// Whether the input starts with a UTF-8 BOM on this line.
    pub bom: bool,
}

impl Line<'_> {
    /// Whether the line is empty or only whitespace.
    pub fn is_blank(&self) -> bool {
        self.content
            .iter()
            .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
    }

    /// Whether a `\n` ends the line.
    pub fn terminated(&self) -> bool {
        self.raw.ends_with(b"\n")
    }
}

/// Iterator over the lines of a [`Chunk`].
pub struct Lines<'a> {
    data: &'a [u8],
    pos: usize,
    number: u64,
    base: u64,
}

impl<'a> Iterator for Lines<'a> {
    type Item = Line<'a>;

    #[inline]
    fn next(&mut self) -> Option<Line<'a>> {
        if self.pos >= self.data.len() {
            return None;
        }
        let rest = &self.data[self.pos..];
        let end = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
        let raw = &rest[..end];
        let mut content = raw.strip_suffix(b"\n").unwrap_or(raw);
        content = content.strip_suffix(b"\r").unwrap_or(content);
        let offset = self.base + self.pos as u64;
        let bom = offset == 0 && content.starts_with(BOM);
        if bom {
            content = &content[BOM.len()..];
        }
        let line = Line {
            number: self.number,
            offset,
            raw,
            content,
            bom,
        };
        self.pos += end;
        self.number += 1;
        Some(line)
    }
}

/// What one whole input held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Lines read (a final line without `\n` counts; an empty input has 0).
    pub lines: u64,
    /// Bytes read (decompressed).
    pub bytes: u64,
    /// Whether the input ended with `\n` (true for an empty input).
    pub final_newline: bool,
    /// Whether the input was zstd-compressed.
    pub compressed: bool,
    /// Whether the input started with a UTF-8 BOM.
    pub bom: bool,
    /// Whether the sink asked to stop before the end.
    pub stopped: bool,
}

/// Opens an input as a byte stream, decompressing zstd when its magic bytes say so and the
/// window fits `budget`. Returns the stream and whether it was compressed.
pub fn open(
    input: &Input,
    budget: &crate::Budget,
) -> Result<(Box<dyn Read + Send>, bool), ReadError> {
    open_counted(input, Arc::new(AtomicU64::new(0)), budget).map(|(r, z, _)| (r, z))
}

struct Counted<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn open_counted(
    input: &Input,
    count: Arc<AtomicU64>,
    budget: &crate::Budget,
) -> Result<(Box<dyn Read + Send>, bool, u64), ReadError> {
    let window_log = budget.zstd_window_log();
    let open_err = |source| ReadError::Open {
        name: input.name.clone(),
        source,
    };
    let raw: Box<dyn Read + Send> = match &input.source {
        Source::Path(p) => {
            let f = File::open(p).map_err(open_err)?;
            if f.metadata().map(|m| m.is_dir()).unwrap_or(false) {
                return Err(open_err(io::Error::other("is a directory")));
            }
            Box::new(f)
        }
        Source::Stdin => Box::new(io::stdin()),
    };
    let mut buffered = BufReader::with_capacity(256 << 10, Counted { inner: raw, count });
    let head = loop {
        match buffered.fill_buf() {
            Ok(h) => break h,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(open_err(e)),
        }
    };
    if let Some(format) = unsupported_compression(head) {
        return Err(open_err(io::Error::other(format!(
            "{format} input is not supported: decompress it or use zstd"
        ))));
    }
    if is_zstd(head) {
        let declared = first_window(head);
        if let Some(window) = declared {
            if window > 1u64 << window_log {
                let fix = match min_limit_for(window) {
                    Some(limit) => {
                        format!(
                            "raise --memory-limit to at least {}",
                            crate::format_size(limit)
                        )
                    }
                    None => "no budget allows more than 2 GiB; recompress it with a smaller window"
                        .to_string(),
                };
                return Err(open_err(io::Error::other(format!(
                    "the zstd stream needs a {} window, more than --memory-limit {} allows ({}); {fix}",
                    crate::format_size(window),
                    crate::format_size(budget.total()),
                    crate::format_size(1u64 << window_log),
                ))));
            }
        }
        let mut dec = zstd::stream::read::Decoder::with_buffer(buffered).map_err(open_err)?;
        dec.window_log_max(window_log).map_err(open_err)?;
        // A later frame may declare a larger window, up to the largest allowed.
        let window = declared.unwrap_or(1u64 << window_log);
        Ok((Box::new(dec), true, window))
    } else {
        Ok((Box::new(buffered), false, 0))
    }
}

/// The smallest `--memory-limit` (in whole MiB) whose budget allows a zstd window of
/// `window` bytes, or `None` past the largest window the decoder takes (2 GiB).
fn min_limit_for(window: u64) -> Option<u64> {
    if window > 1 << 31 {
        return None;
    }
    // The window takes 5/8 of what is left after the fixed cost: start just below, step up.
    let need = window.next_power_of_two();
    let start = ((need / 5 * 8) >> 20).max(crate::budget::MIN_LIMIT >> 20);
    (start..start + 1024)
        .find(|mib| {
            crate::Budget::new(mib << 20).is_ok_and(|b| 1u64 << b.zstd_window_log() >= window)
        })
        .map(|mib| mib << 20)
}

/// The compression a stream starts with when it is one the reader does not decompress
/// (rather than a finding for every "line" of its bytes).
fn unsupported_compression(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(&[0x1F, 0x8B]) {
        Some("gzip")
    } else if head.starts_with(&[0xFD, b'7', b'z', b'X', b'Z', 0x00]) {
        Some("xz")
    } else if head.len() >= 4 && head.starts_with(b"BZh") && (b'1'..=b'9').contains(&head[3]) {
        Some("bzip2")
    } else {
        None
    }
}

/// Whether a stream starts with a zstd frame or a skippable frame (pzstd writes one first):
/// what the reader decompresses.
pub fn is_zstd(head: &[u8]) -> bool {
    head.starts_with(&ZSTD_MAGIC)
        || (head.len() >= 4 && head[0] & 0xF0 == 0x50 && head[1..4] == [0x2A, 0x4D, 0x18])
}

/// The window size the first zstd frame in `head` declares (skippable frames skipped).
fn first_window(head: &[u8]) -> Option<u64> {
    let mut pos = 0usize;
    loop {
        let h = head.get(pos..)?;
        if h.len() >= 8 && h[0] & 0xF0 == 0x50 && h[1..4] == [0x2A, 0x4D, 0x18] {
            let size = u32::from_le_bytes(h[4..8].try_into().ok()?) as usize;
            pos = pos.checked_add(8 + size)?;
            continue;
        }
        if !h.starts_with(&ZSTD_MAGIC) {
            return None;
        }
        let fhd = *h.get(4)?;
        let single_segment = fhd & 0x20 != 0;
        if single_segment {
            // The window is the content size; small frames only matter when huge.
            let fcs_flag = fhd >> 6;
            let dict_flag = fhd & 3;
            let dict_len = [0usize, 1, 2, 4][dict_flag as usize];
            let at = 5 + dict_len;
            let size = match fcs_flag {
                0 => u64::from(*h.get(at)?),
                1 => u64::from(u16::from_le_bytes(h.get(at..at + 2)?.try_into().ok()?)) + 256,
                2 => u64::from(u32::from_le_bytes(h.get(at..at + 4)?.try_into().ok()?)),
                _ => u64::from_le_bytes(h.get(at..at + 8)?.try_into().ok()?),
            };
            return Some(size);
        }
        let wd = *h.get(5)?;
        let exp = u64::from(wd >> 3);
        let base = 1u64 << (10 + exp);
        return Some(base + (base / 8) * u64::from(wd & 7));
    }
}

/// Reads `input` in chunks of whole lines, runs `process` on each chunk on the rayon pool,
/// and gives each chunk with its result to `sink` in input order.
///
/// `sink` returns `Ok(false)` to stop early. Errors of the sink abort the run and are
/// returned as they are; read errors become `E` through `From<ReadError>`. Progress is the
/// sink's to report: each chunk carries the raw bytes consumed up to its end
/// (`Chunk::source_pos`).
pub fn run<T, E, P, S>(
    input: &Input,
    opts: &ReadOptions,
    process: P,
    mut sink: S,
) -> Result<ReadStats, E>
where
    T: Send,
    E: From<ReadError>,
    P: Fn(&Chunk) -> T + Sync,
    S: FnMut(&Chunk, T) -> Result<bool, E>,
{
    let count = Arc::new(AtomicU64::new(0));
    let (stream, compressed, window) = open_counted(input, count.clone(), &opts.budget)?;
    // A zstd window beyond the long-line share is taken from the chunks in flight.
    let per_chunk = (opts.chunk_size + opts.max_lines * RESULT_PER_LINE) as u64;
    let in_flight = if window > opts.budget.big() {
        let fit = opts.budget.reader_beside(window) / per_chunk.max(1);
        opts.in_flight
            .min(usize::try_from(fit).unwrap_or(usize::MAX))
    } else {
        opts.in_flight
    }
    .max(2);
    let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
    for _ in 0..in_flight {
        free_tx.send(Vec::new()).expect("receiver alive");
    }
    let (res_tx, res_rx) = mpsc::channel::<(Chunk, T)>();
    let stop = AtomicBool::new(false);

    // Bytes held by chunks that carry long lines, and the reader waiting on them.
    let long = LongLines::default();
    let long_cap = (opts.chunk_size.max(1) as u64) * 2;
    let long_room = opts
        .budget
        .big_beside(window)
        .saturating_sub(opts.max_line_bytes as u64 + long_cap);

    std::thread::scope(|ts| {
        let process = &process;
        let stop = &stop;
        let long = &long;
        let count = count.clone();
        let reader = ts.spawn(move || {
            let mut cutter = Cutter::new(stream, opts, input, compressed, count);
            rayon::in_place_scope(move |s| -> Result<ReadStats, ReadError> {
                loop {
                    if stop.load(Ordering::Relaxed) {
                        return Ok(cutter.stats());
                    }
                    let Ok(buf) = free_rx.recv() else {
                        return Ok(cutter.stats());
                    };
                    long.wait_below(long_room, stop);
                    match cutter.next_chunk(buf)? {
                        None => return Ok(cutter.stats()),
                        Some(chunk) => {
                            long.add(chunk.data.capacity() as u64, long_cap);
                            let tx = res_tx.clone();
                            s.spawn(move |_| {
                                let out = process(&chunk);
                                let _ = tx.send((chunk, out));
                            });
                        }
                    }
                }
            })
        });

        let mut pending: BTreeMap<u64, (Chunk, T)> = BTreeMap::new();
        let mut next = 0u64;
        let mut sink_err: Option<E> = None;
        let mut stopped = false;
        for (chunk, out) in res_rx.iter() {
            pending.insert(chunk.seq, (chunk, out));
            while let Some((chunk, out)) = pending.remove(&next) {
                next += 1;
                if !stopped && sink_err.is_none() {
                    match sink(&chunk, out) {
                        Ok(true) => {}
                        Ok(false) => {
                            stopped = true;
                            stop.store(true, Ordering::Relaxed);
                        }
                        Err(e) => {
                            sink_err = Some(e);
                            stop.store(true, Ordering::Relaxed);
                        }
                    }
                }
                let mut data = chunk.data;
                long.sub(data.capacity() as u64, long_cap);
                if data.capacity() as u64 > long_cap {
                    data = Vec::new();
                }
                let _ = free_tx.send(data);
            }
        }
        stop.store(true, Ordering::Relaxed);
        long.wake();
        let read = reader.join().expect("reader thread panicked");
        if let Some(e) = sink_err {
            return Err(e);
        }
        let mut stats = read?;
        stats.stopped = stopped;
        Ok(stats)
    })
}

/// Bytes held by chunks that carry long lines; the reader waits on it.
#[derive(Default)]
struct LongLines {
    bytes: std::sync::Mutex<u64>,
    cv: std::sync::Condvar,
}

impl LongLines {
    fn lock(&self) -> std::sync::MutexGuard<'_, u64> {
        self.bytes.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add(&self, cap: u64, long_cap: u64) {
        if cap > long_cap {
            *self.lock() += cap;
        }
    }

    fn sub(&self, cap: u64, long_cap: u64) {
        if cap > long_cap {
            let mut b = self.lock();
            *b = b.saturating_sub(cap);
            self.cv.notify_all();
        }
    }

    fn wake(&self) {
        let _b = self.lock();
        self.cv.notify_all();
    }

    /// Waits until no long chunk is in flight, or the ones in flight leave `room` for
    /// another; returns early when the run stops.
    fn wait_below(&self, room: u64, stop: &AtomicBool) {
        let mut b = self.lock();
        while *b > 0 && *b > room && !stop.load(Ordering::Relaxed) {
            b = self
                .cv
                .wait_timeout(b, std::time::Duration::from_millis(50))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// Cuts a byte stream into chunks of whole lines, tracking positions.
struct Cutter<'a, R> {
    stream: R,
    opts: &'a ReadOptions,
    input: &'a Input,
    compressed: bool,
    count: Arc<AtomicU64>,
    carry: Vec<u8>,
    offset: u64,
    line: u64,
    seq: u64,
    eof: bool,
    last_byte: Option<u8>,
    bom: bool,
    started: bool,
    /// Bytes to fill before cutting: the chunk size, less while lines are so short that
    /// `max_lines` of them fill less.
    fill: usize,
}

impl<'a, R: Read> Cutter<'a, R> {
    fn new(
        stream: R,
        opts: &'a ReadOptions,
        input: &'a Input,
        compressed: bool,
        count: Arc<AtomicU64>,
    ) -> Self {
        Cutter {
            stream,
            opts,
            input,
            compressed,
            count,
            carry: Vec::new(),
            offset: 0,
            line: 1,
            seq: 0,
            eof: false,
            last_byte: None,
            bom: false,
            started: false,
            fill: opts.chunk_size.max(1),
        }
    }

    fn stats(&self) -> ReadStats {
        ReadStats {
            lines: self.line - 1,
            bytes: self.offset,
            final_newline: self.last_byte.is_none_or(|b| b == b'\n'),
            compressed: self.compressed,
            bom: self.bom,
            stopped: false,
        }
    }

    /// The error of a read that failed at byte `at`, after `read` bytes of the chunk being
    /// filled (from its first line on): it names the line the failure fell in.
    fn read_err(&self, at: u64, read: &[u8], source: io::Error) -> ReadError {
        ReadError::Read {
            name: self.input.name.clone(),
            line: self.line + memchr::memchr_iter(b'\n', read).count() as u64,
            offset: at,
            what: if self.compressed {
                " (zstd stream)"
            } else {
                ""
            },
            source,
        }
    }

    /// Appends up to `read_size` bytes to `buf`; returns how many (0 at the end).
    fn read_more(&mut self, buf: &mut Vec<u8>, at: u64) -> Result<usize, ReadError> {
        if self.eof {
            return Ok(0);
        }
        if let Some(c) = &self.opts.cancel {
            if c.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(self.read_err(at + buf.len() as u64, buf, cancelled()));
            }
        }
        let want = self.opts.read_size.max(1);
        let old = buf.len();
        buf.resize(old + want, 0);
        loop {
            match self.stream.read(&mut buf[old..]) {
                Ok(n) => {
                    buf.truncate(old + n);
                    if n == 0 {
                        self.eof = true;
                    }
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    buf.truncate(old);
                    return Err(self.read_err(at + old as u64, buf, e));
                }
            }
        }
    }

    fn make_chunk(&mut self, data: Vec<u8>, oversized: Option<Oversized>) -> Chunk {
        let chunk = Chunk {
            seq: self.seq,
            offset: self.offset,
            first_line: self.line,
            data,
            oversized,
            source_pos: self.count.load(Ordering::Relaxed),
        };
        self.seq += 1;
        chunk
    }

    /// Produces the next chunk in `buf` (reusing its allocation), or `None` at the end.
    fn next_chunk(&mut self, mut buf: Vec<u8>) -> Result<Option<Chunk>, ReadError> {
        buf.clear();
        buf.extend_from_slice(&self.carry);
        self.carry.clear();
        if self.carry.capacity() > self.opts.chunk_size.max(1) * 2 {
            self.carry = Vec::new();
        }
        let max = self.opts.max_line_bytes;
        let max_lines = self.opts.max_lines.max(1) as u64;
        let target = self.fill.max(1);
        // Fill to the target size, or until the end of the stream.
        while buf.len() < target && !self.eof {
            self.read_more(&mut buf, self.offset)?;
        }
        if !self.started && !buf.is_empty() {
            self.started = true;
            self.bom = buf.starts_with(BOM);
        }
        // Make sure the buffer holds at least one complete line (or the end of input),
        // unless that line is over the limit.
        let mut scanned = 0;
        while memchr::memchr(b'\n', &buf[scanned..]).is_none() && !self.eof && buf.len() <= max + 1
        {
            scanned = buf.len();
            self.read_more(&mut buf, self.offset)?;
        }
        if buf.is_empty() {
            return Ok(None);
        }
        // Walk the lines: count them, and stop before any line over the limit.
        let mut pos = 0usize;
        let mut lines = 0u64;
        let mut cut = None;
        let mut last_complete = 0usize;
        for nl in memchr::memchr_iter(b'\n', &buf) {
            let len = content_len(&buf[pos..nl]);
            if len > max {
                cut = Some(pos);
                break;
            }
            pos = nl + 1;
            lines += 1;
            last_complete = pos;
            if lines == max_lines {
                break;
            }
        }
        let full = self.opts.chunk_size.max(1);
        if lines == max_lines && cut.is_none() {
            // Many short lines: cut here, and fill about this much next time so the carry
            // stays small.
            self.fill = (last_complete + last_complete / 8).clamp(4096.min(full), full);
            self.carry.extend_from_slice(&buf[last_complete..]);
            buf.truncate(last_complete);
            return Ok(Some(self.finish_chunk(buf, lines)));
        }
        self.fill = (self.fill * 2).min(full);
        if cut.is_none() {
            let tail = buf.len() - last_complete;
            if self.eof {
                let len = content_len(&buf[last_complete..]);
                if tail > 0 && len > max {
                    cut = Some(last_complete);
                } else {
                    last_complete = buf.len();
                    lines += u64::from(tail > 0);
                }
            } else if tail > max + 1 {
                cut = Some(last_complete);
            }
        }
        if let Some(start) = cut {
            if start > 0 {
                // Emit the good lines first; the long line starts the next call.
                self.carry.extend_from_slice(&buf[start..]);
                buf.truncate(start);
                return Ok(Some(self.finish_chunk(buf, lines)));
            }
            return self.skip_oversized(buf).map(Some);
        }
        if last_complete < buf.len() {
            self.carry.extend_from_slice(&buf[last_complete..]);
            buf.truncate(last_complete);
        }
        Ok(Some(self.finish_chunk(buf, lines)))
    }

    fn finish_chunk(&mut self, buf: Vec<u8>, lines: u64) -> Chunk {
        self.last_byte = buf.last().copied().or(self.last_byte);
        let len = buf.len() as u64;
        let chunk = self.make_chunk(buf, None);
        self.offset += len;
        self.line += lines;
        chunk
    }

    /// `buf` starts with a line longer than the limit: consume it to its end without
    /// keeping it, and return an oversized record. What follows the line is carried over.
    fn skip_oversized(&mut self, mut buf: Vec<u8>) -> Result<Chunk, ReadError> {
        let start = self.offset;
        let mut consumed: u64 = 0;
        let mut prev: Option<u8> = None;
        let terminated;
        let mut cr = false;
        loop {
            if let Some(p) = memchr::memchr(b'\n', &buf) {
                consumed += (p + 1) as u64;
                cr = if p > 0 {
                    buf[p - 1] == b'\r'
                } else {
                    prev == Some(b'\r')
                };
                self.carry.extend_from_slice(&buf[p + 1..]);
                terminated = true;
                break;
            }
            consumed += buf.len() as u64;
            prev = buf.last().copied().or(prev);
            buf.clear();
            if self.read_more(&mut buf, start + consumed)? == 0 {
                terminated = false;
                break;
            }
        }
        let len = consumed - u64::from(terminated) - u64::from(cr);
        let over = Oversized {
            line: self.line,
            offset: start,
            len,
            terminated,
        };
        self.last_byte = Some(if terminated { b'\n' } else { 0 });
        buf.clear();
        let chunk = self.make_chunk(buf, Some(over));
        self.offset += consumed;
        self.line += 1;
        Ok(chunk)
    }
}

fn content_len(line: &[u8]) -> usize {
    let l = line.strip_suffix(b"\n").unwrap_or(line);
    l.strip_suffix(b"\r").unwrap_or(l).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    type Collected = (Vec<(u64, u64, Vec<u8>)>, Vec<Oversized>, ReadStats);

    fn collect(data: &[u8], opts: &ReadOptions) -> Collected {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.jsonl");
        std::fs::write(&p, data).unwrap();
        let mut lines = Vec::new();
        let mut over = Vec::new();
        let stats = run(
            &Input::path(&p),
            opts,
            |c| {
                (
                    c.lines()
                        .map(|l| (l.number, l.offset, l.raw.to_vec()))
                        .collect::<Vec<_>>(),
                    c.oversized,
                )
            },
            |_, (l, o)| -> Result<bool, ReadError> {
                lines.extend(l);
                over.extend(o);
                Ok(true)
            },
        )
        .unwrap();
        (lines, over, stats)
    }

    fn tiny() -> ReadOptions {
        ReadOptions {
            chunk_size: 7,
            max_line_bytes: 20,
            in_flight: 3,
            read_size: 3,
            ..ReadOptions::default()
        }
    }

    #[test]
    fn positions_survive_tiny_buffers() {
        let data = b"{\"a\":1}\r\n\n  \n{\"bb\":22}\nlast";
        for opts in [tiny(), ReadOptions::default()] {
            let (lines, over, stats) = collect(data, &opts);
            let want: Vec<(u64, u64, Vec<u8>)> = vec![
                (1, 0, b"{\"a\":1}\r\n".to_vec()),
                (2, 9, b"\n".to_vec()),
                (3, 10, b"  \n".to_vec()),
                (4, 13, b"{\"bb\":22}\n".to_vec()),
                (5, 23, b"last".to_vec()),
            ];
            assert_eq!(lines, want);
            assert!(over.is_empty());
            assert_eq!(stats.lines, 5);
            assert_eq!(stats.bytes, data.len() as u64);
            assert!(!stats.final_newline);
        }
    }

    #[test]
    fn oversized_lines_are_reported_not_held() {
        let long = vec![b'x'; 50];
        let mut data = b"ok\n".to_vec();
        data.extend_from_slice(&long);
        data.extend_from_slice(b"\nafter\n");
        data.extend_from_slice(&long);
        let (lines, over, stats) = collect(&data, &tiny());
        assert_eq!(
            lines,
            vec![(1, 0, b"ok\n".to_vec()), (3, 54, b"after\n".to_vec())]
        );
        assert_eq!(
            over,
            vec![
                Oversized {
                    line: 2,
                    offset: 3,
                    len: 50,
                    terminated: true
                },
                Oversized {
                    line: 4,
                    offset: 60,
                    len: 50,
                    terminated: false
                },
            ]
        );
        assert_eq!(stats.lines, 4);
        assert_eq!(stats.bytes, data.len() as u64);
    }

    #[test]
    fn empty_input_has_no_lines() {
        let (lines, over, stats) = collect(b"", &tiny());
        assert!(lines.is_empty() && over.is_empty());
        assert_eq!(stats.lines, 0);
        assert!(stats.final_newline);
    }

    #[test]
    fn bom_is_stripped_from_content_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.jsonl");
        std::fs::write(&p, b"\xEF\xBB\xBF{}\n{}\n").unwrap();
        let mut got = Vec::new();
        let stats = run(
            &Input::path(&p),
            &tiny(),
            |c| {
                c.lines()
                    .map(|l| (l.bom, l.content.to_vec(), l.raw.len()))
                    .collect::<Vec<_>>()
            },
            |_, v| -> Result<bool, ReadError> {
                got.extend(v);
                Ok(true)
            },
        )
        .unwrap();
        assert!(stats.bom);
        assert_eq!(
            got,
            vec![(true, b"{}".to_vec(), 6), (false, b"{}".to_vec(), 3)]
        );
    }

    #[test]
    fn zstd_is_detected_and_truncation_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let plain: Vec<u8> = (0..2000)
            .flat_map(|i| format!("{{\"i\":{i}}}\n").into_bytes())
            .collect();
        let z = zstd::encode_all(&plain[..], 3).unwrap();
        let p = dir.path().join("z.bin");
        std::fs::write(&p, &z).unwrap();
        let mut n = 0;
        let stats = run(
            &Input::path(&p),
            &tiny(),
            |c| c.line_count(),
            |_, c| -> Result<bool, ReadError> {
                n += c;
                Ok(true)
            },
        )
        .unwrap();
        assert!(stats.compressed);
        assert_eq!(n, 2000);
        assert_eq!(stats.bytes, plain.len() as u64);
        std::fs::write(&p, &z[..z.len() / 2]).unwrap();
        let err = run(
            &Input::path(&p),
            &tiny(),
            |c| c.line_count(),
            |_, _| -> Result<bool, ReadError> { Ok(true) },
        )
        .unwrap_err();
        assert!(matches!(err, ReadError::Read { .. }), "{err}");
        assert!(err.to_string().contains("zstd"), "{err}");
    }

    #[test]
    fn the_limit_a_window_needs() {
        for log in [20u32, 24, 27, 28, 31] {
            let limit = min_limit_for(1 << log).unwrap();
            let fits = |l: u64| crate::Budget::new(l).is_ok_and(|b| b.zstd_window_log() >= log);
            assert!(fits(limit) && !fits(limit - (1 << 20)), "2^{log}: {limit}");
        }
        assert!(min_limit_for(1 << 27).unwrap() <= crate::budget::DEFAULT_LIMIT);
        assert_eq!(min_limit_for((1 << 31) + 1), None);
    }

    #[test]
    fn gzip_is_named_not_read_as_lines() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.jsonl.gz");
        // A gzip member holding one stored block: header, then the deflate data.
        let mut gz = vec![0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF];
        gz.extend_from_slice(&[1, 3, 0, 0xFC, 0xFF, b'{', b'}', b'\n']);
        std::fs::File::create(&p).unwrap().write_all(&gz).unwrap();
        let mut lines = 0;
        let err = run(
            &Input::path(&p),
            &ReadOptions::default(),
            |c| c.line_count(),
            |_, n| -> Result<bool, ReadError> {
                lines += n;
                Ok(true)
            },
        )
        .unwrap_err();
        assert!(matches!(err, ReadError::Open { .. }), "{err}");
        assert!(
            err.to_string()
                .ends_with("gzip input is not supported: decompress it or use zstd"),
            "{err}"
        );
        assert_eq!(lines, 0);
    }

    #[test]
    fn a_truncated_stream_names_the_line_it_broke_in() {
        let dir = tempfile::tempdir().unwrap();
        // Lines that do not compress to nothing, so that half the stream is megabytes in.
        let plain: Vec<u8> = (0..200_000u64)
            .flat_map(|i| {
                let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                format!("{{\"i\":{i},\"h\":\"{h:x}\"}}\n").into_bytes()
            })
            .collect();
        let z = zstd::encode_all(&plain[..], 3).unwrap();
        let p = dir.path().join("z.bin");
        std::fs::write(&p, &z[..z.len() / 2]).unwrap();
        let mut read = 0u64;
        let err = run(
            &Input::path(&p),
            &ReadOptions::default(),
            |c| c.line_count(),
            |_, n| -> Result<bool, ReadError> {
                read += n;
                Ok(true)
            },
        )
        .unwrap_err();
        let ReadError::Read { line, offset, .. } = err else {
            panic!("{err}")
        };
        // The line holding the first byte not read, past the lines read whole.
        let want = 1 + memchr::memchr_iter(b'\n', &plain[..offset as usize]).count() as u64;
        assert_eq!(line, want, "at byte {offset}");
        assert!(
            line > read + 1 && line > 1000,
            "line {line}, {read} lines read whole"
        );
    }

    #[test]
    fn sink_can_stop_early() {
        let data: Vec<u8> = (0..1000)
            .flat_map(|i| format!("{i}\n").into_bytes())
            .collect();
        let mut calls = 0;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s");
        std::fs::write(&p, &data).unwrap();
        let stats = run(
            &Input::path(&p),
            &tiny(),
            |_| (),
            |_, _| -> Result<bool, ReadError> {
                calls += 1;
                Ok(calls < 3)
            },
        )
        .unwrap();
        assert_eq!(calls, 3);
        assert!(stats.stopped);
    }
}
