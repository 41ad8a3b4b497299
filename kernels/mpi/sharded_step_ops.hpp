#pragma once
// The CPU backend's operations on one rank of a sharded run: the MLPs replicated (this rank runs
// them on its share of the batch), the tables or row blocks of the layout held here (this rank runs
// their work for the whole batch), and the communication stages between the two sides done over
// MPI. Noise and initial values are keyed by the rows' places in their whole tables, so the
// released model does not depend on the number of ranks.
#include <vector>

#include "kernels/cpu/trainer.hpp"
#include "kernels/mpi/communicator.hpp"
#include "kernels/mpi/shard_layout.hpp"

namespace privrec::mpi {

class ShardedStepOps final : public cpu::CpuStepOps {
 public:
  // `dense`: the MLPs with the whole workload; `tables`: this rank's blocks of the layout.
  ShardedStepOps(cpu::DlrmModel& dense, cpu::DlrmModel& tables, const AlgorithmConfig& cfg, const Communicator& comm,
                 const ShardLayout& layout);

  int64_t ranks() const override { return comm_.size(); }
  void communicate(const OpContext& c, OpKind op, WorkCounters& w) override;

 protected:
  const Batch& dense_batch(const OpContext&) const override { return local_; }
  const Batch& table_batch(const OpContext&) const override { return owned_; }
  const Batch& table_next_batch(const OpContext&) const override { return owned_next_; }
  int64_t first_example() const override { return first_; }
  double batch_loss(double local_mean) override;

 private:
  // Every rank sends each owner the ids its examples look up in the owner's rows; `owned` gets
  // them for the whole batch, numbered within the rows held. `local` (if given) gets this rank's
  // examples' dense features and labels.
  void exchange_ids(const Batch& batch, Batch& owned, Batch* local, WorkCounters& w);
  void exchange_pooled(WorkCounters& w);
  void exchange_pooled_grads(WorkCounters& w);
  void reduce_example_norms(StepRecord& rec, WorkCounters& w);
  void reduce_contribution_norms(WorkCounters& w);
  void reduce_dense_grads(WorkCounters& w);
  int64_t first_of(int q) const { return ShardLayout::example_first(batch_, comm_.size(), q); }
  int64_t count_of(int q) const { return ShardLayout::example_count(batch_, comm_.size(), q); }

  const Communicator& comm_;
  ShardLayout layout_;
  Exchange exchange_;
  std::vector<int64_t> counts_, ids_;  // reused by exchange_ids
  Batch local_, owned_, owned_next_;
  int64_t batch_ = 0, first_ = 0;
};

}  // namespace privrec::mpi
