#pragma once
// The CPU backend: the operations of the plans (kernels/step_ops.hpp) on a host model, timed with
// the host clock, and a trainer that binds an algorithm's plan to them.
#include <chrono>
#include <memory>
#include <vector>

#include "kernels/cpu/dlrm_pass.hpp"
#include "kernels/cpu/embedding_bag.hpp"
#include "kernels/cpu/lazydp_history.hpp"
#include "kernels/noise_rows.hpp"
#include "kernels/step_driver.hpp"
#include "kernels/step_ops.hpp"
#include "models/algorithm.hpp"

namespace privrec::cpu {

class CpuStepOps : public StepOps {
 public:
  CpuStepOps(DlrmModel& model, const AlgorithmConfig& cfg);

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

 private:
  void materialized_norms(const Batch& batch, bool keep, std::vector<double>& norm2, WorkCounters& w);
  void set_clip_factors(const std::vector<double>& norm2, StepRecord& rec);
  LazyNoiseParams lazy_params() const;
  void reserve_per_example(int64_t n);

  DlrmModel& model_;
  AlgorithmConfig cfg_;
  NoiseGenerator noise_;
  PassBuffers buf_;
  MlpGrads grads_;
  std::vector<SparseRows> emb_grads_;
  std::vector<float> factors_;              // this step's clip factors
  FloatArray per_example_;                  // materialized MLP gradients (dpsgd-b/r), on huge pages
  int64_t per_example_stride_ = 0;
  std::vector<ExampleRows> example_rows_;   // materialized table gradients kept for dpsgd-b's sum
  std::vector<std::vector<int64_t>> selection_;  // per table, sorted: the rows a selected update touches
  std::vector<std::vector<uint32_t>> history_;   // lazydp: the last step each row's noise is current to
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
