#!/usr/bin/env bash
# On the GPU machine (H100/H200), from the repository root with build/ carried over (built here
# with sm_90, then tools/gpu-bundle.sh): the gpu tests, the CUDA microbenchmarks and the device's
# description, all under one output folder ($OUT, or the first argument). Stays within 10 minutes.
#
# Not yet in it, because the CUDA backend does not have them yet: `privrec calibrate --backend cuda`
# and `privrec compare --backend cuda` (the CUDA trainers). The script says so in its summary.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-out/gpu-run}}"
mkdir -p "$out"
export LD_LIBRARY_PATH="$PWD/build/gpu-libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
log() { echo "[gpu-run] $*" | tee -a "$out/summary.txt"; }

if ! build/privrec device --json > "$out/device.json" 2>&1; then
  log "stopping: $(build/privrec device 2>&1)"
  exit 2
fi
{
  echo "date_utc: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "privrec: $(build/privrec --version 2>&1)"
  echo "host: $(hostname)"
  command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv
} > "$out/provenance.txt" 2>&1
log "device: $(build/privrec device)"

status=0
log "gpu tests (build/tests/cuda_kernel_tests)"
if timeout 300 build/tests/cuda_kernel_tests --gtest_output="json:$out/gpu_tests.json" > "$out/gpu_tests.log" 2>&1; then
  log "gpu tests: $(grep -E '^\[  (PASSED|SKIPPED) +\] [0-9]+ test' "$out/gpu_tests.log" | tr '\n' ' ')"
else
  status=1
  log "gpu tests FAILED: $(grep -E '^\[  FAILED' "$out/gpu_tests.log" | tr '\n' ' ')"
fi
if command -v compute-sanitizer > /dev/null; then
  timeout 240 compute-sanitizer --tool memcheck build/tests/cuda_kernel_tests > "$out/sanitizer.log" 2>&1 \
    && log "compute-sanitizer memcheck: clean" || { status=1; log "compute-sanitizer memcheck: errors (sanitizer.log)"; }
else
  log "compute-sanitizer: not on this machine (skipped)"
fi

log "microbenchmarks (build/privrec-cuda-bench)"
timeout 300 build/privrec-cuda-bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_out="$out/cuda_bench.json" --benchmark_out_format=json > "$out/cuda_bench.txt" 2>&1 || status=1
grep -E 'median' "$out/cuda_bench.txt" | tee -a "$out/summary.txt"

log "not run (not implemented yet): privrec calibrate --backend cuda, privrec compare --backend cuda"
exit $status
