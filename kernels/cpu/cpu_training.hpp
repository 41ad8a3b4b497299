#pragma once
// Training on the CPU backend: the memory it plans on the host, and a run of the shared training
// loop over the CPU operations.
#include <cstdint>

#include "kernels/training_run.hpp"
#include "models/algorithm.hpp"
#include "models/workload.hpp"
#include "traces/trace_source.hpp"

namespace privrec {

// The batch that fits in `available_bytes` of host memory with the model (dpsgd-b/r shrink it for
// their per-example gradients, with a note). Throws InputError if even the model does not fit.
MemoryPlan plan_cpu_memory(const Workload& w, AlgorithmKind kind, int64_t available_bytes);

TrainReport run_cpu_training(const Workload& w, const AlgorithmConfig& cfg, const TraceSource& trace,
                             const TrainOptions& opt);

}  // namespace privrec
