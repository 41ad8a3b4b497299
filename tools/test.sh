#!/usr/bin/env bash
# Runs every CTest test (labels unit, equivalence, validation, distributed, gpu), building first through
# tools/setup.sh, then the same tests (but gpu) under the sanitizers, then every input reader under
# libFuzzer for a bounded time (tools/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
(cd build && ctest --output-on-failure -j "$(nproc)" "$@")

# The same tests again under the address and undefined-behaviour sanitizers (the debug preset: clang,
# host code only, which also builds the fuzz targets): any report fails the test it came from. Then
# every fuzz target runs PRIVREC_FUZZ_SECONDS (default 20) seconds from its seed corpus; a finding
# fails the run and is kept in build-debug/fuzz-findings/. PRIVREC_NO_SANITIZERS=1 skips both.
if [ "${PRIVREC_NO_SANITIZERS:-0}" != 1 ]; then
  echo "[test] the tests under the address and undefined-behaviour sanitizers (build-debug)" >&2
  # A build-debug/ configured before the preset used clang (no fuzz targets) is configured afresh.
  grep -qs '^PRIVREC_FUZZ:BOOL=ON' build-debug/CMakeCache.txt || cmake --fresh --preset debug >/dev/null
  cmake --build build-debug -j "$(nproc)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --test-dir build-debug --output-on-failure -j "$(nproc)" --timeout 900 -LE gpu "$@"
  echo "[test] every input reader under libFuzzer, ${PRIVREC_FUZZ_SECONDS:-20} s each (tools/fuzz.sh)" >&2
  tools/fuzz.sh
fi
