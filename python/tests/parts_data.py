"""Generated shards for the tests of batchkit.ray and batchkit.spark, and the comparisons
with the single-process functions."""

import json
import math
import random
from pathlib import Path

KINDS = ("merged", "retry", "rejects")
RESULT_KINDS = ("orphans", "duplicates")


def _lit(id, escape):
    if escape:
        return '"\\u%04x%s"' % (ord(id[0]), id[1:])
    return json.dumps(id)


def _request(lit, q):
    return (
        '{"custom_id":%s,"method":"POST","url":"/v1/chat/completions","body":{"model":'
        '"gpt-4o-mini","messages":[{"role":"user","content":"q%d"}]}}' % (lit, q)
    )


def _result(lit, kind, k):
    if kind == 0:
        return '{"custom_id":%s,"response":{"status_code":500,"body":{}},"error":null}' % lit
    if kind == 1:
        return '{"custom_id":%s,"response":null,"error":{"code":"batch_expired","message":"m"}}' % lit
    reason = "length" if kind == 2 else "stop"
    return (
        '{"custom_id":%s,"response":{"status_code":200,"body":{"model":"gpt-4o-mini",'
        '"choices":[{"message":{"content":"a%d"},"finish_reason":"%s"}],"usage":'
        '{"prompt_tokens":5,"completion_tokens":%d}}},"error":null}' % (lit, k, reason, k % 7 + 1)
    )


ODD = [
    "{not json",
    "[1,2]",
    '{"body":{}}',
    '{"custom_id":5,"body":{}}',
    "",
    '{"custom_id":"nobody-body","method":"POST","url":"/v1/chat/completions"}',
]


def _zstd(data):
    try:
        import pyarrow as pa

        return pa.compress(data, codec="zstd", asbytes=True)
    except Exception:  # noqa: BLE001 - no codec here: the shard stays plain
        return None


def generate(d, seed, count=600):
    """Four request shards (one zstd when pyarrow is there, one with CRLF) and three result
    files: ids repeated across shards (A7 once only as \\u00417), odd lines, several results
    for some ids, orphans, result lines without an id."""
    g = random.Random(seed)
    d = Path(d)
    d.mkdir(parents=True)
    shards = [[] for _ in range(4)]
    ids = []
    for i in range(count):
        s = g.randrange(4)
        if g.randrange(12) == 0:
            shards[s].append(g.choice(ODD))
            continue
        id = "r%d" % g.randrange(count * 3 // 4)
        shards[s].append(_request(_lit(id, g.randrange(5) == 0), i))
        ids.append(id)
    shards[0].append(_request(_lit("A7", False), 1))
    shards[2].append(_request(_lit("A7", True), 2))
    ids.append("A7")
    results = [[] for _ in range(3)]
    for k, id in enumerate(ids):
        for _ in range(g.randrange(3)):
            results[g.randrange(3)].append(_result(_lit(id, g.randrange(4) == 0), g.randrange(5), k))
    for k in range(15):
        results[g.randrange(3)].append(_result(_lit("orphan%d" % k, False), 3, k))
    results[1].append('{"response":null,"error":null}')
    results[2] += ["garbage", ""]
    for r in results:
        g.shuffle(r)
    req = []
    for i, lines in enumerate(shards):
        nl = "\r\n" if i == 3 else "\n"
        data = (nl.join(lines) + nl).encode()
        name = "req-%d.jsonl" % i
        if i == 1:
            z = _zstd(data)
            if z is not None:
                data, name = z, name + ".zst"
        p = d / name
        p.write_bytes(data)
        req.append(str(p))
    res = []
    for i, lines in enumerate(results):
        p = d / ("res-%d.jsonl" % i)
        p.write_text("\n".join(lines) + "\n")
        res.append(str(p))
    return req, res


def _close(a, b, at="summary"):
    if isinstance(a, dict):
        keys = sorted(k for k in a if k not in ("spilled", "partitions"))
        assert keys == sorted(k for k in b if k not in ("spilled", "partitions")), at
        for k in keys:
            _close(a[k], b[k], at + "." + k)
    elif isinstance(a, list):
        assert len(a) == len(b), at
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, "%s[%d]" % (at, i))
    elif isinstance(a, float) or isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9), (at, a, b)
    else:
        assert a == b, (at, a, b)


def _key(r):
    return json.dumps(r, sort_keys=True)


def assert_same_dupes(whole, got):
    """A distributed run's result against batchkit.dupes' Findings on the same files: the
    duplicate records in the same order, the other records, file records, summary and exit
    code."""
    want = [_key(d) for d in whole]
    assert [_key(d) for d in got.duplicates] == want
    assert any(d["custom_id"] == "A7" for d in got.duplicates)
    assert sorted(_key(r) for r in got.other) == sorted(_key(r) for r in whole.other + whole.errors)
    assert [_key(f) for f in got.files] == [_key(f) for f in whole.files]
    _close(got.summary, whole.summary)
    assert got.exit_code == whole.exit_code


def assert_same_join(want, summary, single, out, nfiles, nresults=None):
    """A distributed run's summary and files against batchkit.join's: per request file
    merged, retry and rejects, per result file orphans and duplicates (those the single
    run wrote), concatenated in order, equal the single run's bytes."""
    _close(summary, want)
    assert want["duplicates"] > 0 and want["orphans"] > 0 and want["invalid_requests"] > 0
    names = sorted(p.name for p in Path(out).iterdir() if p.is_file())
    assert not (Path(out) / ".parts").exists(), "work files are removed"
    for kind in KINDS + RESULT_KINDS:
        files = [n for n in names if n.endswith("." + kind + ".jsonl")]
        if not (Path(single) / (kind + ".jsonl")).exists():
            assert not files, (kind, names)
            continue
        assert len(files) == (nfiles if kind in KINDS else nresults), (kind, names)
        joined = b"".join((Path(out) / f).read_bytes() for f in files)
        assert joined == (Path(single) / (kind + ".jsonl")).read_bytes(), kind
