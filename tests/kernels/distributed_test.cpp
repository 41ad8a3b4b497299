// Sharded training over MPI (kernels/mpi/, issue 15): `mpirun -np 2 privrec train --sharding ...`
// saves the model one process saves, for every algorithm and both schemes, and refuses what cannot
// be run with one message per rank and status 2. The ranks are started here with the flags that
// let mpirun oversubscribe this machine's cores and run as root (CI runs as root).
#include <cstdlib>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "kernels/model_io.hpp"
#include "sim/cluster.hpp"
#include "models/algorithm.hpp"
#include "tests/tools/cli_run.hpp"

namespace privrec {
namespace {

bool have_mpirun() { return std::system("command -v mpirun > /dev/null 2>&1") == 0; }

// Under the sanitizer pass (tools/test.sh) the ranks keep every address and undefined-behaviour
// check but not the leak check: Open MPI leaves its own allocations at exit, reported from modules
// already unloaded, which no suppression can name. The single-process tests leak-check the code the
// ranks share.
const char* const kMpiEnv =
    "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 ";

std::string mpirun(int ranks) {
  return std::string(kMpiEnv) + "mpirun --oversubscribe --bind-to none -np " + std::to_string(ranks) + " " +
         PRIVREC_BINARY;
}

std::string dir() { return test::temp_dir("privrec_distributed_"); }

// The run every case shares: 4 steps, so lazydp's catch-up and flush run, at settings that make
// adafest select and dp-fest choose a subset of the rows.
std::string run_flags(const std::string& algo) {
  return "train --model tiny --algo " + algo +
         " --steps 4 --warmup 1 --seed 7 --adafest-tau 1 --fest-k 20 -q --force --save-model ";
}

// Every tensor of `got` equals `want`'s within 1e-6 of the tensor's largest value; returns whether
// every one is bit-identical.
bool expect_same_model(const std::string& want, const std::string& got, const std::string& what) {
  const auto a = load_model(want), b = load_model(got);
  bool identical = true;
  for (const TensorDiff& d : diff_models(a, b)) {
    EXPECT_LE(d.max_abs_diff, 1e-6 * d.max_abs_value) << what << ": " << d.name;
    identical = identical && d.max_abs_diff == 0;
  }
  return identical;
}

TEST(Distributed, EveryAlgorithmOnTwoRanksSavesTheOneProcessModel) {
  if (!have_mpirun()) GTEST_SKIP() << "mpirun is not installed (tools/setup.sh installs openmpi-bin)";
  for (const auto& info : algorithm_registry()) {
    const std::string algo = info.name, one = dir() + "/one_" + algo + ".model";
    const test::CliResult r1 =
        test::run_shell(std::string(PRIVREC_BINARY) + " " + run_flags(algo) + one + " --json " + one + ".json");
    ASSERT_EQ(r1.status, 0) << r1.output;
    for (const std::string scheme : {"table_wise", "row_wise"}) {
      const std::string two = dir() + "/two_" + algo + "_" + scheme + ".model";
      const test::CliResult r2 =
          test::run_shell(mpirun(2) + " " + run_flags(algo) + two + " --json " + two + ".json --sharding " + scheme);
      ASSERT_EQ(r2.status, 0) << algo << " " << scheme << ": " << r2.output;
      const bool identical = expect_same_model(one, two, algo + " " + scheme);
      // The rows the run touched, selected, caught up, flushed or fixed: summed over the ranks.
      const nlohmann::json e1 = nlohmann::json::parse(std::ifstream(one + ".json"))["extras"];
      const nlohmann::json e2 = nlohmann::json::parse(std::ifstream(two + ".json"))["extras"];
      for (const auto& [key, v] : e1.items()) {
        if (v.is_number_integer()) {
          EXPECT_EQ(e2.value(key, nlohmann::json()), v) << algo << " " << scheme << " " << key;
        }
      }
      std::printf("%-8s %-10s 2 ranks: %s\n", algo.c_str(), scheme.c_str(),
                  identical ? "bit-identical" : "within 1e-6 of the one-process model");
    }
  }
}

// More ranks than two: ring steps where a rank has nothing to send (the loss's one value over 3
// ranks), uneven row blocks and example slices, and a rank per table.
TEST(Distributed, ThreeAndFourRanksSaveTheOneProcessModel) {
  if (!have_mpirun()) GTEST_SKIP() << "mpirun is not installed";
  for (const std::string algo : {"dpsgd-f", "adafest", "lazydp"}) {
    const std::string one = dir() + "/one3_" + algo + ".model";
    ASSERT_EQ(test::run_shell(std::string(PRIVREC_BINARY) + " " + run_flags(algo) + one).status, 0);
    for (const auto& [ranks, scheme] : {std::pair<int, std::string>{3, "table_wise"}, {3, "row_wise"}, {4, "row_wise"}}) {
      const std::string many = dir() + "/many_" + algo + "_" + std::to_string(ranks) + scheme + ".model";
      const test::CliResult r = test::run_shell(mpirun(ranks) + " " + run_flags(algo) + many + " --sharding " + scheme);
      ASSERT_EQ(r.status, 0) << algo << " " << ranks << " " << scheme << ": " << r.output;
      expect_same_model(one, many, algo + " " + std::to_string(ranks) + " ranks " + scheme);
    }
  }
}

// lazydp with the exact noise of every skipped step releases dpsgd-f's model, across ranks too.
TEST(Distributed, ExactLazydpOnTwoRanksIsOneProcessDpsgdF) {
  if (!have_mpirun()) GTEST_SKIP() << "mpirun is not installed";
  const std::string f = dir() + "/dpsgd_f.model", lazy = dir() + "/lazydp_exact.model";
  ASSERT_EQ(test::run_shell(std::string(PRIVREC_BINARY) + " " + run_flags("dpsgd-f") + f).status, 0);
  for (const std::string scheme : {"table_wise", "row_wise"}) {
    const test::CliResult r = test::run_shell(mpirun(2) + " " + run_flags("lazydp") + lazy +
                                              " --lazydp-noise exact --sharding " + scheme);
    ASSERT_EQ(r.status, 0) << r.output;
    expect_same_model(f, lazy, "lazydp exact " + scheme);
  }
}

// What cannot be run is refused with status 2 and a message that names the flag, on every rank.
TEST(Distributed, ImpossibleRunsAreRefused) {
  if (!have_mpirun()) GTEST_SKIP() << "mpirun is not installed";
  auto refused = [](const std::string& cmd, const std::string& message) {
    const test::CliResult r = test::run_shell(cmd);
    EXPECT_EQ(r.status, 2) << cmd << "\n" << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << cmd << "\n" << r.output;
  };
  const std::string train = " train --model tiny --steps 2 -q";
  refused(mpirun(4) + train + " --sharding table_wise", "has 3 tables, so a rank would hold none");
  refused(mpirun(2) + train, "give --sharding table_wise or row_wise");
  refused(std::string(PRIVREC_BINARY) + train + " --sharding row_wise", "start the ranks with mpirun");
  refused(mpirun(2) + train + " --sharding rowwise", "did you mean row_wise?");
  refused(mpirun(2) + train + " --sharding row_wise --backend cuda", "is one process");
  // Open MPI is opened at run time: where it cannot be, a sharded run says so.
  refused("PRIVREC_MPI_PATH=/nonexistent/libmpi.so.40 " + mpirun(2) + train + " --sharding row_wise",
          "Open MPI's library could not be opened");
  // Ranks started with different flags: found by every rank at once.
  refused(std::string(kMpiEnv) + "mpirun --oversubscribe -np 1 " + std::string(PRIVREC_BINARY) + train +
              " --sharding row_wise --save-model " + dir() + "/only_rank0.model : -np 1 " + PRIVREC_BINARY + train +
              " --sharding row_wise",
          "rank 1 was started with a different workload");
  refused(std::string(kMpiEnv) + "mpirun --oversubscribe -np 1 " +
              std::string(PRIVREC_BINARY) + train + " --sharding row_wise --seed 1 : -np 1 " + PRIVREC_BINARY + train +
              " --sharding row_wise --seed 2",
          "rank 1 was started with a different workload");
}

// A rank that dies mid-run ends the run: mpirun stops the others (rank 0 says it was interrupted),
// nothing hangs (the timeout's own status 124 would say it did) and the status is not 0.
TEST(Distributed, ARankThatDiesEndsTheRun) {
  if (!have_mpirun()) GTEST_SKIP() << "mpirun is not installed";
  const std::string killer = "sh -c '" + std::string(PRIVREC_BINARY) +
                             " train --model rmc2 --table-scale 0.001 --steps 100000 -q --sharding row_wise & p=$!; "
                             "if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then sleep 2; kill -9 $p; fi; wait $p'";
  const std::string cmd = std::string(kMpiEnv) + "timeout 300 mpirun --oversubscribe --bind-to none -np 2 " + killer;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  const int rc = pclose(p);
  const int status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  EXPECT_NE(status, 0) << out;
  EXPECT_NE(status, 124) << "the run hung: " << out;
  EXPECT_NE(out.find("exited with non-zero status"), std::string::npos) << out;
}

// The link between the ranks, timed and fitted into a cluster profile the scale-out model reads.
TEST(Distributed, NetworkCalibrationWritesAClusterOfTheRanks) {
  if (!have_mpirun()) GTEST_SKIP() << "mpirun is not installed";
  const std::string f = dir() + "/net.json";
  const test::CliResult r = test::run_shell(mpirun(2) + " calibrate --network --repeats 3 -q --force --out " + f);
  ASSERT_EQ(r.status, 0) << r.output;
  const sim::ClusterProfile c = sim::load_cluster_profile(f);
  EXPECT_EQ(c.devices_per_node, 2);
  EXPECT_TRUE(c.devices_share_processor);
  EXPECT_GT(c.intra_node.GBps, 0);
  EXPECT_GE(c.intra_node.latency_us, 0);
  EXPECT_EQ(c.provenance.value("source", ""), "measured");
  EXPECT_EQ(c.provenance["timings"].size(), 18u);  // 9 all-to-all and 9 all-reduce sizes
  const test::CliResult one = test::run_shell(std::string(PRIVREC_BINARY) + " calibrate --network --out " + f + "x");
  EXPECT_EQ(one.status, 2) << one.output;
  EXPECT_NE(one.output.find("start it under mpirun"), std::string::npos) << one.output;
}

// compare under mpirun: every stage the ranks ran, the communication stages among them, measured
// (the slowest rank) against the scale-out model of the same layout.
TEST(Distributed, CompareShowsTheCommunicationStagesMeasuredAndModeled) {
  if (!have_mpirun()) GTEST_SKIP() << "mpirun is not installed";
  for (const std::string scheme : {"table_wise", "row_wise"}) {
    const std::string f = dir() + "/compare_" + scheme + ".json";
    const test::CliResult r = test::run_shell(mpirun(2) + " compare --model tiny --algo dpsgd-f --steps 3 -q --force "
                                              "--sharding " + scheme + " --json " + f);
    ASSERT_EQ(r.status, 0) << r.output;
    const nlohmann::json j = nlohmann::json::parse(std::ifstream(f));
    EXPECT_EQ(j["ranks"], 2);
    std::set<std::string> comm;
    for (const auto& s : j["stages"]) {
      EXPECT_GT(s["measured_ms"].get<double>(), 0) << s;
      EXPECT_GT(s["modeled_ms"].get<double>(), 0) << s;
      const std::string name = s["name"];
      if (name.rfind("comm.", 0) == 0) comm.insert(name);
    }
    EXPECT_EQ(comm, (std::set<std::string>{"comm.ids", "comm.fwd", "comm.bwd", "comm.norm", "comm.grads"})) << scheme;
  }
  const test::CliResult wrong = test::run_shell(mpirun(2) + " compare --model tiny --sharding row_wise --cluster dgx-h100");
  EXPECT_EQ(wrong.status, 2) << wrong.output;
  EXPECT_NE(wrong.output.find("it has 8 devices and mpirun started 2 ranks"), std::string::npos) << wrong.output;
}

// validate under mpirun: sharded cases measured over the ranks against the scale-out model; the
// same cases without mpirun, or one-process cases under it, are refused.
TEST(Distributed, ValidateRunsTwoRankCases) {
  if (!have_mpirun()) GTEST_SKIP() << "mpirun is not installed";
  const std::string cases = dir() + "/two_rank_cases.json", out = dir() + "/validate.json";
  std::ofstream(cases) << R"({"cases": [
      {"model": "tiny", "table_scale": 1, "algo": "dpsgd-f", "steps": 3, "warmup": 1, "ranks": 2, "sharding": "row_wise"},
      {"model": "tiny", "table_scale": 1, "algo": "lazydp", "steps": 3, "warmup": 1, "ranks": 2, "sharding": "table_wise"}]})";
  const test::CliResult r =
      test::run_shell(mpirun(2) + " validate --repeats 1 -q --force --cases " + cases + " --json " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(std::ifstream(out));
  EXPECT_EQ(j["ranks"], 2);
  ASSERT_EQ(j["cases"].size(), 2u);
  EXPECT_EQ(j["cases"][0]["label"], "tiny x1 dpsgd-f 2 ranks row_wise");
  const test::CliResult alone = test::run_shell(std::string(PRIVREC_BINARY) + " validate --cases " + cases);
  EXPECT_EQ(alone.status, 2) << alone.output;
  EXPECT_NE(alone.output.find("runs on 2 ranks: start validate with `mpirun -np 2"), std::string::npos) << alone.output;
  const test::CliResult single = test::run_shell(mpirun(2) + " validate -q --cases cpu_validation_cases");
  EXPECT_EQ(single.status, 2) << single.output;
  EXPECT_NE(single.output.find("is not a 2-rank case"), std::string::npos) << single.output;
}

}  // namespace
}  // namespace privrec
