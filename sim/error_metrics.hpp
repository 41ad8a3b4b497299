#pragma once
// How far the model is from measurement: signed error in percent per pair, and over a set of pairs
// the median and worst absolute error, Pearson's correlation and the share within 10 %. And how far
// the measurement is from itself: the spread of repeated measurements of one quantity, so a model
// error can be read against the noise it is measured through.
#include <cstdint>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace privrec::sim {

// 100 (modeled - measured) / measured.
double error_pct(double measured, double modeled);

struct ErrorSummary {
  int64_t pairs = 0;
  double median_abs_pct = 0, worst_abs_pct = 0;
  double pearson = 0;            // of measured against modeled times (0 with fewer than 2 pairs)
  double share_within_10pct = 0;  // of pairs with |error| <= 10 %
  nlohmann::json to_json() const;
};

ErrorSummary summarize_errors(const std::vector<double>& measured, const std::vector<double>& modeled);

// Repeated measurements of one quantity (one stage of one case, run R times).
struct Spread {
  int64_t repeats = 0;
  double median = 0, min = 0, max = 0;
  // 100 (max - min) / median: how far apart the repeats were, the project's one spread
  // (SampleStats::spread_pct); 0 with one repeat or a zero median.
  double range_pct = 0;
  // 100 median(|x - median|) / median: the median absolute deviation, less moved by one outlier;
  // with 2 repeats half the range, with 3 the smaller distance to the middle one; 0 with a zero
  // median.
  double mad_pct = 0;
  // Keys carry `unit` (the unit of the repeats): {"repeats", "median_ms", "min_ms", "max_ms",
  // "spread_pct", "mad_pct"} for "ms".
  nlohmann::json to_json(std::string_view unit) const;
};

// Median, min, max, range and MAD of `repeats`; all zeros for none.
Spread summarize_repeats(const std::vector<double>& repeats);

// Spreads of many quantities (e.g. one stage over every case): how noisy the measurement typically
// and at worst was.
struct SpreadSummary {
  int64_t quantities = 0;
  double median_range_pct = 0, worst_range_pct = 0, median_mad_pct = 0;
  nlohmann::json to_json() const;
};

SpreadSummary summarize_spreads(const std::vector<Spread>& spreads);

}  // namespace privrec::sim
