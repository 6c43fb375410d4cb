//! `dupes` as key rows (batchkit-validate's `keys`), for engines that run one task per
//! input file and shuffle the rows by part: [`dupes_file_keys`] reads one input and returns
//! its rows per part with the records a `dupes` run prints about that input;
//! [`dupes_part`] finds one part's duplicates and returns their records as that run prints
//! them. The records are printed by the `dupes` printer itself, so they are the same JSON.

use std::cell::RefCell;
use std::io::{self, Write};
use std::rc::Rc;

use batchkit_io::{Budget, Input, ReadOptions};
use batchkit_report::dupes::DupesPrinter;
use batchkit_report::style::Style;
use batchkit_report::Writers;
use batchkit_validate::ValidateError;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// A writer whose bytes the caller takes between prints.
#[derive(Clone, Default)]
struct Shared(Rc<RefCell<Vec<u8>>>);

impl Shared {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut self.0.borrow_mut())
    }
}

impl Write for Shared {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The JSON printer of `dupes` for inputs called `names`.
fn printer(out: Shared, names: Vec<String>) -> DupesPrinter<Shared, io::Sink> {
    DupesPrinter::new(
        Writers::new(out, io::sink()),
        names,
        true,
        Style { on: false },
    )
}

fn size(value: Option<&str>, flag: &str) -> PyResult<Option<u64>> {
    value
        .map(|v| {
            batchkit_io::parse_size(v).map_err(|e| PyValueError::new_err(format!("{flag}: {e}")))
        })
        .transpose()
}

/// How the command reads with `--memory-limit` and `--max-line-bytes` (its defaults when
/// `None`).
fn read_options(memory_limit: Option<&str>, max_line_bytes: Option<&str>) -> PyResult<ReadOptions> {
    let budget = match size(memory_limit, "--memory-limit")? {
        Some(limit) => Budget::new(limit).map_err(PyValueError::new_err)?,
        None => Budget::default(),
    };
    let mut read = ReadOptions::for_budget(&budget);
    if let Some(max) = size(max_line_bytes, "--max-line-bytes")? {
        if max == 0 {
            return Err(PyValueError::new_err("--max-line-bytes: must be above 0"));
        }
        read.max_line_bytes = usize::try_from(max).unwrap_or(usize::MAX);
    }
    Ok(read)
}

/// A job's error: a bad option is a ValueError, the rest an OSError.
fn py_error(e: ValidateError) -> PyErr {
    match e {
        ValidateError::UnknownProvider(_) | ValidateError::NoIdField(_) => {
            PyValueError::new_err(e.to_string())
        }
        e => PyOSError::new_err(e.to_string()),
    }
}

fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::to_string)
        .collect()
}

/// What one input gives: its rows per part, then, as `dupes --format json` on that input
/// alone prints them, its file record, its other records as `(kind, json)` (kind `error`,
/// `problem` (a line without an id) or `too_large`, in that order) and the summary.
type FileOut = (Vec<Vec<u8>>, String, Vec<(&'static str, String)>, String);

/// [`FileOut`] with the blobs as Python bytes.
type FileRecords<'py> = (
    Vec<Bound<'py, PyBytes>>,
    String,
    Vec<(&'static str, String)>,
    String,
);

/// Reads input `file_index` (at `path`, called `name` in records) once: the key rows of its
/// lines with an id, one blob per part of `n_parts`, and the records `dupes` prints about it:
/// `(blobs, file_record, [(kind, record)], summary)`, records as JSON text.
#[pyfunction]
#[pyo3(signature = (path, name, file_index, n_parts, provider = "auto", max_line_bytes = None, memory_limit = None))]
#[allow(clippy::too_many_arguments)]
pub fn dupes_file_keys<'py>(
    py: Python<'py>,
    path: String,
    name: String,
    file_index: u32,
    n_parts: u32,
    provider: &str,
    max_line_bytes: Option<String>,
    memory_limit: Option<String>,
) -> PyResult<FileRecords<'py>> {
    let read = read_options(memory_limit.as_deref(), max_line_bytes.as_deref())?;
    let provider = provider.to_string();
    let (blobs, file, other, summary): FileOut = py.detach(|| -> PyResult<FileOut> {
        let mut input = Input::path(&path);
        input.name = name.clone();
        let keys = batchkit_validate::file_keys(
            &input,
            file_index,
            n_parts,
            &read,
            Some(provider.as_str()),
        )
        .map_err(py_error)?;
        let out = Shared::default();
        let mut p = printer(out.clone(), vec![name]);
        p.summary(&keys.report())?;
        let mut all = lines(&out.take());
        // The printer's order: error events, lines without an id, lines not read, the
        // file record, the summary.
        let kinds = std::iter::repeat_n("error", keys.stats.unreadable.iter().count())
            .chain(std::iter::repeat_n("problem", keys.problems.len()))
            .chain(std::iter::repeat_n(
                "too_large",
                keys.stats.first_too_large.iter().count(),
            ));
        let other: Vec<(&'static str, String)> = kinds.zip(all.iter().cloned()).collect();
        if all.len() != other.len() + 2 {
            return Err(PyOSError::new_err(format!(
                "{}: the dupes printer wrote {} records, {} expected",
                input.name,
                all.len(),
                other.len() + 2
            )));
        }
        let summary = all.pop().expect("two more");
        let file = all.pop().expect("one more");
        Ok((keys.parts, file, other, summary))
    })?;
    let blobs = blobs.iter().map(|b| PyBytes::new(py, b)).collect();
    Ok((blobs, file, other, summary))
}

/// One part's duplicates: `([((input, line), record)], duplicate_ids, duplicate_lines,
/// spilled)`.
type PartOut = (Vec<((u32, u64), String)>, u64, u64, bool);

/// The duplicated ids among one part's key rows (`blobs`, from every input, in any order),
/// each as `((input, line) of its first use, record)` in order of first use, with the part's
/// duplicate ids, repeated lines and whether its id set spilled. `names` are the inputs'
/// names, by index. The id set keeps to the tables' share of `memory_limit` and spills into
/// `temp_dir` past it.
#[pyfunction]
#[pyo3(signature = (blobs, names, memory_limit = None, temp_dir = None))]
pub fn dupes_part(
    py: Python<'_>,
    blobs: Vec<Vec<u8>>,
    names: Vec<String>,
    memory_limit: Option<String>,
    temp_dir: Option<String>,
) -> PyResult<PartOut> {
    let read = read_options(memory_limit.as_deref(), None)?;
    py.detach(|| -> PyResult<PartOut> {
        let slices: Vec<&[u8]> = blobs.iter().map(Vec::as_slice).collect();
        let mut dups = batchkit_validate::part_duplicates(
            &slices,
            read.budget.tables(),
            temp_dir.map(Into::into),
        )
        .map_err(py_error)?;
        let out = Shared::default();
        let mut p = printer(out.clone(), names);
        let mut records = Vec::new();
        while let Some(mut g) = dups.next_group()? {
            let key = batchkit_validate::keys::sort_key(&g);
            p.duplicate(&mut g)?;
            let mut text = String::from_utf8_lossy(&out.take()).into_owned();
            text.truncate(text.trim_end_matches('\n').len());
            records.push((key, text));
        }
        Ok((records, dups.ids(), dups.repeated(), dups.spilled()))
    })
}
