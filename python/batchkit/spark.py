"""``dupes`` and ``join`` on a SparkSession (``pip install "batchkit[spark]"``), in key rows
as :mod:`batchkit.ray` runs them: ``mapInArrow`` tasks, one per input file, the rows
repartitioned by part, then (for ``join``) by file; the same records, summary and files (see
:mod:`batchkit.ray` for the file naming). Inputs are paths every executor can read (DBFS, a
shared file system), and batchkit must be installed on the executors.

>>> from pyspark.sql import SparkSession                        # doctest: +SKIP
>>> spark = SparkSession.builder.master("local[2]").getOrCreate()  # doctest: +SKIP
>>> import batchkit.spark                                       # doctest: +SKIP
>>> batchkit.spark.dupes(spark, ["a.jsonl", "b.jsonl"], num_partitions=4).summary  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

from . import _dupes_keys as dk
from . import _join_keys as jk
from . import _parts
from ._dupes_keys import Found

__all__ = ["dupes", "join", "Found"]


def _default_parts(spark: Any) -> int:
    return max(1, int(spark.sparkContext.defaultParallelism))


def dupes(
    spark: Any,
    paths: Union[str, Sequence[str]],
    num_partitions: Optional[int] = None,
    *,
    provider: str = "auto",
    temp_dir: Optional[str] = None,
    memory_limit: Union[int, str, None] = None,
    max_line_bytes: Union[int, str, None] = None,
) -> Found:
    """``batchkit.dupes(paths)`` on a SparkSession (``num_partitions``, default: the
    session's default parallelism): one ``mapInArrow`` task per input file for its key rows,
    the rows repartitioned by part, one task per part; see :func:`batchkit.ray.dupes`."""
    files = _parts.paths_of(paths, "paths")
    n = _parts.parts_count(num_partitions, _default_parts(spark))
    opts: Dict[str, Any] = dict(
        provider=provider, temp_dir=temp_dir, memory_limit=memory_limit,
        max_line_bytes=max_line_bytes,
    )

    def keys(batches: Iterator[Any]) -> Iterator[Any]:
        for r in _arrow_rows(batches):
            yield _arrow_batch(dk.file_rows(files, int(r["index"]), n, opts), _DUPES_ROW)

    def parts(batches: Iterator[Any]) -> Iterator[Any]:
        rows = _arrow_rows(batches)
        if rows:
            yield _arrow_batch(dk.part_rows(files, rows, opts), _DUPES_ROW)

    rows = (
        spark.createDataFrame([(i,) for i in range(len(files))], "index long")
        .repartition(len(files))
        .mapInArrow(keys, _DUPES_SCHEMA)
        .repartition(n + 1, "part")
        .mapInArrow(parts, _DUPES_SCHEMA)
        .collect()
    )
    return dk.finish([r.asDict() for r in rows])


_ROW_SCHEMA = "part long, kind string, target long, blob binary"
_ROUTED_SCHEMA = _ROW_SCHEMA + ", route long"
_DUPES_SCHEMA = "part long, blob binary, meta string"
_DUPES_ROW = ("part", "blob", "meta")


def _arrow_rows(batches: Iterator[Any]) -> List[Dict[str, Any]]:
    rows: List[Dict[str, Any]] = []
    for b in batches:
        rows.extend(b.to_pylist())
    return rows


def _arrow_batch(rows: List[Dict[str, Any]], keys: Sequence[str]) -> Any:
    import pyarrow as pa

    return pa.RecordBatch.from_pydict({k: [r[k] for r in rows] for k in keys})


_ROW = ("part", "kind", "target", "blob")
_ROUTED = _ROW + ("route",)


def join(
    spark: Any,
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
    """``batchkit.join`` on a SparkSession in the four steps of :mod:`batchkit._join_keys`
    (``mapInArrow`` tasks, the rows repartitioned by part, then by file); the same files and
    summary as :func:`batchkit.ray.join`."""
    n = _parts.parts_count(num_partitions, _default_parts(spark))
    want = jk.want(retry, rejects, orphans, duplicates)
    opts: Dict[str, Any] = dict(
        retry_on=retry_on, raise_max_tokens=raise_max_tokens, answer_schema=answer_schema,
        expect_json=expect_json, id_map=id_map, temp_dir=temp_dir, memory_limit=memory_limit,
        max_line_bytes=max_line_bytes,
    )
    plan = jk.prepare(requests, results, out_dir, n, want, opts)

    def steps() -> Dict[str, Any]:
        specs = plan.specs()

        def keys(batches: Iterator[Any]) -> Iterator[Any]:
            for r in _arrow_rows(batches):
                yield _arrow_batch(jk.file_rows(plan, _parts.decode(r["spec"])), _ROUTED)

        def decide(batches: Iterator[Any]) -> Iterator[Any]:
            rows = _arrow_rows(batches)
            if rows:
                yield _arrow_batch(jk.part_rows(plan, rows), _ROUTED)

        def route(batches: Iterator[Any]) -> Iterator[Any]:
            groups: Dict[int, List[Dict[str, Any]]] = {}
            for r in _arrow_rows(batches):
                groups.setdefault(int(r["route"]), []).append(r)
            for k, rows in sorted(groups.items()):
                yield _arrow_batch(jk.route_rows(plan, k, rows), _ROW)

        def join_files(batches: Iterator[Any]) -> Iterator[Any]:
            import pyarrow as pa

            for r in _arrow_rows(batches):
                f, earlier, dealt = _parts.decode(r["job"])
                s = jk.join_file(plan, f, [e.encode() for e in earlier], dealt)
                yield pa.RecordBatch.from_pydict({"file": [f], "summary": [_parts.encode(s)]})

        routes = len(plan.results) + len(plan.requests) + 1
        routed = (
            spark.createDataFrame([(_parts.encode(s),) for s in specs], "spec string")
            .repartition(len(specs))
            .mapInArrow(keys, _ROUTED_SCHEMA)
            .repartition(n + 1, "part")
            .mapInArrow(decide, _ROUTED_SCHEMA)
            .repartition(routes, "route")
            .mapInArrow(route, _ROW_SCHEMA)
            .collect()
        )

        def run(jobs: List[Any]) -> List[Dict[str, Any]]:
            text = [(_parts.encode([f, [e.decode() for e in ea], d]),) for f, ea, d in jobs]
            got = (
                spark.createDataFrame(text, "job string")
                .repartition(len(jobs))
                .mapInArrow(join_files, "file long, summary string")
                .collect()
            )
            return [_parts.decode(r["summary"]) for r in sorted(got, key=lambda r: r["file"])]

        return jk.finish_rows(plan, [r.asDict() for r in routed], run)

    return jk.staged(plan, steps)
