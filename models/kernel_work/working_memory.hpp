#pragma once
// The working memory of one training step beyond the model, fp32, as the kernels allocate it: the
// one formula the backends plan their memory with and the scale-out model puts on each device.
// It has two sides like the work formulas: what the examples' side holds at its batch, and what
// the owners of table rows hold for the lookups they serve.
#include <cstdint>

#include "models/algorithm.hpp"
#include "models/workload.hpp"

namespace privrec {

// Activations, deltas and features at `batch`; dpsgd-b's per-example MLP gradients (every layer
// kept), dpsgd-r's (the largest layer at a time).
double dense_working_bytes(const Workload& w, AlgorithmKind kind, int64_t batch);
// For `lookups_per_example` ids of dimension `dim` over `batch` examples: their gradients while
// coalescing, and dpsgd-b/r's per-example embedding gradients.
double table_working_bytes(double lookups_per_example, int64_t dim, AlgorithmKind kind, int64_t batch);
// Both sides on one device: every table's lookups at `batch`.
int64_t working_bytes(const Workload& w, AlgorithmKind kind, int64_t batch);

// The share of a GPU's memory a run may plan to fill (the CUDA context, the allocator's slack).
inline constexpr double kUsableDeviceMemory = 0.9;

}  // namespace privrec
