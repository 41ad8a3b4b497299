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

SampleStats summarize(std::vector<double> v) {
  SampleStats s;
  if (v.empty()) return s;
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  s.min = *lo, s.max = *hi, s.n = v.size();
  s.median = median(std::move(v));
  return s;
}

}  // namespace privrec
