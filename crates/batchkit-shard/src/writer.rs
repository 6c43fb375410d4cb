//! A writer thread: hashing, compression, writes and fsyncs happen beside validation instead
//! of after it. The cutting side sends commands over a bounded channel (so memory stays
//! bounded: at most [`QUEUE`] messages of at most a chunk each wait), the thread owns every
//! open file and stops at the first error, which the next send or [`Writer::finish`] returns.

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::{Scope, ScopedJoinHandle};

use crate::output::{Layout, OutFile, OutputFactory};
use crate::ShardError;

/// Messages waiting for the writer thread, at most.
const QUEUE: usize = 16;

pub(crate) enum Msg {
    Open {
        id: usize,
        path: PathBuf,
        zstd: Option<i32>,
        layout: Layout,
    },
    /// Whole lines for a JSONL file, byte-exact.
    Raw {
        id: usize,
        data: Vec<u8>,
        lines: u64,
    },
    /// One line of an Anthropic body (its content, without terminator).
    BodyLine { id: usize, content: Vec<u8> },
    /// Whole lines of the input file, `len` bytes from `offset`, copied from the source the
    /// writer was started with (plain JSONL files only; the sender hashes them).
    Copy { id: usize, offset: u64, len: u64 },
    /// `hash`: the sha256 of the whole file when the sender computed it (files that took
    /// copied ranges).
    Close { id: usize, hash: Option<String> },
}

/// sha256 and size on disk of each closed file, by id.
pub(crate) type Closed = HashMap<usize, (String, u64)>;

pub(crate) struct Writer<'scope> {
    tx: Option<SyncSender<Msg>>,
    handle: Option<ScopedJoinHandle<'scope, Result<Closed, ShardError>>>,
    next: usize,
}

impl<'scope> Writer<'scope> {
    /// `src`: the input file [`Msg::Copy`] copies from.
    pub(crate) fn start<'env>(
        s: &'scope Scope<'scope, 'env>,
        factory: &'env dyn OutputFactory,
        src: Option<&'env File>,
    ) -> Self {
        let (tx, rx) = sync_channel(QUEUE);
        let handle = s.spawn(move || run(rx, factory, src));
        Writer {
            tx: Some(tx),
            handle: Some(handle),
            next: 0,
        }
    }

    /// A fresh file id.
    pub(crate) fn id(&mut self) -> usize {
        self.next += 1;
        self.next
    }

    pub(crate) fn send(&mut self, m: Msg) -> Result<(), ShardError> {
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(m).is_ok());
        if sent {
            return Ok(());
        }
        // The thread stopped: it holds the reason.
        match self.finish() {
            Err(e) => Err(e),
            Ok(_) => Err(ShardError::Io {
                path: PathBuf::new(),
                source: std::io::Error::other("the writer thread stopped"),
            }),
        }
    }

    /// Waits for every queued write; returns what each closed file hashed to.
    pub(crate) fn finish(&mut self) -> Result<Closed, ShardError> {
        self.tx = None;
        match self.handle.take() {
            Some(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            None => Ok(Closed::new()),
        }
    }
}

/// Files closing (flush, fsync) on their own threads at most, so the next shard is written
/// while the previous one reaches the disk.
const CLOSING: usize = 2;

/// What a closing thread hands back: file id, path, and its hash and size.
type Closing = (usize, PathBuf, std::io::Result<(String, u64)>);

fn run(
    rx: Receiver<Msg>,
    factory: &dyn OutputFactory,
    src: Option<&File>,
) -> Result<Closed, ShardError> {
    std::thread::scope(|s| {
        let mut open: HashMap<usize, (OutFile, PathBuf)> = HashMap::new();
        let mut closed = Closed::new();
        let mut closing = std::collections::VecDeque::new();
        let err = |path: &PathBuf| {
            let path = path.clone();
            move |source| ShardError::Io { path, source }
        };
        let settle =
            |h: ScopedJoinHandle<'_, Closing>, closed: &mut Closed| -> Result<(), ShardError> {
                let (id, path, r) = h.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
                closed.insert(id, r.map_err(err(&path))?);
                Ok(())
            };
        for m in rx {
            match m {
                Msg::Open {
                    id,
                    path,
                    zstd,
                    layout,
                } => {
                    let f = OutFile::open(factory, &path, zstd, layout).map_err(err(&path))?;
                    open.insert(id, (f, path));
                }
                Msg::Raw { id, data, lines } => {
                    let (f, path) = open.get_mut(&id).expect("written files are open");
                    f.raw(&data, lines).map_err(err(path))?;
                }
                Msg::BodyLine { id, content } => {
                    let (f, path) = open.get_mut(&id).expect("written files are open");
                    f.line(&content, &content, false).map_err(err(path))?;
                }
                Msg::Copy { id, offset, len } => {
                    let (f, path) = open.get_mut(&id).expect("written files are open");
                    let src = src.expect("copies come with a source file");
                    f.copy_range(src, offset, len).map_err(err(path))?;
                }
                Msg::Close { id, hash } => {
                    let (f, path) = open.remove(&id).expect("closed files are open");
                    if closing.len() >= CLOSING {
                        settle(closing.pop_front().expect("non-empty"), &mut closed)?;
                    }
                    closing.push_back(s.spawn(move || (id, path, f.close(hash))));
                }
            }
        }
        for h in closing {
            settle(h, &mut closed)?;
        }
        Ok(closed)
    })
}
