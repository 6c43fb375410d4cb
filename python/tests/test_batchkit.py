"""The Python module against the CLI: every function on the fixtures gives the records of
`batchkit --format json` for the same input, and writes the same files."""

import doctest
import filecmp
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import batchkit

ROOT = Path(os.environ.get("BATCHKIT_ROOT", Path(__file__).resolve().parents[2]))
FIX = Path(os.environ.get("BATCHKIT_FIXTURES", ROOT / "fixtures"))
CLI = os.environ.get("BATCHKIT_CLI", "batchkit")
GLOBAL = ["--format", "json", "--progress", "never", "--color", "never"]


def cli(*args, cwd=None):
    """(exit code, records) of the CLI binary."""
    p = subprocess.run(
        [CLI, *GLOBAL, *map(str, args)], capture_output=True, text=True, cwd=cwd
    )
    return p.returncode, [json.loads(line) for line in p.stdout.splitlines()]


def of(records, kind):
    return [r for r in records if r["type"] == kind]


def fx(rel):
    return str(FIX / rel)


VALIDATE_CASES = [
    (["validate/openai-faulty.jsonl"], "auto"),
    (["validate/openai-valid.jsonl"], "openai"),
    (["bedrock/faulty.jsonl"], "auto"),
    (["xai/mixed.jsonl"], "openai"),
    (["real/openai-trailing-blank.jsonl", "real/groq-mixed.jsonl"], "auto"),
    (["validate/openai-valid.jsonl", "validate/openai-faulty.jsonl"], "openai"),
]


@pytest.mark.parametrize("files,provider", VALIDATE_CASES)
def test_validate_matches_cli(files, provider):
    paths = [fx(f) for f in files]
    code, records = cli("validate", "--provider", provider, *paths)
    found = batchkit.validate(paths, provider=provider)
    assert list(found) == of(records, "diagnostic")
    assert found.summary == of(records, "summary")[-1]
    assert found.exit_code == code
    assert found.ok == (code == 0)


def test_validate_one_path_and_pathlib():
    path = FIX / "validate" / "openai-faulty.jsonl"
    assert list(batchkit.validate(path)) == list(batchkit.validate([str(path)]))


def test_validate_max_errors_and_repr():
    found = batchkit.validate(fx("validate/openai-faulty.jsonl"), max_errors=3)
    text = repr(found)
    assert text.startswith("Findings(command='validate'")
    assert len(list(found)) == 3
    assert found.summary["errors"] == 16


def test_validate_stops_early():
    found = batchkit.validate(fx("validate/openai-faulty.jsonl"))
    assert next(found)["line"] == 2
    del found  # the job stops; nothing hangs


@pytest.mark.parametrize(
    "files",
    [
        ["bedrock/faulty.jsonl"],
        ["bedrock/faulty.jsonl", "validate/openai-faulty.jsonl"],
        ["validate/openai-valid.jsonl"],
    ],
)
def test_dupes_matches_cli(files):
    paths = [fx(f) for f in files]
    code, records = cli("dupes", *paths)
    found = batchkit.dupes(paths)
    assert list(found) == of(records, "duplicate")
    assert found.summary == records[-1]
    assert found.exit_code == code


def test_dupes_write_unique_same_file(tmp_path):
    src = fx("validate/openai-faulty.jsonl")
    cli("dupes", src, "--write-unique", tmp_path / "cli.jsonl")
    found = batchkit.dupes(src, write_unique=tmp_path / "py.jsonl")
    list(found)
    assert filecmp.cmp(tmp_path / "cli.jsonl", tmp_path / "py.jsonl", shallow=False)
    assert found.summary["unique_lines"] is not None


@pytest.mark.parametrize(
    "files,extra",
    [
        (["tokens/chat.jsonl"], {}),
        (["tokens/embeddings.jsonl", "tokens/rules.jsonl"], {}),
        (["tokens/messy.jsonl"], {}),
        (["bedrock/requests.jsonl"], {"model": "claude-3-5-sonnet"}),
        (["tokens/chat.jsonl"], {"pricing": "tokens/pricing.toml"}),
        (
            ["tokens/chat.jsonl"],
            {"target": ["anthropic/claude-haiku-4-5", "openai/gpt-4.1-mini"]},
        ),
    ],
)
def test_tokens_matches_cli(files, extra):
    paths = [fx(f) for f in files]
    flags = []
    kwargs = {}
    if "model" in extra:
        flags += ["--model", extra["model"]]
        kwargs["model"] = extra["model"]
    if "pricing" in extra:
        flags += ["--pricing", fx(extra["pricing"])]
        kwargs["pricing"] = fx(extra["pricing"])
    if "target" in extra:
        for t in extra["target"]:
            flags += ["--target", t]
        kwargs["target"] = extra["target"]
    _, records = cli("tokens", *flags, *paths)
    assert batchkit.tokens(paths, **kwargs) == records[-1]
    _, records = cli("tokens", "--per-request", *flags, *paths)
    summary, requests = batchkit.tokens(paths, per_request=True, **kwargs)
    assert summary == records[-1]
    assert requests == of(records, "request")
    assert requests


def tree(d):
    return sorted(p.relative_to(d).as_posix() for p in Path(d).rglob("*"))


@pytest.mark.parametrize(
    "src,kwargs,flags",
    [
        ("validate/openai-valid.jsonl", {"max_requests": 2}, ["--max-requests", "2"]),
        (
            "xai/mixed.jsonl",
            {"provider": "xai", "split_by": "model", "max_bytes": "1KB"},
            ["--provider", "xai", "--split-by", "model", "--max-bytes", "1KB"],
        ),
        (
            "shard/mixed-crlf.jsonl",
            {"skip_invalid": True, "compress": True, "stem": "part"},
            ["--skip-invalid", "--compress", "--stem", "part"],
        ),
    ],
)
def test_shard_matches_cli(tmp_path, src, kwargs, flags):
    a, b = tmp_path / "cli", tmp_path / "py"
    code, records = cli("shard", fx(src), "--out-dir", a, *flags)
    summary = batchkit.shard(fx(src), b, **kwargs)
    expected = dict(records[-1], out_dir=str(b))
    assert summary == expected
    assert tree(a) == tree(b) and tree(a)
    for name in tree(a):
        if name != "manifest.json":
            assert filecmp.cmp(a / name, b / name, shallow=False), name
    ma = json.loads((a / "manifest.json").read_text())
    mb = json.loads((b / "manifest.json").read_text())
    assert [s.get("sha256") for s in ma["shards"]] == [s.get("sha256") for s in mb["shards"]]
    assert (code == 0) == summary["ok"]


def test_shard_refuses_invalid_lines(tmp_path):
    src = fx("shard/mixed-crlf.jsonl")
    _, records = cli("shard", src, "--out-dir", tmp_path / "cli")
    with pytest.raises(batchkit.RefusedError) as e:
        batchkit.shard(src, tmp_path / "py")
    assert (e.value.code, e.value.file, e.value.line) == ("invalid_lines", src, 3)
    assert e.value.findings == of(records, "diagnostic")
    assert e.value.summary == dict(records[-1], out_dir=str(tmp_path / "py"))
    assert not (tmp_path / "py").exists() or not any((tmp_path / "py").iterdir())


def test_shard_line_over_cap(tmp_path):
    with pytest.raises(batchkit.JobError) as e:
        batchkit.shard(fx("validate/openai-valid.jsonl"), tmp_path, max_bytes=10)
    assert e.value.code == "line_over_cap"
    assert (e.value.file, e.value.line) == (fx("validate/openai-valid.jsonl"), 1)


def test_shard_not_empty(tmp_path):
    (tmp_path / "x").write_text("x")
    with pytest.raises(batchkit.OutputError) as e:
        batchkit.shard(fx("validate/openai-valid.jsonl"), tmp_path)
    assert e.value.code == "not_empty"
    assert e.value.file == str(tmp_path)


JOIN_CASES = [
    ("join/openai_requests.jsonl", ["join/openai_output.jsonl", "join/openai_errors.jsonl"]),
    ("join/anthropic_requests.jsonl", ["join/anthropic_results.jsonl"]),
    ("join/gemini_requests.jsonl", ["join/gemini_results.jsonl"]),
    ("join/vertex_requests.jsonl", ["join/vertex_predictions.jsonl"]),
    ("bedrock/requests.jsonl", ["bedrock/requests.jsonl.out"]),
]


@pytest.mark.parametrize("requests,results", JOIN_CASES)
def test_join_matches_cli(tmp_path, requests, results):
    outs = {}
    for side in ("cli", "py"):
        d = tmp_path / side
        d.mkdir()
        outs[side] = d
    files = ["merged.jsonl", "retry.jsonl", "orphans.jsonl"]
    code, records = cli(
        "join",
        "--requests",
        fx(requests),
        "--results",
        *[fx(r) for r in results],
        "--out",
        outs["cli"] / files[0],
        "--retry",
        outs["cli"] / files[1],
        "--orphans",
        outs["cli"] / files[2],
    )
    d = outs["py"]
    summary = batchkit.join(
        fx(requests),
        [fx(r) for r in results],
        d / files[0],
        retry=d / files[1],
        orphans=d / files[2],
    )
    assert summary == records[-1]
    assert summary["ok"] == (code == 0)
    for name in files:
        a, b = outs["cli"] / name, d / name
        assert a.exists() == b.exists(), name
        if a.exists():
            assert filecmp.cmp(a, b, shallow=False), name


def test_join_retry_on(tmp_path):
    req = fx("join/answers/openai_requests.jsonl")
    res = fx("join/answers/openai_results.jsonl")
    s = batchkit.join(req, res, tmp_path / "m.jsonl", retry=tmp_path / "r.jsonl")
    assert (s["succeeded"], s["truncated"], s["refused"], s["to_retry"]) == (1, 1, 2, 1)
    assert s["models"][0]["stop_reasons"] == {"content_filter": 1, "length": 1, "stop": 2}
    s = batchkit.join(
        req,
        res,
        tmp_path / "m2.jsonl",
        retry=tmp_path / "r2.jsonl",
        retry_on=["truncated", "refused"],
    )
    assert s["to_retry"] == 3
    assert len((tmp_path / "r2.jsonl").read_text().splitlines()) == 3


def test_join_answer_checks(tmp_path):
    req = tmp_path / "req.jsonl"
    res = tmp_path / "res.jsonl"
    lines, results = [], []
    for i, content in enumerate(['{"k": 1}', "prose", "[1]"]):
        body = {"model": "gpt-4o-mini", "messages": []}
        lines.append(json.dumps({"custom_id": f"r{i}", "method": "POST",
                                 "url": "/v1/chat/completions", "body": body}))
        choice = {"index": 0, "message": {"role": "assistant", "content": content},
                  "finish_reason": "stop"}
        results.append(json.dumps({"custom_id": f"r{i}", "response": {
            "status_code": 200, "body": {"model": "gpt-4o-mini", "choices": [choice]}},
            "error": None}))
    req.write_text("\n".join(lines) + "\n")
    res.write_text("\n".join(results) + "\n")
    s = batchkit.join(req, res, tmp_path / "m.jsonl")
    assert (s["succeeded"], s["invalid_answer"], s["answers_checked"]) == (3, 0, 0)
    s = batchkit.join(req, res, tmp_path / "m.jsonl", expect_json=True)
    assert (s["succeeded"], s["invalid_answer"]) == (2, 1)
    schema = tmp_path / "s.json"
    schema.write_text('{"type": "object", "required": ["k"]}')
    s = batchkit.join(req, res, tmp_path / "m.jsonl", answer_schema=schema)
    assert (s["succeeded"], s["invalid_answer"], s["answers_checked"]) == (1, 2, 3)
    merged = [json.loads(x) for x in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert merged[1]["answer_problem"]["message"].startswith("not JSON")
    assert merged[2]["answer_problem"]["pointer"] == ""


def test_join_raise_max_tokens(tmp_path):
    req = fx("join/answers/openai_requests.jsonl")
    res = fx("join/answers/openai_results.jsonl")
    s = batchkit.join(req, res, tmp_path / "m.jsonl", retry=tmp_path / "r.jsonl", raise_max_tokens=1.5)
    assert (s["to_retry"], s["raised"], s["raise_unchanged"]) == (1, 1, 0)
    # Only the truncated request is retried, its cap 200 now 300, the rest of the line as it was.
    with open(req, "rb") as f:
        cut = [l for l in f.read().splitlines(keepends=True) if b'"custom_id":"cut"' in l][0]
    want = cut.replace(b'"max_completion_tokens":200}', b'"max_completion_tokens":300}')
    assert want != cut
    assert (tmp_path / "r.jsonl").read_bytes() == want
    # At gpt-4o-mini's limit (16,384) the line goes to the retry file unchanged, counted.
    s = batchkit.join(req, res, tmp_path / "m.jsonl", retry=tmp_path / "r.jsonl", raise_max_tokens=1000)
    assert s["raised"] == 1
    again = tmp_path / "again.jsonl"
    again.write_bytes((tmp_path / "r.jsonl").read_bytes())
    s = batchkit.join(again, res, tmp_path / "m.jsonl", retry=tmp_path / "r.jsonl", raise_max_tokens=2)
    assert (s["raised"], s["raise_unchanged"]) == (0, 1)
    assert (tmp_path / "r.jsonl").read_bytes() == again.read_bytes()
    with pytest.raises(batchkit.Error):
        batchkit.join(req, res, tmp_path / "m.jsonl", retry=tmp_path / "r.jsonl", raise_max_tokens=1)


def test_join_output_is_input():
    src = fx("join/openai_requests.jsonl")
    with pytest.raises(batchkit.OutputError) as e:
        batchkit.join(src, fx("join/openai_output.jsonl"), src)
    assert e.value.code == "output_clash"
    assert e.value.file == src


def test_unreadable_input_raises(tmp_path):
    missing = str(tmp_path / "missing.jsonl")
    with pytest.raises(batchkit.InputError) as e:
        batchkit.tokens(missing)
    assert (e.value.code, e.value.file, e.value.line) == ("unreadable", missing, None)
    # validate reports the files it could read, then raises
    found = batchkit.validate([fx("validate/openai-faulty.jsonl"), missing])
    seen = []
    with pytest.raises(batchkit.InputError) as e:
        for f in found:
            seen.append(f)
    assert len(seen) == 16 and e.value.file == missing
    assert isinstance(e.value, batchkit.Error)
    with pytest.raises(batchkit.InputError):
        list(batchkit.dupes(missing))


def test_usage_error():
    with pytest.raises(batchkit.UsageError) as e:
        batchkit.validate(fx("validate/openai-valid.jsonl"), memory_limit="lots").wait()
    assert e.value.code == "usage" and "--memory-limit" in e.value.message
    with pytest.raises(batchkit.UsageError):
        batchkit.shard(fx("validate/openai-valid.jsonl"), "x", split_by="colour")


def test_run_matches_cli():
    code, records = cli("validate", fx("validate/openai-faulty.jsonl"))
    done = batchkit.run("validate", fx("validate/openai-faulty.jsonl"))
    assert (done.exit_code, done.records) == (code, records)
    assert batchkit.run("tokens", "missing.jsonl").exit_code == 2


def test_console_script_is_the_cli(tmp_path):
    exe = Path(sys.executable).parent / "batchkit"
    assert exe.exists()
    args = [*GLOBAL, "validate", fx("validate/openai-faulty.jsonl")]
    a = subprocess.run([CLI, *args], capture_output=True)
    b = subprocess.run([str(exe), *args], capture_output=True)
    assert (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr)
    v = subprocess.run([str(exe), "--version"], capture_output=True, text=True)
    assert v.stdout.strip() == f"batchkit {batchkit.__version__}"
    m = subprocess.run([sys.executable, "-m", "batchkit", "--help"], capture_output=True)
    assert m.returncode == 0 and b"validate" in m.stdout


def test_ctrl_c_raises_keyboard_interrupt_and_stops_the_job(tmp_path):
    """A run reading a pipe that never ends: SIGINT raises KeyboardInterrupt in the
    caller, and the job stops at its next read."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    stop = threading.Event()

    def feed():
        line = (FIX / "validate" / "openai-valid.jsonl").read_bytes().splitlines()[0]
        try:
            with open(fifo, "wb") as f:
                while not stop.is_set():
                    f.write(line.replace(b"request-1", b"x") + b"\n")
                    f.flush()
                    time.sleep(0.005)
        except BrokenPipeError:
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
    found = batchkit.validate(str(fifo))
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        for _ in found:  # duplicate_id findings stream in
            pass
    assert time.monotonic() - t0 < 5
    code, failure, _ = found._run._native.finish()
    stop.set()
    assert code in (1, 2)
    if code == 2:
        assert failure["code"] == "interrupted"


def test_docstring_examples(monkeypatch):
    monkeypatch.chdir(ROOT)
    r = doctest.testmod(batchkit, extraglobs={"batchkit": batchkit}, verbose=False)
    assert r.attempted > 10
    assert r.failed == 0


def test_readme_python_examples(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    text = (ROOT / "README.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    assert "unreadable missing.jsonl None" in capsys.readouterr().out


def test_compare_matches_cli(tmp_path):
    a = fx("compare/openai_merged.jsonl")
    b = fx("compare/anthropic_merged.jsonl")
    code, records = cli("compare", a, b, "--fields", "/label,/confidence", "--out", tmp_path / "cli.jsonl")
    s = batchkit.compare(a, b, fields=["/label", "/confidence"], out=tmp_path / "py.jsonl")
    assert s == records[-1]
    assert code == 1 and s["ok"] is False
    # fixtures/README.md: 2 same, 2 json_equal, 2 differ, 1 only_a, 1 only_b.
    assert [s[k] for k in ("same", "json_equal", "differ", "only_a", "only_b")] == [2, 2, 2, 1, 1]
    assert [f["field"] for f in s["fields"]] == ["/label", "/confidence"]
    assert filecmp.cmp(tmp_path / "cli.jsonl", tmp_path / "py.jsonl", shallow=False)
    diffs = [json.loads(line) for line in (tmp_path / "py.jsonl").read_text().splitlines()]
    assert [d["custom_id"] for d in diffs] == ["review-3", "review-5", "review-7", "review-8"]


def test_compare_result_files_with_requests(tmp_path):
    res = fx("compare/openai_results.jsonl")
    s = batchkit.compare(res, res, requests=fx("compare/openai_requests.jsonl"))
    # Seven answers agree with themselves; review-8 was cut by the output cap on both sides.
    assert (s["same"], s["neither"], s["agreement"]) == (7, 1, 1.0)
    assert not [p for p in os.listdir(FIX / "compare") if p.startswith(".batchkit")]
    with pytest.raises(batchkit.Error) as e:
        batchkit.compare(res, res)
    assert "--requests" in str(e.value)


def test_convert_matches_cli(tmp_path):
    src = fx("convert/openai-chat.jsonl")
    code, records = cli("convert", src, "--to", "gemini", "--out", tmp_path / "cli.jsonl")
    s = batchkit.convert(src, "gemini", tmp_path / "py.jsonl")
    assert s == records[-1] and code == 0
    assert filecmp.cmp(tmp_path / "cli.jsonl", tmp_path / "py.jsonl", shallow=False)
    bad = fx("convert/openai-unconvertible.jsonl")
    s = batchkit.convert(bad, "anthropic", tmp_path / "a.jsonl", model="claude-haiku-4-5")
    assert (s["converted"], s["left_out"], s["ok"]) == (0, 3, False)
    s = batchkit.convert(bad, "anthropic", tmp_path / "a.jsonl", model_map={"gpt-4o-mini": "claude-haiku-4-5"},
                         lossy=True, id_map=tmp_path / "ids.jsonl")
    assert (s["converted"], s["ids_renamed"]) == (3, 1)
    assert json.loads((tmp_path / "ids.jsonl").read_text())["original"] == "order #42 / 2026"
    # The cache argument: Gemini caches on its own, the breakpoint is dropped and counted.
    s = batchkit.convert(fx("convert/anthropic.jsonl"), "gemini", tmp_path / "g.jsonl", cache="none")
    assert (s["converted"], s["breakpoints_dropped"], s["lines_cached"]) == (4, 1, 0)
