#pragma once
// A cluster's link fitted from timed collectives: the latency and bandwidth of its intra-node link
// that make the model's collectives (sim/collectives.hpp) take the measured times. For one node
// every collective's time is linear in both, t = k latency + x / GBps with k and x fixed by the
// algorithm and the size, so the fit is a least-squares line in (latency, 1 / GBps), weighted by
// relative error (the sizes span five decades).
#include <string>
#include <vector>

#include "sim/cluster.hpp"

namespace privrec::sim {

struct CollectiveSample {
  std::string collective;  // "all_to_all" or "all_reduce" (the cluster's algorithm for it)
  double bytes = 0;        // in the model's terms (sim/collectives.hpp)
  double ms = 0;           // measured
};

struct LinkFit {
  LinkProfile link;                // name left empty
  std::vector<double> modeled_ms;  // per sample, with the fitted link
  double median_abs_error_pct = 0;
};

// Throws InputError for a cluster of more than one node or one device, fewer than two samples, or
// an unknown collective name.
LinkFit fit_intra_node_link(const ClusterProfile& shape, const std::vector<CollectiveSample>& samples);

}  // namespace privrec::sim
