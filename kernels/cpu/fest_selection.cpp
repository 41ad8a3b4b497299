#include "kernels/cpu/fest_selection.hpp"

#include <algorithm>
#include <numeric>

#include "kernels/noise_rows.hpp"
#include "models/kernel_work/cpu_work.hpp"

namespace privrec::cpu {

namespace {
constexpr int64_t kRowsPerFill = 4096;

// score[r] = count[r] + sigma z[r] for every row of table t (rows never seen have count 0).
std::vector<double> noisy_counts(const std::vector<std::pair<int64_t, uint64_t>>& counts, int64_t rows, uint32_t t,
                                 const AlgorithmConfig& cfg) {
  std::vector<double> score(static_cast<size_t>(rows), 0.0);
  for (const auto& [r, c] : counts) score[r] = static_cast<double>(c) * RowHistogram::kUnit;
  const NoiseGenerator noise(cfg.seed, cfg.noise);
  const int64_t fills = (rows + kRowsPerFill - 1) / kRowsPerFill;
#pragma omp parallel for schedule(static)
  for (int64_t f = 0; f < fills; ++f) {
    const int64_t r0 = f * kRowsPerFill, n = std::min(kRowsPerFill, rows - r0);
    int64_t ids[kRowsPerFill];
    float z[kRowsPerFill];
    std::iota(ids, ids + n, r0);
    noise.fill_rows(RngDomain::fest_noise, 0, t, ids, n, 1, z);
    for (int64_t j = 0; j < n; ++j) score[r0 + j] += cfg.fest.sigma * static_cast<double>(z[j]);
  }
  return score;
}

// The k (< rows) rows of largest score (ties to the lower row), ascending.
std::vector<int64_t> top_rows(const std::vector<double>& score, int64_t k) {
  std::vector<int64_t> idx(score.size());
  std::iota(idx.begin(), idx.end(), 0);
  auto before = [&](int64_t a, int64_t b) { return score[a] > score[b] || (score[a] == score[b] && a < b); };
  std::nth_element(idx.begin(), idx.begin() + k, idx.end(), before);
  idx.resize(static_cast<size_t>(k));
  std::sort(idx.begin(), idx.end());
  return idx;
}
}  // namespace

std::vector<std::vector<int64_t>> choose_fixed_rows(const RowHistogram& h, const std::vector<int64_t>& table_rows,
                                                    const AlgorithmConfig& cfg, WorkCounters& work) {
  const size_t T = table_rows.size();
  std::vector<std::vector<int64_t>> chosen(T);
  const int64_t k = std::max<int64_t>(0, cfg.fest.k);
  for (size_t t = 0; t < T; ++t) {
    if (k >= table_rows[t]) {  // every row: nothing to rank, no noise to draw
      chosen[t].resize(static_cast<size_t>(table_rows[t]));
      std::iota(chosen[t].begin(), chosen[t].end(), 0);
    } else if (k > 0) {
      chosen[t] = top_rows(noisy_counts(h.tables[t], table_rows[t], static_cast<uint32_t>(t), cfg), k);
    }
    TableSizes z;
    z.rows = static_cast<uint64_t>(table_rows[t]);
    z.trace_lookups = h.lookups[t];
    z.trace_bag_distinct = h.bag_distinct[t];
    z.trace_bag_sort_ops = h.bag_sort_ops[t];
    z.selected = chosen[t].size();
    work += cpu_work::choose_fixed_rows_table(z, cfg.noise == NoiseSource::gaussian);
  }
  return chosen;
}

}  // namespace privrec::cpu
