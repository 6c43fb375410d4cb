#!/usr/bin/env bash
# Section "line-engine": the criterion bench benches/line_engine.rs (five JSON engines for one
# request line, three jobs, small and large lines from scripts/gen_traffic.py), run
# LINE_ENGINE_RUNS times (default 3); each cell is the median over the runs of criterion's
# median time, as MB/s (10^6 bytes) and as a ratio to the simd-json tape doing the same job
# on the same lines. The machine may be shared: compare ratios, not MB/s across sections.
# Run through scripts/bench.sh (sets OUT), or alone: OUT=fragment.md scripts/bench/line-engine.sh
# A rerun replaces the whole BENCHMARKS.md block, including its hand-written reading.

set -euo pipefail
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
OUT=${OUT:?set OUT to the markdown fragment to append to}
RUNS=${LINE_ENGINE_RUNS:-3}
CRIT=${CARGO_TARGET_DIR:-$ROOT/target}/criterion
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cd "$ROOT"
cargo bench --bench line_engine --no-run >/dev/null 2>&1
for i in $(seq 1 "$RUNS"); do
  cut -d' ' -f1-3 /proc/loadavg >"$tmp/load-$i"
  cargo bench --bench line_engine -- --warm-up-time 1 --measurement-time 3 >"$tmp/run-$i.txt" 2>&1
  for f in "$CRIT"/line_engine_*/*/*/new/estimates.json; do
    d=${f%/new/estimates.json}
    echo "${d#"$CRIT"/} $(jq -r .median.point_estimate "$f") $(jq -r .throughput.Bytes "$d/new/benchmark.json")" >>"$tmp/times"
  done
done

python3 - "$tmp" "$RUNS" >>"$OUT" <<'PY'
import glob, statistics, sys
tmp, runs = sys.argv[1], int(sys.argv[2])
ns, size = {}, {}
for line in open(f"{tmp}/times"):
    key, t, b = line.split()
    ns.setdefault(key, []).append(float(t))
    size[key] = int(b)
engines = ["tape", "borrowed", "serde_value", "typed", "lazy"]
jobs = ["parse", "fields", "walk"]
sets = ["small", "large"]
def mbs(s, e, j):
    k = f"line_engine_{s}/{e}/{j}"
    return size[k] / 1e6 / (statistics.median(ns[k]) / 1e9) if k in ns else None
loads = [open(p).read().strip() for p in sorted(glob.glob(f"{tmp}/load-*"))]
log = open(f"{tmp}/run-1.txt").read().splitlines()
sizes = [l.split("line_engine: ", 1)[1] for l in log if l.startswith("line_engine: ") and "bytes/line" in l]
print()
print("### Line engine: five JSON engines reading one request line\n")
print(f"`cargo bench --bench line_engine -- --warm-up-time 1 --measurement-time 3`, {runs} run(s), "
      f"median of criterion's medians; load average before each run: {'; '.join(loads)}. "
      f"Lines from `scripts/gen_traffic.py --seed 12`: {'; '.join(sizes)}.\n")
print("| engine | job | small MB/s | small / tape | large MB/s | large / tape |")
print("|---|---|---|---|---|---|")
for j in jobs:
    for e in engines:
        row = [e, j]
        for s in sets:
            v, t = mbs(s, e, j), mbs(s, "tape", j)
            row += [f"{v:.0f}" if v else "?", f"{v / t:.2f}x" if v and t else "?"]
        print("| " + " | ".join(row) + " |")
print()
print("Bytes allocated per line after a warm-up pass (reused buffers then cost nothing), and which")
print("value of a repeated `custom_id` each engine reads:\n")
for l in log:
    if l.startswith("line_engine: alloc") or l.startswith("line_engine: duplicate"):
        print("- " + l.split("line_engine: ", 1)[1])
PY
