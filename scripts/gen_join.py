#!/usr/bin/env python3
"""Generates the inputs of the `join` benchmark: OpenAI chat requests and their shuffled results.

    scripts/gen_join.py OUT_DIR [--request-bytes 1e9] [--seed 7] [--schema]

Writes OUT_DIR/join-req.jsonl (chat requests of varied sizes, about --request-bytes), and
OUT_DIR/join-out.jsonl / join-err.jsonl, shuffled: ~90% succeeded and ~2% HTTP 400 with
"error": null in the output file, ~5% batch_expired in the error file, ~3% with no result.
Deterministic for a given seed.

--schema: every request asks for structured output (`response_format` of type `json_schema`,
strict, one of a few schemas: a sentiment label, entities, a summary, a support ticket's
triage), and every answer's `message.content` is a JSON string that fits its request's schema,
except for 4% of the answers, chosen by request number: i % 100 == 0 misses a required field,
1 has a field of the wrong type, 2 is prose (not JSON), 3 is JSON cut in the middle (all with
`finish_reason: "stop"`). The fates (succeeded, HTTP 400, expired, no result), ids, messages
and usage are those of the same seed without --schema (for as many requests as the larger
lines let fit). Without --schema the output is the same, byte for byte, as before the option
existed.
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


def obj(props, required=None):
    """A strict JSON schema object: every property required, no others allowed."""
    return {
        "type": "object",
        "properties": props,
        "required": list(props) if required is None else required,
        "additionalProperties": False,
    }


STR = {"type": "string"}
# (name, schema) of each structured-output request; the answers below fit them.
SCHEMAS = [
    (
        "sentiment",
        obj(
            {
                "label": {"type": "string", "enum": ["positive", "negative", "neutral"]},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                "reasons": {"type": "array", "items": STR},
            }
        ),
    ),
    (
        "entities",
        obj(
            {
                "entities": {
                    "type": "array",
                    "items": obj(
                        {
                            "name": STR,
                            "kind": {"type": "string", "enum": ["person", "organization", "location", "date"]},
                        }
                    ),
                },
                "count": {"type": "integer", "minimum": 0},
            }
        ),
    ),
    (
        "summary",
        obj(
            {
                "title": STR,
                "summary": STR,
                "keywords": {"type": "array", "items": STR},
                "language": {"type": "string", "enum": ["en", "fr", "de", "es"]},
            }
        ),
    ),
    (
        "ticket_triage",
        obj(
            {
                "category": {"type": "string", "enum": ["billing", "bug", "account", "feature_request", "other"]},
                "priority": {"type": "integer", "minimum": 1, "maximum": 5},
                "needs_human": {"type": "boolean"},
                "reply": {"anyOf": [STR, {"type": "null"}]},
            }
        ),
    ),
]


def response_format(k):
    name, schema = SCHEMAS[k]
    return {"type": "json_schema", "json_schema": {"name": name, "strict": True, "schema": schema}}


def schema_answer(srng, k, words):
    """An answer that fits schema `k`, made from the text `words`."""
    ws = words.split()
    if k == 0:
        return {
            "label": srng.choice(["positive", "negative", "neutral"]),
            "confidence": round(srng.random(), 3),
            "reasons": [" ".join(ws[j : j + 8]) for j in range(0, len(ws), 8)],
        }
    if k == 1:
        ents = [
            {"name": " ".join(ws[j : j + 2]).title(), "kind": srng.choice(["person", "organization", "location", "date"])}
            for j in range(0, min(len(ws), 80), 2)
        ]
        return {"entities": ents, "count": len(ents)}
    if k == 2:
        return {
            "title": " ".join(ws[:6]).capitalize(),
            "summary": words,
            "keywords": sorted(set(ws[:10])),
            "language": srng.choice(["en", "fr", "de", "es"]),
        }
    return {
        "category": srng.choice(["billing", "bug", "account", "feature_request", "other"]),
        "priority": srng.randint(1, 5),
        "needs_human": srng.random() < 0.3,
        "reply": words if srng.random() < 0.8 else None,
    }


# The first required field of each schema, and a value of the wrong type for it.
WRONG = [("label", 3), ("count", "three"), ("language", ["en"]), ("priority", "high")]


def schema_content(srng, i, k, words, dumps):
    """`message.content` of request `i`, asked for schema `k`: fits, or for 4% breaks it."""
    a = schema_answer(srng, k, words)
    broken = i % 100
    if broken == 0:
        del a[next(iter(a))]
    elif broken == 1:
        field, value = WRONG[k]
        a[field] = value
    elif broken == 2:
        return "Sure! Here is what I found: " + words
    s = dumps(a)
    if broken == 3:
        s = s[: max(1, len(s) // 2)]
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--request-bytes", type=float, default=1e9)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--schema", action="store_true", help="every request asks for a JSON schema")
    a = ap.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    rng = random.Random(a.seed)
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

    # A pool of message texts so generation stays fast; sizes vary from a few words to ~2 KB.
    pool = [text(rng, rng.choice([10, 40, 120, 300, 700])) for _ in range(2000)]
    answers = [text(rng, rng.choice([5, 40, 120, 300])) for _ in range(2000)]

    req_path = os.path.join(a.out_dir, "join-req.jsonl")
    fates = bytearray()
    # With --schema: the schema of each request, drawn from a generator of its own so that the
    # main one (and with it fates, messages and usage) runs as without --schema.
    schemas = bytearray()
    srng = random.Random(a.seed * 1_000_003 + 1)
    written = 0
    with open(req_path, "w", encoding="utf-8") as f:
        i = 0
        while written < a.request_bytes:
            msgs = [{"role": "system", "content": "You are a helpful assistant."}]
            for _ in range(rng.choice([1, 1, 2, 3])):
                msgs.append({"role": "user", "content": pool[rng.randrange(len(pool))]})
            body = {"model": "gpt-4o-mini", "messages": msgs, "max_tokens": rng.choice([64, 256, 1024])}
            if a.schema:
                k = srng.randrange(len(SCHEMAS))
                schemas.append(k)
                body["response_format"] = response_format(k)
            line = dumps(
                {
                    "custom_id": f"req-{i}",
                    "method": "POST",
                    "url": "/v1/chat/completions",
                    "body": body,
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
                request_id = f"{rng.getrandbits(128):032x}"
                content = answers[rng.randrange(len(answers))]
                if a.schema:
                    content = schema_content(srng, i, schemas[i], content, dumps)
                line = {
                    "id": f"batch_req_{i:08x}",
                    "custom_id": cid,
                    "response": {
                        "status_code": 200,
                        "request_id": request_id,
                        "body": {
                            "id": f"chatcmpl-{i}",
                            "object": "chat.completion",
                            "created": 1711652795,
                            "model": "gpt-4o-mini-2024-07-18",
                            "choices": [
                                {
                                    "index": 0,
                                    "message": {"role": "assistant", "content": content},
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
