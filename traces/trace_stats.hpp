#pragma once
// Per-table statistics of a trace: lookups and unique rows per batch, the distribution of reuse
// gaps (batches between successive accesses to a row: the delays lazydp's pending noise is made
// of), and distinct rows touched overall.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "traces/trace_source.hpp"

namespace privrec {

struct TableTraceStats {
  int64_t lookups = 0;
  double unique_per_batch_mean = 0;
  int64_t unique_per_batch_min = 0, unique_per_batch_max = 0;
  int64_t distinct_rows = 0;
  // reuse_gap_hist[k]: gaps g with 2^k <= g < 2^(k+1) batches (g = 1 is the next batch).
  std::vector<int64_t> reuse_gap_hist;
  int64_t reuse_count = 0;
  double reuse_gap_mean = 0;
  int64_t reuse_gap_p50 = 0, reuse_gap_p90 = 0, reuse_gap_p99 = 0;  // upper bucket bounds
};

struct TraceStats {
  int64_t batches = 0;
  int64_t examples = 0;
  std::vector<TableTraceStats> tables;
  nlohmann::json to_json(const std::vector<std::string>& table_names) const;
};

// `rows[t]` bounds table t's ids (checked by the caller).
TraceStats compute_trace_stats(const TraceSource& trace, int64_t batches, const std::vector<int64_t>& rows);

}  // namespace privrec
