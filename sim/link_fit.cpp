#include "sim/link_fit.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "models/config_error.hpp"
#include "models/sample_stats.hpp"
#include "sim/collectives.hpp"

namespace privrec::sim {

namespace {
double collective_ms(const ClusterProfile& c, const CollectiveSample& s) {
  if (s.collective == "all_to_all") return all_to_all(c, s.bytes).ms;
  if (s.collective == "all_reduce") return all_reduce(c, s.bytes).ms;
  throw InputError("collective '" + s.collective + "': expected all_to_all or all_reduce");
}

// The sample's time on `c` with the intra-node link set to (latency_us, GBps).
double with_link(ClusterProfile c, const CollectiveSample& s, double latency_us, double GBps) {
  c.intra_node.latency_us = latency_us;
  c.intra_node.GBps = GBps;
  return collective_ms(c, s);
}
}  // namespace

LinkFit fit_intra_node_link(const ClusterProfile& shape, const std::vector<CollectiveSample>& samples) {
  if (shape.nodes != 1 || shape.devices_per_node < 2)
    throw InputError(fmt::format("fitting a link needs one node of several devices; the cluster has {} node(s) of {}",
                                 shape.nodes, shape.devices_per_node));
  if (samples.size() < 2) throw InputError("fitting a link needs at least two timed collectives");
  // t = k L + x b with b = 1 / GBps: k from a unit latency and no bandwidth term, x from the reverse.
  constexpr double kHuge = 1e30;
  double a11 = 0, a12 = 0, a22 = 0, r1 = 0, r2 = 0;
  std::vector<double> k(samples.size()), x(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    const CollectiveSample& s = samples[i];
    if (!(s.ms > 0)) throw InputError(fmt::format("{} of {} bytes: a time of {} ms cannot be fitted", s.collective, s.bytes, s.ms));
    k[i] = with_link(shape, s, 1.0, kHuge);
    x[i] = with_link(shape, s, 0.0, 1.0);
    const double w = 1.0 / (s.ms * s.ms);  // relative error
    a11 += w * k[i] * k[i], a12 += w * k[i] * x[i], a22 += w * x[i] * x[i];
    r1 += w * k[i] * s.ms, r2 += w * x[i] * s.ms;
  }
  const double det = a11 * a22 - a12 * a12;
  double L = det != 0 ? (r1 * a22 - r2 * a12) / det : 0, b = det != 0 ? (a11 * r2 - a12 * r1) / det : r2 / a22;
  if (L < 0) L = 0, b = r2 / a22;  // no latency term: the bandwidth alone
  if (!(b > 0)) throw InputError("the timed collectives do not grow with their size: no bandwidth can be fitted");
  LinkFit f;
  f.link.latency_us = L;
  f.link.GBps = 1.0 / b;
  std::vector<double> err;
  for (size_t i = 0; i < samples.size(); ++i) {
    f.modeled_ms.push_back(k[i] * L + x[i] * b);
    err.push_back(std::fabs(f.modeled_ms.back() / samples[i].ms - 1) * 100);
  }
  f.median_abs_error_pct = summarize(err).median;
  return f;
}

}  // namespace privrec::sim
