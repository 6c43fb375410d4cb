"""batchkit.ray against the single-process functions on generated shards: the same records
and summary, and per-request-file outputs whose concatenation is the single run's, byte for
byte. Runs on a local Ray (2 CPUs); skipped when Ray is not installed."""

import os
import sys
from pathlib import Path

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
        rejects=single / "rejects.jsonl", orphans=single / "orphans.jsonl",
        duplicates=single / "duplicates.jsonl" if n > 1 else None,
    )
    out = tmp_path / "ray"
    summary = bray.join(req, res, str(out), num_partitions=n, duplicates=n > 1)
    assert_same_join(want, summary, single, out, len(req), len(res))


def test_readme_ray_example(local_ray, monkeypatch, capsys):
    # The README's Ray block (```py: it needs Ray, so test_batchkit's README test skips it),
    # on the cluster the fixture started.
    root = Path(os.environ.get("BATCHKIT_ROOT", Path(__file__).resolve().parents[2]))
    monkeypatch.chdir(root)
    text = (root / "README.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```py\n")[1:]]
    block = next(b for b in blocks if "batchkit.ray" in b)
    block = block.replace("ray.init(num_cpus=2)", "pass").replace("ray.shutdown()", "pass")
    exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "1 1"
    assert out[1].startswith("7 ['00000-openai_requests.merged.jsonl'")
