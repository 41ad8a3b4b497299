// The link fitted from timed collectives (sim/link_fit.hpp) and ranks that split one processor
// (ClusterProfile::devices_share_processor): exact math on times the model itself produced.
#include <gtest/gtest.h>

#include "models/config_error.hpp"
#include "sim/collectives.hpp"
#include "sim/hardware_profile.hpp"
#include "sim/link_fit.hpp"
#include "sim/scale_out.hpp"

using namespace privrec;
using namespace privrec::sim;

namespace {
ClusterProfile ranks_on_one_cpu(int64_t ranks, double latency_us, double GBps) {
  ClusterProfile c;
  c.name = "test";
  c.device = load_hardware_profile("cpu-epyc-2c");
  c.devices_per_node = ranks;
  c.intra_node = {"shared memory", GBps, latency_us};
  c.all_reduce = "ring";
  c.devices_share_processor = true;
  return c;
}
}  // namespace

// Times the model gives for a link are fitted back to that link (to rounding), on 2 and 4 ranks.
TEST(LinkFit, RecoversTheLinkThatMadeTheTimes) {
  for (const int64_t ranks : {2, 4}) {
    const ClusterProfile truth = ranks_on_one_cpu(ranks, 3.5, 2.25);
    std::vector<CollectiveSample> samples;
    for (double bytes = 512; bytes <= 64e6; bytes *= 4) {
      samples.push_back({"all_to_all", bytes, all_to_all(truth, bytes).ms});
      samples.push_back({"all_reduce", bytes, all_reduce(truth, bytes).ms});
    }
    const LinkFit f = fit_intra_node_link(ranks_on_one_cpu(ranks, 0, 1), samples);
    EXPECT_NEAR(f.link.latency_us, 3.5, 1e-9) << ranks;
    EXPECT_NEAR(f.link.GBps, 2.25, 1e-9) << ranks;
    EXPECT_LT(f.median_abs_error_pct, 1e-9);
    for (size_t i = 0; i < samples.size(); ++i) EXPECT_NEAR(f.modeled_ms[i], samples[i].ms, 1e-9 * samples[i].ms);
  }
}

TEST(LinkFit, RefusesWhatCannotBeFitted) {
  ClusterProfile one = ranks_on_one_cpu(1, 0, 1);
  EXPECT_THROW(fit_intra_node_link(one, {{"all_to_all", 1e3, 1}, {"all_to_all", 1e6, 2}}), InputError);
  const ClusterProfile two = ranks_on_one_cpu(2, 0, 1);
  EXPECT_THROW(fit_intra_node_link(two, {{"all_to_all", 1e3, 1}}), InputError);
  EXPECT_THROW(fit_intra_node_link(two, {{"broadcast", 1e3, 1}, {"all_to_all", 1e6, 2}}), InputError);
  EXPECT_THROW(fit_intra_node_link(two, {{"all_to_all", 1e3, 0}, {"all_to_all", 1e6, 2}}), InputError);
  // Times that fall with size: no positive bandwidth.
  EXPECT_THROW(fit_intra_node_link(two, {{"all_to_all", 1e3, 5}, {"all_to_all", 1e6, 1}}), InputError);
}

// Each of g ranks on one processor gets 1/g of its memory, bandwidths and rates; the JSON keeps it.
TEST(LinkFit, RanksSplitTheirProcessor) {
  const ClusterProfile c = ranks_on_one_cpu(2, 1, 1);
  const HardwareProfile one = per_device_profile(c);
  EXPECT_DOUBLE_EQ(one.device.stream_GBps, c.device.device.stream_GBps / 2);
  EXPECT_DOUBLE_EQ(one.device.gemm_GFLOPps, c.device.device.gemm_GFLOPps / 2);
  EXPECT_DOUBLE_EQ(one.device.rng_normals_per_s, c.device.device.rng_normals_per_s / 2);
  EXPECT_DOUBLE_EQ(one.device.memory_GB, c.device.device.memory_GB / 2);
  EXPECT_DOUBLE_EQ(one.device.launch_overhead_us, c.device.device.launch_overhead_us);
  nlohmann::json j = c.to_json();
  j["provenance"] = {{"source", "test"}};
  EXPECT_TRUE(parse_cluster_profile(j, "t.json").devices_share_processor);
  j["devices_share_processor"] = "yes";
  EXPECT_THROW(parse_cluster_profile(j, "t.json"), InputError);
  ClusterProfile apart = c;
  apart.devices_share_processor = false;
  EXPECT_DOUBLE_EQ(per_device_profile(apart).device.stream_GBps, c.device.device.stream_GBps);
}
