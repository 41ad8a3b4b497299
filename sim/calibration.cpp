#include "sim/calibration.hpp"

#include <algorithm>

namespace privrec::sim {

StageFit fit_stages(const std::vector<StageObservation>& observations) {
  struct Point {
    double roof, target;  // modeled roofline; measured minus the modeled overheads
  };
  std::map<std::string, std::vector<Point>> points;
  for (const auto& o : observations) {
    const double roof = std::max({o.modeled.memory_ms, o.modeled.compute_ms, o.modeled.rng_ms});
    const double target = o.measured_ms - o.modeled.overhead_ms - o.modeled.link_ms;
    if (roof > 0 && target > 0) points[stage_name(o.stage)].push_back({roof, target});
  }
  StageFit fit;
  for (const auto& [name, pts] : points) {
    // Minimize sum ((a r + b - m) / m)^2: weighted least squares with weights 1 / m^2.
    double srr = 0, sr = 0, s1 = 0, srm = 0, sm = 0;
    for (const auto& p : pts) {
      const double w = 1.0 / (p.target * p.target);
      srr += w * p.roof * p.roof, sr += w * p.roof, s1 += w, srm += w * p.roof * p.target, sm += w * p.target;
    }
    double a = srm / srr, b = 0;
    const double det = srr * s1 - sr * sr;
    if (pts.size() >= 2 && det > 1e-12 * srr * s1) {
      const double a2 = (srm * s1 - sr * sm) / det, b2 = (srr * sm - sr * srm) / det;
      if (b2 >= 0 && a2 > 0) a = a2, b = b2;
    }
    fit.efficiency[name] = std::max(a, 0.05);  // never fit a stage away entirely
    fit.fixed_ms[name] = b;
  }
  return fit;
}

}  // namespace privrec::sim
