#include "sim/error_metrics.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "models/sample_stats.hpp"

namespace privrec::sim {

double error_pct(double measured, double modeled) {
  return measured > 0 ? 100.0 * (modeled - measured) / measured : (modeled > 0 ? 100.0 : 0.0);
}

nlohmann::json ErrorSummary::to_json() const {
  return {{"pairs", pairs},
          {"median_abs_error_pct", median_abs_pct},
          {"worst_abs_error_pct", worst_abs_pct},
          {"pearson", pearson},
          {"share_within_10pct", share_within_10pct}};
}

ErrorSummary summarize_errors(const std::vector<double>& measured, const std::vector<double>& modeled) {
  ErrorSummary s;
  const size_t n = std::min(measured.size(), modeled.size());
  s.pairs = static_cast<int64_t>(n);
  if (n == 0) return s;
  std::vector<double> abs_err(n);
  int64_t within = 0;
  for (size_t i = 0; i < n; ++i) {
    abs_err[i] = std::abs(error_pct(measured[i], modeled[i]));
    within += abs_err[i] <= 10.0;
  }
  const SampleStats stats = summarize(std::move(abs_err));
  s.median_abs_pct = stats.median;
  s.worst_abs_pct = stats.max;
  s.share_within_10pct = static_cast<double>(within) / static_cast<double>(n);
  if (n >= 2) {
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; ++i) mx += measured[i], my += modeled[i];
    mx /= n, my /= n;
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; ++i) {
      sxy += (measured[i] - mx) * (modeled[i] - my);
      sxx += (measured[i] - mx) * (measured[i] - mx);
      syy += (modeled[i] - my) * (modeled[i] - my);
    }
    s.pearson = sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : 0.0;
  }
  return s;
}

nlohmann::json Spread::to_json(std::string_view unit) const {
  const std::string u(unit);
  return {{"repeats", repeats},   {"median_" + u, median},  {"min_" + u, min},
          {"max_" + u, max},      {"spread_pct", range_pct}, {"mad_pct", mad_pct}};
}

Spread summarize_repeats(const std::vector<double>& repeats) {
  Spread s;
  const SampleStats stats = summarize(repeats);
  s.repeats = static_cast<int64_t>(stats.n);
  s.median = stats.median, s.min = stats.min, s.max = stats.max;
  s.range_pct = stats.spread_pct();
  std::vector<double> deviation;
  deviation.reserve(repeats.size());
  for (const double x : repeats) deviation.push_back(std::abs(x - stats.median));
  s.mad_pct = stats.median != 0 ? 100.0 * median(std::move(deviation)) / stats.median : 0.0;
  return s;
}

nlohmann::json SpreadSummary::to_json() const {
  return {{"quantities", quantities},
          {"median_spread_pct", median_range_pct},
          {"worst_spread_pct", worst_range_pct},
          {"median_mad_pct", median_mad_pct}};
}

SpreadSummary summarize_spreads(const std::vector<Spread>& spreads) {
  SpreadSummary s;
  s.quantities = static_cast<int64_t>(spreads.size());
  std::vector<double> range, mad;
  for (const Spread& x : spreads) range.push_back(x.range_pct), mad.push_back(x.mad_pct);
  const SampleStats r = summarize(std::move(range));
  s.median_range_pct = r.median, s.worst_range_pct = r.max;
  s.median_mad_pct = median(std::move(mad));
  return s;
}

}  // namespace privrec::sim
