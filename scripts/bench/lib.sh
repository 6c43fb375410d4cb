# Shared helpers for the end-to-end benchmark sections (sourced, not run).
#
# Each section script scripts/bench/<name>.sh is run by scripts/bench.sh with:
#   BK    path to the release batchkit binary
#   DATA  directory holding generated inputs (scripts/bench.sh makes them)
#   OUT   markdown fragment the section appends its table to
# and uses `measure` so every row is produced the same way in one run.

set -euo pipefail

# measure LABEL BYTES CMD...: runs CMD under /usr/bin/time -v (stdout discarded), appends
# "| LABEL | seconds | MB/s | peak RSS MiB | exit |" to $OUT and sets LAST_SECS / LAST_RSS_MIB.
measure() {
  local label=$1 bytes=$2
  shift 2
  local tf
  tf=$(mktemp)
  local rc=0
  /usr/bin/time -v -o "$tf" "$@" >/dev/null 2>"$tf.err" || rc=$?
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tf")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tf")
  LAST_SECS=$(python3 -c "
t='$wall'.split(':'); s=0.0
for p in t: s=s*60+float(p)
print(f'{s:.3f}')")
  LAST_RSS_MIB=$(python3 -c "print(f'{$rss/1024:.1f}')")
  local mbs
  mbs=$(python3 -c "s=$LAST_SECS; print(f'{$bytes/1e6/s:.0f}' if s>0 else 'inf')")
  echo "| $label | $LAST_SECS | $mbs | $LAST_RSS_MIB | $rc |" >>"$OUT"
  echo "  $label: ${LAST_SECS}s ${mbs} MB/s rss ${LAST_RSS_MIB} MiB exit $rc" >&2
  if [ "$rc" -gt 2 ]; then
    echo "  (stderr of $label:)" >&2
    tail -5 "$tf.err" >&2
  fi
  rm -f "$tf" "$tf.err"
}

# table_header TITLE: starts a markdown table in $OUT.
table_header() {
  {
    echo
    echo "### $1"
    echo
    echo "| command | seconds | MB/s | peak RSS MiB | exit |"
    echo "|---|---|---|---|---|"
  } >>"$OUT"
}

# ratio NAME A B: appends "NAME: A/B = r" to $OUT.
ratio() {
  python3 -c "a=$2; b=$3; print(f'\n{\"$1\"}: {a:.3f} s / {b:.3f} s = **{a/b:.2f}x**')" >>"$OUT"
}

# file_bytes PATH
file_bytes() { stat -c %s "$1"; }
