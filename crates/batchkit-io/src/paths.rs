//! Outputs never touch inputs: every path a command will write (or remove) is compared with
//! every input and every other output before anything is written.
//!
//! Two paths are the same file when they resolve to the same device and inode (symlinks
//! followed, hard links included); a path that does not exist yet is compared by its
//! normalised absolute form (parent resolved, `.` and `..` folded). Devices and pipes
//! (`/dev/null`, `/dev/stdout`) are not files that can be lost and take part in no clash.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

/// What a path is, for comparing two of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FileKey {
    /// An existing regular file or directory.
    Inode {
        /// Device.
        dev: u64,
        /// Inode.
        ino: u64,
    },
    /// A path that does not exist yet, normalised.
    Path(PathBuf),
    /// A device, pipe or socket: never clashes.
    Special,
}

/// The key of `path`.
pub fn file_key(path: &Path) -> FileKey {
    match fs::metadata(path) {
        Ok(m) => {
            if !(m.is_file() || m.is_dir()) {
                return FileKey::Special;
            }
            inode_key(&m).unwrap_or_else(|| FileKey::Path(normalise(path)))
        }
        Err(_) => FileKey::Path(normalise(path)),
    }
}

#[cfg(unix)]
fn inode_key(m: &fs::Metadata) -> Option<FileKey> {
    use std::os::unix::fs::MetadataExt;
    Some(FileKey::Inode {
        dev: m.dev(),
        ino: m.ino(),
    })
}

#[cfg(not(unix))]
fn inode_key(_m: &fs::Metadata) -> Option<FileKey> {
    None
}

/// An absolute form of `path` with its deepest existing ancestor resolved (symlinks
/// followed) and `.`/`..` folded in what is left.
pub fn normalise(path: &Path) -> PathBuf {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    let folded = fold(&abs);
    // Resolve the longest existing prefix, then append the rest.
    let mut head = folded.clone();
    let mut tail = Vec::new();
    loop {
        if let Ok(c) = fs::canonicalize(&head) {
            let mut out = c;
            for t in tail.iter().rev() {
                out.push(t);
            }
            return fold(&out);
        }
        match (head.parent(), head.file_name()) {
            (Some(p), Some(n)) => {
                tail.push(n.to_os_string());
                head = p.to_path_buf();
            }
            _ => return folded,
        }
    }
}

fn fold(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// One path a command reads or writes, with the flag that named it.
#[derive(Debug, Clone)]
pub struct Role {
    /// How the user named it: `--out`, `--requests`, `input`, ...
    pub flag: String,
    /// The path.
    pub path: PathBuf,
}

impl Role {
    /// A path named by `flag`.
    pub fn new(flag: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        Role {
            flag: flag.into(),
            path: path.into(),
        }
    }
}

/// Two roles that name the same file.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} {} and {} {} are the same file; refusing to write (nothing was written)", .a.flag, .a.path.display(), .b.flag, .b.path.display())]
pub struct Clash {
    /// The first role (an input, or the earlier output).
    pub a: Role,
    /// The output that would overwrite it.
    pub b: Role,
}

impl From<Clash> for io::Error {
    fn from(c: Clash) -> io::Error {
        io::Error::new(io::ErrorKind::AlreadyExists, c.to_string())
    }
}

/// Checks that no output is an input or another output. Inputs named `-` (stdin) are
/// skipped.
pub fn check_distinct(inputs: &[Role], outputs: &[Role]) -> Result<(), Clash> {
    let mut seen: Vec<(FileKey, &Role)> = Vec::new();
    for r in inputs {
        if r.path.as_os_str() == "-" {
            continue;
        }
        let k = file_key(&r.path);
        if k != FileKey::Special {
            seen.push((k, r));
        }
    }
    for o in outputs {
        let k = file_key(&o.path);
        if k == FileKey::Special {
            continue;
        }
        if let Some((_, a)) = seen.iter().find(|(s, _)| *s == k) {
            return Err(Clash {
                a: (*a).clone(),
                b: o.clone(),
            });
        }
        seen.push((k, o));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_file_by_every_route() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let input = d.join("in.jsonl");
        fs::write(&input, b"x\n").unwrap();
        fs::create_dir(d.join("x")).unwrap();
        let inputs = [Role::new("--requests", &input)];
        let routes = [input.clone(), d.join("x/../in.jsonl"), d.join("./in.jsonl")];
        for r in routes {
            let e = check_distinct(&inputs, &[Role::new("--out", &r)]).unwrap_err();
            assert_eq!(e.b.flag, "--out");
            assert!(e.to_string().contains("--requests"), "{e}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&input, d.join("link")).unwrap();
            fs::hard_link(&input, d.join("hard")).unwrap();
            for r in [d.join("link"), d.join("hard")] {
                assert!(check_distinct(&inputs, &[Role::new("--out", &r)]).is_err());
            }
        }
        // Two new outputs that are one path.
        let e = check_distinct(
            &inputs,
            &[
                Role::new("--out", d.join("m.jsonl")),
                Role::new("--retry", d.join("x/../m.jsonl")),
            ],
        )
        .unwrap_err();
        assert_eq!((e.a.flag.as_str(), e.b.flag.as_str()), ("--out", "--retry"));
        // Distinct files pass; devices never clash.
        check_distinct(
            &inputs,
            &[
                Role::new("--out", d.join("m.jsonl")),
                Role::new("--retry", "/dev/null"),
                Role::new("--orphans", "/dev/null"),
            ],
        )
        .unwrap();
    }
}
