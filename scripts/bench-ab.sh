#!/usr/bin/env bash
# Two builds of batchkit side by side on the same inputs: the commands of the validate,
# tokens and join sections, each run by build A then build B in turn (A B A B ...), so a
# drift in the machine's speed hits both alike. Prints, per command, the median wall time
# of each build, the median of the pair-by-pair ratios B/A and the peak RSS of each
# (`/usr/bin/time -v`), as a markdown table; used to check that a refactor is no slower.
#
# Usage: scripts/bench-ab.sh BK_A BK_B [ROUNDS]
#   BK_A, BK_B: two batchkit binaries (say, release builds of two commits);
#   ROUNDS: runs of each command by each build (default 5), after one warm-up run each.
# Environment: DATA (default bench-data/): requests-1g.jsonl and the join inputs
# (join-req.jsonl, join-out.jsonl, join-err.jsonl) as scripts/bench.sh makes them, and
# schema/ (the same with a JSON schema in every request) when present; ONLY=substring runs
# only the commands whose name contains it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
A=${1:?usage: scripts/bench-ab.sh BK_A BK_B [ROUNDS]}
B=${2:?usage: scripts/bench-ab.sh BK_A BK_B [ROUNDS]}
ROUNDS=${3:-5}
DATA=${DATA:-$ROOT/bench-data}
F=$DATA/requests-1g.jsonl
for f in "$F" "$DATA/join-req.jsonl" "$DATA/join-out.jsonl" "$DATA/join-err.jsonl"; do
  [ -s "$f" ] || { echo "bench-ab: $f is missing (run scripts/bench.sh once to make it)" >&2; exit 2; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-ab.XXXXXX")
trap 'rm -rf "$work"' EXIT

# name|arguments after the binary (OUT stands for a fresh output path)
cmds=(
  "validate|validate --format json $F"
  "validate, 1 thread|--threads 1 validate --format json $F"
  "tokens, 1 thread, no cache plan|--threads 1 --format json tokens --no-cache-plan $F"
  "tokens (cost plan)|--format json tokens $F"
  "join|--format json join --requests $DATA/join-req.jsonl --results $DATA/join-out.jsonl $DATA/join-err.jsonl --out OUT --retry OUT.retry"
)
# The join pair where every request asks for a JSON schema (scripts/gen_join.py --schema), when
# it is there: the cost of checking answers (build A without the checks, B with them).
S=$DATA/schema
if [ -s "$S/join-req.jsonl" ] && [ -s "$S/join-out.jsonl" ]; then
  errs=""
  [ -s "$S/join-err.jsonl" ] && errs="$S/join-err.jsonl"
  cmds+=("join, every request with a JSON schema|--format json join --requests $S/join-req.jsonl --results $S/join-out.jsonl $errs --out OUT --retry OUT.retry")
fi
# ONLY=substring: run only the commands whose name contains it.
if [ -n "${ONLY:-}" ]; then
  kept=()
  for c in "${cmds[@]}"; do [[ ${c%%|*} == *"$ONLY"* ]] && kept+=("$c"); done
  cmds=("${kept[@]}")
fi

# run BIN ARGS...: one timed run; its "seconds max_rss_kib" is the last line of $work/last
# (GNU time writes a line before it when the exit code is not 0).
run() {
  local bin=$1
  shift
  local args=()
  for a in "$@"; do args+=("${a//OUT/$work/out.jsonl}"); done
  rm -f "$work"/out.jsonl*
  /usr/bin/time -f '%e %M' -o "$work/last" "$bin" --progress never "${args[@]}" >/dev/null 2>"$work/stderr" || true
}

echo "| command | A median s | B median s | B/A (median of pairs) | A peak RSS MiB | B peak RSS MiB |"
echo "|---|---|---|---|---|---|"
for c in "${cmds[@]}"; do
  name=${c%%|*}
  read -r -a args <<<"${c#*|}"
  : >"$work/a" && : >"$work/b"
  run "$A" "${args[@]}"
  run "$B" "${args[@]}"
  for _ in $(seq "$ROUNDS"); do
    run "$A" "${args[@]}" && tail -n 1 "$work/last" >>"$work/a"
    run "$B" "${args[@]}" && tail -n 1 "$work/last" >>"$work/b"
  done
  python3 - "$name" "$work/a" "$work/b" <<'PY'
import statistics, sys
name, fa, fb = sys.argv[1:]
a = [tuple(map(float, l.split())) for l in open(fa) if l.strip()]
b = [tuple(map(float, l.split())) for l in open(fb) if l.strip()]
ratio = statistics.median(y[0] / x[0] for x, y in zip(a, b) if x[0] > 0)
med = lambda v: statistics.median(t[0] for t in v)
rss = lambda v: max(t[1] for t in v) / 1024
print(f"| {name} | {med(a):.2f} | {med(b):.2f} | {ratio:.3f} | {rss(a):.0f} | {rss(b):.0f} |")
PY
done
