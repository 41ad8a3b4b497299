#!/usr/bin/env bash
# Installs what privrec needs from Debian's packages (idempotent; quick when all is there),
# then configures and builds Release into build/.
set -euo pipefail
cd "$(dirname "$0")/.."

# clang (with libFuzzer and libomp) builds the debug preset: the sanitizer tests and the fuzz targets.
# openmpi-bin: mpirun and the libmpi that sharded training opens at run time (kernels/mpi/).
# python3-torch: the framework-way peer (tools/peers/torch_cpu_peer.py); libopenblas0-pthread gives it
# an optimized BLAS (Debian's torch otherwise links the reference one: a 2048x852x512 Linear took
# 705 ms against 17 ms).
packages=(build-essential cmake ninja-build ccache git nlohmann-json3-dev libfmt-dev libbenchmark-dev
          libboost-program-options-dev libgtest-dev libomp-dev clang openmpi-bin python3-matplotlib
          python3-torch libopenblas0-pthread)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] installing: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# nvcc (CUDA 13) is on this project's machines but not always on PATH.
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi

if [ ! -f build/CMakeCache.txt ]; then
  cmake --preset release >/dev/null
fi
cmake --build build -j "$(nproc)"
