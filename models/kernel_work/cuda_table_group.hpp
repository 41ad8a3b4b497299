#pragma once
// How many tables the CUDA backend's per-table kernels take in one launch (kernels/cuda/embedding_bag.cu:
// the forward's bags, the backward coalesce's keys), each table's pointers passed by value; shared
// with the work the model counts for them (cuda_work.cpp: ceil(tables / this) launches). A plain
// header: the device code includes it.
#include <cstdint>

namespace privrec::cuda_work {

inline constexpr uint64_t kTablesPerLaunch = 64;

}  // namespace privrec::cuda_work
