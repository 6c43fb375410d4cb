#!/usr/bin/env python3
"""A chat batch with shared system prompts, for the cost-plan benchmark.

    scripts/gen_cache_bench.py OUT [BYTES]     (default 1,000,000,000 bytes)

gpt-5-mini requests; the system prompt cycles through four shared prompts of about 900, 1,300,
2,500 and 4,000 words (one under the 1,024-token minimum), then a unique user message.
Deterministic (seed 7).
"""
import json
import random
import sys

out = sys.argv[1]
target = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000_000
random.seed(7)
words = ("alpha beta gamma delta river stone cloud green house table light north south paper "
         "glass water field music night bread").split()


def text(n):
    return " ".join(random.choice(words) for _ in range(n))


systems = [text(n) for n in (900, 1300, 2500, 4000)]
pool = [text(300) for _ in range(200)]
with open(out, "w") as f:
    i = size = 0
    while size < target:
        user = "%d %s %s" % (i, random.choice(pool), random.choice(pool)[:200])
        body = {"model": "gpt-5-mini",
                "messages": [{"role": "system", "content": systems[i % 4]},
                             {"role": "user", "content": user}],
                "max_completion_tokens": 500}
        line = json.dumps({"custom_id": "r%d" % i, "method": "POST",
                           "url": "/v1/chat/completions", "body": body}) + "\n"
        f.write(line)
        size += len(line)
        i += 1
print(i, size)
