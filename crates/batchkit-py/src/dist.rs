//! The steps of a join split over a cluster engine's tasks (`batchkit.ray`, `batchkit.spark`;
//! see `batchkit_join::keys`): key rows per input file, the rules per part, the result lines
//! dealt per result file, and the summary. Each releases the GIL while it works.

use std::collections::BTreeMap;
use std::path::PathBuf;

use batchkit_io::{Input, ReadOptions};
use batchkit_join::keys;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

fn input(path: String, name: String) -> Input {
    let mut i = Input::path(path);
    i.name = name;
    i
}

fn read(max_line_bytes: Option<usize>) -> ReadOptions {
    let mut r = ReadOptions::default();
    if let Some(m) = max_line_bytes {
        r.max_line_bytes = m;
    }
    r
}

fn os(e: batchkit_join::JoinError) -> PyErr {
    PyOSError::new_err(e.to_string())
}

fn blobs(py: Python<'_>, parts: Vec<Vec<u8>>) -> Vec<Py<PyBytes>> {
    parts
        .into_iter()
        .map(|b| PyBytes::new(py, &b).unbind())
        .collect()
}

/// Request file number `file`: its key rows, one blob per part of `n`.
#[pyfunction]
#[pyo3(signature = (path, name, file, n, max_line_bytes=None))]
pub fn join_request_keys(
    py: Python<'_>,
    path: String,
    name: String,
    file: u32,
    n: u32,
    max_line_bytes: Option<usize>,
) -> PyResult<Vec<Py<PyBytes>>> {
    let i = input(path, name);
    let parts = py
        .detach(|| keys::request_keys(&i, file, n, &read(max_line_bytes)))
        .map_err(os)?;
    Ok(blobs(py, parts))
}

/// Result file number `file`: its key rows, one blob per part of `n`, and its share of the
/// summary (JSON).
#[pyfunction]
#[pyo3(signature = (path, name, file, n, id_map=None, max_line_bytes=None))]
pub fn join_result_keys(
    py: Python<'_>,
    path: String,
    name: String,
    file: u32,
    n: u32,
    id_map: Option<String>,
    max_line_bytes: Option<usize>,
) -> PyResult<(Vec<Py<PyBytes>>, String)> {
    let i = input(path, name);
    let map = id_map.map(PathBuf::from);
    let (parts, side) = py
        .detach(|| keys::result_keys(&i, file, n, map.as_deref(), &read(max_line_bytes)))
        .map_err(os)?;
    let side = serde_json::to_string(&side).map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok((blobs(py, parts), side))
}

type DecidedPy = (
    BTreeMap<u32, Py<PyBytes>>,
    BTreeMap<u32, Vec<(String, u32, u64)>>,
    (u64, u64, u64, u64),
);

/// One part's rows (request blobs, result blobs) decided: destination records per result
/// file, the ids earlier request files used first per request file, and the counts
/// (joined, matched by content, orphans, duplicates).
#[pyfunction]
pub fn join_decide(
    py: Python<'_>,
    requests: Vec<Vec<u8>>,
    results: Vec<Vec<u8>>,
) -> PyResult<DecidedPy> {
    let d = py.detach(|| -> Result<keys::Decided, String> {
        let mut q = Vec::new();
        for b in &requests {
            q.extend(keys::rows(b)?);
        }
        let mut r = Vec::new();
        for b in &results {
            r.extend(keys::rows(b)?);
        }
        Ok(keys::decide(q, r))
    });
    let d = d.map_err(PyValueError::new_err)?;
    let dests = d
        .dests
        .into_iter()
        .map(|(f, b)| (f, PyBytes::new(py, &b).unbind()))
        .collect();
    let earlier = d
        .earlier
        .into_iter()
        .map(|(f, v)| {
            let v = v
                .into_iter()
                .map(|(k, file, line)| (String::from_utf8_lossy(&k).into_owned(), file, line))
                .collect();
            (f, v)
        })
        .collect();
    Ok((
        dests,
        earlier,
        (d.joined, d.matched_by_content, d.orphans, d.duplicates),
    ))
}

/// Result file `path`: each line written where the parts sent it (`dests`: every part's
/// records for this file), per request file into `to_request[f]`, else to `orphans` or
/// `duplicates`. Returns the lines written per request file.
#[pyfunction]
#[pyo3(signature = (path, name, dests, to_request, orphans=None, duplicates=None, max_line_bytes=None))]
#[allow(clippy::too_many_arguments)]
pub fn join_deal(
    py: Python<'_>,
    path: String,
    name: String,
    dests: Vec<Vec<u8>>,
    to_request: Vec<Option<String>>,
    orphans: Option<String>,
    duplicates: Option<String>,
    max_line_bytes: Option<usize>,
) -> PyResult<Vec<u64>> {
    let i = input(path, name);
    let to: Vec<Option<PathBuf>> = to_request.into_iter().map(|p| p.map(Into::into)).collect();
    let orphans = orphans.map(PathBuf::from);
    let duplicates = duplicates.map(PathBuf::from);
    py.detach(|| {
        let mut all = Vec::new();
        for b in &dests {
            all.extend(keys::dests(b).map_err(batchkit_join::JoinError::Usage)?);
        }
        all.sort_unstable_by_key(|d| d.0);
        keys::deal(
            &i,
            &all,
            &to,
            orphans.as_ref(),
            duplicates.as_ref(),
            &read(max_line_bytes),
        )
    })
    .map_err(os)
}

/// The result side of the summary (JSON) from the result files' shares and the parts' counts.
#[pyfunction]
pub fn join_summary(
    py: Python<'_>,
    sides: Vec<String>,
    counts: Vec<(u64, u64, u64, u64)>,
) -> PyResult<String> {
    let sides = sides
        .iter()
        .map(|s| serde_json::from_str::<keys::ResultSide>(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let s = py.detach(|| keys::summary(&sides, &counts));
    serde_json::to_string(&s).map_err(|e| PyValueError::new_err(e.to_string()))
}
