#include "sim/calibration.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

#include "models/sample_stats.hpp"

namespace privrec::sim {

namespace {
struct Point {
  double roof, target;  // modeled roofline; measured minus the modeled overheads
};

// One stage's fit: an efficiency per group of cases (a group per roofline bound) and one fixed
// cost shared by all of them, minimizing sum ((a_g r + b - m) / m)^2 (least squares on the
// relative error). For a given b each a_g has a closed form, and the objective is then a parabola
// in b, found exactly from three evaluations. b is fitted only from five cases up (with three, a
// slope and an intercept chase the noise: update.sparse once came out as 0.7 x roofline + 1.9 ms,
// and predicted a 0.9 ms stage at 3.2 ms), kept >= 0, and kept at most a quarter of the smallest
// observation: a larger fixed cost is not identifiable from cases that are all much longer than
// it, and would swamp the short stages it is later applied to.
struct GroupFit {
  std::vector<double> efficiency;  // per group
  double fixed_ms = 0;
};

GroupFit fit_groups(const std::vector<std::vector<Point>>& groups) {
  size_t n = 0;
  double smallest = 1e300;
  for (const auto& g : groups)
    for (const auto& p : g) ++n, smallest = std::min(smallest, p.target);
  auto ratios = [&](double b) {
    std::vector<double> a;
    for (const auto& g : groups) {
      double srr = 0, srm = 0;
      for (const auto& p : g) {
        const double w = 1.0 / (p.target * p.target);
        srr += w * p.roof * p.roof, srm += w * p.roof * (p.target - b);
      }
      a.push_back(srr > 0 ? srm / srr : 1.0);
    }
    return a;
  };
  auto objective = [&](double b) {
    const auto a = ratios(b);
    double j = 0;
    for (size_t k = 0; k < groups.size(); ++k)
      for (const auto& p : groups[k]) j += std::pow((a[k] * p.roof + b - p.target) / p.target, 2);
    return j;
  };
  GroupFit f;
  if (n >= 5) {
    const double h = 0.125 * smallest, j0 = objective(0), j1 = objective(h), j2 = objective(2 * h);
    const double curvature = j2 - 2 * j1 + j0;
    if (curvature > 1e-15 * (j0 + j1 + j2 + 1e-300)) {
      const double b = h * (0.5 - (j1 - j0) / curvature);  // the vertex of the parabola through the three
      f.fixed_ms = std::clamp(b, 0.0, 0.25 * smallest);
    }
  }
  f.efficiency = ratios(f.fixed_ms);
  // A fixed cost that leaves a group almost nothing to explain is dropped, not believed.
  if (std::any_of(f.efficiency.begin(), f.efficiency.end(), [](double a) { return a < 0.05; })) {
    f.fixed_ms = 0;
    f.efficiency = ratios(0.0);
  }
  for (double& a : f.efficiency) a = std::max(a, 0.05);  // never fit a stage away entirely
  return f;
}
}  // namespace

StageFit fit_stages(const std::vector<StageObservation>& observations, double overlap_fraction) {
  std::map<std::string, std::map<std::string, std::vector<Point>>> by_stage;  // stage -> bound -> cases
  for (const auto& o : observations) {
    const double roof = combine_terms(o.modeled.memory_ms, o.modeled.compute_ms, o.modeled.rng_ms, overlap_fraction);
    const double target = o.measured_ms - o.modeled.overhead_ms - o.modeled.link_ms;
    if (!(roof > 0 && target > 0)) continue;
    by_stage[stage_name(o.stage)][bound_name(roofline_bound(o.modeled))].push_back({roof, target});
  }
  StageFit fit;
  for (const auto& [stage, bounds] : by_stage) {
    // A stage whose cases hit different rooflines (dp.update: dense and RNG-bound, or sparse and
    // memory-bound) gets an efficiency per bound where that bound has two cases or more; a bound
    // with a single case shares the stage's efficiency. The fixed cost is the stage's.
    std::vector<std::vector<Point>> groups, shared(1);
    std::vector<std::string> keys;
    for (const auto& [bound, pts] : bounds) {
      if (bounds.size() >= 2 && pts.size() >= 2) {
        groups.push_back(pts);
        keys.push_back(stage + ":" + bound);
      } else {
        shared[0].insert(shared[0].end(), pts.begin(), pts.end());
      }
    }
    if (!shared[0].empty()) groups.push_back(shared[0]), keys.push_back(stage);
    const GroupFit g = fit_groups(groups);
    for (size_t k = 0; k < keys.size(); ++k) fit.efficiency[keys[k]] = g.efficiency[k], fit.fixed_ms[keys[k]] = g.fixed_ms;
    if (!fit.efficiency.count(stage)) {  // the fallback for a bound no calibration case hit
      std::vector<Point> all;
      for (const auto& [bound, pts] : bounds) all.insert(all.end(), pts.begin(), pts.end());
      double srr = 0, srm = 0;
      for (const auto& p : all) {
        const double w = 1.0 / (p.target * p.target);
        srr += w * p.roof * p.roof, srm += w * p.roof * (p.target - g.fixed_ms);
      }
      fit.efficiency[stage] = std::max(srm / srr, 0.05), fit.fixed_ms[stage] = g.fixed_ms;
    }
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
  fit.median_abs_error_pct = median(std::move(errors));  // 0 when no observation was usable
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
