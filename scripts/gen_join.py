#!/usr/bin/env python3
"""Generates the inputs of the `join` benchmark: OpenAI chat requests and their shuffled results.

    scripts/gen_join.py OUT_DIR [--request-bytes 1e9] [--seed 7]

Writes OUT_DIR/join-req.jsonl (chat requests of varied sizes, about --request-bytes), and
OUT_DIR/join-out.jsonl / join-err.jsonl, shuffled: ~90% succeeded and ~2% HTTP 400 with
"error": null in the output file, ~5% batch_expired in the error file, ~3% with no result.
Deterministic for a given seed.
"""

import argparse
import json
import os
import random

WORDS = (
    "the of and to in is you that it he was for on are as with his they at be this have from "
    "or one had by word but not what all were we when your can said there use an each which she "
    "do how their if will up other about out many then them these so some her would make like"
).split()


def text(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--request-bytes", type=float, default=1e9)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    rng = random.Random(a.seed)
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

    # A pool of message texts so generation stays fast; sizes vary from a few words to ~2 KB.
    pool = [text(rng, rng.choice([10, 40, 120, 300, 700])) for _ in range(2000)]
    answers = [text(rng, rng.choice([5, 40, 120, 300])) for _ in range(2000)]

    req_path = os.path.join(a.out_dir, "join-req.jsonl")
    fates = bytearray()
    written = 0
    with open(req_path, "w", encoding="utf-8") as f:
        i = 0
        while written < a.request_bytes:
            msgs = [{"role": "system", "content": "You are a helpful assistant."}]
            for _ in range(rng.choice([1, 1, 2, 3])):
                msgs.append({"role": "user", "content": pool[rng.randrange(len(pool))]})
            line = dumps(
                {
                    "custom_id": f"req-{i}",
                    "method": "POST",
                    "url": "/v1/chat/completions",
                    "body": {"model": "gpt-4o-mini", "messages": msgs, "max_tokens": rng.choice([64, 256, 1024])},
                }
            )
            f.write(line + "\n")
            written += len(line) + 1
            r = rng.random()
            fates.append(0 if r < 0.90 else 1 if r < 0.92 else 2 if r < 0.97 else 3)
            i += 1
    n = len(fates)

    order = list(range(n))
    rng.shuffle(order)
    with open(os.path.join(a.out_dir, "join-out.jsonl"), "w", encoding="utf-8") as out, open(
        os.path.join(a.out_dir, "join-err.jsonl"), "w", encoding="utf-8"
    ) as err:
        for i in order:
            fate = fates[i]
            cid = f"req-{i}"
            if fate == 0:
                prompt = rng.randrange(20, 900)
                completion = rng.randrange(3, 400)
                cached = rng.choice([0, 0, 0, 128])
                line = {
                    "id": f"batch_req_{i:08x}",
                    "custom_id": cid,
                    "response": {
                        "status_code": 200,
                        "request_id": f"{rng.getrandbits(128):032x}",
                        "body": {
                            "id": f"chatcmpl-{i}",
                            "object": "chat.completion",
                            "created": 1711652795,
                            "model": "gpt-4o-mini-2024-07-18",
                            "choices": [
                                {
                                    "index": 0,
                                    "message": {"role": "assistant", "content": answers[rng.randrange(len(answers))]},
                                    "logprobs": None,
                                    "finish_reason": "stop",
                                }
                            ],
                            "usage": {
                                "prompt_tokens": prompt,
                                "completion_tokens": completion,
                                "total_tokens": prompt + completion,
                                "prompt_tokens_details": {"cached_tokens": min(cached, prompt)},
                                "completion_tokens_details": {"reasoning_tokens": 0},
                            },
                            "system_fingerprint": "fp_123",
                        },
                    },
                    "error": None,
                }
                out.write(dumps(line) + "\n")
            elif fate == 1:
                line = {
                    "id": f"batch_req_{i:08x}",
                    "custom_id": cid,
                    "response": {
                        "status_code": 400,
                        "request_id": f"{rng.getrandbits(128):032x}",
                        "body": {
                            "error": {
                                "message": "This model's maximum context length is 128000 tokens.",
                                "type": "invalid_request_error",
                                "param": "messages",
                                "code": "context_length_exceeded",
                            }
                        },
                    },
                    "error": None,
                }
                out.write(dumps(line) + "\n")
            elif fate == 2:
                line = {
                    "id": f"batch_req_{i:08x}",
                    "custom_id": cid,
                    "response": None,
                    "error": {
                        "code": "batch_expired",
                        "message": "This request could not be executed before the completion window expired.",
                    },
                }
                err.write(dumps(line) + "\n")
    print(f"{n} requests, {written} bytes")


if __name__ == "__main__":
    main()
