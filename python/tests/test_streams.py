"""Binary file objects as inputs (read in chunks through a pipe, named by ``name=``), and
``partition=``: the same records as the paths and the whole run."""

import io
import json
import os
import socket
from collections import Counter
from pathlib import Path

import pytest

import batchkit

ROOT = Path(os.environ.get("BATCHKIT_ROOT", Path(__file__).resolve().parents[2]))
FIX = Path(os.environ.get("BATCHKIT_FIXTURES", ROOT / "fixtures"))


def fx(rel):
    return str(FIX / rel)


def data(rel):
    return Path(fx(rel)).read_bytes()


class Reads(io.RawIOBase):
    """A stream that records the size of every read asked of it."""

    def __init__(self, payload, fail_after=None):
        self._b = io.BytesIO(payload)
        self.asked = []
        self.fail_after = fail_after
        self.name = 12  # not a str: the name falls back to "<stream>"

    def read(self, n=-1):
        self.asked.append(n)
        if self.fail_after is not None and self._b.tell() >= self.fail_after:
            raise OSError("connection reset")
        return self._b.read(n)

    def readable(self):
        return True


@pytest.mark.parametrize(
    "rel", ["validate/openai-faulty.jsonl", "bedrock/faulty.jsonl", "xai/mixed.jsonl"]
)
def test_validate_and_dupes_of_a_file_object_are_those_of_its_path(rel):
    path = fx(rel)
    want = batchkit.validate(path)
    got = batchkit.validate(io.BytesIO(data(rel)), name=path)
    assert list(got) == list(want) and got.summary == want.summary
    assert got.exit_code == want.exit_code
    want = batchkit.dupes(path)
    with open(path, "rb") as f:  # a real file: named by its own name
        got = batchkit.dupes(f)
        assert list(got) == list(want) and got.summary == want.summary


def test_names_of_several_objects_and_pairs():
    a, b = data("validate/openai-valid.jsonl"), data("validate/openai-valid.jsonl")
    found = batchkit.dupes([(io.BytesIO(a), "s3://bucket/a.jsonl"), io.BytesIO(b)])
    dups = list(found)
    assert dups and all(d["files"] == ["s3://bucket/a.jsonl", "<stream>"] for d in dups)
    assert found.summary["files"] == 2
    assert [f["file"] for f in found.files] == ["s3://bucket/a.jsonl", "<stream>"]
    found = batchkit.validate([io.BytesIO(a), io.BytesIO(b)], name=["x", "y"])
    assert found.wait() == []
    assert [f["file"] for f in found.files] == ["x", "y"]
    assert found.summary["files"] == 2


def test_join_of_file_objects_writes_what_the_paths_write(tmp_path):
    req = fx("join/openai_requests.jsonl")
    res = [fx("join/openai_output.jsonl"), fx("join/openai_errors.jsonl")]
    outs = {}
    for tag, requests, results in [
        ("paths", req, res),
        (
            "objects",
            (io.BytesIO(Path(req).read_bytes()), req),
            [(io.BytesIO(Path(r).read_bytes()), r) for r in res],
        ),
    ]:
        d = tmp_path / tag
        d.mkdir()
        s = batchkit.join(
            requests, results, d / "m.jsonl", retry=d / "r.jsonl", orphans=d / "o.jsonl"
        )
        outs[tag] = (s, [(d / f).read_bytes() for f in ["m.jsonl", "r.jsonl", "o.jsonl"]])
    assert outs["paths"] == outs["objects"]


def test_objects_are_read_in_bounded_chunks_and_not_closed():
    line = b'{"custom_id":"r%d","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o-mini","messages":[{"role":"user","content":"%s"}]}}\n'
    payload = b"".join(line % (i, b"x" * 200) for i in range(30000))
    assert len(payload) > 6 << 20
    s = Reads(payload)
    found = batchkit.dupes(s)
    assert list(found) == [] and found.summary["ids"] == 30000
    assert max(s.asked) <= 1 << 20 and len(s.asked) > 6
    assert not s.closed


def test_a_failing_object_raises_with_its_name():
    payload = data("validate/openai-valid.jsonl") * 2000
    with pytest.raises(batchkit.InputError) as e:
        list(batchkit.validate(Reads(payload, fail_after=1 << 20), name="gs://b/k.jsonl"))
    assert e.value.file == "gs://b/k.jsonl" and "connection reset" in str(e.value)


def test_partition_kwarg_parts_add_up_to_the_whole(tmp_path):
    paths = [fx("validate/openai-valid.jsonl"), fx("validate/openai-faulty.jsonl")]
    paths.append(fx("validate/openai-valid.jsonl"))
    whole = batchkit.dupes(paths)
    want = sorted(json.dumps(d, sort_keys=True) for d in whole)
    got, lines, ids = [], 0, 0
    for k in range(4):
        part = batchkit.dupes(paths, partition=(k, 4) if k % 2 else f"{k}/4")
        got += [json.dumps(d, sort_keys=True) for d in part]
        lines += part.summary["lines"]
        ids += part.summary["ids"]
    assert sorted(got) == want
    for k in range(4):
        for d in batchkit.dupes(paths, partition=(k, 4)):
            assert batchkit._native.part_of(d["custom_id"], 4) == k
    assert (lines, ids) == (whole.summary["lines"], whole.summary["ids"])
    with pytest.raises(batchkit.UsageError):
        list(batchkit.dupes(paths, partition="4/4"))
    req = fx("join/openai_requests.jsonl")
    res = [fx("join/openai_output.jsonl"), fx("join/openai_errors.jsonl")]
    whole = batchkit.join(req, res, tmp_path / "m.jsonl")
    parts = [batchkit.join(req, res, tmp_path / f"m{k}.jsonl", partition=(k, 3)) for k in range(3)]
    for key in ["requests", "succeeded", "errored", "missing", "results", "orphans", "duplicates"]:
        assert sum(p[key] for p in parts) == whole[key], key
    merged = Counter()
    for k in range(3):
        merged.update((tmp_path / f"m{k}.jsonl").read_bytes().splitlines())
    assert merged == Counter((tmp_path / "m.jsonl").read_bytes().splitlines())


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_s3_object_streamed_from_a_local_moto_server(tmp_path):
    server_mod = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    port = _free_port()
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        url = f"http://127.0.0.1:{port}"
        s3 = boto3.client(
            "s3",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        s3.create_bucket(Bucket="batches")
        path = fx("validate/openai-faulty.jsonl")
        s3.put_object(Bucket="batches", Key="in/faulty.jsonl", Body=Path(path).read_bytes())
        body = s3.get_object(Bucket="batches", Key="in/faulty.jsonl")["Body"]
        got = batchkit.validate(body, name="s3://batches/in/faulty.jsonl")
        want = batchkit.validate(path)
        findings = list(got)
        assert [f["file"] for f in findings] == ["s3://batches/in/faulty.jsonl"] * len(findings)
        assert [dict(f, file=None) for f in findings] == [dict(f, file=None) for f in want]
        try:
            from pyarrow import fs
        except ImportError:
            return
        s3fs = fs.S3FileSystem(
            access_key="test",
            secret_key="test",
            endpoint_override=f"127.0.0.1:{port}",
            scheme="http",
            region="us-east-1",
        )
        with s3fs.open_input_stream("batches/in/faulty.jsonl") as f:
            again = list(batchkit.validate(f, name="s3://batches/in/faulty.jsonl"))
        assert again == findings
    finally:
        server.stop()
