#pragma once
// How many tables' bags the CUDA forward runs in one launch (kernels/cuda/embedding_bag.cu), shared
// with the work the model counts for it (cuda_work.cpp: ceil(tables / this) launches). A plain
// header: the device code includes it.
#include <cstdint>

namespace privrec::cuda_work {

inline constexpr uint64_t kForwardTablesPerLaunch = 64;

}  // namespace privrec::cuda_work
