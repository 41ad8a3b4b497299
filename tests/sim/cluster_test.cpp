// Cluster profiles: every preset loads and round-trips, --nodes scales a preset, a hardware profile
// is a cluster of one, and a bad cluster file is refused with the file, the key path, the value and
// what was expected.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "models/config_error.hpp"
#include "sim/cluster.hpp"
#include "sim/collectives.hpp"
#include "tests/temp_dir.hpp"

using namespace privrec;
using namespace privrec::sim;

namespace {
std::string error_of(const nlohmann::json& j) {
  try {
    parse_cluster_profile(j, "bad.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "(accepted)";
}

// Every needle must be in the message (the file, the key path, the bad value, ...).
void expect_mentions(const std::string& e, std::initializer_list<const char*> needles) {
  for (const char* n : needles) EXPECT_NE(e.find(n), std::string::npos) << "missing \"" << n << "\" in: " << e;
}

// The dgx-h100 preset as written in its file (device by name), not as to_json writes it.
nlohmann::json dgx_file() {
  return {{"name", "dgx"},
          {"provenance", {{"source", "test"}}},
          {"device", "h100-sxm"},
          {"devices_per_node", 8},
          {"nodes", 1},
          {"intra_node", {{"name", "NVLink"}, {"GBps_per_device", 450}, {"latency_us", 2}}},
          {"network", {{"name", "IB"}, {"nics_per_node", 8}, {"GBps_per_nic", 50}, {"latency_us", 5}}}};
}
}  // namespace

TEST(ClusterProfile, EveryPresetLoadsAndRoundTrips) {
  const auto names = cluster_preset_names();
  for (const char* expected : {"dgx-h100", "dgx-h200", "lazydp-v100"})
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  for (const auto& n : names) {
    const ClusterProfile c = load_cluster_profile(n);
    EXPECT_EQ(c.name, n);
    EXPECT_TRUE(c.provenance.contains("source")) << n;
    EXPECT_EQ(c.price_per_device_hour, 0) << n;  // no price in our references
    EXPECT_EQ(parse_cluster_profile(c.to_json(), "roundtrip").to_json(), c.to_json()) << n;
  }
}

TEST(ClusterProfile, DgxPresetsFollowTheReference) {
  const ClusterProfile h100 = load_cluster_profile("dgx-h100");
  EXPECT_EQ(h100.devices(), 8);
  EXPECT_EQ(h100.nodes, 1);
  EXPECT_EQ(h100.device.to_json(), load_hardware_profile("h100-sxm").to_json());
  EXPECT_EQ(h100.intra_node.GBps, 450);  // 900 GB/s both ways together (REFERENCE.md section 7)
  EXPECT_EQ(h100.nics_per_node, 8);
  EXPECT_EQ(h100.nic_GBps, 50);          // 400 Gb/s
  EXPECT_EQ(h100.inter_node.GBps, 8 * 50 / 8.0);
  EXPECT_EQ(h100.all_reduce, "hierarchical");
  EXPECT_EQ(h100.all_to_all, "direct");
  const ClusterProfile h200 = load_cluster_profile("dgx-h200");
  EXPECT_EQ(h200.device.to_json(), load_hardware_profile("h200").to_json());
  EXPECT_EQ(h200.devices(), 8);
  EXPECT_EQ(h200.intra_node.GBps, 450);
  EXPECT_EQ(h200.inter_node.GBps, 50);
}

TEST(ClusterProfile, LazydpSystemIsOneDevice) {
  ClusterProfile c = load_cluster_profile("lazydp-v100");
  EXPECT_EQ(c.devices(), 1);
  EXPECT_EQ(c.device.to_json(), load_hardware_profile("v100-xeon-e5-2698v4").to_json());
  EXPECT_EQ(c.nics_per_node, 0);
  set_nodes(c, 1);
  try {
    set_nodes(c, 2);
    FAIL() << "a cluster without a network took 2 nodes";
  } catch (const InputError& e) {
    expect_mentions(e.what(), {"--nodes 2", "lazydp-v100", "network"});
  }
  EXPECT_EQ(c.nodes, 1);
}

TEST(ClusterProfile, SetNodesScalesAPreset) {
  ClusterProfile c = load_cluster_profile("dgx-h100");
  set_nodes(c, 32);
  EXPECT_EQ(c.devices(), 256);
  EXPECT_EQ(c.inter_node.GBps, 8 * 50 / 8.0);
  EXPECT_EQ(parse_cluster_profile(c.to_json(), "roundtrip").nodes, 32);
  set_nodes(c, 4096);
  EXPECT_EQ(c.devices(), 8 * 4096);
  for (int64_t bad : {0, -3, 4097}) {
    try {
      set_nodes(c, bad);
      FAIL() << bad;
    } catch (const InputError& e) {
      expect_mentions(e.what(), {"--nodes", std::to_string(bad).c_str()});
    }
  }
  EXPECT_EQ(c.nodes, 4096);
}

TEST(ClusterProfile, SingleDeviceClusterIsTheHardwareProfile) {
  const HardwareProfile h = load_hardware_profile("a100-80gb");
  const ClusterProfile c = single_device_cluster(h);
  EXPECT_EQ(c.device.to_json(), h.to_json());
  EXPECT_EQ(c.name, h.name);
  EXPECT_EQ(c.devices(), 1);
  EXPECT_EQ(c.intra_node.GBps, 0);
  EXPECT_EQ(c.nics_per_node, 0);
  EXPECT_EQ(parse_cluster_profile(c.to_json(), "roundtrip").to_json(), c.to_json());
  EXPECT_EQ(all_reduce(c, 1e9).ms, 0);
}

TEST(ClusterProfile, BadClusterFilesNameFileKeyAndValue) {
  auto with = [](auto edit) {
    nlohmann::json j = dgx_file();
    edit(j);
    return error_of(j);
  };
  EXPECT_EQ(error_of(dgx_file()), "(accepted)");
  expect_mentions(with([](auto& j) { j["bandwidth_GBps"] = 7; }), {"bad.json", "bandwidth_GBps", "7", "no such key"});
  expect_mentions(with([](auto& j) { j["network"]["mtu"] = 4096; }), {"bad.json", "network.mtu", "4096"});
  expect_mentions(with([](auto& j) { j.erase("device"); }), {"bad.json", "device", "(missing)"});
  expect_mentions(with([](auto& j) { j["devices_per_node"] = 0; }), {"bad.json", "devices_per_node = 0", "positive"});
  expect_mentions(with([](auto& j) { j["nodes"] = 5000; }), {"bad.json", "nodes = 5000", "4096"});
  expect_mentions(with([](auto& j) { j["intra_node"]["GBps_per_device"] = -450; }),
                  {"bad.json", "intra_node.GBps_per_device", "-450", "positive"});
  expect_mentions(with([](auto& j) { j["network"]["GBps_per_nic"] = -50; }), {"bad.json", "network.GBps_per_nic", "-50"});
  expect_mentions(with([](auto& j) { j["network"]["GBps_per_nic"] = "fast"; }), {"bad.json", "network.GBps_per_nic", "fast"});
  expect_mentions(with([](auto& j) { j["collectives"] = {{"all_reduce", "tree"}}; }),
                  {"bad.json", "collectives.all_reduce", "tree", "hierarchical", "ring"});
  expect_mentions(with([](auto& j) { j["collectives"] = {{"all_to_all", "pairwise"}}; }),
                  {"bad.json", "collectives.all_to_all", "pairwise", "direct"});
  expect_mentions(with([](auto& j) {
                    j["nodes"] = 2;
                    j.erase("network");
                  }),
                  {"bad.json", "network", "(missing)", "nodes is 2"});
  expect_mentions(with([](auto& j) { j["device"] = "h300"; }), {"bad.json", "device", "h300", "h100-sxm"});
  expect_mentions(with([](auto& j) { j["device"] = 42; }), {"bad.json", "device", "42"});
  expect_mentions(with([](auto& j) { j["intra_node"] = 450; }), {"bad.json", "intra_node", "450", "an object"});
  expect_mentions(with([](auto& j) { j.erase("intra_node"); }), {"bad.json", "intra_node", "(missing)", "devices_per_node is 8"});
  expect_mentions(with([](auto& j) { j["price_per_device_hour_usd"] = 0; }), {"bad.json", "price_per_device_hour_usd", "0"});
  expect_mentions(with([](auto& j) { j["network"]["GBps_per_device"] = 400; }),
                  {"bad.json", "network.GBps_per_device", "400", "derived"});
  expect_mentions(with([](auto& j) { j["provenance"] = {{"where", "somewhere"}}; }), {"bad.json", "provenance.source"});
  // An inline device profile: the hardware parser's complaint, with the path from the cluster's root.
  expect_mentions(with([](auto& j) {
                    j["device"] = load_hardware_profile("h100-sxm").to_json();
                    j["device"]["device"]["stream_GBps"] = -1;
                  }),
                  {"bad.json", "device.device.stream_GBps", "-1"});
  EXPECT_EQ(with([](auto& j) {
              j["devices_per_node"] = 1;
              j.erase("intra_node");
              j["device"] = load_hardware_profile("h100-sxm").to_json();
              j["price_per_device_hour_usd"] = 3.5;
            }),
            "(accepted)");
}

// A cluster file names its device file relative to itself; a missing file or preset lists the presets.
TEST(ClusterProfile, FilesAndUnknownPresets) {
  const std::filesystem::path dir = test::temp_dir("privrec_cluster_test_");
  std::ofstream(dir / "gpu.json") << load_hardware_profile("h200").to_json().dump();
  nlohmann::json j = dgx_file();
  j["device"] = "gpu.json";
  std::ofstream(dir / "cluster.json") << j.dump();
  const ClusterProfile c = load_cluster_profile((dir / "cluster.json").string());
  EXPECT_EQ(c.device.name, "h200");
  j["device"] = "nothing-here.json";
  std::ofstream(dir / "cluster.json") << j.dump();
  try {
    load_cluster_profile((dir / "cluster.json").string());
    FAIL();
  } catch (const InputError& e) {
    expect_mentions(e.what(), {(dir / "cluster.json").string().c_str(), "device", "nothing-here.json"});
  }
  std::ofstream(dir / "gpu.json") << "{\"name\": ";  // the device file is broken: both files are named
  j["device"] = "gpu.json";
  std::ofstream(dir / "cluster.json") << j.dump();
  try {
    load_cluster_profile((dir / "cluster.json").string());
    FAIL();
  } catch (const InputError& e) {
    expect_mentions(e.what(), {"cluster.json", "device", "gpu.json"});
  }
  std::filesystem::remove_all(dir);
  try {
    load_cluster_profile("dgx-b200");
    FAIL();
  } catch (const InputError& e) {
    expect_mentions(e.what(), {"dgx-b200", "dgx-h100", "lazydp-v100"});
  }
}
