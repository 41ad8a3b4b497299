#include "traces/batch.hpp"

#include <algorithm>
#include <cmath>

#include "traces/row_sort.hpp"

namespace privrec {

int64_t Batch::lookups() const {
  int64_t n = 0;
  for (const auto& t : tables) n += static_cast<int64_t>(t.indices.size());
  return n;
}

namespace {
uint64_t max_row(const TableBatch& tb) {
  uint64_t m = 0;
  for (const int64_t r : tb.indices) m = std::max(m, static_cast<uint64_t>(r));  // row ids are checked non-negative
  return m;
}
}  // namespace

uint64_t unique_rows_sort_ops(const TableBatch& tb) { return radix_sort_ops(tb.indices.size(), bits_for(max_row(tb))); }

uint64_t bag_sort_ops(const TableBatch& tb) {
  uint64_t ops = 0;
  for (size_t i = 0; i + 1 < tb.offsets.size(); ++i)
    ops += comparison_sort_ops(static_cast<uint64_t>(tb.offsets[i + 1] - tb.offsets[i]));
  return ops;
}

int64_t BagDistinct::count(const int64_t* ids, size_t n) {
  if (n < 2) return static_cast<int64_t>(n);
  size_t cap = 16;
  while (cap < 2 * n) cap <<= 1;
  if (keys_.size() < cap) keys_.assign(cap, 0), gen_.assign(cap, 0), now_ = 0;
  if (++now_ == 0) std::fill(gen_.begin(), gen_.end(), 0), now_ = 1;  // generations wrapped
  const size_t mask = cap - 1;
  int64_t distinct = 0;
  for (size_t k = 0; k < n; ++k) {
    size_t h = static_cast<size_t>((static_cast<uint64_t>(ids[k]) * 0x9e3779b97f4a7c15ull) >> 32) & mask;
    while (gen_[h] == now_ && keys_[h] != ids[k]) h = (h + 1) & mask;
    if (gen_[h] != now_) gen_[h] = now_, keys_[h] = ids[k], ++distinct;
  }
  return distinct;
}

std::vector<int64_t> distinct_rows_per_example(const Batch& batch) {
  const int64_t B = batch.size, T = static_cast<int64_t>(batch.tables.size());
  std::vector<int64_t> distinct(B, 0);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < B; ++i) {
    thread_local BagDistinct bags;
    for (int64_t t = 0; t < T; ++t) {
      const auto& tb = batch.tables[t];
      distinct[i] += bags.count(tb.indices.data() + tb.offsets[i], static_cast<size_t>(tb.offsets[i + 1] - tb.offsets[i]));
    }
  }
  return distinct;
}

std::vector<float> contribution_clip_factors(const std::vector<int64_t>& distinct, double c1) {
  std::vector<float> factor(distinct.size());
  for (size_t i = 0; i < distinct.size(); ++i)
    factor[i] = distinct[i] == 0 ? 1.0f
                                 : static_cast<float>(std::min(1.0, c1 / std::sqrt(static_cast<double>(distinct[i]))));
  return factor;
}

std::vector<float> contribution_clip_factors(const Batch& batch, double c1) {
  return contribution_clip_factors(distinct_rows_per_example(batch), c1);
}

std::vector<int64_t> unique_rows(const TableBatch& tb, uint64_t* sort_ops, int64_t* singles) {
  std::vector<uint64_t> keys(tb.indices.begin(), tb.indices.end());
  const uint64_t ops = radix_sort_bits(keys, 0, bits_for(max_row(tb)));
  if (sort_ops) *sort_ops += ops;
  if (singles) {
    *singles = 0;
    for (size_t k = 0, e = 0; k < keys.size(); k = e) {
      for (e = k + 1; e < keys.size() && keys[e] == keys[k];) ++e;
      *singles += e == k + 1;
    }
  }
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return {keys.begin(), keys.end()};
}

double batch_bytes(const Workload& w) {
  const double B = static_cast<double>(w.batch_size), T = static_cast<double>(w.tables.size());
  double ids = 0;
  for (const TableSpec& t : w.tables) ids += B * static_cast<double>(t.pooling);
  return 8 * ids + 8 * T * (B + 1) + 4 * B * static_cast<double>(w.dense_features) + 4 * B;
}

}  // namespace privrec
