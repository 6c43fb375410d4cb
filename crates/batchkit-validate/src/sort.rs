//! External merge sort of fixed-format records within a memory budget: records are buffered
//! and sorted in memory, written out as sorted runs when the buffer outgrows the budget, and
//! read back as one sorted stream by merging the runs (in several rounds when there are more
//! runs than files it may open at once).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// A record an external sort can write out and read back.
pub(crate) trait Record: Ord + Sized {
    /// Writes the record.
    fn write_to(&self, w: &mut impl Write) -> io::Result<()>;
    /// Reads one record, or `None` at the end of the file.
    fn read_from(r: &mut impl Read) -> io::Result<Option<Self>>;
    /// Heap bytes the record holds besides `size_of::<Self>()`.
    fn heap_bytes(&self) -> u64 {
        0
    }
}

/// Runs merged at once (one open file and one read buffer each).
pub(crate) const FAN_IN: usize = 64;
const READ_BUF: usize = 32 << 10;
const WRITE_BUF: usize = 64 << 10;

/// Sorts records within a budget, spilling sorted runs to files named `<prefix>-N` in `dir`.
pub(crate) struct Sorter<T> {
    dir: PathBuf,
    prefix: &'static str,
    budget: u64,
    fan_in: usize,
    buf: Vec<T>,
    heap: u64,
    runs: Vec<PathBuf>,
    made: usize,
}

impl<T: Record> Sorter<T> {
    /// A sorter holding about `budget` bytes of records in memory.
    pub(crate) fn new(dir: &Path, prefix: &'static str, budget: u64, fan_in: usize) -> Self {
        Sorter {
            dir: dir.to_path_buf(),
            prefix,
            budget,
            fan_in: fan_in.max(2),
            buf: Vec::new(),
            heap: 0,
            runs: Vec::new(),
            made: 0,
        }
    }

    /// Adds a record.
    pub(crate) fn push(&mut self, t: T) -> io::Result<()> {
        let heap = t.heap_bytes();
        if !self.buf.is_empty() {
            let cap = if self.buf.len() == self.buf.capacity() {
                (self.buf.capacity() * 2).max(4)
            } else {
                self.buf.capacity()
            };
            let bytes = (cap * std::mem::size_of::<T>()) as u64 + self.heap + heap;
            if bytes > self.budget {
                self.flush()?;
            }
        }
        self.heap += heap;
        self.buf.push(t);
        Ok(())
    }

    fn run_path(&mut self) -> PathBuf {
        self.made += 1;
        self.dir.join(format!("{}-{}.bin", self.prefix, self.made))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.buf.sort_unstable();
        let path = self.run_path();
        let mut w = create(&path)?;
        for t in self.buf.drain(..) {
            t.write_to(&mut w)?;
        }
        w.flush()?;
        self.heap = 0;
        self.runs.push(path);
        Ok(())
    }

    /// Every record pushed, in order.
    pub(crate) fn finish(mut self) -> io::Result<Sorted<T>> {
        if self.runs.is_empty() {
            self.buf.sort_unstable();
            return Ok(Sorted::Memory(std::mem::take(&mut self.buf).into_iter()));
        }
        if !self.buf.is_empty() {
            self.flush()?;
        }
        self.buf = Vec::new();
        while self.runs.len() > self.fan_in {
            let runs = std::mem::take(&mut self.runs);
            for group in runs.chunks(self.fan_in) {
                if group.len() == 1 {
                    self.runs.push(group[0].clone());
                    continue;
                }
                let path = self.run_path();
                let mut w = create(&path)?;
                let mut m = Merge::<T>::open(group)?;
                while let Some(t) = m.next()? {
                    t.write_to(&mut w)?;
                }
                w.flush()?;
                drop(m);
                for p in group {
                    std::fs::remove_file(p)?;
                }
                self.runs.push(path);
            }
        }
        Ok(Sorted::Merge(Merge::open(&self.runs)?))
    }
}

fn create(path: &Path) -> io::Result<BufWriter<File>> {
    File::create(path)
        .map(|f| BufWriter::with_capacity(WRITE_BUF, f))
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// The sorted stream of a [`Sorter`].
pub(crate) enum Sorted<T> {
    /// Everything fitted in memory.
    Memory(std::vec::IntoIter<T>),
    /// Merging sorted runs.
    Merge(Merge<T>),
}

impl<T: Record> Sorted<T> {
    /// The next record.
    pub(crate) fn next(&mut self) -> io::Result<Option<T>> {
        match self {
            Sorted::Memory(it) => Ok(it.next()),
            Sorted::Merge(m) => m.next(),
        }
    }
}

/// K-way merge of sorted run files.
pub(crate) struct Merge<T> {
    readers: Vec<BufReader<File>>,
    heap: BinaryHeap<Reverse<(T, usize)>>,
}

impl<T: Record> Merge<T> {
    fn open(paths: &[PathBuf]) -> io::Result<Self> {
        let mut readers = Vec::with_capacity(paths.len());
        let mut heap = BinaryHeap::with_capacity(paths.len());
        for (i, p) in paths.iter().enumerate() {
            let f = File::open(p)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))?;
            let mut r = BufReader::with_capacity(READ_BUF, f);
            if let Some(t) = T::read_from(&mut r)? {
                heap.push(Reverse((t, i)));
            }
            readers.push(r);
        }
        Ok(Merge { readers, heap })
    }

    fn next(&mut self) -> io::Result<Option<T>> {
        let Some(Reverse((t, i))) = self.heap.pop() else {
            return Ok(None);
        };
        if let Some(n) = T::read_from(&mut self.readers[i])? {
            self.heap.push(Reverse((n, i)));
        }
        Ok(Some(t))
    }
}

/// Reads exactly `buf.len()` bytes, or nothing at a clean end of file.
pub(crate) fn read_or_eof(r: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "truncated temporary file",
                ))
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
    struct R(u32, Box<[u8]>);

    impl Record for R {
        fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
            w.write_all(&self.0.to_le_bytes())?;
            w.write_all(&(self.1.len() as u32).to_le_bytes())?;
            w.write_all(&self.1)
        }
        fn read_from(r: &mut impl Read) -> io::Result<Option<Self>> {
            let mut h = [0u8; 8];
            if !read_or_eof(r, &mut h)? {
                return Ok(None);
            }
            let len = u32::from_le_bytes(h[4..].try_into().unwrap()) as usize;
            let mut id = vec![0u8; len];
            r.read_exact(&mut id)?;
            Ok(Some(R(
                u32::from_le_bytes(h[..4].try_into().unwrap()),
                id.into(),
            )))
        }
        fn heap_bytes(&self) -> u64 {
            self.1.len() as u64
        }
    }

    proptest! {
        // Temporary files are slow to create on some machines: few cases, few runs.
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn sorts_like_a_vec(v in proptest::collection::vec((0u32..50, proptest::collection::vec(any::<u8>(), 0..3)), 0..200),
                            budget in prop_oneof![Just(0u64), Just(1000), Just(1 << 20)],
                            fan_in in 2usize..6) {
            let dir = tempfile::tempdir().unwrap();
            let v = if budget == 0 { &v[..v.len().min(20)] } else { &v[..] };
            let mut s = Sorter::new(dir.path(), "t", budget, fan_in);
            let mut want: Vec<R> = Vec::new();
            for (k, id) in v {
                s.push(R(*k, id.clone().into())).unwrap();
                want.push(R(*k, id.clone().into()));
            }
            want.sort();
            let mut sorted = s.finish().unwrap();
            let mut got = Vec::new();
            while let Some(r) = sorted.next().unwrap() {
                got.push(r);
            }
            prop_assert_eq!(got, want);
            if let Sorted::Merge(m) = &sorted {
                prop_assert!(m.readers.len() <= fan_in);
            }
        }
    }
}
