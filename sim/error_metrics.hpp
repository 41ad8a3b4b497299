#pragma once
// How far the model is from measurement: signed error in percent per pair, and over a set of pairs
// the median and worst absolute error, Pearson's correlation and the share within 10 %.
#include <cstdint>
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

}  // namespace privrec::sim
