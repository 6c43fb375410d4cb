#!/usr/bin/env bash
# Benchmark section: `batchkit tokens` against Python tiktoken counting the same chat requests
# with the same rule (OpenAI's cookbook rule), one thread, encode_ordinary per string field.
#
# Input (generated into $DATA by crates/batchkit-tokens/scripts/gen_batch.py when absent):
#   tokens-chat.jsonl  ~100 MB of OpenAI chat requests: o200k and cl100k models, English,
#                      code, numbers, German, French, Russian, Hebrew, Arabic, Japanese, emoji.
# Python tiktoken needs its encodings in TIKTOKEN_CACHE_DIR; with no network they are put
# there from the copies batchkit embeds (tiktoken checks their SHA-256).
# Env: BK (release batchkit), DATA, OUT (markdown fragment); TOKENS_LINES to resize.
source "$(dirname "$0")/lib.sh"

here=$(cd "$(dirname "$0")" && pwd)
crate=$here/../../crates/batchkit-tokens
input=$DATA/tokens-chat.jsonl
if [ ! -s "$input" ]; then
  python3 "$crate/scripts/gen_batch.py" "$input" "${TOKENS_LINES:-38500}" >&2
fi
bytes=$(file_bytes "$input")

# tiktoken caches a download under sha1(url).
export TIKTOKEN_CACHE_DIR=${TIKTOKEN_CACHE_DIR:-$DATA/tiktoken-cache}
mkdir -p "$TIKTOKEN_CACHE_DIR"
for enc in o200k_base cl100k_base; do
  key=$(python3 -c "import hashlib; print(hashlib.sha1(b'https://openaipublic.blob.core.windows.net/encodings/$enc.tiktoken').hexdigest())")
  [ -s "$TIKTOKEN_CACHE_DIR/$key" ] || cp "$crate/assets/$enc.tiktoken" "$TIKTOKEN_CACHE_DIR/$key"
done

table_header "tokens: $(python3 -c "print(f'{$bytes/1e6:.0f}')") MB of multilingual chat requests (o200k_base and cl100k_base)"

measure "batchkit --format json tokens (all cores)" "$bytes" "$BK" --format json tokens "$input"
bk_secs=$LAST_SECS
measure "batchkit --threads 1 --format json tokens" "$bytes" "$BK" --threads 1 --format json tokens "$input"
bk1_secs=$LAST_SECS
measure "python tiktoken $(python3 -c 'import tiktoken; print(tiktoken.__version__)') (one thread)" "$bytes" \
  python3 "$crate/scripts/tiktoken_count.py" "$input"
py_secs=$LAST_SECS

ratio "tokens wall time, python tiktoken / batchkit (all cores)" "$py_secs" "$bk_secs"
ratio "tokens wall time, python tiktoken / batchkit (one thread)" "$py_secs" "$bk1_secs"

# The totals must agree, or the speed means nothing.
bk_total=$("$BK" --format json tokens "$input" | python3 -c "
import json, sys
for line in sys.stdin:
    o = json.loads(line)
    if o.get('type') == 'summary':
        print(o['input_tokens'])")
py_total=$(python3 "$crate/scripts/tiktoken_count.py" "$input")
if [ "$bk_total" = "$py_total" ]; then
  echo "
Input tokens: batchkit $bk_total, tiktoken $py_total (equal)." >>"$OUT"
else
  echo "
**Input tokens differ: batchkit $bk_total, tiktoken $py_total.**" >>"$OUT"
fi
