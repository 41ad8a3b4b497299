#pragma once
// The one statistic every timing in privrec reports: the median of repeated measurements with
// their spread (min, max). Benchmarks, training runs and calibration all summarise through here
// so a "median" means the same thing everywhere.
#include <cstddef>
#include <vector>

namespace privrec {

struct SampleStats {
  double median = 0, min = 0, max = 0;
  size_t n = 0;
  // (max - min) / median in percent: how far apart the repeats were; 0 when the median is 0.
  double spread_pct() const;
};

// Median, min, max and count of `v`; an empty sample gives all zeros.
SampleStats summarize(std::vector<double> v);

// The median of `v`: the middle value for odd n, the mean of the two middle values for even n;
// 0 for an empty sample. Takes `v` by value because it reorders it.
double median(std::vector<double> v);

// The non-increasing sequence nearest `v` in least squares (pool adjacent violators: each run of
// values that rises is replaced by its mean, repeatedly): the way a measured curve that physics
// says cannot rise (a cost factor against density) is freed of the noise that makes it rise.
// Already non-increasing input comes back unchanged.
std::vector<double> non_increasing_fit(const std::vector<double>& v);

}  // namespace privrec
