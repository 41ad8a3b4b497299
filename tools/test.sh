#!/usr/bin/env bash
# Runs every CTest test (labels unit, equivalence; gpu tests appear once the CUDA backend has them),
# building first through tools/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
cd build
ctest --output-on-failure -j "$(nproc)" "$@"
