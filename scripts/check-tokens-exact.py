#!/usr/bin/env python3
"""Checks `batchkit tokens` against Python tiktoken, request by request.

usage: check-tokens-exact.py FILE [--bk BATCHKIT] [--dump DIR] [--max-report N]

Runs `batchkit --threads 1 --format json tokens --per-request --no-cache-plan FILE` and counts
every chat request of FILE with tiktoken by OpenAI's cookbook rule (3 per request, 3 per
message, every string field of a message with `encode_ordinary`, 1 more for `name`; text parts
of array content), the rule SPEC.md gives `tokens`. Any request whose count differs is a bug.
For each differing request it counts every string field alone (a one-message request per
field, through batchkit again) to name the field whose text is counted differently, and with
--dump writes that text to DIR/line-L-msg-M-FIELD.txt for a regression test.

tiktoken needs its encodings offline: TIKTOKEN_CACHE_DIR is filled from the copies batchkit
embeds (crates/batchkit-tokens/assets), under the SHA-1 of their download URL, unless it
already holds them. Exit 0 when every count agrees, 1 on a mismatch, 2 on a usage error.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ASSETS = os.path.join(HERE, "..", "crates", "batchkit-tokens", "assets")
URL = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"


def offline_cache():
    cache = os.environ.get("TIKTOKEN_CACHE_DIR")
    if not cache:
        cache = os.path.join(tempfile.gettempdir(), "batchkit-tiktoken-cache")
        os.environ["TIKTOKEN_CACHE_DIR"] = cache
    os.makedirs(cache, exist_ok=True)
    for enc in ("o200k_base", "cl100k_base"):
        key = hashlib.sha1(URL.format(enc).encode()).hexdigest()
        dest = os.path.join(cache, key)
        if not os.path.exists(dest) or os.path.getsize(dest) == 0:
            with open(os.path.join(ASSETS, enc + ".tiktoken"), "rb") as src:
                data = src.read()
            with open(dest + ".tmp", "wb") as out:
                out.write(data)
            os.replace(dest + ".tmp", dest)


def batchkit_counts(bk, path):
    """line number -> input_tokens, from batchkit's per-request events."""
    cmd = [bk, "--threads", "1", "--format", "json", "tokens", "--per-request",
           "--no-cache-plan", path]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, check=False)
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)}: exit {proc.returncode}")
    counts = {}
    for line in proc.stdout.splitlines():
        ev = json.loads(line)
        if ev.get("type") == "request":
            counts[ev["line"]] = ev.get("input_tokens")
    return counts


def fields(message):
    """(field name, text) of every counted string of a chat message."""
    for k, v in message.items():
        if isinstance(v, str):
            yield k, v
        elif k == "content" and isinstance(v, list):
            for i, part in enumerate(v):
                if part.get("type") == "text":
                    yield f"content[{i}]", part["text"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("--bk", default=os.environ.get("BK", "batchkit"))
    ap.add_argument("--dump", help="write the text of each differing field here")
    ap.add_argument("--max-report", type=int, default=20)
    a = ap.parse_args()

    offline_cache()
    import tiktoken

    encs = {}

    def encoding(model):
        if model not in encs:
            try:
                encs[model] = tiktoken.encoding_for_model(model)
            except KeyError:
                encs[model] = tiktoken.get_encoding("o200k_base")
        return encs[model]

    bk = batchkit_counts(a.bk, a.file)
    requests = mismatches = 0
    bad = []
    with open(a.file, encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            if not line.strip():
                continue
            body = json.loads(line)["body"]
            enc = encoding(body["model"])
            n = 3
            for m in body["messages"]:
                n += 3 + (1 if "name" in m else 0)
                n += sum(len(enc.encode_ordinary(t)) for _, t in fields(m))
            requests += 1
            if bk.get(no) != n:
                mismatches += 1
                if len(bad) < a.max_report:
                    bad.append((no, body, n, bk.get(no)))

    for no, body, want, got in bad:
        print(f"line {no}: tiktoken {want}, batchkit {got}")
        locate(a, no, body, encoding(body["model"]))
    print(f"{requests} requests, {mismatches} differ "
          f"(tiktoken {tiktoken.__version__}, {', '.join(sorted({e.name for e in encs.values()}))})")
    sys.exit(1 if mismatches else 0)


def locate(a, no, body, enc):
    """Counts each string field of request `no` alone, with both tokenizers."""
    texts = [(i, k, t) for i, m in enumerate(body["messages"]) for k, t in fields(m)]
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as tmp:
        for _, _, t in texts:
            req = {"custom_id": "x", "method": "POST", "url": "/v1/chat/completions",
                   "body": {"model": body["model"], "messages": [{"role": "user", "content": t}]}}
            tmp.write(json.dumps(req) + "\n")
    try:
        got = batchkit_counts(a.bk, tmp.name)
    finally:
        os.unlink(tmp.name)
    user = len(enc.encode_ordinary("user"))
    for line, (i, k, t) in enumerate(texts, 1):
        want = len(enc.encode_ordinary(t))
        have = got.get(line)
        have = None if have is None else have - 6 - user
        if have != want:
            print(f"  messages[{i}].{k}: tiktoken {want}, batchkit {have} ({len(t)} chars)")
            if a.dump:
                os.makedirs(a.dump, exist_ok=True)
                with open(os.path.join(a.dump, f"line-{no}-msg-{i}-{k}.txt"), "w",
                          encoding="utf-8") as out:
                    out.write(t)


main()
