#!/usr/bin/env bash
# Benchmark section: `batchkit join` against DuckDB doing the same LEFT JOIN to a JSON file.
#
# Inputs (generated into $DATA by scripts/gen_join.py when absent, ~1 GB of requests):
#   join-req.jsonl  OpenAI chat requests of varied sizes
#   join-out.jsonl  shuffled output file (~90% succeeded, ~2% HTTP 400 with "error": null)
#   join-err.jsonl  shuffled error file (~5% batch_expired); ~3% of requests have no result
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

# DuckDB, closest fair equivalent: lines read as JSON objects (kept verbatim, as batchkit keeps
# them), the status computed from the result, LEFT JOIN on custom_id, request order, written as
# JSON Lines. DuckDB re-serialises the JSON values (whitespace) and writes its own field layout.
cat >"$work/duck.py" <<PY
import duckdb, sys
con = duckdb.connect()
con.execute("""
COPY (
  SELECT r.id AS custom_id,
         CASE WHEN o.res IS NULL THEN 'missing'
              WHEN o.res->>'\$.error.code' = 'batch_expired' THEN 'expired'
              WHEN o.res->>'\$.error.code' = 'batch_cancelled' THEN 'canceled'
              WHEN (o.res->>'\$.response.status_code')::INT BETWEEN 200 AND 299 THEN 'succeeded'
              ELSE 'errored' END AS status,
         r.json AS request,
         o.res AS result,
         o.res->>'\$.response.body.choices[0].message.content' AS output_text
  FROM (SELECT json, json->>'\$.custom_id' AS id, row_number() OVER () AS rn
        FROM read_json_objects('$req', format='newline_delimited')) r
  LEFT JOIN (SELECT json AS res, json->>'\$.custom_id' AS id
             FROM read_json_objects(['$res_out', '$res_err'], format='newline_delimited')) o
  ON r.id = o.id
  ORDER BY r.rn
) TO '$work/duck-merged.json' (FORMAT json)
""")
PY

table_header "join: $(python3 -c "print(f'{$(file_bytes "$req")/1e9:.2f}')") GB requests + $(python3 -c "print(f'{($(file_bytes "$res_out")+$(file_bytes "$res_err"))/1e9:.2f}')") GB shuffled results (output + error file)"

measure "batchkit join --memory-limit 256MiB (spills)" "$bytes" \
  "$BK" --format json join --requests "$req" --results "$res_out" "$res_err" \
  --out "$work/merged.jsonl" --retry "$work/retry.jsonl" --orphans "$work/orphans.jsonl" --memory-limit 256MiB
bk_secs=$LAST_SECS
bk_rss=$LAST_RSS_MIB
rm -f "$work/merged.jsonl" "$work/retry.jsonl" "$work/orphans.jsonl"

measure "batchkit join --memory-limit 8GiB (in memory)" "$bytes" \
  "$BK" --format json join --requests "$req" --results "$res_out" "$res_err" \
  --out "$work/merged.jsonl" --retry "$work/retry.jsonl" --orphans "$work/orphans.jsonl" --memory-limit 8GiB
rm -f "$work/merged.jsonl" "$work/retry.jsonl" "$work/orphans.jsonl"

measure "duckdb LEFT JOIN (read_json_objects) to JSON" "$bytes" python3 "$work/duck.py"
duck_secs=$LAST_SECS
rm -f "$work/duck-merged.json"

ratio "join wall time, batchkit (256MiB) / DuckDB" "$bk_secs" "$duck_secs"
echo "
batchkit peak RSS under --memory-limit 256MiB: ${bk_rss} MiB (target: at most 300 MiB)." >>"$OUT"
