#!/usr/bin/env bash
# Benchmark section: `batchkit tokens` against Python tiktoken counting the same chat requests
# with the same rule (OpenAI's cookbook rule), one thread, encode_ordinary per string field.
#
# Input (generated into $DATA by scripts/gen_traffic.py when absent):
#   tokens-traffic.jsonl  ~100 MB of OpenAI chat requests for o200k models that look like real
#                         batch traffic: 70% English, 30% Chinese, Japanese, Korean, Russian,
#                         Arabic, Hindi; emoji sequences, code, pasted JSON, URLs, numbers;
#                         shared system prompts; log-normal message lengths.
# Python tiktoken needs its encodings in TIKTOKEN_CACHE_DIR; with no network they are put
# there from the copies batchkit embeds (tiktoken checks their SHA-256).
# Env: BK (release batchkit), DATA, OUT (markdown fragment); TOKENS_BYTES to resize.
source "$(dirname "$0")/lib.sh"

here=$(cd "$(dirname "$0")" && pwd)
crate=$here/../../crates/batchkit-tokens
input=$DATA/tokens-traffic.jsonl
if [ ! -s "$input" ]; then
  python3 "$here/../gen_traffic.py" "$input" --bytes "${TOKENS_BYTES:-100e6}" >&2
fi
bytes=$(file_bytes "$input")

# tiktoken caches a download under sha1(url).
export TIKTOKEN_CACHE_DIR=${TIKTOKEN_CACHE_DIR:-$DATA/tiktoken-cache}
mkdir -p "$TIKTOKEN_CACHE_DIR"
for enc in o200k_base cl100k_base; do
  key=$(python3 -c "import hashlib; print(hashlib.sha1(b'https://openaipublic.blob.core.windows.net/encodings/$enc.tiktoken').hexdigest())")
  [ -s "$TIKTOKEN_CACHE_DIR/$key" ] || cp "$crate/assets/$enc.tiktoken" "$TIKTOKEN_CACHE_DIR/$key"
done

table_header "tokens: $(python3 -c "print(f'{$bytes/1e6:.0f}')") MB of chat traffic, 30% non-English (o200k_base)"

measure "batchkit --format json tokens (all cores)" "$bytes" "$BK" --format json tokens "$input"
bk_secs=$LAST_SECS
measure "batchkit --threads 1 --format json tokens" "$bytes" "$BK" --threads 1 --format json tokens "$input"
bk1_secs=$LAST_SECS
measure "batchkit --threads 1 --format json tokens --no-cache-plan" "$bytes" \
  "$BK" --threads 1 --format json tokens --no-cache-plan "$input"
bk1n_secs=$LAST_SECS
measure "python tiktoken $(python3 -c 'import tiktoken; print(tiktoken.__version__)') (one thread)" "$bytes" \
  python3 "$crate/scripts/tiktoken_count.py" "$input"
py_secs=$LAST_SECS

ratio "tokens wall time, python tiktoken / batchkit (all cores)" "$py_secs" "$bk_secs"
ratio "tokens wall time, python tiktoken / batchkit (one thread)" "$py_secs" "$bk1_secs"
ratio "tokens wall time, python tiktoken / batchkit (one thread, no cost plan)" "$py_secs" "$bk1n_secs"

# The counts must agree request by request, or the speed means nothing.
if check=$(python3 "$here/../check-tokens-exact.py" --bk "$BK" "$input" | tail -1); then
  echo "
Per-request input tokens equal to tiktoken's: $check." >>"$OUT"
else
  echo "
**Per-request input tokens differ from tiktoken's: $check** (see scripts/check-tokens-exact.py)." >>"$OUT"
fi
