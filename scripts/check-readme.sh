#!/usr/bin/env bash
# Runs every `batchkit ...` command line of the README's sh blocks (a line ending in `\`
# continues on the next) with the debug binary first on PATH, from the repository root, and
# fails when one exits 2 (the job could not be done) or more; exit 1 (the input has
# problems) is what some examples show. Install and test lines are run by CI's other steps.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$PWD/target}
cargo build -q --bin batchkit
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
ln -s "$target/debug/batchkit" "$bin/batchkit"
export PATH=$bin:$PATH
n=0
while IFS= read -r cmd; do
    n=$((n + 1))
    echo "\$ $cmd"
    set +e
    bash -c "$cmd" >/dev/null
    rc=$?
    set -e
    if [ "$rc" -ge 2 ]; then
        echo "README command failed with exit $rc: $cmd" >&2
        exit 1
    fi
done < <(awk '
    /^```sh/ { on = 1; next }
    /^```/ { on = 0; next }
    on {
        sub(/[ \t]+#.*$/, "")
        if (cont != "") { $0 = cont " " $0; cont = "" }
        if ($0 ~ /\\$/) { sub(/\\$/, ""); cont = $0; next }
        if ($0 ~ /^batchkit /) print
    }' README.md)
[ "$n" -gt 0 ] || { echo "no batchkit commands found in README.md" >&2; exit 1; }
echo "$n README commands ran"
