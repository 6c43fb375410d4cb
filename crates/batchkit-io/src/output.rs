use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::staging::{self, Registration};

/// A file written under a temporary name beside its final path and renamed into place only
/// by [`AtomicFile::commit`]. Dropped without commit (error, panic, early return), the
/// temporary file is removed, so a failed run never leaves a half-written file under the
/// final name; a signal removes it too (see [`crate::staging`]). The temporary name is
/// `.batchkit-out-<pid>-<random>.<name>.tmp`.
///
/// A path that is a device or a pipe (`/dev/null`, `/dev/stdout`) is written directly.
pub struct AtomicFile {
    tmp: Option<tempfile::NamedTempFile>,
    writer: Option<BufWriter<fs::File>>,
    path: PathBuf,
    sync: bool,
    _reg: Option<Registration>,
}

impl AtomicFile {
    /// Starts writing what will become `path`.
    pub fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Ok(m) = fs::metadata(&path) {
            if m.is_dir() {
                return Err(io::Error::new(
                    io::ErrorKind::IsADirectory,
                    format!("{}: is a directory", path.display()),
                ));
            }
            if !m.is_file() {
                let f = fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| with_path(e, &path))?;
                return Ok(AtomicFile {
                    tmp: None,
                    writer: Some(BufWriter::with_capacity(1 << 20, f)),
                    path,
                    sync: false,
                    _reg: None,
                });
            }
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        staging::sweep_stale(&dir);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let prefix = format!("{}out-{}-", staging::PREFIX, std::process::id());
        let tmp = tempfile::Builder::new()
            .prefix(&prefix)
            .suffix(&format!(".{name}.tmp"))
            .tempfile_in(&dir)
            .map_err(|e| with_path(e, &path))?;
        let reg = staging::register(tmp.path(), false);
        let file = tmp.as_file().try_clone().map_err(|e| with_path(e, &path))?;
        Ok(AtomicFile {
            tmp: Some(tmp),
            writer: Some(BufWriter::with_capacity(1 << 20, file)),
            path,
            sync: true,
            _reg: Some(reg),
        })
    }

    /// Whether [`AtomicFile::commit`] syncs the data to disk before the rename (default on).
    pub fn set_sync(&mut self, sync: bool) {
        if self.tmp.is_some() {
            self.sync = sync;
        }
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes and syncs the data (and gives the file its final permissions) without renaming
    /// it: after this succeeds, only the rename of [`AtomicFile::commit`] is left, so a run with
    /// several outputs can find every write error before it puts any file in place.
    pub fn prepare(&mut self) -> io::Result<()> {
        let path = self.path.clone();
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        w.flush().map_err(|e| with_path(e, &path))?;
        if self.tmp.is_none() {
            return Ok(());
        }
        let f = w.get_ref();
        if self.sync {
            f.sync_data().map_err(|e| with_path(e, &path))?;
        }
        // Temporary files are private (0600); the result is an ordinary output file.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(fs::Permissions::from_mode(0o644))
                .map_err(|e| with_path(e, &path))?;
        }
        self.writer = None;
        Ok(())
    }

    /// Flushes, syncs and renames the file into place (what [`AtomicFile::prepare`] has not
    /// done yet, then the rename).
    pub fn commit(mut self) -> io::Result<()> {
        self.prepare()?;
        let path = self.path.clone();
        let Some(tmp) = self.tmp.take() else {
            return Ok(());
        };
        staging::while_locked(|| tmp.persist(&path).map(drop).map_err(|e| e.error))
            .map_err(|e| with_path(e, &path))?;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let path = &self.path;
        self.writer
            .as_mut()
            .ok_or_else(closed)?
            .write(buf)
            .map_err(|e| with_path(e, path))
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let path = &self.path;
        self.writer
            .as_mut()
            .ok_or_else(closed)?
            .write_all(buf)
            .map_err(|e| with_path(e, path))
    }
    fn flush(&mut self) -> io::Result<()> {
        let path = &self.path;
        match self.writer.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
        .map_err(|e| with_path(e, path))
    }
}

fn closed() -> io::Error {
    io::Error::other("written after it was prepared for commit")
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("{}: {}", path.display(), crate::describe(&e)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_appears_until_commit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.jsonl");
        let mut f = AtomicFile::create(&p).unwrap();
        f.write_all(b"hello\n").unwrap();
        assert!(!p.exists());
        f.commit().unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"hello\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o644
            );
        }
        let mut g = AtomicFile::create(dir.path().join("dropped")).unwrap();
        g.write_all(b"x").unwrap();
        drop(g);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.jsonl")]);
    }

    #[test]
    fn prepared_files_appear_only_when_committed() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let mut fa = AtomicFile::create(&a).unwrap();
        let mut fb = AtomicFile::create(&b).unwrap();
        fa.write_all(b"one\n").unwrap();
        fb.write_all(b"two\n").unwrap();
        fa.prepare().unwrap();
        fb.prepare().unwrap();
        assert!(!a.exists() && !b.exists(), "prepare renames nothing");
        assert!(fa.write_all(b"late").is_err(), "no write after prepare");
        fa.commit().unwrap();
        // One prepared file dropped (another output failed): it never appears.
        drop(fb);
        assert_eq!(fs::read(&a).unwrap(), b"one\n");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a")]);
        // A device is written directly: prepare flushes, and a full one says so.
        let mut full = AtomicFile::create("/dev/full").unwrap();
        full.write_all(b"x").unwrap();
        let e = full.prepare().unwrap_err();
        assert!(e.to_string().starts_with("/dev/full: "), "{e}");
    }
}
