#include "sim/calibration.hpp"

#include <algorithm>
#include <cmath>
#include <set>

namespace privrec::sim {

namespace {
struct Point {
  double roof, target;  // modeled roofline; measured minus the modeled overheads
};

// Minimizes sum ((a r + b - m) / m)^2: weighted least squares with weights 1 / m^2. The fixed cost
// b is fitted only from three points up (two would always fit exactly) and only when positive.
std::pair<double, double> fit_line(const std::vector<Point>& pts) {
  double srr = 0, sr = 0, s1 = 0, srm = 0, sm = 0;
  for (const auto& p : pts) {
    const double w = 1.0 / (p.target * p.target);
    srr += w * p.roof * p.roof, sr += w * p.roof, s1 += w, srm += w * p.roof * p.target, sm += w * p.target;
  }
  double a = srm / srr, b = 0;
  const double det = srr * s1 - sr * sr;
  if (pts.size() >= 3 && det > 1e-12 * srr * s1) {
    const double a2 = (srm * s1 - sr * sm) / det, b2 = (srr * sm - sr * srm) / det;
    if (b2 >= 0 && a2 > 0) a = a2, b = b2;
  }
  return {std::max(a, 0.05), b};  // never fit a stage away entirely
}
}  // namespace

StageFit fit_stages(const std::vector<StageObservation>& observations, double overlap_fraction) {
  std::map<std::string, std::vector<Point>> by_stage, by_stage_bound;
  std::map<std::string, std::set<std::string>> bounds_of;
  for (const auto& o : observations) {
    const double roof = combine_terms(o.modeled.memory_ms, o.modeled.compute_ms, o.modeled.rng_ms, overlap_fraction);
    const double target = o.measured_ms - o.modeled.overhead_ms - o.modeled.link_ms;
    if (!(roof > 0 && target > 0)) continue;
    const std::string stage = stage_name(o.stage);
    const std::string bound = bound_name(roofline_bound(o.modeled));
    by_stage[stage].push_back({roof, target});
    by_stage_bound[stage + ":" + bound].push_back({roof, target});
    bounds_of[stage].insert(bound);
  }
  StageFit fit;
  for (const auto& [stage, pts] : by_stage) {
    const auto [a, b] = fit_line(pts);
    fit.efficiency[stage] = a, fit.fixed_ms[stage] = b;
  }
  // A stage whose cases hit different rooflines (dp.update: dense and RNG-bound, or sparse and
  // memory-bound) gets an efficiency per bound where that bound has two cases or more.
  for (const auto& [key, pts] : by_stage_bound) {
    const std::string stage = key.substr(0, key.find(':'));
    if (bounds_of[stage].size() < 2 || pts.size() < 2) continue;
    const auto [a, b] = fit_line(pts);
    fit.efficiency[key] = a, fit.fixed_ms[key] = b;
  }
  fit.overlap_fraction = overlap_fraction;
  // How well the fitted model reproduces the observations (the same lookup as stage_time).
  std::vector<double> errors;
  for (const auto& o : observations) {
    if (!(o.measured_ms > 0)) continue;
    const std::string stage = stage_name(o.stage), keyed = stage + ":" + bound_name(roofline_bound(o.modeled));
    auto lookup = [&](const std::map<std::string, double>& m, double none) {
      if (const auto it = m.find(keyed); it != m.end()) return it->second;
      if (const auto it = m.find(stage); it != m.end()) return it->second;
      return none;
    };
    const double roof = combine_terms(o.modeled.memory_ms, o.modeled.compute_ms, o.modeled.rng_ms, overlap_fraction);
    const double predicted =
        roof * lookup(fit.efficiency, 1.0) + lookup(fit.fixed_ms, 0.0) + o.modeled.overhead_ms + o.modeled.link_ms;
    errors.push_back(std::abs(predicted - o.measured_ms) / o.measured_ms * 100.0);
  }
  if (!errors.empty()) {
    std::sort(errors.begin(), errors.end());
    const size_t n = errors.size();
    fit.median_abs_error_pct = n % 2 ? errors[n / 2] : 0.5 * (errors[n / 2 - 1] + errors[n / 2]);
  }
  return fit;
}

StageFit fit_calibration(const std::vector<StageObservation>& observations) {
  StageFit best = fit_stages(observations, 1.0);
  for (int k = 19; k >= 0; --k) {  // from full overlap down, so a tie keeps the larger fraction
    StageFit f = fit_stages(observations, 0.05 * k);
    if (f.median_abs_error_pct < best.median_abs_error_pct) best = std::move(f);
  }
  return best;
}

}  // namespace privrec::sim
