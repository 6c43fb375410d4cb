//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A temp dir and a way to run the built `batchkit` binary in it.
pub struct Dir {
    pub tmp: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Self {
        Dir {
            tmp: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// Writes `data` to `name` in the dir and returns its path.
    pub fn write(&self, name: &str, data: impl AsRef<[u8]>) -> PathBuf {
        let p = self.join(name);
        std::fs::write(&p, data).expect("write fixture");
        p
    }

    /// A `batchkit` command running in this dir, with progress bars and colour off.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_batchkit"));
        c.current_dir(self.path())
            .arg("--progress=never")
            .arg("--color=never");
        c
    }
}

/// The repository's `fixtures/` folder.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

/// Runs a command with `stdin` bytes and returns its output.
pub fn run_with_stdin(mut c: Command, stdin: &[u8]) -> Output {
    use std::io::Write;
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn batchkit");
    let mut si = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = si.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait");
    writer.join().unwrap();
    out
}

/// Runs a command and returns its output.
pub fn run(mut c: Command) -> Output {
    c.output().expect("run batchkit")
}

/// stdout parsed as JSON Lines.
pub fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// The exit code, panicking on a signal.
pub fn code(out: &Output) -> i32 {
    out.status.code().expect("exited normally")
}

/// Defines a test with its own temp dir: `bktest!(name, |dir| { ... });`
macro_rules! bktest {
    ($name:ident, |$dir:ident| $body:block) => {
        #[test]
        fn $name() {
            let $dir = $crate::util::Dir::new();
            $body
        }
    };
}
