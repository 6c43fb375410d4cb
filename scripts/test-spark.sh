#!/usr/bin/env bash
# Builds the wheel, installs it with the `spark` extra (pyspark, pyarrow) into a fresh
# virtual environment and runs the Spark tests (python/tests/test_spark.py) on a local
# SparkSession. Needs python3 (>= 3.9), Java 17 (JAVA_HOME or java on PATH) and PyPI.
# Honours CARGO_TARGET_DIR and BATCHKIT_WHEEL_PROFILE (as scripts/test-python.sh).
#
# Usage: scripts/test-spark.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
command -v java >/dev/null || [ -n "${JAVA_HOME:-}" ] || { echo "Java is needed for Spark" >&2; exit 2; }

python3 -m venv "$work/venv"
py=$work/venv/bin/python
"$py" -m pip install -q --disable-pip-version-check maturin pytest
"$work/venv/bin/maturin" build --profile "${BATCHKIT_WHEEL_PROFILE:-release}" --out "$work/wheels"
wheel=$(ls "$work"/wheels/batchkit-*.whl)
"$py" -m pip install -q --disable-pip-version-check "$wheel[spark]"
export BATCHKIT_ROOT=$root BATCHKIT_FIXTURES=$root/fixtures
export PYSPARK_PYTHON=$py PYSPARK_DRIVER_PYTHON=$py
"$py" -m pytest -p no:cacheprovider --import-mode=importlib python/tests/test_spark.py "$@"
