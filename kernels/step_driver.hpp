#pragma once
// The one step driver: runs an algorithm's plan against a backend's operations, timing each stage
// on the backend's clock. It knows nothing of any algorithm or backend.
#include "kernels/step_ops.hpp"
#include "models/algorithm.hpp"
#include "models/plan.hpp"

namespace privrec {

// Runs `stages` in order on `ops`, recording each stage's time and work in c.rec. A stage whose
// operations need the next batch is skipped when there is none, and a communication stage when
// ops has one rank (neither appears in c.rec). Communication between ranks is the backend's
// (StepOps::communicate; kernels/mpi/ runs the CPU backend's operations over several ranks).
void run_stages(StepOps& ops, const std::vector<PlanStage>& stages, const OpContext& c);

// An algorithm's plan bound to a backend's operations.
class PlanRunner {
 public:
  PlanRunner(const AlgorithmConfig& cfg, StepOps& ops) : cfg_(cfg), plan_(plan_of(cfg.kind)), ops_(ops) {}

  // Once before the first step, with the data of the whole run (dp-fest's fixed rows).
  void setup(const TraceSource& trace, int64_t steps, StepRecord& rec);
  // Step t (1-based) on `batch`; `next` is step t+1's batch (nullptr on the last step).
  void step(int64_t t, const Batch& batch, const Batch* next, StepRecord& rec);
  // Once after the last step, before the model is released (lazydp's flush).
  void finish(int64_t last_step, StepRecord& rec);

  const Plan& plan() const { return plan_; }

 private:
  AlgorithmConfig cfg_;
  const Plan& plan_;
  StepOps& ops_;
};

}  // namespace privrec
