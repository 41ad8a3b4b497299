#include "sim/collectives.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

#include <fmt/format.h>

#include "models/config_error.hpp"

namespace privrec::sim {

namespace {
using Algorithm = CollectiveCost (*)(const ClusterProfile& c, double bytes);

// `steps` messages of `step_bytes` one after the other on one link, in ms.
double steps_ms(const LinkProfile& link, double steps, double step_bytes) {
  return steps * (link.latency_us * 1e-3 + step_bytes / (link.GBps * 1e9) * 1e3);
}

CollectiveCost ring_all_reduce(const ClusterProfile& c, double bytes) {
  const double N = static_cast<double>(c.devices());
  const double steps = 2 * (N - 1), step_bytes = bytes / N;
  const LinkUse use{steps * step_bytes, steps};
  CollectiveCost cost;
  double step_ms = 0;  // the lock-step ring waits for its slowest link every step
  if (c.devices_per_node > 1) {
    cost.intra = use;
    step_ms = std::max(step_ms, steps_ms(c.intra_node, 1, step_bytes));
  }
  if (c.nodes > 1) {
    cost.inter = use;
    step_ms = std::max(step_ms, steps_ms(c.inter_node, 1, step_bytes));
  }
  cost.ms = steps * step_ms;
  cost.device = use;
  return cost;
}

// Every device of a node runs its own ring across the nodes on its 1/g shard, so the node's NICs
// are all busy at once (inter_node.GBps is already the per-device share of them).
CollectiveCost hierarchical_all_reduce(const ClusterProfile& c, double bytes) {
  const double g = static_cast<double>(c.devices_per_node), n = static_cast<double>(c.nodes);
  CollectiveCost cost;
  if (g > 1) {  // reduce-scatter, then (after the network phase) all-gather: g-1 steps of S/g each
    cost.intra = {2 * (g - 1) * (bytes / g), 2 * (g - 1)};
    cost.ms += 2 * steps_ms(c.intra_node, g - 1, bytes / g);
  }
  if (n > 1) {
    const double step_bytes = bytes / g / n;
    cost.inter = {2 * (n - 1) * step_bytes, 2 * (n - 1)};
    cost.ms += steps_ms(c.inter_node, 2 * (n - 1), step_bytes);
  }
  cost.device = {cost.intra.bytes + cost.inter.bytes, cost.intra.messages + cost.inter.messages};
  return cost;
}

CollectiveCost direct_all_to_all(const ClusterProfile& c, double bytes) {
  const double N = static_cast<double>(c.devices()), g = static_cast<double>(c.devices_per_node);
  const double share = bytes / N;
  CollectiveCost cost;
  cost.intra = {(g - 1) * share, g - 1};
  cost.inter = {(N - g) * share, N - g};
  // All messages are in flight together: each level pays one latency and its bytes at its rate.
  if (g > 1) cost.ms = std::max(cost.ms, steps_ms(c.intra_node, 1, cost.intra.bytes));
  if (N > g) cost.ms = std::max(cost.ms, steps_ms(c.inter_node, 1, cost.inter.bytes));
  cost.device = {cost.intra.bytes + cost.inter.bytes, cost.intra.messages + cost.inter.messages};
  return cost;
}

const std::map<std::string, Algorithm>& all_reduce_registry() {
  static const std::map<std::string, Algorithm> registry = {
      {"hierarchical", hierarchical_all_reduce},
      {"ring", ring_all_reduce},
  };
  return registry;
}

const std::map<std::string, Algorithm>& all_to_all_registry() {
  static const std::map<std::string, Algorithm> registry = {
      {"direct", direct_all_to_all},
  };
  return registry;
}

std::vector<std::string> names_of(const std::map<std::string, Algorithm>& registry) {
  std::vector<std::string> names;
  for (const auto& [name, fn] : registry) names.push_back(name);
  return names;
}

// The checks every algorithm would otherwise repeat: a known name, a sane size, and links for the
// levels in use (a profile built in code, not parsed, may lack them: that is a bug, not input).
CollectiveCost run(const std::map<std::string, Algorithm>& registry, const char* kind, const std::string& name,
                   const ClusterProfile& c, double bytes) {
  const auto it = registry.find(name);
  if (it == registry.end()) {
    std::string known;
    for (const auto& n : names_of(registry)) known += (known.empty() ? "" : ", ") + n;
    throw InputError(fmt::format("cluster {}: {} algorithm \"{}\": expected one of {}", c.name, kind, name, known));
  }
  if (!(bytes >= 0) || !std::isfinite(bytes))
    throw std::invalid_argument(fmt::format("{} of {} bytes: expected a finite size >= 0", kind, bytes));
  if (c.devices_per_node < 1 || c.nodes < 1)
    throw std::invalid_argument(fmt::format("cluster {}: {} nodes of {} devices", c.name, c.nodes, c.devices_per_node));
  if (c.devices() == 1 || bytes == 0) return {};
  if (c.devices_per_node > 1 && !(c.intra_node.GBps > 0))
    throw std::invalid_argument(
        fmt::format("cluster {}: {} devices per node but no intra-node bandwidth", c.name, c.devices_per_node));
  if (c.nodes > 1 && !(c.inter_node.GBps > 0))
    throw std::invalid_argument(fmt::format("cluster {}: {} nodes but no network bandwidth", c.name, c.nodes));
  return it->second(c, bytes);
}
}  // namespace

nlohmann::json CollectiveCost::to_json() const {
  return {{"intra_node", {{"bytes", intra.bytes}, {"messages", intra.messages}}},
          {"inter_node", {{"bytes", inter.bytes}, {"messages", inter.messages}}},
          {"per_device", {{"bytes", device.bytes}, {"messages", device.messages}}},
          {"ms", ms}};
}

CollectiveCost all_reduce(const ClusterProfile& c, double bytes) {
  return run(all_reduce_registry(), "all_reduce", c.all_reduce, c, bytes);
}

CollectiveCost all_to_all(const ClusterProfile& c, double bytes) {
  return run(all_to_all_registry(), "all_to_all", c.all_to_all, c, bytes);
}

std::vector<std::string> all_reduce_algorithms() { return names_of(all_reduce_registry()); }
std::vector<std::string> all_to_all_algorithms() { return names_of(all_to_all_registry()); }

}  // namespace privrec::sim
