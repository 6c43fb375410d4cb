#!/usr/bin/env bash
# Builds the wheel from this checkout, installs it into a fresh virtual environment and
# runs the Python suite (python/tests), which compares every function with the CLI's JSON
# output. Needs python3 (>= 3.9) and PyPI for maturin and pytest. Honours CARGO_TARGET_DIR.
#
# Usage: scripts/test-python.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target=${CARGO_TARGET_DIR:-$root/target}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 -m venv "$work/venv"
py=$work/venv/bin/python
"$py" -m pip install -q --disable-pip-version-check maturin pytest

start=$(date +%s)
# BATCHKIT_WHEEL_PROFILE=ci-wheel (CI) builds without LTO; the default is the release wheel.
"$work/venv/bin/maturin" build --profile "${BATCHKIT_WHEEL_PROFILE:-release}" --out "$work/wheels"
wheel=$(ls "$work"/wheels/batchkit-*.whl)
echo "wheel: $(basename "$wheel"), $(du -k "$wheel" | cut -f1) KiB, built in $(($(date +%s) - start)) s"
# BATCHKIT_WHEEL_EXTRAS (e.g. ray) installs the wheel with those extras, BATCHKIT_TEST_PIP
# more packages for the tests (e.g. "moto[server] boto3"); tests whose packages are missing
# are skipped.
"$py" -m pip install -q --disable-pip-version-check \
    "$wheel${BATCHKIT_WHEEL_EXTRAS:+[$BATCHKIT_WHEEL_EXTRAS]}" ${BATCHKIT_TEST_PIP:-}

# The CLI to compare with: the binary cargo builds.
cargo build -q --bin batchkit
export BATCHKIT_CLI=$target/debug/batchkit
export BATCHKIT_FIXTURES=$root/fixtures
export BATCHKIT_ROOT=$root
# From the repository root, so `import batchkit` finds the installed wheel (the sources
# are under python/, not importable without the extension).
"$py" -m pytest -p no:cacheprovider --import-mode=importlib python/tests "$@"
