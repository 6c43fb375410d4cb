#!/usr/bin/env bash
# Section "shard": `batchkit shard` on the 1 GB corpus to OpenAI's default caps (50,000
# requests, 209,715,200 bytes) against GNU `split -C 200M` (which checks nothing and applies
# one cap), both writing 1 GB to the same disk with the input in the page cache.
# Target: batchkit (validation on) <= 1.0x split's wall time, peak RSS <= 256 MiB.
# Also timed: with --max-tokens (every line tokenized), with --compress, and with --sync.
# Run through scripts/bench.sh, which sets BK DATA OUT and makes the inputs.
#
# The corpus plants duplicate ids, which shard rejects: every run uses --skip-invalid, so
# the planted lines go to rejected.jsonl, the rest to the shards, and the exit code is 1.

# shellcheck source=scripts/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

F=$DATA/requests-1g.jsonl
bytes=$(file_bytes "$F")
nlines=$(wc -l <"$F")
# Output beside the data (same disk as split's), removed after each run.
work=$(mktemp -d "$DATA/shard-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

fresh() { rm -rf "$work/out"; mkdir -p "$work/out"; sync; }

table_header "shard: requests-1g.jsonl ($bytes bytes, $nlines lines) to OpenAI caps"

fresh
measure "GNU \`split -C 200M\` (no validation, byte cap only)" "$bytes" \
  split -C 200M -d -a 5 --additional-suffix=.jsonl "$F" "$work/out/split-"
split_s=$LAST_SECS

fresh
measure "\`batchkit shard --skip-invalid\` (validation, no fsync: the default)" "$bytes" \
  "$BK" --format json --progress never shard --skip-invalid "$F" -o "$work/out/bk"
bk_s=$LAST_SECS
bk_rss=$LAST_RSS_MIB
# Check the result before it is deleted: shards + rejects = the input.
shards_ok=$(python3 - "$work/out/bk" "$F" <<'PY'
import hashlib, json, sys
d, f = sys.argv[1], sys.argv[2]
m = json.load(open(f"{d}/manifest.json"))
h = hashlib.sha256()
n = 0
for s in m["shards"]:
    with open(f"{d}/{s['file']}", "rb") as fh:
        data = fh.read()
    n += len(data)
    assert hashlib.sha256(data).hexdigest() == s["sha256"]
    assert s["bytes"] <= 209715200 and s["requests"] <= 50000
rej = m["rejected"]["lines"] if m["rejected"] else 0
print(f"{len(m['shards'])} shards, {n} bytes, {rej} rejected lines; sha256 and caps checked")
PY
) || shards_ok="manifest check FAILED"

fresh
measure "\`batchkit --threads 1 shard --skip-invalid\`" "$bytes" \
  "$BK" --threads 1 --format json --progress never shard --skip-invalid "$F" -o "$work/out/bk"
bk1_s=$LAST_SECS

fresh
measure "\`batchkit shard --skip-invalid --sync\` (fsync of each shard)" "$bytes" \
  "$BK" --format json --progress never shard --skip-invalid --sync "$F" -o "$work/out/bk"
sync_s=$LAST_SECS

fresh
measure "\`batchkit shard --skip-invalid --max-tokens 20000000\` (every line tokenized)" "$bytes" \
  "$BK" --format json --progress never shard --skip-invalid --max-tokens 20000000 "$F" -o "$work/out/bk"
tok_s=$LAST_SECS
tok_rss=$LAST_RSS_MIB

fresh
measure "\`batchkit shard --skip-invalid --compress\` (zstd level 3)" "$bytes" \
  "$BK" --format json --progress never shard --skip-invalid --compress "$F" -o "$work/out/bk"

{
  echo
  echo "Result: $shards_ok."
  python3 -c "print(f'batchkit shard peak RSS **$bk_rss MiB**, with --max-tokens **$tok_rss MiB** (target <= 256 MiB: {\"met\" if max($bk_rss, $tok_rss) <= 256 else \"NOT met\"}).')"
} >>"$OUT"
ratio "batchkit shard / split -C 200M (target <= 1.0x)" "$bk_s" "$split_s"
ratio "batchkit --threads 1 shard / split -C 200M" "$bk1_s" "$split_s"
ratio "batchkit shard --sync / split -C 200M" "$sync_s" "$split_s"
ratio "batchkit shard --max-tokens / split -C 200M" "$tok_s" "$split_s"
