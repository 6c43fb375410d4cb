"""batchkit.spark against the single-process functions, as test_ray.py does for Ray.
Skipped unless pyspark is installed (scripts/test-spark.sh installs it and runs these)."""

import os
import sys

import pytest

import batchkit

pyspark = pytest.importorskip("pyspark")
pytest.importorskip("pyarrow")
import batchkit.spark as bspark  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parts_data import generate, assert_same_dupes, assert_same_join  # noqa: E402


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    s = (
        SparkSession.builder.master("local[2]")
        .appName("batchkit-tests")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    yield s
    s.stop()


@pytest.mark.parametrize("n", [1, 4])
def test_spark_dupes_and_join_are_the_single_run(spark, tmp_path, n):
    req, res = generate(tmp_path / "in", seed=10 + n)
    assert_same_dupes(batchkit.dupes(req), bspark.dupes(spark, req, num_partitions=n))
    single = tmp_path / "single"
    single.mkdir()
    want = batchkit.join(
        req, res, single / "merged.jsonl", retry=single / "retry.jsonl",
        rejects=single / "rejects.jsonl", orphans=single / "orphans.jsonl",
        duplicates=single / "duplicates.jsonl" if n > 1 else None,
    )
    out = tmp_path / "spark"
    summary = bspark.join(spark, req, res, str(out), num_partitions=n, duplicates=n > 1)
    assert_same_join(want, summary, single, out, len(req), len(res))
