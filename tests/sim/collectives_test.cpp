// Collectives: bytes and messages per device equal their closed forms (REFERENCE.md section 7), a
// cluster of one costs nothing, and the time of a small case matches a hand computation.
#include <gtest/gtest.h>

#include <stdexcept>
#include <utility>

#include "models/config_error.hpp"
#include "sim/collectives.hpp"

using namespace privrec;
using namespace privrec::sim;

namespace {
// g devices per node, n nodes: links of 100 GB/s and 2 us inside a node; one 10 GB/s NIC per
// device (so 10 GB/s per device) and 5 us on the network.
ClusterProfile cluster(int64_t g, int64_t n, const std::string& all_reduce = "hierarchical") {
  ClusterProfile c;
  c.name = "test";
  c.devices_per_node = g;
  c.nodes = n;
  c.intra_node = {"intra", 100, 2};
  c.nics_per_node = g;
  c.nic_GBps = 10;
  c.inter_node = {"network", 10, 5};
  c.all_reduce = all_reduce;
  return c;
}

void expect_zero(const CollectiveCost& cost) {
  EXPECT_EQ(cost.intra.bytes, 0);
  EXPECT_EQ(cost.intra.messages, 0);
  EXPECT_EQ(cost.inter.bytes, 0);
  EXPECT_EQ(cost.inter.messages, 0);
  EXPECT_EQ(cost.ms, 0);
}

constexpr double S = 3.0e8;  // bytes
// (devices per node, nodes): N in {2, 8, 16, 64}, on one node and on several.
const std::pair<int64_t, int64_t> kShapes[] = {{2, 1},  {8, 1}, {16, 1}, {64, 1}, {1, 2}, {2, 4},
                                               {4, 2},  {8, 2}, {1, 16}, {8, 8},  {4, 16}, {1, 64}};
}  // namespace

TEST(Collectives, RegistryNamesTheAlgorithms) {
  EXPECT_EQ(all_reduce_algorithms(), (std::vector<std::string>{"hierarchical", "ring"}));
  EXPECT_EQ(all_to_all_algorithms(), (std::vector<std::string>{"direct"}));
  ClusterProfile c = cluster(8, 2, "tree");
  try {
    all_reduce(c, S);
    FAIL();
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("tree"), std::string::npos) << m;
    EXPECT_NE(m.find("hierarchical, ring"), std::string::npos) << m;
  }
  c.all_reduce = "ring";
  EXPECT_THROW(all_reduce(c, -1), std::invalid_argument);
  c.all_to_all = "pairwise";
  EXPECT_THROW(all_to_all(c, S), InputError);
}

TEST(Collectives, RingAllReduceSendsTwiceNMinusOneOverNOfTheBuffer) {
  for (const auto& [g, n] : kShapes) {
    const ClusterProfile c = cluster(g, n, "ring");
    const double N = static_cast<double>(g * n);
    const CollectiveCost cost = all_reduce(c, S);
    SCOPED_TRACE(testing::Message() << g << " x " << n);
    // Every device sends all of its steps over its one outgoing link, on whichever level that is.
    EXPECT_DOUBLE_EQ(cost.intra.bytes, g > 1 ? 2 * (N - 1) / N * S : 0);
    EXPECT_EQ(cost.intra.messages, g > 1 ? 2 * (N - 1) : 0);
    EXPECT_DOUBLE_EQ(cost.inter.bytes, n > 1 ? 2 * (N - 1) / N * S : 0);
    EXPECT_EQ(cost.inter.messages, n > 1 ? 2 * (N - 1) : 0);
    EXPECT_GT(cost.ms, 0);
  }
}

TEST(Collectives, HierarchicalAllReduceLevelsMatchTheirClosedForms) {
  for (const auto& [g, n] : kShapes) {
    const CollectiveCost cost = all_reduce(cluster(g, n, "hierarchical"), S);
    const double G = static_cast<double>(g), M = static_cast<double>(n);
    SCOPED_TRACE(testing::Message() << g << " x " << n);
    EXPECT_DOUBLE_EQ(cost.intra.bytes, 2 * (G - 1) / G * S);  // reduce-scatter + all-gather
    EXPECT_EQ(cost.intra.messages, 2 * (G - 1));
    EXPECT_DOUBLE_EQ(cost.inter.bytes, 2 * (M - 1) / M * (S / G));  // ring over nodes of a 1/g shard
    EXPECT_EQ(cost.inter.messages, 2 * (M - 1));
  }
  // On one node, or with one device per node, it is the ring.
  for (const auto& [g, n] : {std::pair<int64_t, int64_t>{8, 1}, {1, 8}}) {
    const CollectiveCost h = all_reduce(cluster(g, n, "hierarchical"), S), r = all_reduce(cluster(g, n, "ring"), S);
    EXPECT_DOUBLE_EQ(h.intra.bytes + h.inter.bytes, r.intra.bytes + r.inter.bytes);
    EXPECT_DOUBLE_EQ(h.ms, r.ms);
  }
}

TEST(Collectives, AllToAllSplitsTheBufferByLevel) {
  for (const auto& [g, n] : kShapes) {
    const CollectiveCost cost = all_to_all(cluster(g, n), S);
    const double G = static_cast<double>(g), N = static_cast<double>(g * n);
    SCOPED_TRACE(testing::Message() << g << " x " << n);
    EXPECT_DOUBLE_EQ(cost.intra.bytes, (G - 1) / N * S);
    EXPECT_EQ(cost.intra.messages, G - 1);
    EXPECT_DOUBLE_EQ(cost.inter.bytes, (N - G) / N * S);
    EXPECT_EQ(cost.inter.messages, N - G);
    EXPECT_DOUBLE_EQ(cost.intra.bytes + cost.inter.bytes, (N - 1) / N * S);
  }
}

TEST(Collectives, OneDeviceOrNothingToSendCostsZero) {
  for (const char* algorithm : {"hierarchical", "ring"}) {
    expect_zero(all_reduce(cluster(1, 1, algorithm), S));
    expect_zero(all_reduce(cluster(8, 4, algorithm), 0));
  }
  expect_zero(all_to_all(cluster(1, 1), S));
  expect_zero(all_to_all(cluster(8, 4), 0));
  const ClusterProfile lone = single_device_cluster(load_hardware_profile("h100-sxm"));
  expect_zero(all_reduce(lone, S));
  expect_zero(all_to_all(lone, S));
}

// 2 nodes of 2 devices, S = 4 MB; intra 100 GB/s + 2 us, network 10 GB/s + 5 us per device.
TEST(Collectives, TimeOfASmallCaseByHand) {
  const double bytes = 4e6;
  // ring: 6 steps of 1 MB; a step waits for the network: 5 us + 1e6 B / 10 GB/s = 105 us.
  EXPECT_NEAR(all_reduce(cluster(2, 2, "ring"), bytes).ms, 6 * 0.105, 1e-12);
  // hierarchical: reduce-scatter and all-gather, 1 step each of 2 MB: 2 us + 20 us; then the
  // network ring of the 2 MB shard over 2 nodes: 2 steps of 1 MB at 105 us. 44 + 210 us.
  EXPECT_NEAR(all_reduce(cluster(2, 2, "hierarchical"), bytes).ms, 0.044 + 0.210, 1e-12);
  // all-to-all: 1 MB to the node neighbour (2 + 10 us), 2 MB over the network (5 + 200 us) at once.
  EXPECT_NEAR(all_to_all(cluster(2, 2), bytes).ms, 0.205, 1e-12);
  // one node of 8: ring of 14 steps of 0.5 MB at 2 + 5 us each.
  EXPECT_NEAR(all_reduce(cluster(8, 1, "ring"), bytes).ms, 14 * 0.007, 1e-12);
}

TEST(Collectives, DgxClusterAtScale) {
  ClusterProfile c = load_cluster_profile("dgx-h100");
  set_nodes(c, 32);
  const CollectiveCost cost = all_reduce(c, S);
  EXPECT_DOUBLE_EQ(cost.intra.bytes, 2 * 7.0 / 8 * S);
  EXPECT_DOUBLE_EQ(cost.inter.bytes, 2 * 31.0 / 32 * S / 8);
  // The network phase alone (its bytes at 50 GB/s per device) is a lower bound of the time.
  EXPECT_GT(cost.ms, cost.inter.bytes / 50e9 * 1e3);
  const nlohmann::json j = cost.to_json();
  EXPECT_EQ(j["intra_node"]["bytes"], cost.intra.bytes);
  EXPECT_EQ(j["inter_node"]["messages"], 62);
  EXPECT_EQ(j["ms"], cost.ms);
}
