#pragma once
// The sizes the work of a step depends on: what a kernel ran with (counted by the backend after
// running it) or what the performance model expects. Work formulas (kernel_work.hpp) map these to
// counters; they never see a batch or a table, only numbers.
#include <cstdint>
#include <vector>

#include "models/workload.hpp"

namespace privrec {

struct MlpLayer {
  uint64_t in = 0, out = 0;
  uint64_t parameters() const { return out * in + out; }
};

// The dense half of a step at batch B.
struct DenseShape {
  uint64_t batch = 0, tables = 0, dim = 0;
  uint64_t width = 0;         // the top MLP's input: the interaction's output
  uint64_t dense_values = 0;  // batch x dense features
  size_t bottom = 0;          // layers[0..bottom) are the bottom MLP, the rest the top MLP
  std::vector<MlpLayer> layers;
  uint64_t features() const { return tables + 1; }
  uint64_t pairs() const { return features() * (features() - 1) / 2; }
  uint64_t mlp_parameters() const;
};

DenseShape dense_shape(const Workload& w, int64_t batch);

// One table in one step.
struct TableSizes {
  uint64_t rows = 0;  // rows of the table
  // The batch's bags.
  uint64_t bags = 0;                  // examples the ids come from: 0 for the batch (a replica: its local batch)
  uint64_t lookups = 0;               // ids
  uint64_t unique_rows = 0;           // distinct rows over the batch
  uint64_t single_rows = 0;           // of those, rows one lookup touched
  uint64_t bag_distinct = 0;          // sum over examples of the distinct rows of the bag
  uint64_t bag_lookups_sq = 0;        // sum over examples of (ids in the bag)^2
  uint64_t bag_sort_ops = 0;          // sorting every bag on its own
  uint64_t lookup_sort_ops = 0;       // one radix sort of the batch's ids
  uint64_t bag_distinct_sort_ops = 0; // one radix sort of the bags' distinct rows (dpsgd-b's sum)
  // The current selection: adafest's of this step, or dp-fest's fixed rows.
  uint64_t selected = 0;           // rows that receive a noisy update
  uint64_t selected_touched = 0;   // of those, rows with a gradient this step
  uint64_t selection_draws = 0;    // uniforms drawn by geometric skipping (adafest)
  // lazydp's catch-up of the next batch's rows.
  uint64_t next_lookups = 0, next_unique = 0, next_sort_ops = 0;
  uint64_t owed = 0;        // rows that owed noise (catch-up or flush)
  uint64_t owed_steps = 0;  // pending steps summed over those rows
  // A once-per-run setup over every batch the run trains on (dp-fest's fixed rows).
  uint64_t trace_lookups = 0;       // ids
  uint64_t trace_bag_distinct = 0;  // distinct rows per bag, summed
  uint64_t trace_bag_sort_ops = 0;  // sorting every bag on its own
};

struct StepSizes {
  DenseShape dense;
  std::vector<TableSizes> tables;
};

}  // namespace privrec
