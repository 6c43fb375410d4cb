#!/usr/bin/env bash
# The declared minimum Rust version (workspace `rust-version`) is true for the dependencies:
# no locked package declares a newer one. clippy's `incompatible_msrv` lint checks our own
# use of the standard library against it in the clippy step.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo metadata --format-version 1 --locked | python3 -c '
import json, sys
m = json.load(sys.stdin)
ours = {p["id"] for p in m["packages"] if p["source"] is None}
def ver(v):
    parts = [int(x) for x in v.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))
declared = {p["rust_version"] for p in m["packages"] if p["id"] in ours}
if len(declared) != 1 or None in declared:
    sys.exit(f"every crate must inherit the workspace rust-version, found {sorted(map(str, declared))}")
msrv = declared.pop()
newer = [(p["name"], p["version"], p["rust_version"]) for p in m["packages"]
         if p["rust_version"] and ver(p["rust_version"]) > ver(msrv)]
if newer:
    sys.exit(f"rust-version {msrv} is older than these dependencies need: {newer}")
print(f"rust-version {msrv}: every dependency builds with it")
'
