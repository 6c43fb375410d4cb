"""``dupes`` as key rows (batchkit._dupes_keys) against the single run: one file task per
input, the rows dealt by part in plain Python, one part task per part, assembled: the same
records in the same order, file records, summary and exit code as ``batchkit.dupes``."""

import json
import os
import random
import sys
from pathlib import Path

import pytest

import batchkit
from batchkit import _dupes_keys as keys
from batchkit import _native

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parts_data import generate  # noqa: E402


def run_keys(paths, n, opts=None, seed=0):
    """file_task per input, rows dealt by part (blobs shuffled), part_task per part,
    assemble (file outputs shuffled too)."""
    g = random.Random(seed)
    outs = [keys.file_task(p, i, n, opts) for i, p in enumerate(paths)]
    names = [o["file"]["file"] for o in outs]
    by_part = {}
    for o in outs:
        for k, blob in o["rows"]:
            assert 0 <= k < n
            by_part.setdefault(k, []).append(blob)
    parts = []
    for k in range(n):
        blobs = by_part.get(k, [])
        g.shuffle(blobs)
        parts.append(keys.part_task(blobs, names, opts))
    g.shuffle(outs)
    g.shuffle(parts)
    return keys.assemble(outs, parts)


def cli_records(paths, *flags):
    """The records `batchkit --format json dupes` prints, in order, and its exit code."""
    run = _native.start(batchkit._GLOBAL + list(flags) + ["dupes", "--"] + list(paths))
    lines = []
    while True:
        got = run.next_lines()
        if got is None:
            break
        lines += got
    code, _, _ = run.finish()
    return [json.loads(line) for line in lines], code


def has_pyarrow():
    try:
        import pyarrow  # noqa: F401

        return True
    except ImportError:
        return False


@pytest.mark.parametrize("n", [1, 4, 7])
def test_key_rows_by_part_are_the_single_run(tmp_path, n):
    req, res = generate(tmp_path / "in", seed=n)
    paths = req + res
    if has_pyarrow():
        assert any(p.endswith(".zst") for p in req)
    whole = batchkit.dupes(paths)
    want = list(whole)
    got = run_keys(paths, n, seed=n)
    assert got.duplicates == want
    assert any(d["custom_id"] == "A7" for d in want)
    # A7 is written once as \u00417: the same id only once decoded.
    a7 = next(d for d in want if d["custom_id"] == "A7")
    assert [Path(f).name for f in a7["files"][:2]] == ["req-0.jsonl", "req-2.jsonl"]
    assert got.files == whole.files
    assert got.other == whole.other + whole.errors
    assert got.summary == whole.summary
    assert got.exit_code == whole.exit_code == 1
    assert whole.summary["without_id"] > 0 and whole.summary["duplicate_ids"] > 0
    records, code = cli_records(paths)
    assert got.records() == records
    assert code == got.exit_code


def test_findings_errors_and_lines_not_read(tmp_path):
    # Over MAX_PROBLEMS lines without an id across two files, a line over
    # --max-line-bytes, a file that cannot be read, an id repeated across files.
    a = tmp_path / "a.jsonl"
    b = tmp_path / "b.jsonl"
    a.write_text("".join('{"custom_id":"x%d"}\n{"nope":1}\n' % i for i in range(70)))
    big = '{"custom_id":"%s"}' % ("y" * 400)
    b.write_text(
        '{"custom_id":"x3"}\n'
        + "".join("[%d]\n" % i for i in range(60))
        + big
        + "\n\r\n"
        + '{"custom_id":"x3"}\r\n'
    )
    missing = tmp_path / "missing.jsonl"
    paths = [str(a), str(missing), str(b)]
    opts = {"max_line_bytes": 300}
    records, code = cli_records(paths, "--max-line-bytes", "300")
    got = run_keys(paths, 3, opts)
    assert got.records() == records
    assert got.exit_code == code == 2
    assert len([r for r in records if r.get("code") in ("missing_field", "not_object")]) == 100
    assert got.summary["error"]["file"] == str(missing)
    assert got.summary["too_large_lines"] == 1
    assert [d["custom_id"] for d in got.duplicates] == ["x3"]
    assert got.duplicates[0]["lines"] == [7, 1, 64]


def test_key_row_bytes(tmp_path, capsys):
    # 24 bytes and the decoded id per line with an id, nothing for the other lines.
    req, _ = generate(tmp_path / "in", seed=3, count=3000)
    plain = [p for p in req if not p.endswith(".zst")]
    rows = lines = id_bytes = ids = 0
    for i, p in enumerate(plain):
        out = keys.file_task(p, i, 4)
        rows += sum(len(b) for _, b in out["rows"])
        lines += out["file"]["lines"]
        text = Path(p).read_bytes().decode()
        for line in text.splitlines():
            try:
                id = json.loads(line).get("custom_id")
            except (ValueError, AttributeError):
                continue
            if isinstance(id, str):
                ids += 1
                id_bytes += len(id.encode())
    assert ids > 0
    assert rows == 24 * ids + id_bytes
    with capsys.disabled():
        print(
            "\nkey rows: %d bytes for %d lines (%d with an id): %.1f bytes per line"
            % (rows, lines, ids, rows / lines)
        )


def test_bad_input_to_the_steps(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_text('{"custom_id":"a"}\n')
    with pytest.raises(ValueError):
        keys.file_task(str(p), 0, 2, {"provider": "no-such-provider"})
    with pytest.raises(ValueError):
        keys.file_task(str(p), 0, 2, {"max_line_bytes": "lots"})
    with pytest.raises(OSError):
        keys.file_task(str(p), 0, 0)
    with pytest.raises(OSError):
        keys.part_task([b"\x05\x00\x00\x00ab"], ["a.jsonl"])
    blob = keys.file_task(str(p), 0, 1)["rows"][0][1]
    with pytest.raises(OSError, match="twice"):
        keys.part_task([blob, blob], ["a.jsonl"])


@pytest.mark.parametrize("n", [1, 4])
def test_the_steps_as_rows_are_the_single_run(tmp_path, n):
    # The rows an engine moves (file_rows, part_rows grouped by part, finish), in process.
    from parts_data import assert_same_dupes

    req, _ = generate(tmp_path / "in", seed=40 + n)
    assert_same_dupes(batchkit.dupes(req), keys.run_local(req, n, {}))
