"""The reference count with Python tiktoken: OpenAI's cookbook rule for chat requests.

usage: tiktoken_count.py FILE [--per-request]
Prints the total input tokens, or `line<TAB>tokens` per request. Needs `pip install tiktoken`
and its encodings in TIKTOKEN_CACHE_DIR (tiktoken downloads them on first use).
Text parts of array content are counted; other parts are not handled here.
"""
import json, sys
import tiktoken

def encoding_for(model):
    try:
        return tiktoken.encoding_for_model(model)
    except KeyError:
        return tiktoken.get_encoding("o200k_base")

def main():
    path, per = sys.argv[1], "--per-request" in sys.argv
    cache, total = {}, 0
    with open(path, encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            if not line.strip():
                continue
            body = json.loads(line)["body"]
            enc = cache.setdefault(body["model"], encoding_for(body["model"]))
            n = 3
            for m in body["messages"]:
                n += 3
                for k, v in m.items():
                    if isinstance(v, str):
                        n += len(enc.encode_ordinary(v))
                    elif k == "content" and isinstance(v, list):
                        n += sum(len(enc.encode_ordinary(p["text"])) for p in v if p.get("type") == "text")
                    if k == "name":
                        n += 1
            total += n
            if per:
                print(f"{no}\t{n}")
    if not per:
        print(total)

main()
