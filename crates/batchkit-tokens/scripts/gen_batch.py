"""Writes a realistic OpenAI chat/embeddings batch file for tests and benchmarks.

usage: gen_batch.py OUT N_LINES [SEED]
Mixes models (o200k and cl100k), system/user/assistant messages, `name`, text parts,
unicode, code, numbers and whitespace runs: what the tokenizers' pre-split regexes care about.
"""
import json, random, sys

WORDS = ("the of and to in is you that it he was for on are as with his they I at be this have "
         "from or one had by word but not what all were we when your can said there use an each "
         "Straße naïve café 東京 данные ציון مرحبا 🙂 🚀 ½ x² fn() {} => != <= 0x1F 3.14159 1,000,000 "
         "don't I'll we've they're HTTP JSONL batch tokenizer").split()

def text(rng, n):
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.03:
            out.append("\n\n" + " " * rng.randint(0, 9))
        elif r < 0.05:
            out.append(str(rng.randint(0, 10**9)))
        elif r < 0.06:
            out.append("def f(x):\n    return x * 2  # double\n")
        else:
            out.append(rng.choice(WORDS))
    return " ".join(out)

def main():
    out, n = sys.argv[1], int(sys.argv[2])
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 7)
    models = ["gpt-4o-mini", "gpt-4o-2024-08-06", "gpt-4.1", "gpt-4-turbo", "gpt-3.5-turbo-0125"]
    with open(out, "w", encoding="utf-8") as f:
        for i in range(n):
            msgs = [{"role": "system", "content": text(rng, rng.randint(5, 40))}]
            for _ in range(rng.randint(1, 4)):
                m = {"role": rng.choice(["user", "assistant"]), "content": text(rng, rng.randint(10, 300))}
                if rng.random() < 0.1:
                    m["name"] = "user_" + str(rng.randint(1, 99))
                if rng.random() < 0.1:
                    m["content"] = [{"type": "text", "text": text(rng, 30)}, {"type": "text", "text": text(rng, 5)}]
                msgs.append(m)
            body = {"model": rng.choice(models), "messages": msgs, "max_tokens": rng.choice([256, 1024, 4096])}
            line = {"custom_id": f"req-{i}", "method": "POST", "url": "/v1/chat/completions", "body": body}
            f.write(json.dumps(line, ensure_ascii=rng.random() < 0.5) + "\n")

main()
