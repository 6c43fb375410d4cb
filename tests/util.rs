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

/// `line` read strictly as `T` (a test's own redeclaration of an event): every field known
/// (`deny_unknown_fields`), and written back it gives the same JSON, so no field the output
/// prints is missing from `T`, none is renamed, and an absent field is not silently a `null`
/// (or the other way round).
pub fn strict<T>(line: &str) -> T
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let t: T = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("{e}: {line} does not fit {}", std::any::type_name::<T>()));
    let back = serde_json::to_value(&t).unwrap();
    let orig: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(
        back,
        orig,
        "{line} does not fit {}",
        std::any::type_name::<T>()
    );
    t
}

/// Every stdout line read strictly as `T`.
pub fn strict_lines<T>(out: &Output) -> Vec<T>
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let text = String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8");
    text.lines().map(strict::<T>).collect()
}

/// A summary record as every command ends its JSON output: its own (`Done`), or that of a
/// run stopped before it could sum up (`Failed`: every key of its own summary null, `ok`
/// false, the `error`).
#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum SummaryOf<T> {
    Done(T),
    Failed(Failed),
}

/// The summary of a stopped run: nothing but nulls beside `ok` and `error`.
#[derive(Debug, serde::Deserialize, serde::Serialize)]
pub struct Failed {
    /// `"summary"` when read on its own (inside an event enum, the tag takes it).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub ok: bool,
    pub error: crate::validate::RunError,
    #[serde(flatten)]
    pub nulls: std::collections::BTreeMap<String, ()>,
}
