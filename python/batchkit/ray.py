"""``dupes`` and ``join`` on a Ray cluster with Ray Data (``pip install "batchkit[ray]"``).

Both run in key rows. One task per input file reads it once and emits compact rows per line
with an id: the decoded id, the file, the line (and for ``dupes`` the offset, for a result
line its status). Only these rows are shuffled, grouped by part of ``num_partitions`` (the
part of ``--partition K/N``, a seeded hash of the decoded id). One task per part then applies
the single run's rules to its rows.

- ``dupes`` (:mod:`batchkit._dupes_keys`) returns the duplicate records of
  ``batchkit.dupes`` on the same files, in the same order, with the same file records,
  findings, summary and exit code.
- ``join`` (:mod:`batchkit._join_keys`) has each part say where its result lines go. One task
  per result file reads that file again and deals each line to the request file that took
  it, or to its own orphans (duplicates) file. One task per request file then runs the
  ordinary join on that file and the results dealt to it, knowing the ids earlier files used.
  So request bytes are read only by their own file's tasks. It writes into ``out_dir``:

  - per request file, ``00000-<name>.merged.jsonl`` (``.retry.jsonl``, ``.rejects.jsonl``),
    numbered in request order;
  - per result file, ``00000-<name>.orphans.jsonl`` (``.duplicates.jsonl``);

  and::

    cat out_dir/*.merged.jsonl

  is, byte for byte, the merged file of ``batchkit.join`` on the same files; the same holds
  for every kind. It returns the single run's summary.

Inputs are paths every worker can read (a shared file system). It runs on the cluster
``ray.init()`` connects to (a local one when none is running), unchanged.

>>> import ray, batchkit.ray                                     # doctest: +SKIP
>>> ray.init(num_cpus=2)                                         # doctest: +SKIP
>>> found = batchkit.ray.dupes(["a.jsonl", "b.jsonl"], num_partitions=4)  # doctest: +SKIP
>>> found.summary["duplicate_ids"], found.exit_code              # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Union

import ray

from . import _dupes_keys as dk
from . import _join_keys as jk
from . import _parts
from ._dupes_keys import Found

__all__ = ["dupes", "join", "Found"]


def _default_parts() -> int:
    if not ray.is_initialized():
        ray.init()
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def dupes(
    paths: Union[str, Sequence[str]],
    num_partitions: Optional[int] = None,
    *,
    provider: str = "auto",
    temp_dir: Optional[str] = None,
    memory_limit: Union[int, str, None] = None,
    max_line_bytes: Union[int, str, None] = None,
) -> Found:
    """``batchkit.dupes(paths)`` on Ray Data (:mod:`batchkit._dupes_keys`): one task per
    input file for its key rows, the rows grouped by part (``num_partitions``, default: the
    cluster's CPUs), one task per part for its duplicates. Returns the records of
    ``batchkit.dupes`` on the same files, in the same order, its summary and exit code."""
    files = _parts.paths_of(paths, "paths")
    n = _default_parts() if num_partitions is None else _parts.parts_count(num_partitions, 1)
    opts: Dict[str, Any] = dict(
        provider=provider, temp_dir=temp_dir, memory_limit=memory_limit,
        max_line_bytes=max_line_bytes,
    )
    if not ray.is_initialized():
        ray.init()
    keyed = ray.data.from_items(
        [{"index": i} for i in range(len(files))], override_num_blocks=len(files)
    ).flat_map(lambda r: dk.file_rows(files, int(r["index"]), n, opts))
    rows = (
        _groupby(keyed, "part", n + 1)
        .map_groups(
            lambda b: _batch(dk.part_rows(files, _rows(b), opts), _DUPES_ROW),
            batch_format="numpy",
        )
        .take_all()
    )
    return dk.finish(rows)


def _rows(batch: Dict[str, Any]) -> List[Dict[str, Any]]:
    """A Ray Data batch (numpy format) as a list of rows."""
    keys = list(batch)
    n = len(batch[keys[0]]) if keys else 0
    return [{k: batch[k][i] for k in keys} for i in range(n)]


def _batch(rows: List[Dict[str, Any]], keys: Sequence[str]) -> Dict[str, List[Any]]:
    return {k: [r[k] for r in rows] for k in keys}


def _groupby(ds: Any, key: str, n: int) -> Any:
    """``ds.groupby(key)`` into ``n`` shuffle partitions where this Ray takes the number
    (a few parts need not pay for the default 200)."""
    try:
        return ds.groupby(key, num_partitions=n)
    except TypeError:
        return ds.groupby(key)


_ROW = ("part", "kind", "target", "blob")
_DUPES_ROW = ("part", "blob", "meta")
_ROUTED = _ROW + ("route",)


def join(
    requests: Union[str, Sequence[str]],
    results: Union[str, Sequence[str]],
    out_dir: str,
    num_partitions: Optional[int] = None,
    *,
    retry: bool = True,
    rejects: bool = True,
    orphans: bool = True,
    duplicates: bool = False,
    retry_on: Optional[Sequence[str]] = None,
    raise_max_tokens: Optional[float] = None,
    answer_schema: Optional[str] = None,
    expect_json: bool = False,
    id_map: Optional[str] = None,
    temp_dir: Optional[str] = None,
    memory_limit: Union[int, str, None] = None,
    max_line_bytes: Union[int, str, None] = None,
) -> Dict[str, Any]:
    """``batchkit.join`` on Ray Data, in the four steps of :mod:`batchkit._join_keys`: one
    task per input file for its key rows, the rows grouped by part (``num_partitions``,
    default: the cluster's CPUs) and decided, one task per result file to deal its lines,
    one per request file to join them. Writes into ``out_dir`` (created; it must be empty)
    per request file ``00000-<name>.merged.jsonl`` and, as asked, ``.retry.jsonl`` and
    ``.rejects.jsonl``, per result file ``00000-<name>.orphans.jsonl`` (and
    ``.duplicates.jsonl``): ``cat out_dir/*.merged.jsonl`` is the single run's merged file,
    byte for byte, and so for every kind. Returns the summary of ``batchkit.join`` on the
    same files."""
    n = _default_parts() if num_partitions is None else _parts.parts_count(num_partitions, 1)
    want = jk.want(retry, rejects, orphans, duplicates)
    opts: Dict[str, Any] = dict(
        retry_on=retry_on, raise_max_tokens=raise_max_tokens, answer_schema=answer_schema,
        expect_json=expect_json, id_map=id_map, temp_dir=temp_dir, memory_limit=memory_limit,
        max_line_bytes=max_line_bytes,
    )
    plan = jk.prepare(requests, results, out_dir, n, want, opts)

    def steps() -> Dict[str, Any]:
        if not ray.is_initialized():
            ray.init()
        specs = plan.specs()
        routes = len(plan.results) + len(plan.requests) + 1
        keyed = ray.data.from_items(specs, override_num_blocks=len(specs)).flat_map(
            lambda spec: jk.file_rows(plan, spec)
        )
        decided = _groupby(keyed, "part", n + 1).map_groups(
            lambda b: _batch(jk.part_rows(plan, _rows(b)), _ROUTED), batch_format="numpy"
        )
        routed = (
            _groupby(decided, "route", routes)
            .map_groups(
                lambda b: _batch(jk.route_rows(plan, int(b["route"][0]), _rows(b)), _ROW),
                batch_format="numpy",
            )
            .take_all()
        )
        join_file = ray.remote(jk.join_file)
        return jk.finish_rows(
            plan, routed, lambda jobs: ray.get([join_file.remote(plan, *j) for j in jobs])
        )

    return jk.staged(plan, steps)
