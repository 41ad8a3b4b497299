#!/usr/bin/env bash
# Runs every CTest test (labels unit, equivalence, validation, gpu), building first through
# tools/setup.sh, then the same tests (but gpu) under the sanitizers.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
(cd build && ctest --output-on-failure -j "$(nproc)" "$@")

# The same tests again under the address and undefined-behaviour sanitizers (the debug preset, host
# code only): any report fails the test it came from. PRIVREC_NO_SANITIZERS=1 skips this pass.
if [ "${PRIVREC_NO_SANITIZERS:-0}" != 1 ]; then
  echo "[test] the tests under the address and undefined-behaviour sanitizers (build-debug)" >&2
  [ -f build-debug/CMakeCache.txt ] || cmake --preset debug >/dev/null
  cmake --build build-debug -j "$(nproc)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --test-dir build-debug --output-on-failure -j "$(nproc)" --timeout 900 -LE gpu "$@"
fi
