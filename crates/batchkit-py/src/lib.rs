//! `batchkit._native`: the Python extension module. It runs the `batchkit` command in
//! process: [`main`] is the binary's `main` (the `batchkit` console script), and [`start`]
//! runs a command on a worker thread, its JSON Lines stdout streamed back through a
//! bounded channel while the caller waits with the GIL released and Ctrl-C is watched.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

mod dist;
mod keys;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// How often a waiting call looks for Ctrl-C.
const POLL: Duration = Duration::from_millis(50);

/// Batches of whole lines in flight between the job and Python (each at most the
/// printer's 64 KiB buffer, so a few MiB at worst).
const IN_FLIGHT: usize = 64;

/// The job's stdout: complete lines go to the channel; a closed channel (the Python side
/// stopped reading) is a broken pipe, which ends the job quietly.
struct ChannelWriter {
    tx: SyncSender<Vec<u8>>,
    buf: Vec<u8>,
    cancel: Arc<AtomicBool>,
}

impl ChannelWriter {
    fn send(&mut self, data: Vec<u8>) -> io::Result<()> {
        self.tx
            .send(data)
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(batchkit_io_cancelled());
        }
        self.buf.extend_from_slice(data);
        if let Some(end) = self.buf.iter().rposition(|&b| b == b'\n') {
            let rest = self.buf.split_off(end + 1);
            let lines = std::mem::replace(&mut self.buf, rest);
            self.send(lines)?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn batchkit_io_cancelled() -> io::Error {
    batchkit::cancelled()
}

type Ended = (u8, Option<batchkit::Failure>, Vec<u8>);

/// A command running on a worker thread.
#[pyclass(module = "batchkit._native")]
struct Run {
    rx: Mutex<Option<Receiver<Vec<u8>>>>,
    worker: Mutex<Option<JoinHandle<Ended>>>,
    cancel: Arc<AtomicBool>,
}

impl Run {
    fn stop(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

#[pymethods]
impl Run {
    /// The next lines of stdout (without their line ends), or None when the command has
    /// ended. Waits with the GIL released; Ctrl-C cancels the run and raises
    /// KeyboardInterrupt.
    fn next_lines(&self, py: Python<'_>) -> PyResult<Option<Vec<String>>> {
        loop {
            let got = py.detach(|| {
                let rx = self.rx.lock().unwrap_or_else(PoisonError::into_inner);
                match rx.as_ref() {
                    Some(rx) => rx.recv_timeout(POLL),
                    None => Err(RecvTimeoutError::Disconnected),
                }
            });
            match got {
                Ok(bytes) => {
                    let text = String::from_utf8_lossy(&bytes);
                    return Ok(Some(text.lines().map(str::to_string).collect()));
                }
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(e) = py.check_signals() {
                        self.stop();
                        return Err(e);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return Ok(None),
            }
        }
    }

    /// Waits for the end (discarding stdout not yet read) and returns
    /// `(exit_code, failure, stderr)`, where failure is None or a dict with code, message,
    /// file and line.
    fn finish<'py>(&self, py: Python<'py>) -> PyResult<(u8, Option<Bound<'py, PyDict>>, String)> {
        // Dropping the receiver lets a job still writing end (as on a closed pipe).
        drop(
            self.rx
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let handle = self
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("the run was already finished"))?;
        while !handle.is_finished() {
            py.detach(|| std::thread::sleep(Duration::from_millis(10)));
            if let Err(e) = py.check_signals() {
                self.stop();
                // Put it back so a later finish() can still collect it.
                *self.worker.lock().unwrap_or_else(PoisonError::into_inner) = Some(handle);
                return Err(e);
            }
        }
        let (code, failure, stderr) = py.detach(|| handle.join()).map_err(|p| {
            let what = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            PyRuntimeError::new_err(format!("batchkit panicked: {what}"))
        })?;
        let failure = match failure {
            None => None,
            Some(f) => {
                let d = PyDict::new(py);
                d.set_item("code", f.code)?;
                d.set_item("message", f.message)?;
                d.set_item("file", f.file)?;
                d.set_item("line", f.line)?;
                Some(d)
            }
        };
        Ok((code, failure, String::from_utf8_lossy(&stderr).into_owned()))
    }

    /// Asks the run to stop at its next read or write.
    fn cancel(&self) {
        self.stop();
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts `batchkit ARGS...` (args without the program name) on a worker thread.
#[pyfunction]
fn start(args: Vec<String>) -> PyResult<Run> {
    let cancel = Arc::new(AtomicBool::new(false));
    let (tx, rx) = sync_channel(IN_FLIGHT);
    let job_cancel = cancel.clone();
    let worker = std::thread::Builder::new()
        .name("batchkit-run".into())
        .spawn(move || {
            let mut out = ChannelWriter {
                tx,
                buf: Vec::new(),
                cancel: job_cancel.clone(),
            };
            let mut err = Vec::new();
            let argv = std::iter::once("batchkit".to_string()).chain(args);
            let (code, failure) = batchkit::run_args(argv, &mut out, &mut err, Some(job_cancel));
            if !out.buf.is_empty() {
                let rest = std::mem::take(&mut out.buf);
                let _ = out.send(rest);
            }
            (code, failure, err)
        })
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start a thread: {e}")))?;
    Ok(Run {
        rx: Mutex::new(Some(rx)),
        worker: Mutex::new(Some(worker)),
        cancel,
    })
}

/// The `batchkit` command itself, as the binary runs it: `argv` includes the program name.
/// Watches SIGINT, SIGTERM and SIGHUP as the binary does (cleans up staging, exits 130,
/// 143, 129); prints help and usage errors and exits as the binary does.
#[pyfunction]
fn main(py: Python<'_>, argv: Vec<String>) -> u8 {
    py.detach(|| batchkit::main_from(argv))
}

/// The part of `n` that decoded id `id` belongs to (`--partition`).
#[pyfunction]
fn part_of(id: &str, n: u32) -> u32 {
    batchkit_io::part::Part::of(id.as_bytes(), n)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(start, m)?)?;
    m.add_function(wrap_pyfunction!(main, m)?)?;
    m.add_function(wrap_pyfunction!(part_of, m)?)?;
    m.add_function(wrap_pyfunction!(dist::join_request_keys, m)?)?;
    m.add_function(wrap_pyfunction!(dist::join_result_keys, m)?)?;
    m.add_function(wrap_pyfunction!(dist::join_decide, m)?)?;
    m.add_function(wrap_pyfunction!(dist::join_deal, m)?)?;
    m.add_function(wrap_pyfunction!(dist::join_summary, m)?)?;
    m.add_function(wrap_pyfunction!(keys::dupes_file_keys, m)?)?;
    m.add_function(wrap_pyfunction!(keys::dupes_part, m)?)?;
    m.add_class::<Run>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
