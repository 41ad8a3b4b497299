#!/usr/bin/env bash
# tools/gpu-run.sh --dry-run all on this build (issue 17): every section of the GPU check must parse
# its command line here, without a device, in a few seconds, so a call on the GPU machine (whose
# minutes are few) does not die of a typo. A control run of a copy whose train command carries an
# unknown flag must fail and name it, so the dry-run cannot pass by accepting everything.
# Usage: gpu_run_dry_test.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src="$1" build="$2"
status=0

start=$SECONDS
out="$(BUILD="$build" "$src/tools/gpu-run.sh" --dry-run all 2>&1)"
rc=$?
echo "$out"
took=$((SECONDS - start))
sections="$(grep -cE '^(ok|FAIL) ' <<< "$out")"
if [ $rc -ne 0 ]; then
  echo "FAIL: gpu-run.sh --dry-run all exited $rc"; status=1
elif [ "$sections" -lt 20 ] || grep -q '^FAIL ' <<< "$out"; then
  echo "FAIL: expected 20 or more sections, every one ok; got $sections"; status=1
fi
if [ $took -gt 20 ]; then
  echo "FAIL: the dry-run took $took s (a few seconds expected)"; status=1
fi

# The control: the script in a tree of its own (it runs from its parent folder), the train
# sections given --bogus-flag.
control="$(mktemp -d)"
trap 'rm -rf "$control"' EXIT
mkdir -p "$control/tools"
ln -s "$src/configs" "$control/configs"
ln -s "$src/tools/peers" "$control/tools/peers"
sed 's/--steps 8 \\$/--steps 8 --bogus-flag \\/' "$src/tools/gpu-run.sh" > "$control/tools/gpu-run.sh"
if cmp -s "$src/tools/gpu-run.sh" "$control/tools/gpu-run.sh"; then
  echo "FAIL: the control could not put --bogus-flag into the train command"; status=1
fi
out="$(BUILD="$build" bash "$control/tools/gpu-run.sh" --dry-run call2 2>&1)"
rc=$?
if [ $rc -ne 1 ] || [ "$(grep -c "^FAIL .*train_mlperf.*--bogus-flag" <<< "$out")" -ne 9 ]; then
  echo "FAIL: the control (--bogus-flag in every train command) exited $rc instead of failing 9 train sections:"
  echo "$out"; status=1
fi
[ $status -eq 0 ] && echo "gpu-run dry-run: passed in $took s (and the control failed as it should)"
exit $status
