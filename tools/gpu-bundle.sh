#!/usr/bin/env bash
# Run here (the build machine) before carrying build/ to the GPU machine, which has a driver but no
# Debian packages: copies the shared libraries the GPU binaries need (all but the C library itself)
# into build/gpu-libs/, which tools/gpu-run.sh puts on LD_LIBRARY_PATH. The CUDA runtime is linked
# statically and needs nothing here.
set -euo pipefail
cd "$(dirname "$0")/.."
bins=(build/privrec build/privrec-cuda-bench build/tests/cuda_kernel_tests)
for b in "${bins[@]}"; do
  [ -x "$b" ] || { echo "gpu-bundle: $b is missing; run tools/setup.sh first (with nvcc present)" >&2; exit 2; }
done
rm -rf build/gpu-libs
mkdir -p build/gpu-libs
ldd "${bins[@]}" | awk '/=> \// {print $3}' | sort -u | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so.*|libm.so.*|libdl.so.*|librt.so.*|libpthread.so.*|ld-linux*) ;;  # the system's own
    *) cp -L "$lib" build/gpu-libs/ ;;
  esac
done
echo "gpu-bundle: $(ls build/gpu-libs | wc -l) libraries in build/gpu-libs ($(du -sh build | cut -f1) in build/)"
