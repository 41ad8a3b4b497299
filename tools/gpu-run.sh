#!/usr/bin/env bash
# On the GPU machine (H100/H200), from the repository root with build/ carried over (built here
# with sm_90, then tools/gpu-bundle.sh): the gpu tests, the CUDA microbenchmarks and the device's
# description, all under one output folder ($OUT, or the first argument). Sections (second argument
# or $SECTIONS): tests bench compare train (the default: about 10 minutes together) and calibrate
# (privrec calibrate --backend cuda, then validate --backend cuda on the held-out GPU cases: run it
# in a call of its own).
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-out/gpu-run}}"
sections="${2:-${SECTIONS:-tests bench compare train}}"
want() { [[ " $sections " == *" $1 "* ]]; }
mkdir -p "$out"
# No LD_LIBRARY_PATH: the binaries need only glibc, and privrec-cuda-bench finds the one library
# tools/gpu-bundle.sh may put in build/gpu-libs (libbenchmark.so) through its own run path.
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
if want tests; then
log "gpu tests (build/tests/cuda_kernel_tests)"
if timeout 300 build/tests/cuda_kernel_tests --gtest_output="json:$out/gpu_tests.json" > "$out/gpu_tests.log" 2>&1; then
  log "gpu tests: $(grep -E '^\[  (PASSED|SKIPPED) +\] [0-9]+ test' "$out/gpu_tests.log" | tr '\n' ' ')"
else
  status=1
  log "gpu tests FAILED: $(grep -E '^\[  FAILED' "$out/gpu_tests.log" | tr '\n' ' ')"
fi
if command -v compute-sanitizer > /dev/null; then
  timeout 120 compute-sanitizer --tool memcheck build/tests/cuda_kernel_tests --gtest_filter='CudaKernels.*' \
    > "$out/sanitizer.log" 2>&1 \
    && log "compute-sanitizer memcheck: clean" || { status=1; log "compute-sanitizer memcheck: errors (sanitizer.log)"; }
else
  log "compute-sanitizer: not on this machine (skipped)"
fi

fi

if want bench; then
log "microbenchmarks (build/privrec-cuda-bench)"
timeout 200 build/privrec-cuda-bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_out="$out/cuda_bench.json" --benchmark_out_format=json > "$out/cuda_bench.txt" 2>&1 || status=1
grep -E 'median' "$out/cuda_bench.txt" | tee -a "$out/summary.txt"
fi

if want compare; then
log "compare --backend cuda against the h100-sxm preset (rmc2 x0.1, 9.6 GB of tables)"
for algo in sgd dpsgd-f eana lazydp adafest dp-fest dpsgd-r; do
  timeout 60 build/privrec compare --backend cuda --model rmc2 --table-scale 0.1 --algo "$algo" --steps 8 --warmup 2 -q \
    --json "$out/compare_rmc2_x0.1_$algo.json" --force > "$out/compare_rmc2_x0.1_$algo.txt" 2>&1 || status=1
  log "  $algo: $(grep -E '^end to end' "$out/compare_rmc2_x0.1_$algo.txt")"
done
fi

if want train; then
log "train --backend cuda, mlperf-dlrm from about 1 GB to 60 GB of tables (lazydp flat, dpsgd-f growing)"
for scale in 0.01 0.1 0.6; do
  for algo in sgd lazydp dpsgd-f; do
    timeout 60 build/privrec train --backend cuda --model mlperf-dlrm --table-scale "$scale" --algo "$algo" --steps 8 \
      --warmup 2 -q --json "$out/train_mlperf_x${scale}_$algo.json" --force > "$out/train_mlperf_x${scale}_$algo.txt" 2>&1 \
      || status=1
    log "  x$scale $algo: $(grep -E '^step:' "$out/train_mlperf_x${scale}_$algo.txt")"
  done
done
fi

if want calibrate; then
log "calibrate --backend cuda on configs/validation/gpu_calibration_cases.json"
timeout 330 build/privrec calibrate --backend cuda --out "$out/gpu-profile.json" --force > "$out/calibrate.txt" 2>&1 \
  || status=1
tail -n 25 "$out/calibrate.txt" >> "$out/summary.txt"
log "validate --backend cuda on configs/validation/gpu_validation_cases.json"
timeout 240 build/privrec validate --backend cuda --hardware "$out/gpu-profile.json" -q --json "$out/validate.json" \
  --force > "$out/validate.txt" 2>&1 || status=1
grep -E 'all stages|end to end' "$out/validate.txt" | tee -a "$out/summary.txt"
fi
exit $status
