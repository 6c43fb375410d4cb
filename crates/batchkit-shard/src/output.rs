//! Where shard bytes go: a factory of writers (the file system, or whatever a test wants),
//! hashing on the way, optional zstd, and the Anthropic request-body wrapper.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

/// One output file being written.
pub trait ShardWrite: Write + Send {
    /// Flushes everything and makes it durable; called once, after the last write.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

/// Creates the writers of a run. The driver writes every file of a run under a temporary
/// name through this factory, so a test can inject a failing disk.
pub trait OutputFactory: Sync {
    /// A new, empty file at `path` (which does not exist yet).
    fn create(&self, path: &Path) -> io::Result<Box<dyn ShardWrite>>;
}

/// Files on disk.
#[derive(Debug, Clone, Copy, Default)]
pub struct FsOutput {
    /// Whether to `fsync` each file before it is renamed into place, so a power loss cannot
    /// leave a renamed but empty file (off by default: shards can always be made again).
    pub sync: bool,
}

struct FsWrite {
    w: BufWriter<File>,
    sync: bool,
}

impl Write for FsWrite {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.w.write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.w.write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

impl ShardWrite for FsWrite {
    fn finish(self: Box<Self>) -> io::Result<()> {
        let sync = self.sync;
        let f = self.w.into_inner().map_err(|e| e.into_error())?;
        if sync {
            f.sync_data()?;
        }
        Ok(())
    }
}

impl OutputFactory for FsOutput {
    fn create(&self, path: &Path) -> io::Result<Box<dyn ShardWrite>> {
        let f = OpenOptions::new().write(true).create_new(true).open(path)?;
        // Small buffers: with --split-by there is one open writer per group.
        Ok(Box::new(FsWrite {
            w: BufWriter::with_capacity(256 << 10, f),
            sync: self.sync,
        }))
    }
}

/// Counts and hashes what reaches the file.
pub(crate) struct Hashing {
    inner: Box<dyn ShardWrite>,
    hasher: Sha256,
    bytes: u64,
}

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf)?;
        self.hasher.update(buf);
        self.bytes += buf.len() as u64;
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl Hashing {
    fn finish(self) -> io::Result<(String, u64)> {
        self.inner.finish()?;
        Ok((hex(&self.hasher.finalize()), self.bytes))
    }
}

pub(crate) fn hex(b: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(D[(x >> 4) as usize] as char);
        s.push(D[(x & 15) as usize] as char);
    }
    s
}

enum Enc {
    Plain(Hashing),
    Zstd(zstd::stream::write::Encoder<'static, Hashing>),
}

impl Enc {
    #[inline]
    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        match self {
            Enc::Plain(w) => w.write_all(b),
            Enc::Zstd(w) => w.write_all(b),
        }
    }
}

/// How a shard file is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// The lines, byte-exact.
    Jsonl,
    /// `{"requests":[line,line,...]}`.
    Body,
}

pub(crate) const BODY_OPEN: &[u8] = b"{\"requests\":[";
pub(crate) const BODY_CLOSE: &[u8] = b"]}";

/// An output file: a shard or the rejected lines.
pub(crate) struct OutFile {
    enc: Enc,
    layout: Layout,
    lines: u64,
}

impl OutFile {
    pub(crate) fn open(
        factory: &dyn OutputFactory,
        path: &Path,
        zstd_level: Option<i32>,
        layout: Layout,
    ) -> io::Result<OutFile> {
        let inner = Hashing {
            inner: factory.create(path)?,
            hasher: Sha256::new(),
            bytes: 0,
        };
        let mut enc = match zstd_level {
            None => Enc::Plain(inner),
            Some(level) => {
                let mut e = zstd::stream::write::Encoder::new(inner, level)?;
                e.include_checksum(true)?;
                Enc::Zstd(e)
            }
        };
        if layout == Layout::Body {
            enc.put(BODY_OPEN)?;
        }
        Ok(OutFile {
            enc,
            layout,
            lines: 0,
        })
    }

    /// Writes whole lines, byte-exact (JSONL layout only).
    #[inline]
    pub(crate) fn raw(&mut self, bytes: &[u8], lines: u64) -> io::Result<()> {
        debug_assert_eq!(self.layout, Layout::Jsonl);
        self.lines += lines;
        self.enc.put(bytes)
    }

    /// Writes one line: `raw` in JSONL (with `\n` added when it has none), `content` as one
    /// element of an Anthropic body.
    pub(crate) fn line(&mut self, raw: &[u8], content: &[u8], newline: bool) -> io::Result<()> {
        match self.layout {
            Layout::Jsonl => {
                self.enc.put(raw)?;
                if newline && !raw.ends_with(b"\n") {
                    self.enc.put(b"\n")?;
                }
            }
            Layout::Body => {
                if self.lines > 0 {
                    self.enc.put(b",")?;
                }
                self.enc.put(content)?;
            }
        }
        self.lines += 1;
        Ok(())
    }

    /// Closes the file; returns its sha256 and its size on disk.
    pub(crate) fn close(mut self) -> io::Result<(String, u64)> {
        if self.layout == Layout::Body {
            self.enc.put(BODY_CLOSE)?;
        }
        match self.enc {
            Enc::Plain(w) => w.finish(),
            Enc::Zstd(e) => e.finish()?.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_layout_and_hash() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.json");
        let mut f = OutFile::open(&FsOutput { sync: false }, &p, None, Layout::Body).unwrap();
        f.line(b"{\"a\":1}\r\n", b"{\"a\":1}", true).unwrap();
        f.line(b"{\"b\":2}", b"{\"b\":2}", true).unwrap();
        let (sha, n) = f.close().unwrap();
        let got = std::fs::read(&p).unwrap();
        assert_eq!(got, b"{\"requests\":[{\"a\":1},{\"b\":2}]}");
        assert_eq!(n, got.len() as u64);
        assert_eq!(sha, hex(&Sha256::digest(&got)));
        // An existing file is never overwritten by a create.
        assert!(FsOutput::default().create(&p).is_err());
    }

    #[test]
    fn zstd_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("z.jsonl.zst");
        let mut f = OutFile::open(&FsOutput::default(), &p, Some(3), Layout::Jsonl).unwrap();
        f.raw(b"{}\n{}\n", 2).unwrap();
        f.line(b"{}", b"{}", true).unwrap();
        f.close().unwrap();
        let back = zstd::decode_all(std::fs::File::open(&p).unwrap()).unwrap();
        assert_eq!(back, b"{}\n{}\n{}\n");
    }
}
