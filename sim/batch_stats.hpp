#pragma once
// What the performance model needs to know of one batch: per table, lookups, distinct rows, and
// distinct rows per bag summed over the batch (what per-example materialization and adafest's
// contribution map produce). Read exactly from a batch of a trace.
#include <cstdint>
#include <vector>

#include "traces/batch.hpp"

namespace privrec::sim {

struct TableBatchStats {
  int64_t lookups = 0;       // indices in the batch
  int64_t unique_rows = 0;   // distinct rows over the batch
  int64_t single_rows = 0;   // of those, rows one lookup touched
  int64_t bag_distinct = 0;  // sum over examples of the distinct rows in the example's bag
  int64_t max_row = 0;       // largest row id (sets the radix sort's passes)
  uint64_t bag_sort_ops = 0;  // sorting work of sorting each bag on its own
  uint64_t bag_lookups_sq = 0;  // sum over examples of (ids in the bag)^2
};

struct BatchStats {
  int64_t batch = 0;
  int64_t dense_values = 0;  // batch x dense features
  std::vector<TableBatchStats> tables;

  int64_t lookups() const;
};

// `known`: each table's distinct and single rows when already counted (lazydp's catch-up counted
// them as the next batch), so they are not sorted out again; nullptr: count them here.
BatchStats batch_stats(const Batch& batch, const std::vector<DistinctRows>* known = nullptr);

}  // namespace privrec::sim
