#!/usr/bin/env bash
# Run here (the build machine) before carrying build/ to the GPU machine, which has a driver and
# glibc but no Debian packages. Checks with ldd that the GPU binaries need nothing but glibc's own
# libraries at load time (the C++ runtime, libgomp, Boost and fmt are linked in; the CUDA runtime is
# static and loads the driver's libcuda.so itself; see PRIVREC_STATIC_RUNTIME in CMakeLists.txt),
# and prints the newest glibc symbol version they need, i.e. the oldest glibc they run on.
# The one exception is Google Benchmark, which Debian ships only as a shared library:
# privrec-cuda-bench may need libbenchmark.so, which this copies into <build>/gpu-libs (the binary
# finds it there through its run path), and with it the GPU machine's own libstdc++.so.6 and
# libgcc_s.so.1.
# Usage: tools/gpu-bundle.sh [--check] [BUILD_DIR]   (BUILD_DIR: build/ by default; --check copies
# nothing). Exit status 1 when a binary needs another library, 2 when a binary is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
copy=1
if [ "${1:-}" = "--check" ]; then copy=0; shift; fi
build="${1:-build}"
bench="$build/privrec-cuda-bench"
bins=("$build/privrec" "$bench" "$build/tests/cuda_kernel_tests")
for b in "${bins[@]}"; do
  [ -x "$b" ] || { echo "gpu-bundle: $b is missing; run tools/setup.sh first (with nvcc present)" >&2; exit 2; }
done

# glibc's own libraries: every Linux with glibc has these, the GPU machine included.
is_glibc() {
  case "$1" in
    linux-vdso.so.*|ld-linux*.so.*|libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*) return 0 ;;
    *) return 1 ;;
  esac
}
# What privrec-cuda-bench may need besides glibc while Google Benchmark is linked shared.
is_benchmark_runtime() {
  case "$1" in libbenchmark.so.*|libstdc++.so.*|libgcc_s.so.*) return 0 ;; *) return 1 ;; esac
}
glibc_version() {  # the newest GLIBC_x.y symbol version the given ELF files need
  objdump -T "$@" | grep -o 'GLIBC_[0-9.]*' | sort -V | tail -1
}

bad=()
bench_libs=()
for b in "${bins[@]}"; do
  # ldd's first field: the soname, or the loader's path, on every line (a missing one reads
  # "libx.so => not found"); a static binary prints a single "statically linked" line.
  while read -r name; do
    lib="$(basename "$name")"
    if is_glibc "$lib"; then continue; fi
    if [ "$b" = "$bench" ] && is_benchmark_runtime "$lib"; then bench_libs+=("$lib"); continue; fi
    bad+=("$b: $lib")
  done < <(ldd "$b" | awk '$1 != "statically" {print $1}')
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "gpu-bundle: FAILED: these binaries need shared libraries other than glibc's, which the GPU" >&2
  echo "machine does not have (link them statically, see PRIVREC_STATIC_RUNTIME in CMakeLists.txt):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi

echo "gpu-bundle: privrec and cuda_kernel_tests need only glibc, symbols up to" \
     "$(glibc_version "$build/privrec" "$build/tests/cuda_kernel_tests")"
# build/gpu-libs once held every library the binaries needed; now at most libbenchmark.so.
if [ $copy -eq 1 ]; then rm -rf "$build/gpu-libs"; fi
if [ ${#bench_libs[@]} -eq 0 ]; then
  echo "gpu-bundle: privrec-cuda-bench needs only glibc, symbols up to $(glibc_version "$bench")"
else
  read -r soname benchlib < <(ldd "$bench" | awk '$1 ~ /^libbenchmark\.so/ {print $1, $3}')
  where="not copied: --check"
  if [ $copy -eq 1 ]; then
    mkdir -p "$build/gpu-libs"
    cp -L "$benchlib" "$build/gpu-libs/$soname"
    where="copied to $build/gpu-libs"
  fi
  glibcxx="$(objdump -T "$bench" "$benchlib" | grep -o 'GLIBCXX_[0-9.]*' | sort -V | tail -1)"
  echo "gpu-bundle: privrec-cuda-bench needs glibc (symbols up to $(glibc_version "$bench" "$benchlib")), $soname" \
       "($where; Debian ships no static Google Benchmark) and the GPU machine's own libstdc++.so.6" \
       "with $glibcxx (GCC 12 or newer) and libgcc_s.so.1"
fi
echo "gpu-bundle: newest glibc symbol version the binaries need: $(glibc_version "${bins[@]}")" \
     "($(du -sh "$build" | cut -f1) in $build/)"
