//! Where shard bytes go: a factory of writers (the file system, or whatever a test wants),
//! hashing on the way, optional zstd, and the Anthropic request-body wrapper.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

/// One output file being written.
pub trait ShardWrite: Write + Send {
    /// Flushes everything and makes it durable; called once, after the last write.
    fn finish(self: Box<Self>) -> io::Result<()>;

    /// Appends `len` bytes of `src` starting at byte `offset`, after what was written so
    /// far. The default reads them and writes them through [`Write`]; [`FsOutput`]'s files
    /// let the kernel copy them (`copy_file_range` on Linux) without passing them through
    /// user space. Fewer than `len` bytes at `offset` (the file shrank) is an error.
    fn copy_range(&mut self, src: &File, offset: u64, len: u64) -> io::Result<()> {
        copy_exact(src, offset, len, self)
    }
}

/// `len` bytes of `src` from `offset` into `to`, through `std::io::copy`: between two files
/// on Linux it uses `copy_file_range` (falling back by itself to `sendfile` or plain reads
/// and writes where the file systems do not support it).
fn copy_exact<W: Write + ?Sized>(src: &File, offset: u64, len: u64, to: &mut W) -> io::Result<()> {
    let mut r = src;
    r.seek(SeekFrom::Start(offset))?;
    let n = io::copy(&mut r.take(len), to)?;
    if n < len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "the input ended at byte {} while its bytes {offset}..{} were being copied (was it changed during the run?)",
                offset + n,
                offset + len
            ),
        ));
    }
    Ok(())
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

    fn copy_range(&mut self, src: &File, offset: u64, len: u64) -> io::Result<()> {
        // File to file: the kernel moves the bytes.
        self.w.flush()?;
        copy_exact(src, offset, len, self.w.get_mut())
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
    /// The sha256 of what was written, or `hash` when given (the caller hashed every byte,
    /// copied ranges included), and the size.
    fn finish(self, hash: Option<String>) -> io::Result<(String, u64)> {
        self.inner.finish()?;
        let hash = hash.unwrap_or_else(|| hex(&self.hasher.finalize()));
        Ok((hash, self.bytes))
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

    /// Appends `len` bytes of `src` from `offset`, whole lines, not hashed here (plain JSONL
    /// only: the caller hashes them and gives the hash to [`OutFile::close`]).
    pub(crate) fn copy_range(&mut self, src: &File, offset: u64, len: u64) -> io::Result<()> {
        debug_assert_eq!(self.layout, Layout::Jsonl);
        match &mut self.enc {
            Enc::Plain(h) => {
                h.inner.copy_range(src, offset, len)?;
                h.bytes += len;
                Ok(())
            }
            Enc::Zstd(_) => Err(io::Error::other(
                "byte ranges are copied into plain files only",
            )),
        }
    }

    /// Closes the file; returns its sha256 (`hash` when the caller hashed every byte) and
    /// its size on disk.
    pub(crate) fn close(mut self, hash: Option<String>) -> io::Result<(String, u64)> {
        if self.layout == Layout::Body {
            self.enc.put(BODY_CLOSE)?;
        }
        match self.enc {
            Enc::Plain(w) => w.finish(hash),
            Enc::Zstd(e) => e.finish()?.finish(hash),
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
        let (sha, n) = f.close(None).unwrap();
        let got = std::fs::read(&p).unwrap();
        assert_eq!(got, b"{\"requests\":[{\"a\":1},{\"b\":2}]}");
        assert_eq!(n, got.len() as u64);
        assert_eq!(sha, hex(&Sha256::digest(&got)));
        // An existing file is never overwritten by a create.
        assert!(FsOutput::default().create(&p).is_err());
    }

    #[test]
    fn copied_ranges_land_after_the_written_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let src_path = dir.path().join("in.jsonl");
        std::fs::write(&src_path, b"{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n").unwrap();
        let src = File::open(&src_path).unwrap();
        for (k, fs) in [FsOutput::default(), FsOutput { sync: true }]
            .iter()
            .enumerate()
        {
            let p = dir.path().join(format!("s{k}.jsonl"));
            let mut f = OutFile::open(fs, &p, None, Layout::Jsonl).unwrap();
            f.raw(b"{}\n", 1).unwrap();
            f.copy_range(&src, 8, 16).unwrap();
            f.copy_range(&src, 0, 8).unwrap();
            f.raw(b"[]\n", 1).unwrap();
            let (_, n) = f.close(Some("given".into())).unwrap();
            let got = std::fs::read(&p).unwrap();
            assert_eq!(got, b"{}\n{\"b\":2}\n{\"c\":3}\n{\"a\":1}\n[]\n");
            assert_eq!(n, got.len() as u64);
        }
        // Past the end of the input: an error, not a short shard.
        let p = dir.path().join("short.jsonl");
        let mut f = OutFile::open(&FsOutput::default(), &p, None, Layout::Jsonl).unwrap();
        let e = f.copy_range(&src, 16, 16).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        assert!(e.to_string().contains("ended at byte 24"), "{e}");
    }

    #[test]
    fn zstd_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("z.jsonl.zst");
        let mut f = OutFile::open(&FsOutput::default(), &p, Some(3), Layout::Jsonl).unwrap();
        f.raw(b"{}\n{}\n", 2).unwrap();
        f.line(b"{}", b"{}", true).unwrap();
        f.close(None).unwrap();
        let back = zstd::decode_all(std::fs::File::open(&p).unwrap()).unwrap();
        assert_eq!(back, b"{}\n{}\n{}\n");
    }
}
