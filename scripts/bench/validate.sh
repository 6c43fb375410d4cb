#!/usr/bin/env bash
# Section "validate": `batchkit validate` on the 1 GB corpus against the simd-json parsing
# ceiling, DuckDB's duplicate check and jq, all in one run with the file in the page cache.
# Targets: batchkit >= 2 GB/s and <= 0.5x the time of DuckDB's query at its defaults (what a
# user would type), peak RSS <= 256 MiB; 1 and 2 threads both timed. A line over DuckDB's
# 16 MiB default object size is a separate case. With BENCH_4G=1 it also runs
# validate on the 4 GB corpus, where RSS must stay the same.
# Run through scripts/bench.sh, which sets BK DATA OUT CEILING, makes the inputs and exports
# the helpers used here (planted, capture, row_ok, flush_notes).

# shellcheck source=scripts/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

F=$DATA/requests-1g.jsonl
bytes=$(file_bytes "$F")
nlines=$(wc -l <"$F")
nplanted=$(planted "$F")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -f "$OUT.notes"

# DuckDB with its defaults, as a user would type it (the corpus's longest line is ~1.2 MB,
# under read_json's 16 MiB maximum_object_size). The script writes how many duplicated ids
# it found.
duck() { # duck FILE EXTRA-READ_JSON-ARGS
  printf '%s' "import duckdb, sys
r = duckdb.sql(\"SELECT custom_id, count(*) c FROM read_json('$1', format='newline_delimited'$2) GROUP BY custom_id HAVING c > 1\").fetchall()
open(sys.argv[1], 'w').write(str(len(r)))"
}

table_header "validate: requests-1g.jsonl ($bytes bytes, $nlines lines, $nplanted planted duplicate ids)"

capture "$tmp/validate.jsonl" "$tmp/validate.err"
measure "\`batchkit validate --format json\` (duplicate check included)" "$bytes" \
  "${CAPTURE[@]}" "$BK" validate --format json "$F"
bk_s=$LAST_SECS bk_rss=$LAST_RSS_MIB bk_ok=0
row_ok "$tmp/validate.err" 0 1 && bk_ok=1

capture /dev/null "$tmp/validate1.err"
measure "\`batchkit --threads 1 validate --format json\`" "$bytes" \
  "${CAPTURE[@]}" "$BK" --threads 1 validate --format json "$F"
bk1_s=$LAST_SECS
row_ok "$tmp/validate1.err" 0 1 || true

capture /dev/null "$tmp/ceiling.err"
measure "simd-json parsing ceiling (\`examples/parse_ceiling\`: to_tape per line, all cores)" "$bytes" \
  "${CAPTURE[@]}" "$CEILING" "$F"
ceil_s=$LAST_SECS ceil_ok=0
row_ok "$tmp/ceiling.err" 0 && ceil_ok=1

capture /dev/null "$tmp/duck.err"
measure "DuckDB \`read_json(F, format='newline_delimited')\` + \`GROUP BY custom_id HAVING c > 1\` (defaults)" "$bytes" \
  "${CAPTURE[@]}" python3 -c "$(duck "$F" '')" "$tmp/duck.txt"
duck_s=$LAST_SECS duck_ok=0
row_ok "$tmp/duck.err" 0 && duck_ok=1

capture /dev/null "$tmp/duck-cols.err"
measure "DuckDB, same query reading only \`columns={custom_id: 'VARCHAR'}\`" "$bytes" \
  "${CAPTURE[@]}" python3 -c "$(duck "$F" ", columns={custom_id: 'VARCHAR'}")" "$tmp/duck-cols.txt"
duck_cols_s=$LAST_SECS duck_cols_ok=0
row_ok "$tmp/duck-cols.err" 0 && duck_cols_ok=1

capture /dev/null "$tmp/jq.err"
measure "\`jq -c .\` (parse and re-print every line)" "$bytes" "${CAPTURE[@]}" jq -c . "$F"
row_ok "$tmp/jq.err" 0 || true

flush_notes
echo >>"$OUT"
if [ "$bk_ok" = 1 ]; then
  python3 -c "print(f'batchkit validate: **{$bytes / 1e9 / max($bk_s, 0.001):.2f} GB/s** on all cores (target >= 2 GB/s), {$bytes / 1e9 / max($bk1_s, 0.001):.2f} GB/s on one thread; peak RSS **$bk_rss MiB** (target <= 256 MiB: {\"met\" if $bk_rss <= 256 else \"NOT met\"}).')" >>"$OUT"
  [ "$duck_ok" = 1 ] && ratio "batchkit validate / DuckDB at its defaults (target <= 0.5x)" "$bk_s" "$duck_s"
  [ "$duck_cols_ok" = 1 ] && ratio "batchkit validate / DuckDB, custom_id column only" "$bk_s" "$duck_cols_s"
  [ "$ceil_ok" = 1 ] && ratio "batchkit validate / simd-json parsing ceiling" "$bk_s" "$ceil_s"
else
  echo "batchkit validate did not run successfully: no throughput or ratios." >>"$OUT"
fi

# Correctness: the duplicate_id diagnostics must be exactly the planted pairs.
awk '/^dupe: / {print $5, $8 "," $3}' "$F.log" | sort >"$tmp/want"
jq -r 'select(.type == "diagnostic" and .code == "duplicate_id") | "\(.custom_id) \(.first_line),\(.line)"' \
  "$tmp/validate.jsonl" 2>/dev/null | sort >"$tmp/got" || true
codes=$(jq -r 'select(.type == "diagnostic") | .code' "$tmp/validate.jsonl" 2>/dev/null | sort | uniq -c |
  awk '{printf "%s%s x%s", sep, $2, $1; sep=", "}' || true)
{
  echo
  if [ "$bk_ok" != 1 ]; then
    echo "Duplicates: not checked (batchkit validate failed)."
  elif cmp -s "$tmp/want" "$tmp/got"; then
    echo "Duplicates: batchkit reported exactly the $nplanted planted pairs (id, first line, line)."
  else
    echo "Duplicates: batchkit reported $(wc -l <"$tmp/got") duplicate_id diagnostics, $(comm -12 "$tmp/want" "$tmp/got" | wc -l) of the $nplanted planted pairs: **mismatch**."
  fi
  [ "$bk_ok" = 1 ] && echo "Diagnostics by code: ${codes:-none}."
  echo "DuckDB found $(cat "$tmp/duck.txt" 2>/dev/null || echo '?') duplicated ids (auto schema) and $(cat "$tmp/duck-cols.txt" 2>/dev/null || echo '?') (custom_id column only)."
} >>"$OUT"

# A line over DuckDB's 16 MiB default maximum_object_size: what happens to each tool.
BIG=$tmp/big-line.jsonl
python3 - "$BIG" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(1000):
        f.write(json.dumps({"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions",
                            "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"hello {i}"}]}}) + "\n")
    f.write(json.dumps({"custom_id": "big", "method": "POST", "url": "/v1/chat/completions",
                        "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x" * (20 << 20)}]}}) + "\n")
PY
bigb=$(file_bytes "$BIG")
table_header "validate: one 20 MiB line among 1,000 requests (over DuckDB's 16 MiB default object size)"
capture /dev/null "$tmp/bigbk.err"
measure "\`batchkit validate --format json\`" "$bigb" "${CAPTURE[@]}" "$BK" validate --format json "$BIG"
row_ok "$tmp/bigbk.err" 0 1 || true
capture /dev/null "$tmp/bigduck.err"
measure "DuckDB at its defaults" "$bigb" "${CAPTURE[@]}" python3 -c "$(duck "$BIG" '')" "$tmp/bigduck.txt"
big_duck_rc=0
row_ok "$tmp/bigduck.err" 0 || big_duck_rc=1
flush_notes
{
  echo
  if [ "$big_duck_rc" = 1 ]; then
    echo "DuckDB at its defaults fails on the 20 MiB line (it needs \`maximum_object_size\` raised); batchkit reads it within its 64 MiB \`--max-line-bytes\` default."
  else
    echo "DuckDB read the 20 MiB line at its defaults."
  fi
} >>"$OUT"

if [ "${BENCH_4G:-0}" = 1 ] && [ -f "$DATA/requests-4g.jsonl" ]; then
  F4=$DATA/requests-4g.jsonl
  b4=$(file_bytes "$F4")
  table_header "validate: requests-4g.jsonl ($b4 bytes, $(planted "$F4") planted duplicate ids): memory must not grow with the input"
  capture /dev/null "$tmp/validate4.err"
  measure "\`batchkit validate --format json\`" "$b4" "${CAPTURE[@]}" "$BK" validate --format json "$F4"
  if row_ok "$tmp/validate4.err" 0 1; then
    python3 -c "print(f'\nPeak RSS {$LAST_RSS_MIB} MiB on 4 GB vs {$bk_rss} MiB on 1 GB (target <= 256 MiB: {\"met\" if $LAST_RSS_MIB <= 256 else \"NOT met\"}).')" >>"$OUT"
  fi
  flush_notes
fi
exit 0
