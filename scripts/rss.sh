#!/usr/bin/env bash
# Peak RSS of every command on generated worst cases, at two sizes, under one --memory-limit.
# Prints a Markdown table (command x case x size -> peak RSS, seconds, exit code).
#
#   scripts/rss.sh [SMALL_LINES] [BIG_LINES]      (default 1000000 4000000)
#
# Needs a release build (cargo build --release), python3, GNU time and zstd.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/batchkit}
SMALL=${1:-1000000}
BIG=${2:-4000000}
LIMIT=${LIMIT:-256MiB}
W=${WORK:-$(mktemp -d)}
mkdir -p "$W"
trap 'rm -rf "$W"' EXIT

gen() { # gen CASE LINES OUT
  python3 - "$1" "$2" "$3" <<'PY'
import sys
case, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
msg = '{"role":"user","content":"question %d: how far is the moon?"}'
with open(out, "w") as f:
    for i in range(n):
        if case == "same-id":
            cid, model = "same", "gpt-4o-mini"
        elif case == "models":
            cid, model = "r%d" % i, "model-%d" % i
        else:
            cid, model = "r%d" % i, "gpt-4o-mini"
        if case == "errors":
            f.write('{"custom_id":"r%d"\n' % i)
            continue
        f.write('{"custom_id":"%s","method":"POST","url":"/v1/chat/completions","body":{"model":"%s","messages":[%s]}}\n'
                % (cid, model, msg % i))
PY
}

measure() { # measure LABEL CASE SIZE ARGS...
  local label=$1 case=$2 size=$3; shift 3
  local t0 t1 code
  rm -rf "$W/out"
  set +e
  /usr/bin/time -f "%M %e" -o "$W/time" "$BIN" --memory-limit "$LIMIT" --progress never --format json "$@" > /dev/null 2> "$W/err"
  code=$?
  set -e
  read -r kb secs < <(tail -n 1 "$W/time")
  printf '| %s | %s | %s | %d MiB | %s s | %s |\n' "$label" "$case" "$size" $((kb / 1024)) "$secs" "$code"
}

echo "| command | worst case | lines | peak RSS | time | exit |"
echo "|---|---|---|---|---|---|"
for n in "$SMALL" "$BIG"; do
  for case in same-id errors models plain; do gen "$case" "$n" "$W/$case-$n.jsonl"; done
  # Results for join: every request succeeded, in reverse order.
  python3 - "$n" "$W/res-$n.jsonl" <<'PY'
import sys
n, out = int(sys.argv[1]), sys.argv[2]
with open(out, "w") as f:
    for i in range(n - 1, -1, -1):
        f.write('{"id":"b%d","custom_id":"r%d","response":{"status_code":200,"body":{"model":"gpt-4o-mini","choices":[{"message":{"role":"assistant","content":"about 384,400 km"}}],"usage":{"prompt_tokens":20,"completion_tokens":5}}},"error":null}\n' % (i, i))
PY
  zstd -q --long=27 -f "$W/plain-$n.jsonl" -o "$W/plain-$n.jsonl.zst"
done
for n in "$SMALL" "$BIG"; do
  measure "validate" "all ids equal" "$n" validate "$W/same-id-$n.jsonl"
  measure "dupes" "all ids equal" "$n" dupes "$W/same-id-$n.jsonl"
  measure "shard --skip-invalid" "all ids equal" "$n" shard "$W/same-id-$n.jsonl" --out-dir "$W/out" --skip-invalid
  measure "validate --max-errors 10" "every line an error" "$n" validate --max-errors 10 "$W/errors-$n.jsonl"
  measure "tokens" "every line an error" "$n" tokens "$W/errors-$n.jsonl"
  measure "join" "every request line an error" "$n" join --requests "$W/errors-$n.jsonl" --results "$W/res-$n.jsonl" --out "$W/out.m.jsonl"
  measure "tokens" "one model name per line" "$n" tokens "$W/models-$n.jsonl"
  measure "validate --threads 64" "plain" "$n" --threads 64 validate "$W/plain-$n.jsonl"
  measure "tokens --threads 64" "plain" "$n" --threads 64 tokens "$W/plain-$n.jsonl"
  measure "join" "plain, results reversed" "$n" join --requests "$W/plain-$n.jsonl" --results "$W/res-$n.jsonl" --out "$W/out.m.jsonl"
  measure "validate" "zstd --long=27" "$n" validate "$W/plain-$n.jsonl.zst"
  LIMIT=512MiB measure "validate (512MiB)" "zstd --long=27" "$n" validate "$W/plain-$n.jsonl.zst"
done
