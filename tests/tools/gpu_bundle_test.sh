#!/usr/bin/env bash
# tools/gpu-bundle.sh --check on this build: the binaries carried to the GPU machine need nothing
# but glibc at load time (issue 17). A control run on a build folder whose privrec is a binary that
# needs libstdc++.so (CMake itself) must fail and name that library, so the check cannot pass by
# accepting everything.
# Usage: gpu_bundle_test.sh SOURCE_DIR BUILD_DIR DYNAMIC_BINARY
set -uo pipefail
src="$1" build="$2" dynamic="$3"
script="$src/tools/gpu-bundle.sh"
status=0

out="$("$script" --check "$build" 2>&1)"
rc=$?
echo "$out"
if [ $rc -ne 0 ]; then
  echo "FAIL: gpu-bundle.sh --check $build exited $rc"; status=1
elif ! grep -q 'newest glibc symbol version the binaries need: GLIBC_[0-9.]*' <<< "$out"; then
  echo "FAIL: gpu-bundle.sh did not report the newest glibc version"; status=1
fi

if ! ldd "$dynamic" | grep -q 'libstdc++\.so'; then
  echo "control skipped: $dynamic does not need libstdc++.so"
  exit $status
fi
control="$(mktemp -d)"
trap 'rm -rf "$control"' EXIT
mkdir -p "$control/tests"
ln -s "$dynamic" "$control/privrec"
ln -s "$(realpath "$build/privrec-cuda-bench")" "$control/privrec-cuda-bench"
ln -s "$(realpath "$build/tests/cuda_kernel_tests")" "$control/tests/cuda_kernel_tests"
out="$("$script" --check "$control" 2>&1)"
rc=$?
if [ $rc -ne 1 ] || ! grep -q "$control/privrec: libstdc++.so" <<< "$out"; then
  echo "FAIL: the control ($dynamic as privrec) exited $rc instead of failing on libstdc++.so:"
  echo "$out"; status=1
fi
[ $status -eq 0 ] && echo "gpu-bundle check: passed (and the control failed as it should)"
exit $status
