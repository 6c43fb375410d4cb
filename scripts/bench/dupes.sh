#!/usr/bin/env bash
# Section "dupes": `batchkit dupes` on 10 million short lines (1000 planted duplicate ids)
# under a 64 MiB memory limit, so the id set must spill, against DuckDB's GROUP BY.
# Targets: peak RSS < 128 MiB, and exactly the planted duplicates reported.
# Run through scripts/bench.sh, which sets BK DATA OUT GEN and exports the helpers used here
# (ensure_data, planted, capture, row_ok, flush_notes).

# shellcheck source=scripts/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

F=$DATA/ids-10m.jsonl
ensure_data "$F" --minimal --lines 10000000 --seed 7 --dupes 1000
cat "$F" >/dev/null
bytes=$(file_bytes "$F")
nplanted=$(planted "$F")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -f "$OUT.notes"

duck() { # duck SETUP-PYTHON: the duplicate query, writing how many ids it found to argv[1]
  printf '%s' "import duckdb, sys
con = duckdb.connect()
$1
r = con.sql(\"SELECT custom_id, count(*) c FROM read_json('$F', format='newline_delimited') GROUP BY custom_id HAVING c > 1\").fetchall()
open(sys.argv[1], 'w').write(str(len(r)))"
}

table_header "dupes: ids-10m.jsonl ($bytes bytes, 10,000,000 lines like \`{\"custom_id\":\"id-0000042\",...}\`, $nplanted planted duplicate ids)"

capture "$tmp/dupes-64.jsonl" "$tmp/dupes-64.err"
measure "\`batchkit dupes --memory-limit 64MiB --format json\`" "$bytes" \
  "${CAPTURE[@]}" "$BK" dupes --memory-limit 64MiB --format json "$F"
bk_s=$LAST_SECS bk_rss=$LAST_RSS_MIB bk_ok=0
row_ok "$tmp/dupes-64.err" 0 1 && bk_ok=1

capture "$tmp/dupes-256.jsonl" "$tmp/dupes-256.err"
measure "\`batchkit dupes --format json\` (default limit, 256 MiB)" "$bytes" \
  "${CAPTURE[@]}" "$BK" dupes --format json "$F"
bk256_s=$LAST_SECS bk256_ok=0
row_ok "$tmp/dupes-256.err" 0 1 && bk256_ok=1

capture /dev/null "$tmp/duck.err"
measure "DuckDB \`read_json\` + \`GROUP BY custom_id HAVING c > 1\`" "$bytes" \
  "${CAPTURE[@]}" python3 -c "$(duck '')" "$tmp/duck.txt"
duck_s=$LAST_SECS duck_ok=0
row_ok "$tmp/duck.err" 0 && duck_ok=1

capture /dev/null "$tmp/duck-64.err"
measure "DuckDB, same query after \`SET memory_limit = '64MB'\`" "$bytes" \
  "${CAPTURE[@]}" python3 -c "$(duck "con.sql(\"SET memory_limit = '64MB'\")")" "$tmp/duck-64.txt"
row_ok "$tmp/duck-64.err" 0 || true

flush_notes
echo >>"$OUT"
if [ "$bk_ok" = 1 ]; then
  python3 -c "print(f'batchkit dupes --memory-limit 64MiB: peak RSS **$bk_rss MiB** (target < 128 MiB: {\"met\" if $bk_rss < 128 else \"NOT met\"}).')" >>"$OUT"
  [ "$duck_ok" = 1 ] && ratio "batchkit dupes, 64 MiB limit / DuckDB" "$bk_s" "$duck_s"
fi
if [ "$bk256_ok" = 1 ] && [ "$duck_ok" = 1 ]; then
  ratio "batchkit dupes, 256 MiB limit / DuckDB" "$bk256_s" "$duck_s"
fi

# Correctness: every planted pair, and nothing else, with both line numbers.
awk '/^dupe: / {print $5, $8 "," $3}' "$F.log" | sort >"$tmp/want"
{
  echo
  for run in 64 256; do
    jq -r 'select(.type == "duplicate") | "\(.custom_id) \(.lines | map(tostring) | join(","))"' \
      "$tmp/dupes-$run.jsonl" 2>/dev/null | sort >"$tmp/got-$run" || true
    if [ ! -s "$tmp/dupes-$run.jsonl" ]; then
      echo "Correctness (limit $run MiB): not checked (no output)."
    elif cmp -s "$tmp/want" "$tmp/got-$run"; then
      echo "Correctness (limit $run MiB): exactly the $nplanted planted duplicate ids, with both line numbers."
    else
      echo "Correctness (limit $run MiB): **mismatch**: $(wc -l <"$tmp/got-$run") ids reported, $(comm -12 "$tmp/want" "$tmp/got-$run" | wc -l) of the $nplanted planted pairs among them."
    fi
  done
  echo "DuckDB found $(cat "$tmp/duck.txt" 2>/dev/null || echo '?') duplicated ids ($(cat "$tmp/duck-64.txt" 2>/dev/null || echo 'none: failed') with the 64 MB limit)."
} >>"$OUT"
exit 0
