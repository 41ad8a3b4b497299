#include "sim/error_metrics.hpp"

#include <algorithm>
#include <cmath>
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

}  // namespace privrec::sim
