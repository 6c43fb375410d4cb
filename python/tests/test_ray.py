"""batchkit.ray against the single-process functions on generated shards: the same records
and summary, and per-request-file outputs whose concatenation is the single run's, byte for
byte. Runs on a local Ray (2 CPUs); skipped when Ray is not installed."""

import os
import sys

import pytest

import batchkit

ray = pytest.importorskip("ray")
import batchkit.ray as bray  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parts_data import generate, assert_same_dupes, assert_same_join  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    yield
    ray.shutdown()


@pytest.mark.parametrize("n", [1, 4])
def test_ray_dupes_and_join_are_the_single_run(local_ray, tmp_path, n):
    req, res = generate(tmp_path / "in", seed=n)
    whole = batchkit.dupes(req)
    got = bray.dupes(req, num_partitions=n)
    assert_same_dupes(whole, got)

    single = tmp_path / "single"
    single.mkdir()
    want = batchkit.join(
        req, res, single / "merged.jsonl", retry=single / "retry.jsonl",
        rejects=single / "rejects.jsonl",
    )
    out = tmp_path / "ray"
    summary = bray.join(req, res, str(out), num_partitions=n)
    assert_same_join(want, summary, single, out, len(req))
