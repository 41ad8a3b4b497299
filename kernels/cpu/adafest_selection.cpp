#include "kernels/cpu/adafest_selection.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/noise_rows.hpp"
#include "models/kernel_work/cpu_work.hpp"
#include "models/rng/gaussian.hpp"
#include "models/rng/geometric_gap.hpp"
#include "traces/row_sort.hpp"
#include "models/parallel_each.hpp"

namespace privrec::cpu {

namespace {
// False positives of the range's rows: every row of the whole table is a Bernoulli(p) trial;
// positions come from geometric gaps walked from the table's first row (a row block walks the gaps
// before it too: they decide where its own trials land), and the trials that land on touched rows
// (sorted `touched`, numbered within the range) are dropped: those rows were decided by their
// counts. Returns the rows, numbered within the range; `draws` counts the uniforms used.
std::vector<int64_t> false_positive_rows(const RowRange& range, const std::vector<int64_t>& touched,
                                         const AlgorithmConfig& cfg, double p, uint64_t step, int64_t& draws) {
  std::vector<int64_t> fp;
  if (!(p > 0)) return fp;
  // The CUDA backend draws the same gaps (geometric_gap, the same log1p of the host).
  const double log1m_p = std::log1p(-p), end = static_cast<double>(range.first_row + range.rows);
  double pos = -1;
  for (uint64_t j = 0;; ++j) {
    pos += geometric_gap(cfg.seed, step, range.table, j, log1m_p) + 1;
    ++draws;
    if (pos >= end) break;
    const int64_t r = static_cast<int64_t>(pos) - range.first_row;
    if (r >= 0 && !std::binary_search(touched.begin(), touched.end(), r)) fp.push_back(r);
  }
  return fp;
}

// The (row, example) pairs of table t sorted by row then example, one per distinct pair, into
// `keys`; the sorting work goes to `sort_ops`.
void row_example_pairs(const Batch& batch, int64_t t, std::vector<uint64_t>& keys, uint64_t& sort_ops) {
  const auto& tb = batch.tables[t];
  keys.resize(tb.indices.size());
  uint64_t max_row = 0;
  for (int64_t i = 0; i < batch.size; ++i)
    for (int64_t k = tb.offsets[i]; k < tb.offsets[i + 1]; ++k) {
      max_row = std::max(max_row, static_cast<uint64_t>(tb.indices[k]));
      keys[k] = (static_cast<uint64_t>(tb.indices[k]) << 24) | static_cast<uint64_t>(i);
    }
  // Stable by row, and examples come in order: sorted by (row, example).
  sort_ops = radix_sort_bits(keys, 24, bits_for(max_row));
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
}
}  // namespace

Selection adafest_select(const Batch& batch, const std::vector<int64_t>& table_rows, const AlgorithmConfig& cfg,
                         uint64_t step, WorkCounters& work) {
  std::vector<RowRange> ranges;
  for (size_t t = 0; t < table_rows.size(); ++t)
    ranges.push_back({static_cast<uint32_t>(t), 0, table_rows[t], table_rows[t]});
  return adafest_select(batch, ranges, contribution_clip_factors(batch, cfg.adafest.c1), cfg, step, work);
}

Selection adafest_select(const Batch& batch, const std::vector<RowRange>& ranges, const std::vector<float>& factor,
                         const AlgorithmConfig& cfg, uint64_t step, WorkCounters& work) {
  const int64_t T = static_cast<int64_t>(batch.tables.size());
  Selection sel;
  sel.rows.resize(T);
  const double p = cfg.zero_count_selection_probability();
  std::vector<int64_t> touched(T), sel_touched(T), fps(T), draws(T), untouched(T);
  std::vector<uint64_t> sort_ops(T);
  parallel_each(T, [&](int64_t t) {
    // Scratch kept per thread: fresh buffers were faulted in anew every step on a virtual machine.
    thread_local std::vector<uint64_t> keys;
    row_example_pairs(batch, t, keys, sort_ops[t]);
    // Each touched row's clipped count, then the rows' selection noise in one vectorized call
    // (one normal per row, as noise_normal gives it: a scalar call per row took 21 of 34 ms on
    // rmc1 x0.002), then the threshold.
    std::vector<int64_t> chosen;
    thread_local std::vector<int64_t> rows, global;
    thread_local std::vector<double> count;
    thread_local std::vector<float> z;
    rows.clear(), count.clear(), global.clear();
    for (size_t k = 0; k < keys.size();) {
      const int64_t r = static_cast<int64_t>(keys[k] >> 24);
      double c = 0;
      for (; k < keys.size() && static_cast<int64_t>(keys[k] >> 24) == r; ++k) c += factor[keys[k] & 0xFFFFFF];
      rows.push_back(r);
      count.push_back(c);
      global.push_back(ranges[t].first_row + r);
    }
    z.assign(rows.size(), cfg.noise == NoiseSource::ones ? 1.0f : 0.0f);
    if (cfg.noise == NoiseSource::gaussian)
      first_normals(cfg.seed, RngDomain::select_noise, step, ranges[t].table, global.data(),
                    static_cast<int64_t>(global.size()), z.data());
    for (size_t u = 0; u < rows.size(); ++u)
      if (count[u] + cfg.adafest.sigma1 * static_cast<double>(z[u]) >= cfg.adafest.tau) chosen.push_back(rows[u]);
    touched[t] = static_cast<int64_t>(rows.size());
    sel_touched[t] = static_cast<int64_t>(chosen.size());
    untouched[t] = ranges[t].rows - touched[t];
    const std::vector<int64_t> fp = false_positive_rows(ranges[t], rows, cfg, p, step, draws[t]);
    fps[t] = static_cast<int64_t>(fp.size());
    std::vector<int64_t> merged(chosen.size() + fp.size());
    std::merge(chosen.begin(), chosen.end(), fp.begin(), fp.end(), merged.begin());
    sel.rows[t] = std::move(merged);
  });
  for (int64_t t = 0; t < T; ++t) {
    sel.touched += touched[t];
    sel.selected_touched += sel_touched[t];
    sel.false_positives += fps[t];
    sel.untouched += untouched[t];
    TableSizes z;
    z.lookups = batch.tables[t].indices.size();
    z.unique_rows = static_cast<uint64_t>(touched[t]);
    z.selected = sel.rows[t].size();
    z.selection_draws = static_cast<uint64_t>(draws[t]);
    z.lookup_sort_ops = sort_ops[t];
    work += cpu_work::adafest_select_table(z, cfg.noise == NoiseSource::gaussian);
  }
  work.launches += 1;
  return sel;
}

}  // namespace privrec::cpu
