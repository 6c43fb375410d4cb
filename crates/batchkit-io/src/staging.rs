//! Staged outputs and spill directories that never outlive the run.
//!
//! Everything batchkit writes before it is final (a temporary output file, a directory of
//! shards, a spill directory) is named `.batchkit-<kind>-<pid>-<random>…` and registered
//! here while it exists. The binary calls [`install_signal_handlers`]: on SIGINT, SIGTERM or
//! SIGHUP every registered path is removed and the process exits with 128 + the signal
//! number. A process killed outright (SIGKILL, power loss) cannot clean up, so creating
//! staging in a directory first sweeps that directory for staging whose process no longer
//! exists ([`sweep_stale`]), and says so through the notice hook.
//!
//! Commits (renames into final names) go through [`commit_rename`], which takes the same
//! lock as the signal handler: a run is either interrupted before a rename or after it,
//! never in the middle of removing what it is renaming.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

/// The prefix of every staging name.
pub const PREFIX: &str = ".batchkit-";

/// What a registered path is, and so how a signal removes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    /// A staging directory: removed with everything in it.
    Dir,
    /// A directory the run created for its outputs: removed only when empty, after the
    /// staging in it.
    Created,
}

#[derive(Default)]
struct Registry {
    next: u64,
    paths: HashMap<u64, (PathBuf, Kind)>,
    swept: HashSet<PathBuf>,
}

static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static NOTICE: OnceLock<fn(&str)> = OnceLock::new();

fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// Sets where notices (stale staging removed, interrupted run cleaned up) go; the binary
/// prints them on stderr. Without it they are dropped.
pub fn set_notice_hook(hook: fn(&str)) {
    let _ = NOTICE.set(hook);
}

fn notice(msg: &str) {
    if let Some(h) = NOTICE.get() {
        h(msg);
    }
}

/// Whether a signal asked the process to stop.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// A name for staging of `kind` (a word without `-`) owned by this process, ending in
/// `suffix`: `.batchkit-<kind>-<pid>-<random><suffix>`.
pub fn staging_name(kind: &str, suffix: &str) -> String {
    format!(
        "{PREFIX}{kind}-{}-{:08x}{suffix}",
        std::process::id(),
        random_u32()
    )
}

fn random_u32() -> u32 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish() as u32
}

/// How to name `path` in a message: staging names are internal, so a path inside staging is
/// shown as the directory that holds it ("temporary files in DIR").
pub fn display_path(path: &Path) -> String {
    let mut base = PathBuf::new();
    let mut comps = path.components();
    while let Some(c) = comps.next() {
        let name = c.as_os_str().to_string_lossy();
        if name.starts_with(PREFIX) {
            let rest = comps.as_path();
            // A staged output directory (shards) holds files under their final names.
            if name.starts_with(&format!("{PREFIX}shard-")) && !rest.as_os_str().is_empty() {
                return format!("{} (being written)", base.join(rest).display());
            }
            let dir = if base.as_os_str().is_empty() {
                ".".to_string()
            } else {
                base.display().to_string()
            };
            return format!("temporary files in {dir}");
        }
        base.push(c);
    }
    path.display().to_string()
}

/// A registered staging path: removed by the signal handler while this lives.
/// Dropping it only unregisters; the owner removes the path itself.
#[derive(Debug)]
pub struct Registration {
    id: u64,
}

/// Registers `path` (a directory when `dir`) for removal if a signal stops the process.
pub fn register(path: &Path, dir: bool) -> Registration {
    let mut r = registry();
    r.next += 1;
    let id = r.next;
    let kind = if dir { Kind::Dir } else { Kind::File };
    r.paths.insert(id, (path.to_path_buf(), kind));
    Registration { id }
}

/// Registers `path`, a directory this run created to write its outputs into, for removal if
/// a signal stops the process: after the staging in it is removed, and only when it is then
/// empty (nothing else is ever removed).
pub fn register_created_dir(path: &Path) -> Registration {
    let mut r = registry();
    r.next += 1;
    let id = r.next;
    r.paths.insert(id, (path.to_path_buf(), Kind::Created));
    Registration { id }
}

impl Drop for Registration {
    fn drop(&mut self) {
        registry().paths.remove(&self.id);
    }
}

/// Renames a staged file into its final place, unless a signal already stopped the run.
pub fn commit_rename(from: &Path, to: &Path) -> io::Result<()> {
    let _lock = registry();
    if interrupted() {
        return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
    }
    fs::rename(from, to)
}

/// Runs `f` while holding the registry lock, so no signal cleanup runs in the middle of it
/// (used to persist a temporary file).
pub fn while_locked<T>(f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    let _lock = registry();
    if interrupted() {
        return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
    }
    f()
}

/// A staging directory, removed with everything in it when dropped or when a signal stops
/// the process.
#[derive(Debug)]
pub struct StagedDir {
    path: PathBuf,
    reg: Option<Registration>,
}

impl StagedDir {
    /// Creates `.batchkit-<kind>-<pid>-<random>` in `parent` (the system temp dir when
    /// `None`), after sweeping `parent` for stale staging.
    pub fn new_in(parent: Option<&Path>, kind: &str) -> io::Result<StagedDir> {
        let parent = match parent {
            Some(p) => p.to_path_buf(),
            None => std::env::temp_dir(),
        };
        sweep_stale(&parent);
        for _ in 0..16 {
            let path = parent.join(staging_name(kind, ""));
            // Register first: a signal between creation and registration would leak it.
            let reg = register(&path, true);
            match fs::create_dir(&path) {
                Ok(()) => {
                    return Ok(StagedDir {
                        path,
                        reg: Some(reg),
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!(
                            "cannot create a temporary directory in {}: {e}",
                            parent.display()
                        ),
                    ))
                }
            }
        }
        Err(io::Error::other(format!(
            "cannot create a temporary directory in {}",
            parent.display()
        )))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the directory now, saying whether that worked.
    pub fn close(mut self) -> io::Result<()> {
        let r = remove_all(&self.path);
        self.reg.take();
        // Drop tries again; harmless when it is gone.
        r
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        let _ = remove_all(&self.path);
        self.reg.take();
    }
}

fn remove_all(p: &Path) -> io::Result<()> {
    let mut last = Ok(());
    for _ in 0..4 {
        last = match fs::remove_dir_all(p) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            r => r,
        };
        if last.is_ok() {
            return Ok(());
        }
    }
    last
}

/// The process id a staging name carries, when it is one.
pub fn staging_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(PREFIX)?;
    let mut parts = rest.splitn(3, '-');
    let _kind = parts.next()?;
    let pid = parts.next()?;
    parts.next()?;
    pid.parse().ok()
}

/// Whether a process with this id exists.
pub fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        if pid <= 0 {
            return false;
        }
        // SAFETY: kill with signal 0 performs only the existence and permission check.
        let r = unsafe { libc::kill(pid, 0) };
        r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// Removes staging in `dir` left by processes that no longer exist, once per directory
/// and process. Returns what it removed (each also reported through the notice hook).
pub fn sweep_stale(dir: &Path) -> Vec<PathBuf> {
    let key = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if !registry().swept.insert(key) {
        return Vec::new();
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let me = std::process::id();
    let mut removed = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = staging_pid(&name.to_string_lossy()) else {
            continue;
        };
        if pid == me || process_alive(pid) {
            continue;
        }
        let p = e.path();
        let ok = match e.file_type() {
            Ok(t) if t.is_dir() => remove_all(&p).is_ok(),
            Ok(_) => fs::remove_file(&p).is_ok(),
            Err(_) => false,
        };
        if ok {
            notice(&format!(
                "removed {} left by an earlier run that was stopped (process {pid})",
                p.display()
            ));
            removed.push(p);
        }
    }
    removed
}

/// Removes every registered staging path now (what the signal handler does before exit).
/// Returns how many paths were removed.
fn cleanup_all(r: &mut Registry) -> usize {
    let mut n = 0;
    for (path, kind) in r.paths.values() {
        let ok = match kind {
            Kind::Dir => remove_all(path).is_ok(),
            Kind::File => match fs::remove_file(path) {
                Ok(()) => true,
                Err(e) => e.kind() == io::ErrorKind::NotFound,
            },
            Kind::Created => continue,
        };
        n += usize::from(ok);
    }
    // Created directories last, once the staging in them is gone; one that holds anything
    // else stays.
    for (path, kind) in r.paths.values() {
        if *kind == Kind::Created {
            let _ = fs::remove_dir(path);
        }
    }
    r.paths.clear();
    n
}

/// Starts a thread that, on SIGINT, SIGTERM or SIGHUP, removes every staged output and
/// spill directory and exits with 128 + the signal number (130, 143, 129).
#[cfg(unix)]
pub fn install_signal_handlers() -> io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new()
        .name("batchkit-signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                INTERRUPTED.store(true, Ordering::SeqCst);
                let mut r = registry();
                let n = cleanup_all(&mut r);
                let name = match sig {
                    SIGINT => "SIGINT",
                    SIGTERM => "SIGTERM",
                    _ => "SIGHUP",
                };
                let what = if n == 0 {
                    String::new()
                } else {
                    format!(
                        "; removed {n} unfinished output{}",
                        if n == 1 { "" } else { "s" }
                    )
                };
                notice(&format!("interrupted ({name}){what}"));
                std::process::exit(128 + sig);
            }
        })?;
    Ok(())
}

/// No signals to handle here.
#[cfg(not(unix))]
pub fn install_signal_handlers() -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_paths_are_not_shown() {
        let p = Path::new("/data/out/.batchkit-join-12-ab/payload");
        assert_eq!(display_path(p), "temporary files in /data/out");
        assert_eq!(display_path(Path::new("a/b.jsonl")), "a/b.jsonl");
        assert_eq!(
            display_path(Path::new("out/.batchkit-shard-1-ab/in-00001.jsonl")),
            "out/in-00001.jsonl (being written)"
        );
    }

    #[test]
    fn names_carry_the_pid() {
        let n = staging_name("out", ".x.jsonl.tmp");
        assert_eq!(staging_pid(&n), Some(std::process::id()));
        assert_eq!(staging_pid(".batchkit-shard"), None);
        assert_eq!(staging_pid("batchkit-out-1-a"), None);
        assert_eq!(staging_pid(".batchkit-out-x-a"), None);
    }

    #[test]
    fn staged_dir_is_removed_on_drop_and_stale_staging_swept() {
        let dir = tempfile::tempdir().unwrap();
        // A dead process: pid numbers this high are not handed out on Linux.
        let stale = dir.path().join(".batchkit-shard-2147483646-deadbeef");
        fs::create_dir(&stale).unwrap();
        fs::write(stale.join("a"), b"x").unwrap();
        let stale_file = dir.path().join(".batchkit-out-2147483646-beef.m.jsonl.tmp");
        fs::write(&stale_file, b"x").unwrap();
        let live = dir
            .path()
            .join(format!(".batchkit-out-{}-cafe", std::process::id()));
        fs::write(&live, b"x").unwrap();
        let keep = dir.path().join("user.jsonl");
        fs::write(&keep, b"x").unwrap();
        let s = StagedDir::new_in(Some(dir.path()), "ids").unwrap();
        assert!(s.path().is_dir());
        assert!(!stale.exists() && !stale_file.exists());
        assert!(live.exists() && keep.exists());
        let p = s.path().to_path_buf();
        drop(s);
        assert!(!p.exists());
    }
}
