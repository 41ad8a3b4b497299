#pragma once
// The CPU backend: the operations of the plans (kernels/step_ops.hpp) on a host model, timed with
// the host clock, and a trainer that binds an algorithm's plan to them.
#include <chrono>
#include <memory>
#include <vector>

#include "kernels/cpu/adafest_selection.hpp"
#include "kernels/cpu/dlrm_pass.hpp"
#include "kernels/cpu/embedding_bag.hpp"
#include "kernels/cpu/lazydp_history.hpp"
#include "kernels/noise_rows.hpp"
#include "kernels/step_driver.hpp"
#include "kernels/step_ops.hpp"
#include "models/algorithm.hpp"

namespace privrec::cpu {

// The operations see a step from two sides. The MLP side runs the dense layers over its examples;
// the table side runs the table work for the rows it holds over the examples that look them up.
// In one process both sides are the one model over the whole batch. A rank of a sharded run
// (kernels/mpi/) holds a replica of the MLPs for its share of the examples and its tables or row
// blocks for the whole batch, and fills in the communication between the sides.
class CpuStepOps : public StepOps {
 public:
  CpuStepOps(DlrmModel& model, const AlgorithmConfig& cfg) : CpuStepOps(model, model, cfg) {}

  void start_stage(Stage) override { t0_ = std::chrono::steady_clock::now(); }
  double stop_stage_seconds(Stage) override {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  }

  void embedding_forward(const OpContext& c, WorkCounters& w) override;
  void dense_forward(const OpContext& c, WorkCounters& w) override;
  void backward_deltas(const OpContext& c, WorkCounters& w) override;
  void weight_grads(const OpContext& c, bool clipped, WorkCounters& w) override;
  void clip_norms(const OpContext& c, Norms norms, WorkCounters& w) override;
  void clipped_sum(const OpContext& c, WorkCounters& w) override;
  void coalesce(const OpContext& c, bool clipped, WorkCounters& w) override;
  void select_rows(const OpContext& c, WorkCounters& w) override;
  void choose_fixed_rows(const OpContext& c, WorkCounters& w) override;
  void mlp_update(const OpContext& c, NoiseTarget noise, WorkCounters& w) override;
  void table_update(const OpContext& c, NoiseTarget noise, WorkCounters& w) override;
  void lazy_catchup(const OpContext& c, WorkCounters& w) override;
  void lazy_flush(const OpContext& c, WorkCounters& w) override;

 protected:
  // `dense` holds the MLPs (and its workload lists every table), `tables` the rows this side
  // updates (its tables know their places in the workload); the same model in one process.
  CpuStepOps(DlrmModel& dense, DlrmModel& tables, const AlgorithmConfig& cfg);

  // The MLP side's examples and the table side's batch (their ids numbered within the rows held);
  // in one process both are the step's batch.
  virtual const Batch& dense_batch(const OpContext& c) const { return *c.batch; }
  virtual const Batch& table_batch(const OpContext& c) const { return *c.batch; }
  virtual const Batch& table_next_batch(const OpContext& c) const { return *c.next; }
  virtual int64_t first_example() const { return 0; }  // the MLP side's first example in the batch
  // The step's mean loss from the MLP side's mean over its examples.
  virtual double batch_loss(double local_mean) { return local_mean; }
  // The clip factors from every example's squared norm over all parameters.
  void set_clip_factors(const std::vector<double>& norm2, StepRecord& rec);

  DlrmModel& dense_;
  DlrmModel& tables_;
  AlgorithmConfig cfg_;
  PassBuffers buf_;           // the table side's (and in one process the MLP side's too)
  PassBuffers dense_buf_;     // the MLP side's when the sides are apart
  PassBuffers* dbuf_;         // the MLP side's buffers: &buf_ or &dense_buf_
  MlpGrads grads_;
  std::vector<double> norm2_;             // per example of the batch: squared norm (this side's part until summed)
  std::vector<float> contrib_factors_;    // adafest: the examples' contribution clip factors, when given

 private:
  void materialized_norms(bool keep, std::vector<double>& mlp_norm2, WorkCounters& w);
  std::vector<RowRange> row_ranges() const;
  LazyNoiseParams lazy_params() const;
  void reserve_per_example(int64_t n);

  NoiseGenerator noise_;
  std::vector<SparseRows> emb_grads_;
  std::vector<int64_t> table_rows_;  // rows of each table (or row block) held here
  std::vector<float> factors_;              // this step's clip factors, per example of the batch
  std::vector<float> dense_factors_;        // the MLP side's examples' share of them
  FloatArray per_example_;                  // materialized MLP gradients (dpsgd-b/r), on huge pages
  std::vector<float> clipped_sum_;          // dpsgd-b's sum of them, kept: a fresh one faulted in every step
  int64_t per_example_stride_ = 0;
  std::vector<ExampleRows> example_rows_;   // materialized table gradients kept for dpsgd-b's sum
  std::vector<std::vector<int64_t>> selection_;  // per table, sorted: the rows a selected update touches
  std::vector<HugePageVector<uint32_t>> history_;  // lazydp: the last step each row's noise is current to
  NoiseSchedule schedule_;
  std::chrono::steady_clock::time_point t0_;
};

// An algorithm's plan on the CPU operations over `model`.
class Trainer {
 public:
  Trainer(DlrmModel& model, const AlgorithmConfig& cfg) : ops_(model, cfg), runner_(cfg, ops_) {}
  PlanRunner& runner() { return runner_; }
  void setup(const TraceSource& trace, int64_t steps, StepRecord& rec) { runner_.setup(trace, steps, rec); }
  void step(int64_t t, const Batch& batch, const Batch* next, StepRecord& rec) { runner_.step(t, batch, next, rec); }
  void finish(int64_t last_step, StepRecord& rec) { runner_.finish(last_step, rec); }

 private:
  CpuStepOps ops_;
  PlanRunner runner_;
};

std::unique_ptr<Trainer> make_trainer(DlrmModel& model, const AlgorithmConfig& cfg);


}  // namespace privrec::cpu
