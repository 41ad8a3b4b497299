#pragma once
// What a backend implements: the operations of the plans (models/plan.hpp). The step driver
// (kernels/step_driver.hpp) sequences them stage by stage and times each stage through the
// backend's clock; an operation runs its kernels and adds the work they did (from the backend's
// work formulas, models/kernel_work/) to its stage's counters. Backends keep the state the
// operations hand each other (activations, clip factors, sparse gradients, the selection, lazydp's
// history) and never sequence stages themselves.
#include <cstdint>

#include "models/plan.hpp"
#include "models/step_record.hpp"
#include "models/work_counters.hpp"
#include "traces/batch.hpp"
#include "traces/trace_source.hpp"

namespace privrec {

struct OpContext {
  int64_t step = 0;                     // 1-based; setup runs at 0, finish at the last step
  const Batch* batch = nullptr;         // this step's batch (nullptr in setup and finish)
  const Batch* next = nullptr;          // the next step's batch (nullptr on the last step)
  float scale = 0;                      // lr_t / B: the update's scale
  const TraceSource* trace = nullptr;   // setup only: the data the run trains on
  int64_t steps = 0;                    // setup only: how many steps it trains
  StepRecord* rec = nullptr;            // loss and extras
};

class StepOps {
 public:
  virtual ~StepOps() = default;

  // The processes the step runs on, each with its share of the batch and of the tables. One rank
  // has no one to exchange with: the driver skips the plan's communication stages.
  virtual int64_t ranks() const { return 1; }

  // Stage timing on the backend's own clock (CUDA: events, waited for at the stop).
  virtual void start_stage(Stage s) = 0;
  virtual double stop_stage_seconds(Stage s) = 0;

  virtual void embedding_forward(const OpContext& c, WorkCounters& w) = 0;
  virtual void dense_forward(const OpContext& c, WorkCounters& w) = 0;
  virtual void backward_deltas(const OpContext& c, WorkCounters& w) = 0;
  virtual void weight_grads(const OpContext& c, bool clipped, WorkCounters& w) = 0;
  virtual void clip_norms(const OpContext& c, Norms norms, WorkCounters& w) = 0;
  virtual void clipped_sum(const OpContext& c, WorkCounters& w) = 0;
  virtual void coalesce(const OpContext& c, bool clipped, WorkCounters& w) = 0;
  virtual void select_rows(const OpContext& c, WorkCounters& w) = 0;
  virtual void choose_fixed_rows(const OpContext& c, WorkCounters& w) = 0;
  virtual void mlp_update(const OpContext& c, NoiseTarget noise, WorkCounters& w) = 0;
  virtual void table_update(const OpContext& c, NoiseTarget noise, WorkCounters& w) = 0;
  virtual void lazy_catchup(const OpContext& c, WorkCounters& w) = 0;
  virtual void lazy_flush(const OpContext& c, WorkCounters& w) = 0;

  // A communication operation (exchange_ids ... route_next_ids) between the ranks; the driver
  // calls it only when ranks() > 1. A backend that runs one rank never gets here.
  virtual void communicate(const OpContext& c, OpKind op, WorkCounters& w);
};

}  // namespace privrec
