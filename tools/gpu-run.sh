#!/usr/bin/env bash
# The GPU check (issue 17), on the GPU machine (H100/H200), from the repository root with build/
# carried over (built here with sm_90, then tools/gpu-bundle.sh). The device machine gives a
# session 15 minutes and a command 10, and what a command writes under $OUT comes back even when it
# is killed, so the check is two calls of at most 6 minutes each, and every section writes its
# output to its own file as it runs:
#   tools/gpu-run.sh call1 [OUT [SECTIONS]]   the device, the gpu tests, compute-sanitizer memcheck on
#       one short gpu test, the CUDA microbenchmarks, the PyTorch peer on the same sizes, and one
#       table of privrec's kernels against the peer
#   tools/gpu-run.sh call2 [OUT [SECTIONS]]   the device, calibrate and validate --backend cuda on
#       the GPU case lists trimmed to fit, then train --backend cuda for sgd, lazydp and dpsgd-f on
#       mlperf-dlrm at 1, 10 and 58 GB of tables
#   tools/gpu-run.sh --dry-run [call1|call2|all]   here, without a GPU: checks that every section's
#       command line parses and its binaries exist; one line per section; exit 0 when all are ok
# OUT: the second argument, else $OUT, else out/gpu-run. SECTIONS (or $SECTIONS): run only the
# sections whose names start with one of these words (the device section always runs), e.g. to
# rerun what a call had no time left for.
# Each section runs under `timeout` with its own limit, cut to what is left of the call's budget
# (CALL_BUDGET_S, 350 s: under 6 minutes even when every section runs to its limit), and adds a
# line to OUT/sections.tsv when it ends (call, section, status, exit code, seconds, limit, output
# file, command); OUT/summary.txt has the headline of each. OUT/provenance.txt and .json: the
# device, the driver, the date, the command and the git revision.
# Trimming (call 2): CAL_PER_ALGO (2) and VAL_PER_ALGO (1) cases per algorithm, those with the
# smallest tables (0: all). Exit status: 0 when every section passed, 1 when one failed, timed out
# or had no time left, 2 when there is no device (or on bad usage).
set -uo pipefail
self="$(realpath "$0")"
cd "$(dirname "$0")/.." || exit 2
# No LD_LIBRARY_PATH: the binaries need only glibc, and privrec-cuda-bench finds the one library
# tools/gpu-bundle.sh may put in build/gpu-libs (libbenchmark.so) through its own run path.
build="${BUILD:-build}"
privrec="$build/privrec"
tests_bin="$build/tests/cuda_kernel_tests"
bench_bin="$build/privrec-cuda-bench"
peer=tools/peers/torch_gpu_peer.py
python="${PYTHON:-python3}"  # the one with PyTorch, for the peer
budget="${CALL_BUDGET_S:-350}"
cal_per_algo="${CAL_PER_ALGO:-2}"
val_per_algo="${VAL_PER_ALGO:-1}"
# Memcheck on one test that is short (the tiny workload, batch 16, 4 steps) yet launches every
# kernel a training step does, for every algorithm: what memcheck is there to catch.
sanitizer_filter="${SANITIZER_FILTER:-CudaTrainers.MatchTheCpuBackend}"

usage() {
  sed -n '7,17p' "$self" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

dry=0
only=""
case "${1:-}" in
  --dry-run)
    dry=1
    case "${2:-all}" in
      all) calls="call1 call2" ;;
      call1|call2) calls="$2" ;;
      *) usage ;;
    esac
    # The commands' outputs point into a scratch folder; nothing in it outlives the check.
    out="$(mktemp -d)"
    trap 'rm -rf "$out"' EXIT
    ;;
  call1|call2)
    calls="$1"
    out="${2:-${OUT:-out/gpu-run}}"
    only="${3:-${SECTIONS:-}}"
    ;;
  *) usage ;;
esac
mkdir -p "$out"

status=0      # the call's exit status
dry_failed=0  # --dry-run: a section that would not run
limits_sum=0  # --dry-run: the call's section limits added up
call=""       # the call running now, for sections.tsv and the dry-run lines

log() { echo "[gpu-run] $*" | tee -a "$out/summary.txt"; }

selected() {  # whether SECTIONS lets section $1 run
  [ -z "$only" ] && return 0
  [ "$1" = device ] && return 0
  # The trimmed case lists are what calibrate and validate read.
  [[ "$1" == cases_* ]] && { selected calibrate || selected validate; } && return 0
  local w
  for w in $only; do [[ "$1" == "$w"* ]] && return 0; done
  return 1
}

record() {  # record SECTION STATUS EXIT SECONDS LIMIT OUTPUT COMMAND (one line: tabs and newlines become spaces)
  set -- "$1" "$2" "$3" "$4" "$5" "$6" "$(printf '%s' "$7" | tr '\t\n' '  ')"
  [ -s "$out/sections.tsv" ] ||
    printf 'call\tsection\tstatus\texit\tseconds\tlimit_s\toutput\tcommand\n' > "$out/sections.tsv"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$call" "$@" >> "$out/sections.tsv"
  log "$call $1: $2 (exit $3, $4 s of $5 s) -> $6"
}

shown() {  # a command line for sections.tsv: an inline program (python3 -c) is named, not copied
  local a s=""
  for a in "$@"; do [[ "$a" == *$'\n'* ]] && a="<inline program>"; s+="${s:+ }$a"; done
  echo "$s"
}

# The sanitizer: on PATH, else beside nvcc, else in the usual CUDA toolkit folders.
find_sanitizer() {
  local c
  for c in "$(command -v compute-sanitizer)" \
           "$(dirname "$(command -v nvcc 2>/dev/null || echo /nonexistent/nvcc)")/compute-sanitizer" \
           /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer \
           /usr/local/cuda-*/bin/compute-sanitizer /opt/nvidia/*/compute-sanitizer; do
    [ -n "$c" ] && [ -x "$c" ] && { echo "$c"; return 0; }
  done
  return 1
}

# --dry-run's check of one section's command, by KIND (see sec); prints the reason, fails when the
# command would not run. privrec commands are run with no device visible (CUDA_VISIBLE_DEVICES=""),
# so they never start work even on a machine with a GPU, and the message tells a parsed command
# line (it stops at "no CUDA device was found", exit 2, which every --backend cuda command checks
# only after its flags and values parsed) from a bad one (also exit 2, with another message).
dry_check() {
  local kind="$1"; shift
  local exe="$1" msg rc
  if [ "$kind" = python ]; then exe="$2"; fi
  if [ "$kind" != sanitizer ] && ! { [ -f "$exe" ] || command -v "$exe" > /dev/null; }; then
    echo "$exe is missing"; return 1
  fi
  case "$kind" in
    cuda)
      msg="$(CUDA_VISIBLE_DEVICES='' timeout 20 "$@" 2>&1)"; rc=$?
      if [ $rc -eq 2 ] && grep -q 'no CUDA device was found' <<< "$msg"; then
        echo "flags parsed (stopped at: no CUDA device)"; return 0
      fi
      echo "exit $rc: $(head -n 2 <<< "$msg" | tr '\n' ' ')"; return 1 ;;
    device)
      msg="$(CUDA_VISIBLE_DEVICES='' timeout 20 "$@" 2>&1)"; rc=$?
      if { [ $rc -eq 0 ] || [ $rc -eq 1 ]; } && grep -q '"available"' <<< "$msg"; then
        echo "runs (exit $rc, JSON with \"available\")"; return 0
      fi
      echo "exit $rc: $(head -n 2 <<< "$msg" | tr '\n' ' ')"; return 1 ;;
    gtest|sanitizer)
      local filter="" a n
      for a in "$@"; do [[ "$a" == --gtest_filter=* ]] && filter="${a#--gtest_filter=}"; done
      [ -x "$tests_bin" ] || { echo "$tests_bin is missing"; return 1; }
      # gtest: the section's own arguments, listing instead of running; the sanitizer: its filter.
      if [ "$kind" = gtest ]; then set -- "$@" --gtest_list_tests
      else set -- "$tests_bin" --gtest_list_tests ${filter:+"--gtest_filter=$filter"}; fi
      n="$(timeout 20 "$@" 2>&1 | grep -c '^  ')"
      [ "$n" -ge 1 ] || { echo "--gtest_filter=${filter:-*} matches no test"; return 1; }
      if [ "$kind" = gtest ]; then echo "$n tests listed"; return 0; fi
      if [ "$exe" = "(none)" ]; then
        echo "compute-sanitizer not on this machine (skipped where it is absent); the filter lists $n test"
        return 0
      fi
      msg="$(timeout 20 "$exe" --version 2>&1)" || { echo "$exe --version failed: $msg"; return 1; }
      echo "$(tail -n 1 <<< "$msg"); the filter lists $n test"; return 0 ;;
    gbench)
      msg="$(timeout 20 "$@" --benchmark_list_tests=true 2>&1)"; rc=$?
      n="$(grep -c '^BM_' <<< "$msg")"
      if [ $rc -eq 0 ] && [ "$n" -ge 1 ]; then echo "flags parsed, $n benchmarks listed"; return 0; fi
      echo "exit $rc: $(head -n 2 <<< "$msg" | tr '\n' ' ')"; return 1 ;;
    python)
      msg="$("$1" -m py_compile "$2" 2>&1)" || { echo "py_compile: $msg"; return 1; }
      msg="$(timeout 20 "$@" --dry-run 2>&1)"; rc=$?
      [ $rc -eq 0 ] && { echo "compiles; $(tail -n 1 <<< "$msg")"; return 0; }
      echo "exit $rc: $(tail -n 2 <<< "$msg" | tr '\n' ' ')"; return 1 ;;
    host)
      msg="$(timeout 20 "$@" 2>&1)"; rc=$?
      [ $rc -eq 0 ] && { echo "ran: $(tail -n 1 <<< "$msg")"; return 0; }
      echo "exit $rc: $(tail -n 2 <<< "$msg" | tr '\n' ' ')"; return 1 ;;
  esac
}

# sec KIND NAME LIMIT OUTPUT COMMAND...: runs COMMAND under `timeout` (LIMIT seconds, cut to what is
# left of the call's budget), stdout and stderr to OUT/OUTPUT as it runs; or, with --dry-run, checks
# it by KIND: cuda (a privrec --backend cuda command), device (privrec device), gtest (the test
# binary: its filter lists tests), sanitizer (compute-sanitizer on the test binary), gbench
# (privrec-cuda-bench: the same flags and --benchmark_list_tests), python (a script that takes
# --dry-run), host (needs no device and takes a second: runs as it is). Returns COMMAND's status.
sec() {
  local kind="$1" name="$2" limit="$3" output="$4"
  shift 4
  selected "$name" || return 0
  if [ $dry -eq 1 ]; then
    local why
    limits_sum=$((limits_sum + limit))
    if why="$(dry_check "$kind" "$@")"; then
      printf 'ok    %-34s limit %3s s  %s\n' "$call/$name" "$limit" "$why"
    else
      printf 'FAIL  %-34s limit %3s s  %s\n' "$call/$name" "$limit" "$why"
      dry_failed=1
    fi
    return 0
  fi
  # timeout's 5 s grace before KILL and a second of bookkeeping come out of what is left.
  local left=$((budget - SECONDS - 6))
  [ $limit -gt $left ] && limit=$left
  if [ $limit -lt 5 ]; then
    record "$name" skipped - 0 "$limit" "$output" "no time left of the call's $budget s: $(shown "$@")"
    status=1
    return 1
  fi
  local t0 rc st
  t0="$(date +%s.%N)"
  timeout -k 5 "$limit" "$@" > "$out/$output" 2>&1
  rc=$?
  case $rc in 0) st=ok ;; 124|137) st=timeout ;; *) st=FAIL ;; esac
  [ $st = ok ] || status=1
  record "$name" "$st" "$rc" "$(echo "$t0 $(date +%s.%N)" | awk '{printf "%.1f", $2 - $1}')" "$limit" "$output" \
    "$(shown "$@")"
  return $rc
}

# The device, and the provenance of what follows; without a device the call stops here (exit 2).
device_and_provenance() {
  if ! sec device device 15 device.json "$privrec" device --json -; then
    [ $dry -eq 1 ] && return 0
    log "stopping: $("$privrec" device 2>&1)"
    exit 2
  fi
  [ $dry -eq 1 ] && return 0
  local smi="" rev=""
  command -v nvidia-smi > /dev/null &&
    smi="$(timeout 10 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem \
           --format=csv 2>&1)"
  # The tree's revision where .git came along; privrec --version always has the build's.
  rev="$(git rev-parse HEAD 2>/dev/null || true)"
  {
    echo "date_utc: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "command: $0 $call $out${only:+ $only}"
    echo "git_revision: ${rev:-unknown: no .git here, see the privrec version line}"
    echo "privrec: $("$privrec" --version 2>&1)"
    echo "host: $(hostname)"
    echo "device: $(tr -d '\n' < "$out/device.json")"
    [ -n "$smi" ] && echo "$smi"
  } > "$out/provenance.txt" 2>&1
  PROV_COMMAND="$0 $call $out${only:+ $only}" PROV_REV="$rev" PROV_SMI="$smi" \
    PROV_PRIVREC="$("$privrec" --version 2>&1)" "$python" - "$out/device.json" "$out/provenance.json" <<'EOF' ||
import json, os, socket, sys, time
device = json.load(open(sys.argv[1]))
json.dump({"date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "command": os.environ["PROV_COMMAND"],
           "git_revision": os.environ["PROV_REV"] or None, "privrec_version": os.environ["PROV_PRIVREC"],
           "host": socket.gethostname(), "device": device, "driver_version": device.get("driver_version"),
           "nvidia_smi": os.environ["PROV_SMI"] or None}, open(sys.argv[2], "w"), indent=1)
EOF
    log "provenance.json not written (python3 failed); provenance.txt has it"
  log "device: $("$privrec" device)"
}

# Writes SRC's cases, at most PER of each algorithm (those with the smallest tables; 0: all) in the
# file's order, to DST, checking every case's keys and names on the way (the dry-run's check of
# the lists calibrate and validate will read, which they load only once a device is there).
trim_py='
import json, sys
src, dst, per = sys.argv[1], sys.argv[2], int(sys.argv[3])
keys = {"model", "table_scale", "algo", "batch", "pooling", "dist", "steps", "warmup"}
algos = {"sgd", "dpsgd-b", "dpsgd-r", "dpsgd-f", "eana", "lazydp", "adafest", "dp-fest"}
models = {"mlperf-dlrm", "rmc1", "rmc2", "rmc3", "tiny"}
cases = json.load(open(src))["cases"]
for i, c in enumerate(cases):
    bad = [k for k in ("model", "table_scale", "algo") if k not in c] + ["key " + k for k in set(c) - keys]
    bad += [] if bad or c["algo"] in algos else ["algo " + c["algo"]]
    bad += [] if bad or c["model"] in models or c["model"].endswith(".json") else ["model " + c["model"]]
    bad += [] if bad or c["table_scale"] > 0 else ["table_scale %s" % c["table_scale"]]
    if bad:
        sys.exit("%s: cases[%d]: %s" % (src, i, ", ".join(bad)))
keep = set()
for a in sorted({c["algo"] for c in cases}):
    mine = sorted((c["table_scale"], i) for i, c in enumerate(cases) if c["algo"] == a)
    keep.update(i for _, i in (mine[:per] if per > 0 else mine))
kept = [c for i, c in enumerate(cases) if i in keep]
desc = "%s, trimmed by tools/gpu-run.sh to %s per algorithm (the smallest tables): %d of %d cases" % (
    src, per if per > 0 else "all", len(kept), len(cases))
json.dump({"description": desc, "cases": kept}, open(dst, "w"), indent=1)
print(desc + "; table scales " + " ".join("%s:%g" % (c["algo"], c["table_scale"]) for c in kept))
'

call1() {
  call=call1
  device_and_provenance
  # The gpu tests' binary itself (ctest needs the build's own absolute paths, which the copy on the
  # GPU machine does not have).
  if sec gtest gpu_tests 90 gpu_tests.log "$tests_bin" --gtest_output="json:$out/gpu_tests.json"; then
    [ $dry -eq 0 ] && [ -f "$out/gpu_tests.log" ] &&
      log "gpu tests: $(grep -E '^\[  (PASSED|SKIPPED) +\] [0-9]+ test' "$out/gpu_tests.log" | tr '\n' ' ')"
  elif [ $dry -eq 0 ] && [ -f "$out/gpu_tests.log" ]; then
    log "gpu tests FAILED: $(grep -E '^\[  FAILED' "$out/gpu_tests.log" | tr '\n' ' ')"
  fi

  local san
  if san="$(find_sanitizer)"; then
    sec sanitizer sanitizer 60 sanitizer.log "$san" --tool memcheck --error-exitcode 1 \
      "$tests_bin" --gtest_filter="$sanitizer_filter" &&
      { [ $dry -eq 1 ] || log "compute-sanitizer memcheck ($sanitizer_filter): clean"; }
  elif [ $dry -eq 1 ]; then
    sec sanitizer sanitizer 60 sanitizer.log "(none)" "$tests_bin" --gtest_filter="$sanitizer_filter"
  elif selected sanitizer; then
    echo "compute-sanitizer: not on this machine (looked on PATH, beside nvcc, in /usr/local/cuda*)" > "$out/sanitizer.log"
    record sanitizer absent - 0 0 sanitizer.log "compute-sanitizer not on this machine: memcheck skipped"
  fi

  # Medians of 3, each at least 0.2 s of kernel time (Google Benchmark's 0.5 s default puts the 21
  # cases near 100 s; 0.2 s still times dozens of runs of the slowest, the 4 GB copy).
  sec gbench bench 100 cuda_bench.txt "$bench_bin" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
    --benchmark_min_time=0.2 --benchmark_out="$out/cuda_bench.json" --benchmark_out_format=json
  if [ $dry -eq 0 ] && [ -f "$out/cuda_bench.txt" ]; then
    grep -E 'median' "$out/cuda_bench.txt" >> "$out/summary.txt"
    # Google Benchmark exits 0 when a benchmark stops with an error; the call must not pass then.
    if grep -q 'ERROR OCCURRED' "$out/cuda_bench.txt"; then
      status=1
      log "bench: $(grep -c 'ERROR OCCURRED' "$out/cuda_bench.txt") runs stopped with an error (cuda_bench.txt)"
    fi
  fi

  sec python peer 60 torch_peer.txt "$python" "$peer" --device cuda --json "$out/torch_peer.json"
  if sec python table 15 kernels_vs_torch.txt "$python" "$peer" --compare "$out/cuda_bench.json" "$out/torch_peer.json" \
     && [ $dry -eq 0 ] && [ -f "$out/kernels_vs_torch.txt" ]; then
    cat "$out/kernels_vs_torch.txt"
  fi
}

call2() {
  call=call2
  device_and_provenance
  local cal="$out/gpu_calibration_cases.trimmed.json" val="$out/gpu_validation_cases.trimmed.json"
  sec host cases_calibration 10 cases_calibration.txt "$python" -c "$trim_py" \
    configs/validation/gpu_calibration_cases.json "$cal" "$cal_per_algo"
  sec host cases_validation 10 cases_validation.txt "$python" -c "$trim_py" \
    configs/validation/gpu_validation_cases.json "$val" "$val_per_algo"

  sec cuda calibrate 140 calibrate.txt "$privrec" calibrate --backend cuda --cases "$cal" \
    --out "$out/gpu-profile.json" --force
  [ $dry -eq 0 ] && [ -f "$out/calibrate.txt" ] && tail -n 25 "$out/calibrate.txt" >> "$out/summary.txt"
  if [ $dry -eq 1 ] || [ -f "$out/gpu-profile.json" ]; then
    sec cuda validate 75 validate.txt "$privrec" validate --backend cuda --repeats 1 --cases "$val" \
      --hardware "$out/gpu-profile.json" -q --json "$out/validate.json" --force
    [ $dry -eq 0 ] && [ -f "$out/validate.txt" ] &&
      grep -E 'all stages|end to end' "$out/validate.txt" | tee -a "$out/summary.txt"
  elif selected validate; then
    record validate skipped - 0 0 validate.txt "no $out/gpu-profile.json: calibrate did not finish"
    status=1
  fi

  # mlperf-dlrm has 96 GB of tables at scale 1: x0.01, x0.1 and x0.6 are 1, 10 and 58 GB (lazydp
  # flat, dpsgd-f growing with the tables). A run is mostly setup (the tables made on the host and
  # copied over): a few seconds at 1 GB, some 20 s at 58 GB.
  local scale algo limit
  for scale in 0.01 0.1 0.6; do
    case $scale in 0.01) limit=20 ;; 0.1) limit=30 ;; *) limit=60 ;; esac
    for algo in sgd lazydp dpsgd-f; do
      sec cuda "train_mlperf_x${scale}_$algo" $limit "train_mlperf_x${scale}_$algo.txt" \
        "$privrec" train --backend cuda --model mlperf-dlrm --table-scale "$scale" --algo "$algo" --steps 8 \
        --warmup 2 -q --json "$out/train_mlperf_x${scale}_$algo.json" --force
      [ $dry -eq 0 ] && [ -f "$out/train_mlperf_x${scale}_$algo.txt" ] &&
        log "  x$scale $algo: $(grep -E '^step:' "$out/train_mlperf_x${scale}_$algo.txt")"
    done
  done
}

for c in $calls; do
  SECONDS=0  # each call's budget counts from its own start
  limits_sum=0
  "$c"
  [ $dry -eq 1 ] && echo "      $c: the section limits add up to $limits_sum s; each is cut to end by ${budget} s" \
    "(CALL_BUDGET_S) and skipped when under 5 s are left"
done
if [ $dry -eq 1 ]; then
  [ $dry_failed -eq 0 ] && echo "gpu-run --dry-run: every section is ok" || echo "gpu-run --dry-run: FAILED"
  exit $dry_failed
fi
exit $status
