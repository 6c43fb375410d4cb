#!/usr/bin/env bash
# Type-checks the cargo-fuzz targets (fuzz/) on a stable toolchain, without cargo-fuzz,
# nightly or sanitizers, so CI notices when a library change breaks a target.
#
# fuzz/ is its own workspace (the root `cargo test --workspace` never builds it), hence the
# --manifest-path. `cargo check` is enough: the targets are only type-checked, and
# libfuzzer-sys builds on stable (its build script compiles libFuzzer with the system C++
# compiler). fuzz/Cargo.lock follows the workspace dependencies. Extra arguments go to cargo.
#
# Usage: scripts/check-fuzz.sh [cargo args...]
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo check --manifest-path fuzz/Cargo.toml --bins "$@"
