#pragma once
// The cost of the collectives a data-parallel or sharded step runs, on a ClusterProfile: bytes and
// messages per device on each level of links, and the time. Algorithms are chosen by name from a
// registry (the cluster's "collectives" keys); adding one is a function in collectives.cpp and a
// line in its table.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/cluster.hpp"

namespace privrec::sim {

// What a collective puts on each level of links, per device (the busiest device on that level).
struct LinkUse {
  double bytes = 0;
  double messages = 0;
};

struct CollectiveCost {
  LinkUse intra, inter;  // bytes sent and messages sent per device over the node's links / the network
  // What the busiest device sends in all: intra + inter where every device uses both levels
  // (hierarchical, all-to-all); one level's for the ring, whose devices each send on one level.
  LinkUse device;
  double ms = 0;         // time of the collective
  // {"intra_node": {"bytes", "messages"}, "inter_node": {"bytes", "messages"}, "ms"}
  nlohmann::json to_json() const;
};

// N = c.devices(), g = c.devices_per_node, n = c.nodes, S = bytes. With N = 1, or S = 0, every
// collective costs exactly zero. A negative or non-finite S is a caller's bug (std::invalid_argument);
// an algorithm name outside the registry is an InputError listing the known ones.
//
// all-reduce of a buffer of S bytes held by every device, by c.all_reduce:
// "ring": one ring over all N devices, node-neighbours adjacent: every device sends 2(N-1)/N x S in
//   2(N-1) steps of S/N over its one outgoing link (the busiest device of each level sends all of it
//   there); the ring moves in lock-step, so every step takes the slowest level's latency + S/N / GBps.
// "hierarchical": reduce-scatter inside the node over intra links ((g-1)/g x S, g-1 messages), ring
//   all-reduce of S/g across the n nodes over the network (2(n-1)/n x S/g, 2(n-1) messages), all-gather
//   inside the node ((g-1)/g x S, g-1 messages). Phases in sequence, each step latency + step bytes / GBps.
CollectiveCost all_reduce(const ClusterProfile& c, double bytes);
// all-to-all where each device sends S bytes in all, spread evenly over all N devices (its own share
// stays local): (g-1)/N x S to devices of its node (g-1 messages), (N-g)/N x S over the network
// (N-g messages), by c.all_to_all:
// "direct": all messages in flight at once; time = max over the two levels of (latency + level bytes / GBps).
CollectiveCost all_to_all(const ClusterProfile& c, double bytes);

std::vector<std::string> all_reduce_algorithms();  // {"hierarchical", "ring"}
std::vector<std::string> all_to_all_algorithms();  // {"direct"}

}  // namespace privrec::sim
