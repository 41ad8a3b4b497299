#pragma once
// The work of every stage of a training run, predicted by walking the algorithm's plan with a
// backend's kernel work formulas (models/kernel_work/): the same formulas the backend's kernels
// count with, fed with the sizes the model expects. From a trace, the sizes are read exactly from
// its batches (tests/sim/work_model_test.cpp holds model and kernels equal, number for number);
// lazydp's pending noise is tracked with a sparse history like the trainer's; adafest's random
// selection is predicted by its expectation (exact for the deterministic noise sources).
#include <cstdint>
#include <vector>

#include "models/algorithm.hpp"
#include "models/kernel_work/kernel_work.hpp"
#include "models/step_record.hpp"
#include "models/workload.hpp"
#include "sim/batch_stats.hpp"
#include "traces/batch.hpp"
#include "traces/trace_source.hpp"
#include "traces/row_histogram.hpp"
#include "traces/row_map.hpp"

namespace privrec::sim {

// adafest's selection of one table in one step (expected values where the noise is random).
struct TableSelection {
  double selected_touched = 0;  // touched rows that pass the threshold
  double false_positives = 0;   // untouched rows that pass
  double draws = 0;             // uniforms drawn by geometric skipping
};

// Expected selection per table for a batch: sum over touched rows r of P(count_r + sigma1 z >= tau)
// with the clipped contribution counts, and p (untouched rows) for the rest.
std::vector<TableSelection> expected_selection(const Workload& w, const AlgorithmConfig& cfg, const Batch& batch);

// The sizes of a step from a batch's statistics (and the tables' rows); the selection and lazydp's
// catch-up fields are left for the caller.
StepSizes step_sizes(const Workload& w, const BatchStats& stats);
// Adds an expected selection to the sizes (rounded as the kernels count whole rows).
void add_selection(const std::vector<TableSelection>& sel, StepSizes& sizes);

// dp-fest's fixed rows as the model expects them: per table the k rows of largest clipped count in
// the run's data, ties to the lower row (exactly the kernels' choice when the noise is zero or the
// same for every row; the expectation's stand-in under Gaussian noise). Only rows the data touches
// are listed (the others never meet a batch); `size` is how many rows the set holds in all.
struct FixedRows {
  std::vector<std::vector<int64_t>> touched;  // per table, ascending
  std::vector<uint64_t> size;                 // per table: min(k, rows)
};
FixedRows expected_fixed_rows(const Workload& w, const AlgorithmConfig& cfg, const TraceSource& trace, int64_t steps);
// The fixed rows' sizes in a step on a batch with these sizes' rows: the set, and those it touched.
void add_fixed_rows(const FixedRows& fixed, const Batch& batch, StepSizes& sizes);

class WorkModel {
 public:
  // `family`: whose kernels are modeled (the hardware profile's `kernels`).
  WorkModel(const Workload& w, const AlgorithmConfig& cfg, const KernelWork& family);

  // Once-per-run work before the first step, from the data of the whole run (dp-fest's fixed rows).
  StepRecord setup(const TraceSource& trace, int64_t steps);
  // Step t (1-based) on `batch`; `next` is step t+1's batch (nullptr on the last step).
  StepRecord step(int64_t t, const Batch& batch, const Batch* next);
  // Once-per-run work after the last step (lazydp's flush); the last call.
  StepRecord finish(int64_t last_step);

  // The plan's work from sizes: a step's stages (`has_next`: a next batch exists), its finish.
  StepRecord work_of(const StepSizes& sizes, bool has_next) const;
  StepRecord work_of_finish(const StepSizes& sizes) const;
  StepRecord work_of_setup(const StepSizes& sizes) const;

  const KernelWork& family() const { return family_; }

 private:
  StepRecord walk(const std::vector<PlanStage>& stages, const StepSizes& sizes, bool has_next) const;
  void add_catchup(int64_t t, const Batch& next, StepSizes& sizes);

  Workload w_;
  AlgorithmConfig cfg_;
  const KernelWork& family_;
  const Plan& plan_;
  // lazydp: the last step whose noise a row has, for the rows the trace has touched; every other
  // row is still at step 0. Sparse, so modeling costs what the trace holds, not what the table does.
  std::vector<RowMap<uint32_t>> history_;
  FixedRows fixed_;  // dp-fest, from setup
  // lazydp: the distinct rows per table of the batch the last catch-up looked ahead to (step t+1's
  // batch), so step t+1 does not sort them out again; empty when none.
  std::vector<DistinctRows> next_distinct_;
  int64_t next_distinct_step_ = 0;  // the step whose batch next_distinct_ describes
};

}  // namespace privrec::sim
