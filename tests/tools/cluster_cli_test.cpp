// privrec simulate --cluster end to end: the scale-out report a script can read, and exit status 2
// naming the file, key and value for bad clusters, plans and flags.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "tests/tools/cli_run.hpp"

namespace {
using Result = privrec::test::CliResult;
Result run(const std::string& args) { return privrec::test::run_privrec(args); }
std::string dir() {
  static const std::string d = privrec::test::temp_dir("privrec_cluster_cli_");
  return d;
}
std::string write(const std::string& name, const std::string& text) {
  const std::string f = dir() + "/" + name;
  std::ofstream(f) << text;
  return f;
}
void expect_bad(const std::string& args, const std::vector<std::string>& needles) {
  const Result r = run(args);
  EXPECT_EQ(r.status, 2) << args << "\n" << r.output;
  for (const auto& n : needles) EXPECT_NE(r.output.find(n), std::string::npos) << args << "\n" << r.output;
  EXPECT_EQ(r.output.find("terminate"), std::string::npos) << r.output;
}
}  // namespace

TEST(ClusterCli, SimulateOnAClusterWritesThePlanStagesAndTimeToTrain) {
  const std::string j = dir() + "/c.json";
  const Result r = run("simulate --cluster dgx-h100 --nodes 2 --model mlperf-dlrm --table-scale 0.5 --batch 8192 --algo lazydp "
                       "--target-epsilon 2 --price-per-device-hour 3 -q --force --json " + j);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("runner-up"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("comm.fwd"), std::string::npos) << r.output;
  std::ifstream in(j);
  const auto doc = nlohmann::json::parse(in);
  EXPECT_EQ(doc["scale_out"]["devices"], 16);
  EXPECT_EQ(doc["cluster"]["nodes"], 2);
  EXPECT_EQ(doc["scale_out"]["sharding"]["tables"].size(), 26u);
  EXPECT_TRUE(doc["scale_out"]["fits_in_memory"].get<bool>());
  const auto& tt = doc["time_to_train"];
  EXPECT_EQ(tt["devices"], 16);
  EXPECT_NEAR(tt["device_hours"].get<double>(), tt["wall_h"].get<double>() * 16, 1e-9 * tt["device_hours"].get<double>());
  EXPECT_NEAR(tt["cost_usd"].get<double>(), 3 * tt["device_hours"].get<double>(), 1e-9 * tt["cost_usd"].get<double>());
  EXPECT_EQ(tt["steps"], doc["privacy"]["steps"]);
  bool norm = false;
  for (const auto& s : doc["scale_out"]["stages"]) norm |= s["name"] == "comm.norm" && s["comm_bytes"].get<double>() > 0;
  EXPECT_TRUE(norm);
  // The plan the JSON records is a plan file: given back, it gives the same step.
  const std::string plan = write("plan.json", doc["scale_out"]["sharding"].dump());
  const std::string j2 = dir() + "/c2.json";
  ASSERT_EQ(run("simulate --cluster dgx-h100 --nodes 2 --model mlperf-dlrm --table-scale 0.5 --batch 8192 --algo lazydp "
                "--target-epsilon 2 -q --force --sharding " + plan + " --json " + j2).status, 0);
  std::ifstream in2(j2);
  EXPECT_EQ(nlohmann::json::parse(in2)["step_ms"], doc["step_ms"]);
}

TEST(ClusterCli, BadClustersPlansAndFlagsExitTwo) {
  expect_bad("simulate --nodes 4", {"--nodes", "--cluster"});
  expect_bad("simulate --sharding x.json", {"--sharding", "--cluster"});
  expect_bad("simulate --cluster dgx-h100 --hardware h200", {"--hardware", "--cluster"});
  expect_bad("simulate --cluster dgx-h100 --nodes 0", {"--nodes", "0"});
  expect_bad("simulate --cluster lazydp-v100 --nodes 2", {"--nodes", "network"});
  expect_bad("simulate --cluster no-such-cluster", {"no-such-cluster"});
  expect_bad("simulate --cluster dgx-h100 --trace t.txt", {"--trace"});
  expect_bad("simulate --cluster dgx-h100 --price-per-device-hour -1", {"--price-per-device-hour", "-1"});
  expect_bad("simulate --cluster dgx-h100 --price-per-device-hour nan", {"--price-per-device-hour", "nan"});
  const std::string huge = write("huge.json", R"({"name": "x", "provenance": {"source": "estimate"}, "device": "h100-sxm",
      "devices_per_node": 8, "nodes": 1, "intra_node": {"name": "nv", "GBps_per_device": 1e400, "latency_us": 1}})");
  expect_bad("simulate --cluster " + huge, {huge, "not valid JSON"});
  const std::string far = write("far_plan.json", R"({"tables": [{"table": "t0", "scheme": "table_wise", "devices": [18446744073709551615]}]})");
  expect_bad("simulate --cluster dgx-h100 --model tiny --sharding " + far, {far, "18446744073709551615", "0 to 7"});
  const std::string bad = write("bad_cluster.json", R"({"name": "x", "provenance": {"source": "estimate"}, "device": "h100-sxm",
      "devices_per_node": 8, "nodes": 1, "intra_node": {"name": "nv", "GBps_per_device": -5, "latency_us": 1}})");
  expect_bad("simulate --cluster " + bad, {bad, "intra_node.GBps_per_device", "-5"});
  const std::string plan = write("bad_plan.json", R"({"tables": [{"table": "t0", "scheme": "sideways"}]})");
  expect_bad("simulate --cluster dgx-h100 --model tiny --sharding " + plan, {plan, "sideways"});
  expect_bad("simulate --cluster dgx-h100 --model mlperf-dlrm --table-scale 104", {"no sharding fits", "short"});
}
