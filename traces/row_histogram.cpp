#include "traces/row_histogram.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "traces/batch.hpp"
#include "models/parallel_each.hpp"

namespace privrec {

uint64_t fixed_point_count(float factor) {
  return static_cast<uint64_t>(std::llround(std::ldexp(static_cast<double>(factor), 32)));
}

namespace {
// Adds each example's factor once to every distinct row of its bag in table t.
void add_table(const TableBatch& tb, const std::vector<uint64_t>& counts_of_example,
               std::unordered_map<int64_t, uint64_t>& acc, uint64_t& bag_distinct) {
  std::vector<int64_t> bag;
  for (size_t i = 0; i + 1 < tb.offsets.size(); ++i) {
    bag.assign(tb.indices.begin() + tb.offsets[i], tb.indices.begin() + tb.offsets[i + 1]);
    std::sort(bag.begin(), bag.end());
    bag.erase(std::unique(bag.begin(), bag.end()), bag.end());
    bag_distinct += bag.size();
    for (const int64_t r : bag) acc[r] += counts_of_example[i];
  }
}
}  // namespace

RowHistogram contribution_histogram(const TraceSource& trace, int64_t steps, double c1) {
  const int64_t batches = distinct_batches(trace, steps);
  const int64_t T = trace.num_tables();
  RowHistogram h;
  h.tables.resize(T);
  h.lookups.assign(T, 0), h.bag_distinct.assign(T, 0), h.bag_sort_ops.assign(T, 0);
  std::vector<std::unordered_map<int64_t, uint64_t>> acc(T);
  for (int64_t b = 0; b < batches; ++b) {
    const Batch batch = trace.batch(b);
    const std::vector<float> factor = contribution_clip_factors(batch, c1);
    std::vector<uint64_t> counts(factor.size());
    for (size_t i = 0; i < factor.size(); ++i) counts[i] = fixed_point_count(factor[i]);
    parallel_each(T, [&](int64_t t) {
      const TableBatch& tb = batch.tables[t];
      add_table(tb, counts, acc[t], h.bag_distinct[t]);
      h.lookups[t] += tb.indices.size();
      h.bag_sort_ops[t] += bag_sort_ops(tb);
    });
  }
  for (int64_t t = 0; t < T; ++t) {
    h.tables[t].assign(acc[t].begin(), acc[t].end());
    std::sort(h.tables[t].begin(), h.tables[t].end());
  }
  return h;
}

}  // namespace privrec
