"""What :mod:`batchkit.ray` and :mod:`batchkit.spark` share: the run of one part of
``dupes`` (``--partition K/N``) and the parts' summaries added up (the join's steps are in
:mod:`batchkit._join_keys`).

How the parts add up: every line is counted by exactly one part (lines without an id by
part 0), so the counts of the whole run are the sums of the parts' counts; ``ok`` holds when
it holds in every part, ``spilled`` and ``cost_incomplete`` when in one; ``partitions`` (the
spill partitions of a join) is the largest; models are merged by name; costs are summed
(equal to the whole run's up to floating-point rounding).
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import batchkit

Record = Dict[str, Any]

_ANY = ("spilled", "cost_incomplete")
# Every part reads every input: these are each part's, not summed.
_SAME = ("files", "file", "type")


def add_summaries(a: Any, b: Any, key: str = "") -> Any:
    """Two parts' summaries (or parts of them) added up."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: Dict[str, Any] = {}
        for k in list(a) + [k for k in b if k not in a]:
            if k not in a or k not in b:
                out[k] = a.get(k, b.get(k))
            else:
                out[k] = add_summaries(a[k], b[k], k)
        return out
    if key == "models":
        by: Dict[str, Record] = {}
        for m in list(a) + list(b):
            name = m["model"]
            by[name] = add_summaries(by[name], m) if name in by else dict(m)
        return [by[name] for name in sorted(by)]
    if key in _SAME:
        if a != b:
            raise ValueError(f"the parts disagree on {key}: {a!r} and {b!r}")
        return a
    if isinstance(a, bool) or isinstance(b, bool):
        return (a or b) if key in _ANY else (a and b)
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return max(a, b) if key == "partitions" else a + b
    if a != b:
        raise ValueError(f"the parts disagree on {key}: {a!r} and {b!r}")
    return a


def dupes_part(paths: List[str], k: int, n: int, kwargs: Dict[str, Any]) -> Record:
    """Part k of n of ``batchkit.dupes``: its duplicates, its other records (diagnostics
    about lines without an id, errors), its summary and exit code."""
    found = batchkit.dupes(paths, partition=(k, n), **kwargs)
    duplicates = list(found)
    return {
        "duplicates": duplicates,
        "files": found.files,
        "other": found.other + found.errors,
        "summary": found.summary,
        "exit_code": found.exit_code,
    }


class Dupes:
    """What a :mod:`batchkit.ray` (or :mod:`batchkit.spark`) ``dupes`` found: the records
    of ``batchkit.dupes`` on the same files (``duplicates`` in part order, not in order of
    first occurrence; the same set), its summary and its exit code."""

    def __init__(self, parts: Sequence[Record]) -> None:
        self.duplicates: List[Record] = [d for p in parts for d in p["duplicates"]]
        """The ``"duplicate"`` records."""
        self.other: List[Record] = [r for p in parts for r in p["other"]]
        """The other records: diagnostics about lines without an id, errors."""
        by_file: Dict[str, Record] = {}
        for p in parts:
            for f in p.get("files", []):
                name = f["file"]
                by_file[name] = add_summaries(by_file[name], f) if name in by_file else dict(f)
        self.files: List[Record] = list(by_file.values())
        """The ``"file"`` records, each input's counts added up over the parts."""
        summary = parts[0]["summary"]
        for p in parts[1:]:
            summary = add_summaries(summary, p["summary"])
        self.summary: Record = summary
        self.exit_code: int = max(p["exit_code"] for p in parts)
        self.ok: bool = bool(summary.get("ok"))

    def __iter__(self):
        return iter(self.duplicates)

    def __len__(self) -> int:
        return len(self.duplicates)

    def __repr__(self) -> str:
        return f"Dupes(duplicates={len(self.duplicates)}, summary={self.summary!r})"


def paths_of(paths: Any, what: str) -> List[str]:
    if isinstance(paths, (str, os.PathLike)):
        return [os.fspath(paths)]
    out = [os.fspath(p) for p in paths]
    if not out:
        raise batchkit.UsageError(f"{what}: no files given", code="usage")
    return out


def encode(rec: Any) -> str:
    return json.dumps(rec)


def decode(text: str) -> Any:
    return json.loads(text)


def parts_count(n: Optional[int], default: int) -> int:
    n = default if n is None else int(n)
    if n < 1:
        raise batchkit.UsageError("num_partitions must be at least 1", code="usage")
    return n


__all__: Tuple[str, ...] = ()
