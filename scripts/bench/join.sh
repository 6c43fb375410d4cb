#!/usr/bin/env bash
# Benchmark section: `batchkit join` against DuckDB doing the same LEFT JOIN to a JSON file.
#
# Inputs (generated into $DATA by scripts/gen_join.py when absent, ~1 GB of requests):
#   join-req.jsonl  OpenAI chat requests of varied sizes
#   join-out.jsonl  shuffled output file (~90% succeeded, ~2% HTTP 400 with "error": null)
#   join-err.jsonl  shuffled error file (~5% batch_expired); ~3% of requests have no result
#   schema/join-*.jsonl  the same with --schema: every request asks for a strict JSON schema,
#                   4% of the answers break it
# Env: BK (release batchkit), DATA, OUT (markdown fragment); JOIN_REQUEST_BYTES to resize.
source "$(dirname "$0")/lib.sh"

here=$(cd "$(dirname "$0")" && pwd)
req=$DATA/join-req.jsonl
res_out=$DATA/join-out.jsonl
res_err=$DATA/join-err.jsonl
if [ ! -s "$req" ] || [ ! -s "$res_out" ] || [ ! -s "$res_err" ]; then
  python3 "$here/../gen_join.py" "$DATA" --request-bytes "${JOIN_REQUEST_BYTES:-1e9}" >&2
fi
bytes=$(( $(file_bytes "$req") + $(file_bytes "$res_out") + $(file_bytes "$res_err") ))
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-join.XXXXXX")
trap 'rm -rf "$work"' EXIT

# DuckDB, as a user would write it with DuckDB's defaults: read_json on each side (columns
# inferred), the status computed from the result, LEFT JOIN on custom_id, request order,
# COPY to a JSON Lines file. DuckDB re-serialises the JSON values and writes its own layout.
cat >"$work/duck.py" <<PY
import duckdb
con = duckdb.connect()
con.execute("""
COPY (
  SELECT r.custom_id,
         CASE WHEN o.custom_id IS NULL THEN 'missing'
              WHEN o.error.code = 'batch_expired' THEN 'expired'
              WHEN o.error.code = 'batch_cancelled' THEN 'canceled'
              WHEN o.response.status_code BETWEEN 200 AND 299 THEN 'succeeded'
              ELSE 'errored' END AS status,
         r.request,
         to_json(o) AS result,
         o.response.body.choices[1].message.content AS output_text
  FROM (SELECT custom_id, to_json(q) AS request, row_number() OVER () AS rn
        FROM read_json('$req', format='newline_delimited') q) r
  LEFT JOIN read_json(['$res_out', '$res_err'], format='newline_delimited') o
    ON r.custom_id = o.custom_id
  ORDER BY r.rn
) TO '$work/duck-merged.json' (FORMAT json)
""")
PY

table_header "join: $(python3 -c "print(f'{$(file_bytes "$req")/1e9:.2f}')") GB requests + $(python3 -c "print(f'{($(file_bytes "$res_out")+$(file_bytes "$res_err"))/1e9:.2f}')") GB shuffled results (output + error file)"

measure "batchkit join --memory-limit 256MiB" "$bytes" \
  "$BK" --format json join --requests "$req" --results "$res_out" "$res_err" \
  --out "$work/merged.jsonl" --retry "$work/retry.jsonl" --orphans "$work/orphans.jsonl" --memory-limit 256MiB
bk_secs=$LAST_SECS
bk_rss=$LAST_RSS_MIB
rm -f "$work/merged.jsonl" "$work/retry.jsonl" "$work/orphans.jsonl"

measure "batchkit --threads 1 join --memory-limit 256MiB" "$bytes" \
  "$BK" --threads 1 --format json join --requests "$req" --results "$res_out" "$res_err" \
  --out "$work/merged.jsonl" --retry "$work/retry.jsonl" --orphans "$work/orphans.jsonl" --memory-limit 256MiB
rm -f "$work/merged.jsonl" "$work/retry.jsonl" "$work/orphans.jsonl"

measure "batchkit join --memory-limit 64MiB (spills: partitioned join)" "$bytes" \
  "$BK" --format json join --requests "$req" --results "$res_out" "$res_err" \
  --out "$work/merged.jsonl" --retry "$work/retry.jsonl" --orphans "$work/orphans.jsonl" --memory-limit 64MiB
rm -f "$work/merged.jsonl" "$work/retry.jsonl" "$work/orphans.jsonl"

measure "batchkit join --memory-limit 8GiB (in memory)" "$bytes" \
  "$BK" --format json join --requests "$req" --results "$res_out" "$res_err" \
  --out "$work/merged.jsonl" --retry "$work/retry.jsonl" --orphans "$work/orphans.jsonl" --memory-limit 8GiB
rm -f "$work/merged.jsonl" "$work/retry.jsonl" "$work/orphans.jsonl"

# The same join where every request asked for a JSON schema (gen_join.py --schema: strict
# json_schema response formats, 4% of the answers off-schema), in $DATA/schema/. With answer
# checks in the build (join --help names --expect-json) the row measures them; without, it is
# the plain join of the larger lines, so a build before answer checks still runs the section.
schema_dir=$DATA/schema
if [ ! -s "$schema_dir/join-req.jsonl" ] || [ ! -s "$schema_dir/join-out.jsonl" ]; then
  python3 "$here/../gen_join.py" "$schema_dir" --schema --request-bytes "${JOIN_REQUEST_BYTES:-1e9}" >&2 ||
    echo "bench: gen_join.py --schema failed; no schema rows" >&2
fi
if [ -s "$schema_dir/join-req.jsonl" ] && [ -s "$schema_dir/join-out.jsonl" ]; then
  checks="answer checks not in this build"
  if "$BK" join --help 2>/dev/null | grep -q -- '--expect-json'; then checks="answers checked against each request's schema"; fi
  sbytes=$(( $(file_bytes "$schema_dir/join-req.jsonl") + $(file_bytes "$schema_dir/join-out.jsonl") + $(file_bytes "$schema_dir/join-err.jsonl") ))
  measure "batchkit join --memory-limit 256MiB, every request with a JSON schema ($checks)" "$sbytes" \
    "$BK" --format json join --requests "$schema_dir/join-req.jsonl" --results "$schema_dir/join-out.jsonl" "$schema_dir/join-err.jsonl" \
    --out "$work/merged.jsonl" --retry "$work/retry.jsonl" --orphans "$work/orphans.jsonl" --memory-limit 256MiB
  rm -f "$work/merged.jsonl" "$work/retry.jsonl" "$work/orphans.jsonl"
fi

measure "duckdb LEFT JOIN (read_json) to JSON" "$bytes" python3 "$work/duck.py"
duck_secs=$LAST_SECS
rm -f "$work/duck-merged.json"

ratio "join wall time, batchkit (256MiB) / DuckDB" "$bk_secs" "$duck_secs"
echo "
batchkit peak RSS under --memory-limit 256MiB: ${bk_rss} MiB (target: at most 300 MiB)." >>"$OUT"

