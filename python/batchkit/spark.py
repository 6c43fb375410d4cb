"""``dupes`` and ``join`` on a SparkSession (``pip install "batchkit[spark]"``), as
:mod:`batchkit.ray` runs them on Ray: one Spark task per part (``mapInArrow`` over
``spark.range(N)``), each running ``batchkit.dupes`` or ``batchkit.join`` with
``partition=(K, N)``; the same records, summary and files (see :mod:`batchkit.ray` for the
file naming). Inputs are paths every executor can read (DBFS, a shared file system), and
batchkit must be installed on the executors.

>>> from pyspark.sql import SparkSession                        # doctest: +SKIP
>>> spark = SparkSession.builder.master("local[2]").getOrCreate()  # doctest: +SKIP
>>> import batchkit.spark                                       # doctest: +SKIP
>>> batchkit.spark.dupes(spark, ["a.jsonl", "b.jsonl"], num_partitions=4).summary  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

from . import _parts
from ._parts import Dupes

__all__ = ["dupes", "join", "Dupes"]


def _map_parts(spark: Any, n: int, fn: Any) -> List[Any]:
    """``fn(k)`` for k in 0..n, one Spark task per part; results in part order."""
    import pyarrow as pa

    def run(batches: Iterator["pa.RecordBatch"]) -> Iterator["pa.RecordBatch"]:
        for b in batches:
            ks = [int(k) for k in b.column(0).to_pylist()]
            outs = [_parts.encode(fn(k)) for k in ks]
            yield pa.RecordBatch.from_pydict({"part": ks, "out": outs})

    df = spark.range(0, n, 1, n).mapInArrow(run, "part long, out string")
    got = sorted(df.collect(), key=lambda r: r["part"])
    return [_parts.decode(r["out"]) for r in got]


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
) -> Dupes:
    """``batchkit.dupes(paths)`` in ``num_partitions`` Spark tasks (default: the session's
    default parallelism); see :func:`batchkit.ray.dupes`."""
    files = _parts.paths_of(paths, "paths")
    n = _parts.parts_count(num_partitions, _default_parts(spark))
    kwargs: Dict[str, Any] = dict(
        provider=provider, temp_dir=temp_dir, memory_limit=memory_limit,
        max_line_bytes=max_line_bytes,
    )
    return Dupes(_map_parts(spark, n, lambda k: _parts.dupes_part(files, k, n, kwargs)))


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
    """``batchkit.join`` in ``num_partitions`` Spark tasks; see :func:`batchkit.ray.join`
    (the files are put back per request file on the driver)."""
    req = _parts.paths_of(requests, "requests")
    res = _parts.paths_of(results, "results")
    out = _parts.prepare_out_dir(out_dir)
    n = _parts.parts_count(num_partitions, _default_parts(spark))
    want = _parts.join_want(retry, rejects, orphans, duplicates)
    kwargs: Dict[str, Any] = dict(
        retry_on=retry_on, raise_max_tokens=raise_max_tokens, answer_schema=answer_schema,
        expect_json=expect_json, id_map=id_map, temp_dir=temp_dir, memory_limit=memory_limit,
        max_line_bytes=max_line_bytes,
    )
    summaries = _map_parts(spark, n, lambda k: _parts.join_part(req, res, out, k, n, want, kwargs))
    summary = summaries[0]
    for s in summaries[1:]:
        summary = _parts.add_summaries(summary, s)
    _parts.split_join(req, out, n, want)
    return summary
