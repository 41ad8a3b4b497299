#pragma once
// The work of every stage of one training step, predicted from the workload, the algorithm and the
// statistics of the batch: bytes by access pattern, rows, RNG samples, flops and launches. It
// describes what the CPU trainers do, kernel by kernel (kernels/cpu/), so the counters the kernels
// count and the ones predicted here must be equal; tests/sim/work_model_test.cpp holds them to it.
// lazydp's pending noise is tracked with a history table like the trainer's; adafest's random
// selection is predicted by its expectation (exact for the deterministic noise sources).
#include <array>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "models/algorithm.hpp"
#include "models/stage.hpp"
#include "models/work_counters.hpp"
#include "models/workload.hpp"
#include "sim/batch_stats.hpp"
#include "traces/batch.hpp"

namespace privrec::sim {

constexpr size_t kStages = static_cast<size_t>(Stage::count);

struct StageWork {
  std::array<WorkCounters, kStages> work{};
  std::array<bool, kStages> ran{};
  WorkCounters& at(Stage s) {
    ran[static_cast<size_t>(s)] = true;
    return work[static_cast<size_t>(s)];
  }
};

// adafest's selection of one table in one step (expected values where the noise is random).
struct TableSelection {
  double selected_touched = 0;  // touched rows that pass the threshold
  double false_positives = 0;   // untouched rows that pass
  double draws = 0;             // uniforms drawn by geometric skipping
};

// Expected selection per table for a batch: sum over touched rows r of P(count_r + sigma1 z >= tau)
// with the clipped contribution counts, and p (untouched rows) for the rest.
std::vector<TableSelection> expected_selection(const Workload& w, const AlgorithmConfig& cfg, const Batch& batch);

// What one step's work depends on besides the workload and the algorithm: the batch statistics,
// adafest's selection, and lazydp's catch-up for the next batch (empty on the last step). Read
// exactly from a trace (WorkModel::step) or taken as expectations (sim/analytic_model.hpp).
struct TableCatchup {
  uint64_t next_lookups = 0;  // ids of the next batch the trainer reads
  uint64_t next_unique = 0;   // its distinct rows
  uint64_t sort_ops = 0;      // finding them
  uint64_t owed = 0;          // rows with pending noise
  uint64_t steps = 0;         // pending steps summed over those rows
};

struct StepInputs {
  BatchStats stats;
  std::vector<TableSelection> selection;  // adafest only
  std::vector<TableCatchup> catchup;      // lazydp, when there is a next batch
};

// lazydp's flush of one table: every row's pending noise.
struct TableFlush {
  uint64_t rows = 0, owed = 0, steps = 0;
};

class WorkModel {
 public:
  WorkModel(const Workload& w, const AlgorithmConfig& cfg);

  // Step t (1-based) on `batch`; `next` is step t+1's batch (nullptr on the last step).
  StageWork step(int64_t t, const Batch& batch, const Batch* next);
  // Once-per-run work before the model is released (lazydp's flush); the last call.
  StageWork finish(int64_t last_step);

  // The work of a step and of the flush from their inputs: the kernels' counting, in one place.
  StageWork work_of(const StepInputs& in) const;
  StageWork work_of_flush(const std::vector<TableFlush>& tables) const;

 private:
  void forward(const BatchStats& s, StageWork& out) const;
  void backward_deltas(int64_t B, WorkCounters& w) const;
  void weight_grads(int64_t B, bool scaled, WorkCounters& w) const;
  void coalesce(const BatchStats& s, bool scaled, WorkCounters& w) const;
  void ghost_norms(const BatchStats& s, WorkCounters& w) const;
  void materialize(const BatchStats& s, WorkCounters& w) const;
  void mlp_update(bool noisy, WorkCounters& w) const;
  uint64_t noise_samples(uint64_t n) const;

  Workload w_;
  AlgorithmConfig cfg_;
  // lazydp: the last step whose noise a row has, for the rows the trace has touched; every other
  // row is still at step 0. Sparse, so modeling costs what the trace holds, not what the table does.
  std::vector<std::unordered_map<int64_t, uint32_t>> history_;
};

}  // namespace privrec::sim
