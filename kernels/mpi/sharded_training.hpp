#pragma once
// Training on the CPU backend sharded over the ranks mpirun started (`mpirun -np N privrec train
// --sharding table_wise|row_wise`): every rank reads the same trace, holds the MLPs and its part of
// the tables (shard_layout.hpp), and runs the shared training loop over ShardedStepOps. Rank 0
// reports and saves the model, gathered from the owners.
#include "kernels/mpi/shard_layout.hpp"
#include "kernels/training_run.hpp"
#include "models/algorithm.hpp"
#include "models/config_error.hpp"
#include "models/workload.hpp"
#include "traces/trace_source.hpp"

namespace privrec::mpi {

// Bad input that every rank found at once (so each can end on its own, with no rank left waiting
// in a collective): different flags on different ranks.
class CollectiveInputError : public InputError {
 public:
  using InputError::InputError;
};

// `fingerprint`: everything the ranks must agree on (workload, algorithm, seed, steps, trace), as
// text; ranks that differ are refused (CollectiveInputError naming the first such rank).
TrainReport run_sharded_cpu_training(const Workload& w, const AlgorithmConfig& cfg, const TraceSource& trace,
                                     const TrainOptions& opt, Sharding scheme, const std::string& fingerprint);

}  // namespace privrec::mpi
