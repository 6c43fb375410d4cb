"""The join's key-row steps (batchkit._join_keys, what batchkit.ray and batchkit.spark run as
tasks) run in this process, against batchkit.join on the same generated shards: the same
summary, and per-file outputs whose concatenation is the single run's, byte for byte. Needs
no engine, so it always runs."""

import os
import sys

import pytest

import batchkit
from batchkit import _join_keys as jk

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parts_data import generate, assert_same_join  # noqa: E402


@pytest.mark.parametrize("n", [1, 4, 7])
@pytest.mark.parametrize("duplicates", [False, True])
def test_key_row_steps_are_the_single_run(tmp_path, n, duplicates):
    req, res = generate(tmp_path / "in", seed=20 + n)
    single = tmp_path / "single"
    single.mkdir()
    want = batchkit.join(
        req, res, single / "merged.jsonl", retry=single / "retry.jsonl",
        rejects=single / "rejects.jsonl", orphans=single / "orphans.jsonl",
        duplicates=single / "duplicates.jsonl" if duplicates else None,
    )
    out = tmp_path / "out"
    plan = jk.prepare(req, res, out, n, jk.want(True, True, True, duplicates), {})
    assert_same_join(want, jk.run_local(plan), single, out, len(req), len(res))


def test_the_output_directory_must_be_empty(tmp_path):
    req, res = generate(tmp_path / "in", seed=3, count=40)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x").write_text("")
    with pytest.raises(batchkit.OutputError, match="not empty"):
        jk.prepare(req, res, tmp_path / "out", 2, jk.want(True, True, True, False), {})
    with pytest.raises(batchkit.InputError, match="no such file"):
        jk.prepare(req + [str(tmp_path / "nope.jsonl")], res, tmp_path / "o2", 2,
                   jk.want(True, True, True, False), {})


def test_an_id_map_joins_renamed_results_the_same(tmp_path):
    # Results naming new ids (as convert --id-map writes them) join the original requests,
    # in the steps as in one run.
    import json

    req, res = generate(tmp_path / "in", seed=33)
    renamed, idmap = [], tmp_path / "map.jsonl"
    with open(idmap, "w") as m:
        for i, path in enumerate(res):
            out = tmp_path / ("renamed-%d.jsonl" % i)
            with open(path) as f, open(out, "w") as w:
                for k, line in enumerate(f):
                    try:
                        v = json.loads(line)
                    except ValueError:
                        w.write(line)
                        continue
                    if isinstance(v, dict) and isinstance(v.get("custom_id"), str):
                        new = "n-%d-%d" % (i, k)
                        m.write(json.dumps({"id": new, "original": v["custom_id"]}) + "\n")
                        v["custom_id"] = new
                    w.write(json.dumps(v) + "\n")
            renamed.append(str(out))
    single = tmp_path / "single"
    single.mkdir()
    want = batchkit.join(
        req, renamed, single / "merged.jsonl", retry=single / "retry.jsonl",
        rejects=single / "rejects.jsonl", orphans=single / "orphans.jsonl", id_map=idmap,
    )
    assert want["joined"] > 100
    out = tmp_path / "out"
    plan = jk.prepare(req, renamed, out, 4, jk.want(True, True, True, False), {"id_map": str(idmap)})
    assert_same_join(want, jk.run_local(plan), single, out, len(req), len(renamed))


def test_a_failed_step_leaves_the_output_directory_empty(tmp_path):
    # A request file gone after the check: step 1 fails, and nothing is left, neither
    # outputs under their final names nor work files.
    req, res = generate(tmp_path / "in", seed=5, count=80)
    out = tmp_path / "out"
    plan = jk.prepare(req, res, out, 2, jk.want(True, True, True, False), {})
    os.remove(req[-1])
    with pytest.raises(OSError):
        jk.run_local(plan)
    assert os.listdir(out) == []


def test_a_failed_request_file_commits_no_output(tmp_path, monkeypatch):
    # Step 4 fails on the last request file after the others wrote theirs: none is left.
    req, res = generate(tmp_path / "in", seed=6, count=80)
    out = tmp_path / "out"
    plan = jk.prepare(req, res, out, 2, jk.want(True, True, True, True), {})
    real = jk.join_file

    def failing(plan, f, *a):
        if f == len(req) - 1:
            raise batchkit.OutputError("disk full", code="io")
        return real(plan, f, *a)

    monkeypatch.setattr(jk, "join_file", failing)
    with pytest.raises(batchkit.OutputError):
        jk.run_local(plan)
    assert os.listdir(out) == []
