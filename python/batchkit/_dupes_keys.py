"""``dupes`` as key rows: the engine-free steps of a ``dupes`` run with one task per input
file and a shuffle by part, which :mod:`batchkit.ray` and :mod:`batchkit.spark` schedule.

1. :func:`file_task` reads one input file once and returns the key rows of its lines with
   an id, one blob per part (the part of ``--partition K/N``, a seeded hash of the decoded
   id), with that file's ``"file"`` record and its other records (errors, lines without an
   id, lines not read) exactly as ``batchkit.dupes`` prints them.
2. The engine groups the ``(part, blob)`` rows of every file by part: only these rows move,
   24 bytes plus the id per line with an id (the request bytes stay where they are).
3. :func:`part_task` finds the duplicated ids of one part from its blobs (in any order),
   each ``"duplicate"`` record with where its id is first used.
4. :func:`assemble` puts the parts' duplicates in order of first use and adds up the
   files' counts: the records, summary and exit code of ``batchkit.dupes`` on the same files.

Memory: a file task holds its file's rows; a part task holds its blobs, 24 bytes per row to
order them, and an id set that spills past the tables' share of ``memory_limit`` (as the
single run's does). ``write_unique`` is not supported; the summary's ``spilled`` says
whether a part task's id set spilled.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from . import _native

Record = Dict[str, Any]

# The findings about lines without an id a run prints (batchkit-validate's MAX_PROBLEMS),
# the first of all inputs in input order.
MAX_PROBLEMS = 100


def _size(value: Any) -> Optional[str]:
    return None if value is None else str(value)


def file_task(path: Any, index: int, n: int, opts: Optional[Record] = None) -> Record:
    """Reads input ``index`` of the run (a path) once, for ``n`` parts.

    ``opts`` may hold ``provider``, ``max_line_bytes``, ``memory_limit`` (as
    ``batchkit.dupes`` takes them) and ``name`` (what records call the file; its path by
    default). Returns ``{"index", "rows": [(part, blob), ...] (parts without rows left
    out), "file": record, "other": [records], "kinds": [kind of each other record:
    "error", "problem" or "too_large"], "error": the file's error or None}``.
    """
    opts = opts or {}
    path = os.fspath(path)
    blobs, file, other, summary = _native.dupes_file_keys(
        path,
        str(opts.get("name") or path),
        int(index),
        int(n),
        opts.get("provider") or "auto",
        _size(opts.get("max_line_bytes")),
        _size(opts.get("memory_limit")),
    )
    return {
        "index": int(index),
        "rows": [(k, b) for k, b in enumerate(blobs) if b],
        "file": json.loads(file),
        "other": [json.loads(r) for _, r in other],
        "kinds": [k for k, _ in other],
        "error": json.loads(summary).get("error"),
    }


def part_task(
    blobs: Sequence[bytes], names: Sequence[str], opts: Optional[Record] = None
) -> Record:
    """The duplicated ids of one part, from every file's blob of that part (any order).

    ``names`` are the files' names by index (as in their ``"file"`` records); ``opts`` may
    hold ``memory_limit`` and ``temp_dir``. Returns ``{"duplicates": [([input, line],
    record), ...] (in order of first use, keyed by where that is), "duplicate_ids",
    "duplicate_lines", "spilled"}``.
    """
    opts = opts or {}
    temp_dir = opts.get("temp_dir")
    records, ids, lines, spilled = _native.dupes_part(
        [bytes(b) for b in blobs],
        [str(n) for n in names],
        _size(opts.get("memory_limit")),
        None if temp_dir is None else os.fspath(temp_dir),
    )
    return {
        "duplicates": [([f, line], json.loads(r)) for (f, line), r in records],
        "duplicate_ids": ids,
        "duplicate_lines": lines,
        "spilled": spilled,
    }


class Found:
    """What :func:`assemble` puts together: the attributes of :class:`batchkit._parts.Dupes`
    (``duplicates`` in order of first use, as ``batchkit.dupes`` yields them; ``other`` the
    findings then the errors; ``files``; ``summary``; ``exit_code``; ``ok``), plus
    ``errors`` and :meth:`records`, the run's records in the order ``batchkit dupes
    --format json`` prints them."""

    def __init__(
        self,
        duplicates: List[Record],
        errors: List[Record],
        findings: List[Record],
        files: List[Record],
        summary: Record,
        exit_code: int,
    ) -> None:
        self.duplicates = duplicates
        self.errors = errors
        self.other = findings + errors
        self.files = files
        self.summary = summary
        self.exit_code = exit_code
        self.ok = bool(summary["ok"])
        self._findings = findings

    def records(self) -> List[Record]:
        """Every record, in the single run's order: duplicates, errors, findings about
        lines (without an id, then not read), file records, the summary."""
        return self.duplicates + self.errors + self._findings + self.files + [self.summary]

    def __iter__(self) -> Iterator[Record]:
        return iter(self.duplicates)

    def __len__(self) -> int:
        return len(self.duplicates)

    def __repr__(self) -> str:
        return f"Found(duplicates={len(self.duplicates)}, summary={self.summary!r})"


def _of_kind(files: Sequence[Record], kind: str) -> List[Record]:
    return [r for f in files for k, r in zip(f["kinds"], f["other"]) if k == kind]


def assemble(file_outs: Sequence[Record], part_outs: Sequence[Record]) -> Found:
    """The run's result from every :func:`file_task` output (any order; each knows its
    index) and every :func:`part_task` output (any order)."""
    files = sorted(file_outs, key=lambda f: f["index"])
    if [f["index"] for f in files] != list(range(len(files))):
        raise ValueError("one file task per input expected, numbered from 0")
    keyed: List[Tuple[Tuple[int, int], Record]] = [
        (tuple(key), rec) for p in part_outs for key, rec in p["duplicates"]  # type: ignore[misc]
    ]
    keyed.sort(key=lambda kr: kr[0])
    duplicates = [rec for _, rec in keyed]
    errors = _of_kind(files, "error")
    findings = _of_kind(files, "problem")[:MAX_PROBLEMS] + _of_kind(files, "too_large")
    records = [f["file"] for f in files]

    def total(key: str) -> int:
        return sum(r[key] for r in records)

    duplicate_ids = sum(p["duplicate_ids"] for p in part_outs)
    error = next((f["error"] for f in files if f["error"] is not None), None)
    summary: Record = {
        "type": "summary",
        "files": len(records),
        "lines": total("lines"),
        "ids": total("ids"),
        "without_id": total("without_id"),
        "too_large_lines": total("too_large_lines"),
        "duplicate_ids": duplicate_ids,
        "duplicate_lines": sum(p["duplicate_lines"] for p in part_outs),
        "unique_lines": None,
        "spilled": any(p["spilled"] for p in part_outs),
        "ok": duplicate_ids == 0 and all(r["ok"] for r in records),
        "error": error,
    }
    if errors:
        exit_code = 2
    elif duplicate_ids > 0 or summary["too_large_lines"] > 0 or summary["without_id"] > 0:
        exit_code = 1
    else:
        exit_code = 0
    return Found(duplicates, errors, findings, records, summary, exit_code)


# The rows an engine moves: ``{"part", "blob", "meta"}``. A file task's row of part META
# carries its record (``meta``: JSON); a part task's row carries its duplicates.
META = -1


def file_rows(paths: Sequence[str], index: int, n: int, opts: Record) -> List[Record]:
    """:func:`file_task` as rows: one per part that has key rows, and one of :data:`META`
    with the rest of the file's output."""
    out = file_task(paths[index], index, n, opts)
    rows: List[Record] = [{"part": k, "blob": bytes(b), "meta": ""} for k, b in out.pop("rows")]
    rows.append({"part": META, "blob": b"", "meta": json.dumps(out)})
    return rows


def part_rows(paths: Sequence[str], rows: Sequence[Record], opts: Record) -> List[Record]:
    """The rows of one part (or of several, grouped inside) through :func:`part_task`; the
    :data:`META` rows passed on."""
    by_part: Dict[int, List[bytes]] = {}
    out: List[Record] = []
    for r in rows:
        if int(r["part"]) == META:
            out.append({"part": META, "blob": b"", "meta": r["meta"]})
        else:
            by_part.setdefault(int(r["part"]), []).append(bytes(r["blob"]))
    for k, blobs in sorted(by_part.items()):
        found = part_task(blobs, list(paths), opts)
        out.append({"part": k, "blob": b"", "meta": json.dumps(found)})
    return out


def finish(rows: Sequence[Record]) -> Found:
    """:func:`assemble` of the rows :func:`part_rows` gave."""
    files = [json.loads(r["meta"]) for r in rows if int(r["part"]) == META]
    parts = [json.loads(r["meta"]) for r in rows if int(r["part"]) != META]
    return assemble(files, parts)


def run_local(paths: Sequence[str], n: int, opts: Record) -> Found:
    """The steps in this process, the rows grouped by hand: what an engine does."""
    rows = [r for i in range(len(paths)) for r in file_rows(paths, i, n, opts)]
    return finish(part_rows(paths, rows, opts))


__all__ = ["file_task", "part_task", "assemble", "Found", "MAX_PROBLEMS", "run_local"]
