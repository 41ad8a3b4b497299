#pragma once
// The clipped contribution histogram of a run's data (DP-FEST's, REFERENCE.md section 9): over
// the batches a run trains on, per table and row, the sum of the clip factors of the examples that
// touch the row (once per example, however often its bags name the row). Counts are fixed point
// (units of 2^-32) so that the sum is the same integer in any order, on every backend.
#include <cstdint>
#include <utility>
#include <vector>

#include "traces/trace_source.hpp"

namespace privrec {

struct RowHistogram {
  static constexpr double kUnit = 0x1p-32;  // a count of 1 is 2^32
  // Per table: (row, count) for the rows some example touched, ascending by row.
  std::vector<std::vector<std::pair<int64_t, uint64_t>>> tables;
  // Per table, what building it read: ids, distinct rows per bag summed, and the sorting work of
  // sorting every bag once (building sorts each bag twice: for the clip factors, for its rows).
  std::vector<uint64_t> lookups, bag_distinct, bag_sort_ops;
};

// The histogram of the data a run of `steps` steps trains on (its distinct batches, each example
// once even when a file trace wraps around), each example's map clipped to c1.
RowHistogram contribution_histogram(const TraceSource& trace, int64_t steps, double c1);

// A clip factor as a fixed-point count.
uint64_t fixed_point_count(float factor);

}  // namespace privrec
