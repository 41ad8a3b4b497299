// Hardware profiles: every preset loads and round-trips; a bad profile is refused with the file,
// the key path, the value and what was expected.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "models/config_error.hpp"
#include "sim/hardware_profile.hpp"
#include "tests/temp_dir.hpp"

using namespace privrec;
using namespace privrec::sim;

TEST(HardwareProfile, EveryPresetLoadsAndRoundTrips) {
  const auto names = hardware_preset_names();
  for (const char* expected : {"a100-80gb", "h100-sxm", "h200", "v100-32gb", "v100-xeon-e5-2698v4"})
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  for (const auto& n : names) {
    const HardwareProfile h = load_hardware_profile(n);
    EXPECT_EQ(h.name, n);
    EXPECT_TRUE(h.provenance.contains("source"));
    const HardwareProfile again = parse_hardware_profile(h.to_json(), "roundtrip");
    EXPECT_EQ(again.to_json(), h.to_json());
  }
  const HardwareProfile lazy = load_hardware_profile("v100-xeon-e5-2698v4");
  EXPECT_EQ(lazy.tables_in, "host");
  ASSERT_TRUE(lazy.host.has_value());
  EXPECT_EQ(lazy.host->stream_GBps, 68);  // the paper's DDR4 figure
  EXPECT_EQ(load_hardware_profile("h100-sxm").device.stream_GBps, 3000);
}

namespace {
std::string error_of(const nlohmann::json& j) {
  try {
    parse_hardware_profile(j, "bad.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "(accepted)";
}
}  // namespace

TEST(HardwareProfile, BadProfilesNameFileKeyAndValue) {
  const nlohmann::json good = load_hardware_profile("v100-xeon-e5-2698v4").to_json();
  auto with = [&](auto edit) {
    nlohmann::json j = good;
    edit(j);
    return error_of(j);
  };
  std::string e = with([](auto& j) { j["device"].erase("stream_GBps"); });
  EXPECT_NE(e.find("bad.json"), std::string::npos) << e;
  EXPECT_NE(e.find("device.stream_GBps"), std::string::npos) << e;
  e = with([](auto& j) { j["host"]["rng_normals_per_s"] = -3; });
  EXPECT_NE(e.find("host.rng_normals_per_s"), std::string::npos) << e;
  EXPECT_NE(e.find("-3"), std::string::npos) << e;
  e = with([](auto& j) { j["device"]["hbm_bandwidth"] = 1; });
  EXPECT_NE(e.find("device.hbm_bandwidth"), std::string::npos) << e;
  e = with([](auto& j) { j["tables_in"] = "disk"; });
  EXPECT_NE(e.find("tables_in"), std::string::npos) << e;
  EXPECT_NE(e.find("disk"), std::string::npos) << e;
  e = with([](auto& j) { j["kernels"] = "tpu"; });  // the kernel family the profile models
  EXPECT_NE(e.find("kernels"), std::string::npos) << e;
  EXPECT_NE(e.find("tpu"), std::string::npos) << e;
  e = with([](auto& j) { j["kernels"] = "framework"; });  // an implementation's family, not a processor's
  EXPECT_NE(e.find("kernels"), std::string::npos) << e;
  EXPECT_NE(e.find("--implementation framework"), std::string::npos) << e;
  e = with([](auto& j) { j.erase("kernels"); });
  EXPECT_NE(e.find("kernels"), std::string::npos) << e;
  e = with([](auto& j) { j.erase("link"); });
  EXPECT_NE(e.find("link"), std::string::npos) << e;
  e = with([](auto& j) { j["provenance"] = "trust me"; });
  EXPECT_NE(e.find("provenance"), std::string::npos) << e;
  e = with([](auto& j) { j["link"]["GBps"] = "fast"; });
  EXPECT_NE(e.find("link.GBps"), std::string::npos) << e;
  e = with([](auto& j) { j["device"]["first_touch_GBps"] = 0; });
  EXPECT_NE(e.find("device.first_touch_GBps"), std::string::npos) << e;
  e = with([](auto& j) { j["host"]["first_touch_GBps"] = "slow"; });
  EXPECT_NE(e.find("host.first_touch_GBps"), std::string::npos) << e;
  EXPECT_NE(e.find("slow"), std::string::npos) << e;
  e = with([](auto& j) { j["device"]["overlap_fraction"] = 1.5; });
  EXPECT_NE(e.find("device.overlap_fraction"), std::string::npos) << e;
  EXPECT_NE(e.find("1.5"), std::string::npos) << e;
  EXPECT_EQ(error_of(good), "(accepted)");
  // The miss-cost curve: row sizes and fractions as keys, positive factors.
  const nlohmann::json curve = {{"128", {{"0.01", 9.5}, {"1", 1.0}}}};
  EXPECT_EQ(with([&](auto& j) { j["host"]["memory_miss_cost_by_row_B"] = curve; }), "(accepted)");
  e = with([&](auto& j) { j["host"]["memory_miss_cost_by_row_B"] = {{"wide", {{"0.5", 2.0}}}}; });
  EXPECT_NE(e.find("host.memory_miss_cost_by_row_B.wide"), std::string::npos) << e;
  e = with([&](auto& j) { j["host"]["memory_miss_cost_by_row_B"] = {{"128", {{"1.5", 2.0}}}}; });
  EXPECT_NE(e.find("host.memory_miss_cost_by_row_B.128.1.5"), std::string::npos) << e;
  EXPECT_NE(e.find("miss fraction in (0, 1]"), std::string::npos) << e;
  e = with([&](auto& j) { j["host"]["memory_miss_cost_by_row_B"] = {{"128", {{"0.5", -2.0}}}}; });
  EXPECT_NE(e.find("host.memory_miss_cost_by_row_B.128.0.5"), std::string::npos) << e;
  EXPECT_NE(e.find("-2"), std::string::npos) << e;
  e = with([&](auto& j) { j["host"]["memory_miss_cost_by_row_B"] = {{"128", 3}}; });
  EXPECT_NE(e.find("host.memory_miss_cost_by_row_B.128"), std::string::npos) << e;
  e = with([&](auto& j) { j["host"]["memory_miss_cost_by_row_B"] = {{"128", {{"0.5", 2.0}}}, {"128.0", {{"0.5", 2.0}}}}; });
  EXPECT_NE(e.find("row size not listed twice"), std::string::npos) << e;
  e = with([&](auto& j) { j["host"]["memory_miss_cost_by_row_B"] = {{"128", {{"0.5", 2.0}, {"0.50", 3.0}}}}; });
  EXPECT_NE(e.find("not listed twice"), std::string::npos) << e;
  // And it round-trips.
  nlohmann::json j = good;
  j["host"]["memory_miss_cost_by_row_B"] = curve;
  const HardwareProfile h = parse_hardware_profile(j, "x.json");
  ASSERT_EQ(h.host->memory_miss_cost.by_row_B.size(), 1u);
  EXPECT_EQ(h.host->memory_miss_cost.factor(128, 0.01), 9.5);
  EXPECT_EQ(parse_hardware_profile(h.to_json(), "y.json").to_json(), h.to_json());
  // The sorted-visit curve is read by the same code: its keys are densities.
  e = with([&](auto& j) { j["device"]["sorted_visit_cost_by_row_B"] = {{"512", {{"2", 1.5}}}}; });
  EXPECT_NE(e.find("device.sorted_visit_cost_by_row_B.512.2"), std::string::npos) << e;
  EXPECT_NE(e.find("density in (0, 1]"), std::string::npos) << e;
  e = with([&](auto& j) { j["device"]["sorted_visit_cost_by_row_B"] = {{"512", {{"0.5", 0}}}}; });
  EXPECT_NE(e.find("device.sorted_visit_cost_by_row_B.512.0.5"), std::string::npos) << e;
  j["device"]["sorted_visit_cost_by_row_B"] = {{"128", {{"0.25", 2.0}, {"1", 1.1}}}};
  const HardwareProfile s = parse_hardware_profile(j, "x.json");
  EXPECT_EQ(s.device.sorted_visit_cost.factor(128, 0.25), 2.0);
  EXPECT_EQ(parse_hardware_profile(s.to_json(), "y.json").to_json(), s.to_json());
}

TEST(HardwareProfile, UnknownPresetOrMissingFileListsThePresets) {
  try {
    load_hardware_profile("h300");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("h100-sxm"), std::string::npos) << e.what();
  }
  const std::filesystem::path path = test::temp_path("bad_profile.json");
  std::ofstream(path) << "{ \"name\": ";
  try {
    load_hardware_profile(path.string());
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

// Cache levels and the device cache: named, ascending, below the memory; a device cache only for
// host tables, beyond the device's own caches; a bounded per-bag cost.
// compare, validate and calibrate default to the committed profile measured on this host's
// processor (model name and thread count): the backend's own default when it is one, else the
// first match, else the default.
TEST(HardwareProfile, MeasuredProfileForThisProcessor) {
  auto profile = [](std::string name, std::string kernels, nlohmann::json provenance) {
    HardwareProfile h;
    h.name = std::move(name), h.kernels = std::move(kernels), h.provenance = std::move(provenance);
    return h;
  };
  auto measured_on_cpu = [](const std::string& cpu, nlohmann::json threads = 2) {
    return nlohmann::json{{"source", "measured"}, {"machine", {{"cpu", cpu}, {"hardware_threads", threads}}}};
  };
  const std::string xeon = "Intel(R) Xeon(R) Processor";
  const std::vector<HardwareProfile> profiles = {
      profile("a100", "cuda", measured_on_cpu(xeon)),  // other kernels
      profile("sheet", "cpu", {{"source", "datasheet"}, {"machine", {{"cpu", xeon}, {"hardware_threads", 2}}}}),
      profile("odd", "cpu", {{"source", "measured"}, {"machine", {{"cpu", 7}, {"hardware_threads", 2}}}}),  // skipped
      profile("odd2", "cpu", {{"source", "measured"}, {"machine", "vm"}}),
      profile("odd3", "cpu", measured_on_cpu(xeon, "2")),  // threads not a number: skipped
      profile("xeon-64", "cpu", measured_on_cpu(xeon, 64)),
      profile("cpu-xeon-2c", "cpu", measured_on_cpu(xeon)),
      profile("cpu-xeon-2c-b", "cpu", measured_on_cpu(xeon)),
      profile("cpu-epyc-2c", "cpu", measured_on_cpu("AMD EPYC")),
  };
  EXPECT_EQ(measured_profile_for_cpu(xeon, "", 2, "cpu", profiles, "cpu-epyc-2c"), "cpu-xeon-2c");
  EXPECT_EQ(measured_profile_for_cpu(xeon, "", 2, "cpu", profiles, "cpu-xeon-2c-b"), "cpu-xeon-2c-b");
  EXPECT_EQ(measured_profile_for_cpu(xeon, "", 64, "cpu", profiles, "cpu-epyc-2c"), "xeon-64");
  EXPECT_EQ(measured_profile_for_cpu(xeon, "", 8, "cpu", profiles, "cpu-epyc-2c"), "cpu-epyc-2c");  // no such machine
  EXPECT_EQ(measured_profile_for_cpu("AMD EPYC", "", 2, "cpu", profiles, "cpu-epyc-2c"), "cpu-epyc-2c");
  EXPECT_EQ(measured_profile_for_cpu("AMD EPYC 9654", "", 2, "cpu", profiles, "cpu-xeon-2c"), "cpu-xeon-2c");  // no match
  EXPECT_EQ(measured_profile_for_cpu("unknown", "", 2, "cpu", profiles, "cpu-epyc-2c"), "cpu-epyc-2c");
  EXPECT_EQ(measured_profile_for_cpu("", "", 2, "cpu", profiles, "cpu-epyc-2c"), "cpu-epyc-2c");
  EXPECT_EQ(measured_profile_for_cpu(xeon, "", 2, "cuda", profiles, "h100-sxm"), "a100");
  // Two generations named alike: the one whose family/model/stepping is this processor's first, one
  // recording none next, one recording another never; within a rank the backend's default, else the first.
  auto on_id = [&](const std::string& id) {
    nlohmann::json p = measured_on_cpu("AMD EPYC");
    p["machine"]["cpu_id"] = id;
    return p;
  };
  const std::vector<HardwareProfile> epycs = {profile("turin", "cpu", on_id("family 26 model 2 stepping 1")),
                                              profile("plain", "cpu", measured_on_cpu("AMD EPYC")),
                                              profile("milan", "cpu", on_id("family 25 model 1 stepping 1")),
                                              profile("milan-b", "cpu", on_id("family 25 model 1 stepping 1"))};
  const std::string milan = "family 25 model 1 stepping 1";
  EXPECT_EQ(measured_profile_for_cpu("AMD EPYC", milan, 2, "cpu", epycs, "turin"), "milan");
  EXPECT_EQ(measured_profile_for_cpu("AMD EPYC", milan, 2, "cpu", epycs, "milan-b"), "milan-b");
  EXPECT_EQ(measured_profile_for_cpu("AMD EPYC", "family 26 model 2 stepping 1", 2, "cpu", epycs, "milan"), "turin");
  EXPECT_EQ(measured_profile_for_cpu("AMD EPYC", "family 25 model 17 stepping 1", 2, "cpu", epycs, "milan"), "plain");
  EXPECT_EQ(measured_profile_for_cpu("AMD EPYC", "unknown", 2, "cpu", epycs, "milan"), "milan");  // all rank alike
  EXPECT_EQ(measured_profile_for_cpu("AMD EPYC", "family 25 model 17 stepping 1", 2, "cpu",
                                     {epycs[0], epycs[2]}, "x"), "x");  // both another generation's: neither
  EXPECT_TRUE(measured_on(epycs[2], "AMD EPYC", milan, 2));
  EXPECT_FALSE(measured_on(epycs[0], "AMD EPYC", milan, 2));  // same name, another generation
  EXPECT_TRUE(measured_on(epycs[1], "AMD EPYC", milan, 2));   // records none
  EXPECT_TRUE(measured_on(epycs[0], "AMD EPYC", "unknown", 2));
  EXPECT_TRUE(measured_on(profiles[6], xeon, "", 2));
  EXPECT_FALSE(measured_on(profiles[6], xeon, "", 4));
  EXPECT_FALSE(measured_on(profiles[1], xeon, "", 2));  // a datasheet
  // The shipped presets: each development VM's committed profile is found from another's default.
  std::vector<HardwareProfile> presets;
  for (const std::string& n : hardware_preset_names()) presets.push_back(load_hardware_profile(n));
  int vms = 0;
  for (const HardwareProfile& h : presets) {
    if (h.kernels != "cpu" || h.provenance.value("source", "") != "measured") continue;
    ++vms;
    const std::string other = h.name == "cpu-xeon-2c" ? "cpu-epyc-2c" : "cpu-xeon-2c";
    const nlohmann::json& m = h.provenance["machine"];
    EXPECT_EQ(measured_profile_for_cpu(m["cpu"], m.value("cpu_id", ""), m["hardware_threads"], "cpu", presets, other),
              h.name);
  }
  EXPECT_GE(vms, 2);
}

TEST(MemoryLevels, CachesAndDeviceCacheParseAndAreChecked) {
  const HardwareProfile h = load_hardware_profile("h100-sxm");
  ASSERT_EQ(h.device.caches.size(), 1u);
  EXPECT_EQ(h.device.caches[0].name, "L2");
  EXPECT_EQ(h.device.caches[0].capacity_MB, 50);  // REFERENCE.md section 6
  EXPECT_EQ(load_hardware_profile("h200").device.caches[0].capacity_MB, 60);
  EXPECT_EQ(load_hardware_profile("v100-32gb").device.caches[0].capacity_MB, 6);
  EXPECT_EQ(load_hardware_profile("a100-80gb").device.caches[0].capacity_MB, 40);
  const nlohmann::json good = h.to_json();
  auto with = [&](auto edit) {
    nlohmann::json j = good;
    edit(j);
    return error_of(j);
  };
  std::string e = with([](auto& j) { j["device"]["caches"].push_back(j["device"]["caches"][0]); });
  EXPECT_NE(e.find("device.caches[1].name"), std::string::npos) << e;  // the same name twice
  e = with([](auto& j) {
    j["device"]["caches"].push_back(j["device"]["caches"][0]);
    j["device"]["caches"][1]["name"] = "L3";
  });
  EXPECT_NE(e.find("device.caches[1].capacity_MB"), std::string::npos) << e;  // not ascending
  e = with([](auto& j) { j["device"]["caches"][0]["name"] = "memory"; });
  EXPECT_NE(e.find("device.caches[0].name"), std::string::npos) << e;
  e = with([](auto& j) {
    j["tables_in"] = "host";
    j["device_cache"] = {{"capacity_GB", 0.01}, {"policy", "lru"}};
  });
  EXPECT_NE(e.find("device_cache.capacity_GB"), std::string::npos) << e;  // not beyond the 50 MB L2
  e = with([](auto& j) { j["stage_bag_ns"] = {{"fwd.emb", 1e308}}; });
  EXPECT_NE(e.find("stage_bag_ns.fwd.emb"), std::string::npos) << e;
  e = with([](auto& j) { j["stage_launch_us"] = {{"fwd.mlp", -1}}; });
  EXPECT_NE(e.find("stage_launch_us.fwd.mlp"), std::string::npos) << e;
  e = with([](auto& j) { j["stage_overlap"] = {{"bwd.emb", 1.5}}; });
  EXPECT_NE(e.find("stage_overlap.bwd.emb"), std::string::npos) << e;
  EXPECT_NE(e.find("[0, 1]"), std::string::npos) << e;
  e = with([](auto& j) { j["stage_overlap"] = {{"dp.update:rng", 0.5}}; });  // a stage's, not a bound's
  EXPECT_NE(e.find("stage_overlap.dp.update:rng"), std::string::npos) << e;
  e = with([](auto& j) { j["device"]["caches"][0]["capacity_MB"] = 1e6; });
  EXPECT_NE(e.find("less than the memory"), std::string::npos) << e;
  e = with([](auto& j) { j["device"]["caches"][0]["ways"] = 16; });
  EXPECT_NE(e.find("device.caches[0].ways"), std::string::npos) << e;
  e = with([](auto& j) { j["device_cache"] = {{"capacity_GB", 8}, {"policy", "lru"}}; });
  EXPECT_NE(e.find("tables_in"), std::string::npos) << e;  // a device cache serves host tables
  e = with([](auto& j) {
    j["tables_in"] = "host";
    j["device_cache"] = {{"capacity_GB", 8}, {"policy", "fifo"}};
  });
  EXPECT_NE(e.find("device_cache.policy"), std::string::npos) << e;
  EXPECT_NE(e.find("fifo"), std::string::npos) << e;
}
