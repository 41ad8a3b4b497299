#include "models/sample_stats.hpp"

#include <algorithm>
#include <utility>

namespace privrec {

double SampleStats::spread_pct() const { return median != 0 ? (max - min) / median * 100.0 : 0.0; }

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  const size_t mid = v.size() / 2;
  // nth_element puts the upper middle value in place; for even n the lower middle one is then the
  // largest of the elements before it.
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  if (v.size() % 2) return v[mid];
  const double lower = *std::max_element(v.begin(), v.begin() + mid);
  return 0.5 * (lower + v[mid]);
}

std::vector<double> non_increasing_fit(const std::vector<double>& v) {
  // Blocks of pooled values (sum, count); a block whose mean is above the one before it merges
  // into it, until the means do not rise.
  std::vector<std::pair<double, size_t>> blocks;
  for (const double x : v) {
    blocks.emplace_back(x, 1);
    while (blocks.size() > 1) {
      const auto& [sum, n] = blocks.back();
      const auto& [prev_sum, prev_n] = blocks[blocks.size() - 2];
      if (sum * static_cast<double>(prev_n) <= prev_sum * static_cast<double>(n)) break;
      const auto merged = std::make_pair(prev_sum + sum, prev_n + n);
      blocks.pop_back();
      blocks.back() = merged;
    }
  }
  std::vector<double> out;
  out.reserve(v.size());
  for (const auto& [sum, n] : blocks) out.insert(out.end(), n, sum / static_cast<double>(n));
  return out;
}

SampleStats summarize(std::vector<double> v) {
  SampleStats s;
  if (v.empty()) return s;
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  s.min = *lo, s.max = *hi, s.n = v.size();
  s.median = median(std::move(v));
  return s;
}

}  // namespace privrec
