#!/usr/bin/env bash
# Fuzzes every reader of user input (tests/fuzz/, built by the debug preset into build-debug/fuzz/)
# for PRIVREC_FUZZ_SECONDS seconds each (default 20), one target after the other, each from a copy
# of its committed seed corpus tests/fuzz/corpus/<target>/ in a temporary folder (nothing is written
# into the repository). `tools/fuzz.sh TARGET...` fuzzes only those.
#
# Prints per target the executions and the seconds. Exits 1 on any finding (a crash, a sanitizer
# report, an exception other than InputError, a hang past 10 s, more than 2 GB of memory): the
# input that caused it and the fuzzer's log are kept in build-debug/fuzz-findings/<target>/
# (PRIVREC_FUZZ_FINDINGS sets another folder); `build-debug/fuzz/<target> FILE` reproduces it.
# A finding, once fixed, goes into tests/fuzz/corpus/<target>/ as regression-<what> (the CTest test
# fuzz_seeds_<target> runs every file there) and into the reader's unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${PRIVREC_FUZZ_SECONDS:-20}
build=${PRIVREC_FUZZ_BUILD:-build-debug}
findings=${PRIVREC_FUZZ_FINDINGS:-$build/fuzz-findings}
[[ "$findings" = /* ]] || findings=$root/$findings
case $seconds in '' | *[!0-9]* | 0) echo "[fuzz] PRIVREC_FUZZ_SECONDS=$seconds: expected a positive number of seconds" >&2; exit 2 ;; esac

if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for d in tests/fuzz/corpus/*/; do targets+=("$(basename "$d")"); done
fi
for t in "${targets[@]}"; do
  if [ ! -d "tests/fuzz/corpus/$t" ]; then
    echo "[fuzz] $t: no such target (no tests/fuzz/corpus/$t/)" >&2
    exit 2
  fi
  if [ ! -x "$build/fuzz/$t" ]; then
    echo "[fuzz] $build/fuzz/$t is missing: build the debug preset first (cmake --preset debug && cmake --build build-debug)" >&2
    exit 2
  fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/privrec-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

failed=()
for t in "${targets[@]}"; do
  dir=$work/$t
  mkdir -p "$dir/corpus" "$dir/tmp"
  cp tests/fuzz/corpus/"$t"/* "$dir/corpus/"
  rm -rf "${findings:?}/$t"
  mkdir -p "$findings/$t"
  seeds=$(find "$dir/corpus" -type f | wc -l)
  case $t in
    *_json | fuzz_case_list) dict=tests/fuzz/json.dict ;;
    fuzz_trace_text) dict=tests/fuzz/trace_text.dict ;;
    fuzz_trace_binary) dict=tests/fuzz/trace_binary.dict ;;
    fuzz_criteo) dict=tests/fuzz/criteo.dict ;;
    *) dict= ;;
  esac
  start=$(date +%s)
  rc=0
  # The readers' temporary files go to $dir/tmp; the fuzzer adds what it finds new to $dir/corpus.
  # UBSan halts at its first report so that libFuzzer keeps the input.
  (cd "$dir" && TMPDIR="$dir/tmp" ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
     "$root/$build/fuzz/$t" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=16384 -timeout=10 \
     ${dict:+-dict="$root/$dict"} -print_final_stats=1 -artifact_prefix="$findings/$t/" corpus >"$dir/log" 2>&1) || rc=$?
  elapsed=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  inputs=$(find "$dir/corpus" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then
    printf '[fuzz] %-20s %9s executions in %3d s, corpus %d -> %d inputs: nothing found\n' "$t" "${execs:-?}" "$elapsed" \
      "$seeds" "$inputs" >&2
    rm -rf "${findings:?}/$t"
  else
    cp "$dir/log" "$findings/$t/fuzz.log"
    printf '[fuzz] %-20s FINDING (exit %d) after %d s: input and log in %s/\n' "$t" "$rc" "$elapsed" "$findings/$t" >&2
    grep -E 'ERROR: |FINDING|runtime error|SUMMARY|Test unit written' "$dir/log" | head -20 | sed 's/^/    /' >&2 || true
    failed+=("$t")
  fi
done
rmdir "$findings" 2>/dev/null || true

if [ ${#failed[@]} -gt 0 ]; then
  echo "[fuzz] findings in: ${failed[*]} (inputs and logs under $findings/)" >&2
  exit 1
fi
echo "[fuzz] ${#targets[@]} targets, ${seconds} s each: nothing found" >&2
