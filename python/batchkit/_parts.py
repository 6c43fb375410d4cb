"""What :mod:`batchkit.ray` and :mod:`batchkit.spark` share: the run of one part
(``--partition K/N``), the parts' summaries added up, and a join's outputs put back per
request file.

How the parts add up: every line is counted by exactly one part (lines without an id by
part 0), so the counts of the whole run are the sums of the parts' counts; ``ok`` holds when
it holds in every part, ``spilled`` and ``cost_incomplete`` when in one; ``partitions`` (the
spill partitions of a join) is the largest; models are merged by name; costs are summed
(equal to the whole run's up to floating-point rounding).
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any, Dict, List, Optional, Sequence, Tuple

import batchkit

from . import _native

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


def _stem(path: str) -> str:
    base = os.path.basename(path.rstrip("/")) or "requests"
    for ext in (".zst", ".jsonl", ".json", ".ndjson"):
        if base.endswith(ext):
            base = base[: -len(ext)]
    return base or "requests"


def output_names(requests: Sequence[str]) -> List[str]:
    """The stem of each request file's outputs: ``00000-<name>``, so that the files sort in
    request order."""
    return [f"{i:05d}-{_stem(p)}" for i, p in enumerate(requests)]


KINDS = ("merged", "retry", "rejects")
SIDE = ("orphans", "duplicates")


def part_dir(out_dir: str, k: int, n: int) -> str:
    return os.path.join(out_dir, "parts", f"part-{k:05d}-of-{n:05d}")


def join_part(
    requests: List[str],
    results: List[str],
    out_dir: str,
    k: int,
    n: int,
    want: Dict[str, bool],
    kwargs: Dict[str, Any],
) -> Record:
    """Part k of n of ``batchkit.join``, its files in ``parts/part-K-of-N/`` of out_dir."""
    d = part_dir(out_dir, k, n)
    os.makedirs(d, exist_ok=True)
    files = {kind: os.path.join(d, f"{kind}.jsonl") for kind in KINDS + SIDE if want[kind]}
    return batchkit.join(
        requests,
        results,
        files["merged"],
        retry=files.get("retry"),
        rejects=files.get("rejects"),
        orphans=files.get("orphans"),
        duplicates=files.get("duplicates"),
        partition=(k, n),
        **kwargs,
    )


def split_join(
    requests: List[str], out_dir: str, n: int, want: Dict[str, bool]
) -> None:
    """Puts the parts' merged, retry and rejects lines back per request file, as
    ``<out_dir>/00000-<name>.merged.jsonl`` (``.retry``, ``.rejects``), and removes the
    parts' copies; orphans and duplicates stay per part in ``parts/``."""
    parts = [
        [
            os.path.join(part_dir(out_dir, k, n), f"{kind}.jsonl") if want[kind] else None
            for kind in KINDS
        ]
        for k in range(n)
    ]
    stems = output_names(requests)
    outs = [
        [os.path.join(out_dir, f"{s}.{kind}.jsonl") if want[kind] else None for kind in KINDS]
        for s in stems
    ]
    _native.split_parts([(p, p) for p in requests], parts, outs)
    for p in parts:
        for f in p:
            if f is not None:
                os.remove(f)
    if not any(want[s] for s in SIDE):
        shutil.rmtree(os.path.join(out_dir, "parts"), ignore_errors=True)


def join_want(retry: bool, rejects: bool, orphans: bool, duplicates: bool) -> Dict[str, bool]:
    return {
        "merged": True,
        "retry": retry,
        "rejects": rejects,
        "orphans": orphans,
        "duplicates": duplicates,
    }


def prepare_out_dir(out_dir: str) -> str:
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    if os.listdir(out_dir):
        raise batchkit.OutputError(
            f"{out_dir}: the output directory is not empty", code="not_empty", file=out_dir
        )
    return out_dir


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
