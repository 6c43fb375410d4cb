#!/usr/bin/env bash
# End-to-end benchmarks of batchkit against its peers (DuckDB, jq, ...), written to BENCHMARKS.md.
#
# Usage: scripts/bench.sh [section...]
#   section: the name of a script scripts/bench/<section>.sh (lib.sh excepted); default: all.
#
# What it does, in order:
#   1. installs missing peers (apt-get: jq hyperfine time; pip: duckdb tiktoken);
#      BENCH_NO_INSTALL=1 skips this step;
#   2. builds the release binary and the gen_corpus / parse_ceiling examples;
#   3. generates the inputs under $DATA (default bench-data/, gitignored) unless they are
#      there already from the same generator flags: requests-1g.jsonl (1 GB, 100 planted
#      duplicate ids) and, with BENCH_4G=1, requests-4g.jsonl (4 GB, 400 planted);
#      the generator's stderr (planted pairs, summary) is kept beside each as <file>.log;
#   4. for each section: warms the page cache with the inputs, runs the section with
#      BK DATA OUT (see scripts/bench/lib.sh) plus ROOT GEN CEILING BENCH_4G in the
#      environment, collecting its markdown fragment in $DATA/fragments/<section>.md;
#   5. rewrites BENCHMARKS.md: a fresh header (date, machine, commit), then one block per
#      section. BENCHMARKS.md itself is the store: each section's block sits between
#      `<!-- section:NAME -->` and `<!-- /section:NAME -->` markers, and the blocks of
#      sections that were not rerun are kept as they were (each block says when and at
#      which commit it was measured). Sections appear in product order (validate dupes
#      tokens shard join), then others by name; blocks whose script is gone are kept last.
#
# Helpers exported to sections, besides scripts/bench/lib.sh: ensure_data FILE GEN-ARGS...
# (make an input with gen_corpus once), planted FILE (duplicates gen_corpus planted in it),
# capture OUT ERR (command prefix keeping a measured command's output), row_ok ERR CODES...
# (did the last measured row exit with an accepted code; notes its stderr if not) and
# flush_notes (appends those notes under the table).
#
# A section that fails part way still gets its partial table, with a note saying so; the
# harness goes on with the next section. A command that fails inside a section is a row
# with its exit code (measure never aborts).
#
# Environment: DATA (inputs, default bench-data), CARGO_TARGET_DIR (binaries),
# BENCH_4G=1 (also the 4 GB input), BENCH_NO_INSTALL=1, BENCH_OUT (default BENCHMARKS.md),
# BK / GEN / CEILING (prebuilt batchkit / gen_corpus / parse_ceiling: skip building them).

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DATA=${DATA:-$ROOT/bench-data}
BENCH_OUT=${BENCH_OUT:-$ROOT/BENCHMARKS.md}
BENCH_4G=${BENCH_4G:-0}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
mkdir -p "$DATA/fragments"
DATA=$(cd "$DATA" && pwd)

log() { echo "bench: $*" >&2; }

# --- sections to run -----------------------------------------------------------------------
# Sections in the order of the product (SPEC.md), then any others by name.
all_sections() {
  local f s
  for s in validate dupes tokens shard join; do
    if [ -f "$ROOT/scripts/bench/$s.sh" ]; then echo "$s"; fi
  done
  for f in "$ROOT"/scripts/bench/*.sh; do
    f=$(basename "$f" .sh)
    case $f in lib | validate | dupes | tokens | shard | join) ;; *) echo "$f" ;; esac
  done
}

sections=()
if [ "$#" -gt 0 ]; then
  for s in "$@"; do
    s=${s%.sh}
    s=${s##*/}
    if [ "$s" = lib ] || [ ! -f "$ROOT/scripts/bench/$s.sh" ]; then
      echo "bench: no section '$s' (have: $(all_sections | tr '\n' ' '))" >&2
      exit 2
    fi
    sections+=("$s")
  done
else
  mapfile -t sections < <(all_sections)
fi
log "sections: ${sections[*]}"

# --- peers ---------------------------------------------------------------------------------
install_peers() {
  local missing=()
  command -v jq >/dev/null || missing+=(jq)
  command -v hyperfine >/dev/null || missing+=(hyperfine)
  [ -x /usr/bin/time ] || missing+=(time)
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    if ! { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq "${missing[@]}"; } >&2; then
      log "warning: could not install ${missing[*]}; their rows will show errors"
    fi
  fi
  if ! python3 -c 'import duckdb, tiktoken' 2>/dev/null; then
    log "installing duckdb tiktoken (pip)"
    python3 -m pip install -q duckdb tiktoken >&2 || log "warning: pip install failed; DuckDB rows will show errors"
  fi
  [ -x /usr/bin/time ] || { log "error: /usr/bin/time (GNU time) is required"; exit 2; }
}
if [ "${BENCH_NO_INSTALL:-0}" != 1 ]; then
  install_peers
fi

# --- build ---------------------------------------------------------------------------------
# BK, GEN or CEILING set in the environment name prebuilt binaries and skip their build.
prebuilt=${BK:+ (prebuilt binary, may differ from this commit)}
if [ -z "${BK:-}" ]; then
  log "building batchkit (target dir $TARGET)"
  cargo build --release --quiet
  BK=$TARGET/release/batchkit
fi
if [ -z "${GEN:-}" ] || [ -z "${CEILING:-}" ]; then
  log "building gen_corpus, parse_ceiling (target dir $TARGET)"
  cargo build --release --quiet --example gen_corpus --example parse_ceiling
  GEN=${GEN:-$TARGET/release/examples/gen_corpus}
  CEILING=${CEILING:-$TARGET/release/examples/parse_ceiling}
fi
BK=$(realpath "$BK")
GEN=$(realpath "$GEN")
CEILING=$(realpath "$CEILING")

# --- inputs --------------------------------------------------------------------------------
# ensure_data FILE GEN-ARGS...: runs gen_corpus unless FILE exists and was made with the same
# arguments (recorded in FILE.args). Exported so sections can make their own inputs.
ensure_data() {
  local file=$1
  shift
  local want="$*"
  if [ -f "$file" ] && [ -f "$file.args" ] && [ "$(cat "$file.args")" = "$want" ]; then
    return 0
  fi
  echo "bench: generating $file ($want)" >&2
  rm -f "$file.args"
  "$GEN" "$@" --out "$file" 2>"$file.log"
  tail -n 1 "$file.log" >&2
  echo "$want" >"$file.args"
}
export -f ensure_data

# planted FILE: number of duplicates gen_corpus planted in FILE.
planted() { grep -c '^dupe: ' "$1.log" || true; }

# capture STDOUT-FILE STDERR-FILE: sets CAPTURE to a command prefix that runs the rest with
# its output in those files; exec keeps /usr/bin/time measuring the command itself:
#   capture "$tmp/out" "$tmp/err"; measure LABEL BYTES "${CAPTURE[@]}" CMD...
capture() {
  # shellcheck disable=SC2016,SC2034 # expanded by the inner sh; CAPTURE is for the caller
  CAPTURE=(sh -c 'o=$1 e=$2; shift 2; exec "$@" >"$o" 2>"$e"' sh "$1" "$2")
}

# row_ok STDERR-FILE OK-CODES...: whether the last row measure wrote exited with one of
# OK-CODES; if not, notes the first lines of the command's stderr under the table.
row_ok() {
  local err=$1 rc c
  shift
  rc=$(tail -n 1 "$OUT" | awk -F'|' '{gsub(/ /, "", $6); print $6}')
  for c in "$@"; do
    [ "$rc" = "$c" ] && return 0
  done
  {
    echo
    printf '> %s exited with %s: ' "$(tail -n 1 "$OUT" | awk -F'|' '{sub(/^ +/, "", $2); sub(/ +$/, "", $2); print $2}')" "$rc"
    # The first line naming an error (past a Python traceback's frames), else the first line.
    { grep -m 1 -E '(Error|Exception)(:| )|^error' "$err" || grep -m 1 -v '^\s*$' "$err"; } 2>/dev/null | cut -c 1-300 || true
    echo
  } >>"$OUT.notes"
  return 1
}

# flush_notes: appends the failure notes collected by row_ok to $OUT.
flush_notes() {
  if [ -s "$OUT.notes" ]; then cat "$OUT.notes" >>"$OUT"; fi
  rm -f "$OUT.notes"
}
export -f planted capture row_ok flush_notes

ensure_data "$DATA/requests-1g.jsonl" --bytes 1GB --seed 1 --dupes 100
inputs=("$DATA/requests-1g.jsonl")
if [ "$BENCH_4G" = 1 ]; then
  ensure_data "$DATA/requests-4g.jsonl" --bytes 4GB --seed 4 --dupes 400
  inputs+=("$DATA/requests-4g.jsonl")
fi

# --- machine -------------------------------------------------------------------------------
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  commit="$commit (with uncommitted changes)"
fi
today=$(date -u +%F)
cpu_model=$(lscpu 2>/dev/null | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2; exit}')
ram_gib=$(awk '/MemTotal/ {printf "%.1f", $2 / 1048576}' /proc/meminfo)
machine="$(nproc) cores, ${cpu_model:-unknown CPU}, ${ram_gib} GiB RAM"
version=$("$BK" --version 2>/dev/null || echo "batchkit (version unknown)")

# --- sections ------------------------------------------------------------------------------
export BK DATA GEN CEILING ROOT BENCH_4G

warm() {
  local f
  for f in "$@"; do
    if [ -f "$f" ]; then cat "$f" >/dev/null; fi
  done
}

for s in "${sections[@]}"; do
  frag="$DATA/fragments/$s.md"
  : >"$frag"
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  {
    echo "_Measured $today at commit $commit with $version$prebuilt; load average before the section: $load._"
  } >>"$frag"
  log "section $s"
  warm "${inputs[@]}"
  rc=0
  OUT="$frag" bash "$ROOT/scripts/bench/$s.sh" || rc=$?
  if [ "$rc" -ne 0 ]; then
    printf '\n_The section stopped early (exit %s): the figures above may be incomplete._\n' "$rc" >>"$frag"
    log "section $s exited with $rc"
  fi
done

# --- BENCHMARKS.md -------------------------------------------------------------------------
header=$(mktemp)
cat >"$header" <<EOF
# batchkit benchmarks

Produced by \`scripts/bench.sh\` (all sections) or \`scripts/bench.sh SECTION...\` (only those;
the other sections keep their last figures, each block says when it was measured).
Last run: $today, batchkit $commit, $version.
Machine: $machine.

Rows: wall-clock seconds of one run with the input in the page cache, MB/s = input bytes /
seconds (10^6 bytes), peak RSS as \`/usr/bin/time -v\` reports it ("Maximum resident set
size"), and the exit code of the command (0 clean, 1 problems found, 2 could not run).
Inputs come from \`examples/gen_corpus.rs\` (multilingual OpenAI chat requests, JSON escapes,
0.3–3 KB lines with a tail up to ~1 MB, planted duplicate ids), regenerated byte-identically
from the seed.
EOF

mapfile -t order < <(all_sections)
python3 - "$BENCH_OUT" "$header" "$DATA/fragments" "${sections[@]}" -- "${order[@]}" <<'PY'
import os, re, sys

out, header, frags = sys.argv[1:4]
rest = sys.argv[4:]
sep = rest.index("--")
rerun, order = rest[:sep], rest[sep + 1:]

blocks = {}
if os.path.exists(out):
    text = open(out, encoding="utf-8").read()
    for m in re.finditer(r"<!-- section:([\w.-]+) -->\n(.*?)<!-- /section:\1 -->\n?", text, re.S):
        blocks[m.group(1)] = m.group(2)
for name in rerun:
    body = open(os.path.join(frags, name + ".md"), encoding="utf-8").read()
    blocks[name] = f"## {name}\n\n{body.strip()}\n"

names = [n for n in order if n in blocks] + sorted(n for n in blocks if n not in order)
parts = [open(header, encoding="utf-8").read().rstrip() + "\n"]
for n in names:
    parts.append(f"\n<!-- section:{n} -->\n{blocks[n].rstrip()}\n<!-- /section:{n} -->\n")
tmp = out + ".tmp"
with open(tmp, "w", encoding="utf-8") as f:
    f.write("".join(parts))
os.replace(tmp, out)
PY
rm -f "$header"
log "wrote $BENCH_OUT"
