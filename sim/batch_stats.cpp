#include "sim/batch_stats.hpp"
#include "models/parallel_each.hpp"

#include <algorithm>

namespace privrec::sim {

int64_t BatchStats::lookups() const {
  int64_t n = 0;
  for (const auto& t : tables) n += t.lookups;
  return n;
}

BatchStats batch_stats(const Batch& batch, const std::vector<DistinctRows>* known) {
  BatchStats s;
  s.batch = batch.size;
  s.dense_values = static_cast<int64_t>(batch.dense.size());
  const int64_t T = static_cast<int64_t>(batch.tables.size());
  s.tables.resize(T);
  parallel_each(T, [&](int64_t t) {
    const TableBatch& tb = batch.tables[t];
    TableBatchStats& ts = s.tables[t];
    ts.lookups = static_cast<int64_t>(tb.indices.size());
    if (known) {
      ts.unique_rows = (*known)[t].distinct, ts.single_rows = (*known)[t].singles;
    } else {
      ts.unique_rows = static_cast<int64_t>(unique_rows(tb, nullptr, &ts.single_rows).size());
    }
    for (const int64_t r : tb.indices) ts.max_row = std::max(ts.max_row, r);
    ts.bag_sort_ops = bag_sort_ops(tb);
    BagDistinct bags;
    for (int64_t i = 0; i < batch.size; ++i) {
      const uint64_t p = static_cast<uint64_t>(tb.offsets[i + 1] - tb.offsets[i]);
      ts.bag_lookups_sq += p * p;
      ts.bag_distinct += bags.count(tb.indices.data() + tb.offsets[i], p);
    }
  });
  return s;
}

}  // namespace privrec::sim
