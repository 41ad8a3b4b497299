#pragma once
// Launch geometry shared by the CUDA kernels: 256-thread blocks, as many blocks as the work needs
// up to 2^20, and grid-stride loops beyond that.
#include <cstdint>

namespace privrec::cuda {

constexpr int kThreads = 256;

inline int grid_for(int64_t threads) {
  const int64_t b = (threads + kThreads - 1) / kThreads;
  return static_cast<int>(b < 1 ? 1 : (b > (int64_t{1} << 20) ? (int64_t{1} << 20) : b));
}

}  // namespace privrec::cuda

#define PRIVREC_GRID_STRIDE(i, n)                                                          \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
