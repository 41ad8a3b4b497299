#pragma once
// DP-AdaFEST's private row selection: each example's contribution map (one per distinct row it
// touches) is L2-clipped to C1 over all tables, summed over the batch, noised with N(0, sigma1^2)
// per row, and thresholded at tau. Rows with zero true count pass with p = Q(tau / sigma1); those
// false positives are found by geometric skipping, never by a loop over every row.
#include <vector>

#include "models/algorithm.hpp"
#include "models/work_counters.hpp"
#include "traces/batch.hpp"

namespace privrec::cpu {

struct Selection {
  std::vector<std::vector<int64_t>> rows;  // per table, sorted
  int64_t touched = 0;                     // distinct rows the batch touched (all tables)
  int64_t selected_touched = 0;            // of those, selected
  int64_t false_positives = 0;             // selected rows the batch did not touch
  int64_t untouched = 0;                   // rows the batch did not touch (the false-positive trials)
};

// Where a batch table's rows sit: the workload's table `table`, rows [first_row, first_row + rows) of
// its table_rows (a row block of a sharded table; the whole table otherwise). The batch's ids are
// numbered from first_row; the selection is too.
struct RowRange {
  uint32_t table = 0;
  int64_t first_row = 0, rows = 0, table_rows = 0;
};

// The selection over `ranges` (one per batch table) with the examples' contribution clip factors
// given (contribution_clip_factors over every table of the workload). Noise and false positives
// are those of the rows' places in their whole tables: a row block selects exactly what the whole
// table selects in its rows.
Selection adafest_select(const Batch& batch, const std::vector<RowRange>& ranges, const std::vector<float>& factors,
                         const AlgorithmConfig& cfg, uint64_t step, WorkCounters& work);
// Whole tables numbered as in the batch, factors from the batch itself.
Selection adafest_select(const Batch& batch, const std::vector<int64_t>& table_rows, const AlgorithmConfig& cfg,
                         uint64_t step, WorkCounters& work);

}  // namespace privrec::cpu
