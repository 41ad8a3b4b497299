#include "traces/trace_stats.hpp"

#include <bit>
#include <unordered_map>

namespace privrec {

TraceStats compute_trace_stats(const TraceSource& trace, int64_t batches, const std::vector<int64_t>& rows) {
  TraceStats s;
  s.batches = batches;
  const size_t T = rows.size();
  s.tables.resize(T);
  // Last batch a row was seen in; a hash map keeps memory proportional to rows touched.
  std::vector<std::unordered_map<int64_t, int64_t>> last(T);
  std::vector<double> gap_sums(T, 0.0);
  for (int64_t b = 0; b < batches; ++b) {
    const Batch batch = trace.batch(b);
    s.examples += batch.size;
    for (size_t t = 0; t < T; ++t) {
      auto& ts = s.tables[t];
      const auto uniq = unique_rows(batch.tables[t]);
      const int64_t u = static_cast<int64_t>(uniq.size());
      ts.lookups += static_cast<int64_t>(batch.tables[t].indices.size());
      ts.unique_per_batch_mean += static_cast<double>(u);
      ts.unique_per_batch_min = b == 0 ? u : std::min(ts.unique_per_batch_min, u);
      ts.unique_per_batch_max = std::max(ts.unique_per_batch_max, u);
      for (int64_t r : uniq) {
        auto [it, inserted] = last[t].try_emplace(r, b);
        if (!inserted) {
          const int64_t gap = b - it->second;
          const size_t bucket = static_cast<size_t>(std::bit_width(static_cast<uint64_t>(gap)) - 1);
          if (ts.reuse_gap_hist.size() <= bucket) ts.reuse_gap_hist.resize(bucket + 1, 0);
          ++ts.reuse_gap_hist[bucket];
          ++ts.reuse_count;
          gap_sums[t] += static_cast<double>(gap);
          it->second = b;
        }
      }
    }
  }
  for (size_t t = 0; t < T; ++t) {
    auto& ts = s.tables[t];
    ts.unique_per_batch_mean /= static_cast<double>(std::max<int64_t>(batches, 1));
    ts.distinct_rows = static_cast<int64_t>(last[t].size());
    ts.reuse_gap_mean = ts.reuse_count ? gap_sums[t] / static_cast<double>(ts.reuse_count) : 0.0;
    auto quantile = [&](double q) -> int64_t {
      int64_t seen = 0;
      for (size_t k = 0; k < ts.reuse_gap_hist.size(); ++k) {
        seen += ts.reuse_gap_hist[k];
        if (static_cast<double>(seen) >= q * static_cast<double>(ts.reuse_count)) return (int64_t(1) << (k + 1)) - 1;
      }
      return 0;
    };
    if (ts.reuse_count) ts.reuse_gap_p50 = quantile(0.5), ts.reuse_gap_p90 = quantile(0.9), ts.reuse_gap_p99 = quantile(0.99);
  }
  return s;
}

nlohmann::json TraceStats::to_json(const std::vector<std::string>& names) const {
  nlohmann::json tj = nlohmann::json::array();
  for (size_t t = 0; t < tables.size(); ++t) {
    const auto& ts = tables[t];
    nlohmann::json hist = nlohmann::json::array();
    for (size_t k = 0; k < ts.reuse_gap_hist.size(); ++k)
      hist.push_back({{"gap_min", int64_t(1) << k}, {"gap_max", (int64_t(2) << k) - 1}, {"count", ts.reuse_gap_hist[k]}});
    tj.push_back({{"name", t < names.size() ? names[t] : std::to_string(t)},
                  {"lookups", ts.lookups},
                  {"lookups_per_batch", batches ? static_cast<double>(ts.lookups) / static_cast<double>(batches) : 0.0},
                  {"unique_per_batch_mean", ts.unique_per_batch_mean},
                  {"unique_per_batch_min", ts.unique_per_batch_min},
                  {"unique_per_batch_max", ts.unique_per_batch_max},
                  {"distinct_rows", ts.distinct_rows},
                  {"reuse_count", ts.reuse_count},
                  {"reuse_gap_mean", ts.reuse_gap_mean},
                  {"reuse_gap_p50_at_most", ts.reuse_gap_p50},
                  {"reuse_gap_p90_at_most", ts.reuse_gap_p90},
                  {"reuse_gap_p99_at_most", ts.reuse_gap_p99},
                  {"reuse_gap_histogram", hist}});
  }
  return {{"batches", batches}, {"examples", examples}, {"tables", tj}};
}

}  // namespace privrec
