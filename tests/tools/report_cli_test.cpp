// privrec report compares the algorithms at equal privacy (issue 18): every DP algorithm of every
// sweep and simulation runs at the target epsilon (the data files' epsilon column says so), sgd and
// eana carry no epsilon and are marked as giving no guarantee, an algorithm that cannot meet the
// target is left out with its reason, and a workload without a dataset size is refused.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/tools/cli_run.hpp"

namespace {
using Result = privrec::test::CliResult;
Result run(const std::string& args) { return privrec::test::run_privrec(args); }
std::string dir() {
  static const std::string d = privrec::test::temp_dir("privrec_report_cli_");
  return d;
}
void expect_bad(const std::string& args, const std::string& needle) { privrec::test::expect_bad_input(args, needle); }
bool have_matplotlib() { return std::system("/usr/bin/python3 -c 'import matplotlib' > /dev/null 2>&1") == 0; }
std::string read(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A CSV as rows of column name -> text (fields quoted with doubled quotes where they hold a comma,
// as sweep writes a misfit's note; no field holds a line break).
std::vector<std::map<std::string, std::string>> read_csv(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::vector<std::string> header;
  std::vector<std::map<std::string, std::string>> rows;
  auto split = [](const std::string& s) {
    std::vector<std::string> out(1);
    bool quoted = false;
    for (size_t i = 0; i < s.size(); ++i) {
      const char c = s[i];
      if (quoted && c == '"' && i + 1 < s.size() && s[i + 1] == '"') out.back() += '"', ++i;
      else if (c == '"') quoted = !quoted;
      else if (c == ',' && !quoted) out.emplace_back();
      else out.back() += c;
    }
    return out;
  };
  if (std::getline(in, line)) header = split(line);
  while (std::getline(in, line)) {
    const auto cells = split(line);
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < header.size(); ++i) row[header[i]] = i < cells.size() ? cells[i] : "";
    rows.push_back(row);
  }
  return rows;
}

// Every row of the report's sweep files: each DP algorithm at `target` (the accountant's bisection
// stops within 1e-9 of sigma, so epsilon is the target to far better than 1e-6) and `delta`; sgd
// and eana without an epsilon. Returns the algorithms seen.
std::map<std::string, int> expect_equal_privacy(const std::string& data, double target, double delta) {
  std::map<std::string, int> seen;
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(data)) {
    if (e.path().extension() != ".csv") continue;
    ++files;
    for (const auto& row : read_csv(e.path().string())) {
      const std::string& algo = row.at("algo");
      ++seen[algo];
      if (algo == "sgd" || algo == "eana") {
        EXPECT_EQ(row.at("epsilon"), "") << e.path() << " " << algo;
        continue;
      }
      EXPECT_FALSE(row.at("epsilon").empty()) << e.path() << " " << algo;
      if (row.at("epsilon").empty()) continue;
      EXPECT_NEAR(std::stod(row.at("epsilon")), target, 1e-6 * target) << e.path() << " " << algo;
      EXPECT_NEAR(std::stod(row.at("delta")), delta, 1e-9 * delta) << e.path() << " " << algo;
    }
  }
  EXPECT_GE(files, 4) << data;  // sizes, batch_size, adafest_tau, pooling, skew
  return seen;
}
}  // namespace

// The default: epsilon 1 for every DP algorithm, delta the largest power of ten not above 1/N, in
// every sweep and every simulate JSON; the report says so in its configuration section and legends.
TEST(ReportCli, EveryDpAlgorithmRunsAtTheSameEpsilonByDefault) {
  if (!have_matplotlib()) GTEST_SKIP() << "python3-matplotlib is not installed";
  const std::string d = dir() + "/default";
  std::filesystem::remove_all(d);
  const Result r = run("report --model tiny --dataset-size 100000 --table-scales 1 --hardware h100-sxm --png-only -q "
                       "--out " + d);
  ASSERT_EQ(r.status, 0) << r.output;
  const auto seen = expect_equal_privacy(d + "/data", 1.0, 1e-5);  // 1/100000 is a power of ten
  for (const char* a : {"sgd", "dpsgd-b", "dpsgd-r", "dpsgd-f", "eana", "lazydp", "adafest", "dp-fest"})
    EXPECT_GT(seen.count(a), 0u) << a;
  for (const auto& e : std::filesystem::directory_iterator(d + "/data")) {
    const std::string n = e.path().filename().string();
    if (n.rfind("sim_", 0) != 0) continue;
    std::ifstream in(e.path());
    const auto j = nlohmann::json::parse(in);
    if (j["algorithm"]["name"] == "sgd") {
      EXPECT_TRUE(j["privacy"]["epsilon"].is_null()) << n;
    } else {
      EXPECT_NEAR(j["privacy"]["epsilon"].get<double>(), 1.0, 1e-6) << n;
    }
  }
  std::ifstream cfg_in(d + "/data/config.json");
  const auto cfg = nlohmann::json::parse(cfg_in);
  EXPECT_EQ(cfg["privacy"]["target_epsilon"].get<double>(), 1.0);
  EXPECT_EQ(cfg["privacy"]["delta"].get<double>(), 1e-5);
  EXPECT_EQ(cfg["privacy"]["dataset_examples"].get<int64_t>(), 100000);
  EXPECT_GT(cfg["privacy"]["fest_sigma"].get<double>(), 1.0);  // the histogram leaves the steps most of the budget
  EXPECT_LE(cfg["privacy"]["fest_histogram_epsilon"].get<double>(), 0.25);
  EXPECT_TRUE(cfg["privacy"]["left_out"].empty());
  const std::string md = read(d + "/report.md");
  for (const char* s : {"## Configuration", "dpsgd-f (ε=1.00)", "lazydp (ε=1.00)", "eana (not DP)", "sgd (no privacy)",
                        "examples/s", "delta 1e-05 (the largest power of ten not above 1 / dataset size)"})
    EXPECT_NE(md.find(s), std::string::npos) << s;
  EXPECT_NE(md.find("REFERENCE.md section 4"), std::string::npos);  // where h100-sxm's figures come from
}

// The privacy flags reach every sweep: another target, delta and training length.
TEST(ReportCli, PrivacyFlagsReachEverySweep) {
  if (!have_matplotlib()) GTEST_SKIP() << "python3-matplotlib is not installed";
  const std::string d = dir() + "/flags";
  std::filesystem::remove_all(d);
  const Result r = run("report --model tiny --dataset-size 100000 --table-scales 1 --hardware h100-sxm --png-only -q "
                       "--target-epsilon 3 --delta 1e-7 --epochs 2 --fest-sigma 1 --out " + d);
  ASSERT_EQ(r.status, 0) << r.output;
  // --fest-sigma 1: dp-fest's histogram alone spends more than epsilon 3 at delta 1e-7, so dp-fest
  // is left out of every figure, and the report says why.
  const auto seen = expect_equal_privacy(d + "/data", 3.0, 1e-7);
  EXPECT_EQ(seen.count("dp-fest"), 0u);
  EXPECT_GT(seen.count("lazydp"), 0u);
  std::ifstream cfg_in(d + "/data/config.json");
  const auto cfg = nlohmann::json::parse(cfg_in);
  EXPECT_TRUE(cfg["privacy"]["left_out"].contains("dp-fest")) << cfg.dump(1);
  const std::string md = read(d + "/report.md");
  EXPECT_NE(md.find("dp-fest (cannot reach epsilon 3"), std::string::npos) << md.substr(0, 3000);
  EXPECT_NE(md.find("dpsgd-f (ε=3.00)"), std::string::npos);
}

// Refused before anything is written (exit 2, the flag and value named): a workload without a
// dataset size unless one is given, and bad privacy values.
TEST(ReportCli, RefusesAWorkloadWithoutADatasetSizeAndBadPrivacyFlags) {
  const std::string d = dir() + "/refused";
  std::filesystem::remove_all(d);
  expect_bad("report --model rmc2 -q --out " + d, "--dataset-size");
  expect_bad("report --model tiny -q --out " + d, "--dataset-size");
  EXPECT_FALSE(std::filesystem::exists(d));
  expect_bad("report --model tiny --dataset-size 0 -q --out " + d, "--dataset-size 0");
  expect_bad("report --model tiny --dataset-size 1000 -q --out " + d, "--dataset-size 1000");  // below a batch
  expect_bad("report --target-epsilon 0 -q --out " + d, "--target-epsilon 0");
  expect_bad("report --target-epsilon -2 -q --out " + d, "--target-epsilon -2");
  expect_bad("report --delta 1 -q --out " + d, "--delta 1");
  expect_bad("report --epochs 0 -q --out " + d, "--epochs 0");
  expect_bad("report --fest-sigma -1 -q --out " + d, "--fest-sigma -1");
  expect_bad("report --model tiny --dataset-size 100000 --target-epsilon 0.0001 -q --out " + d, "no DP algorithm");
  EXPECT_FALSE(std::filesystem::exists(d));
}

// --preset lazydp-paper: the LazyDP paper's system (v100-xeon-e5-2698v4, tables in its 256 GB of host
// memory) at its privacy (epsilon 50, delta 1e-5), every case with the framework implementation and
// the fused one, in the four sweeps its three figures draw; the framework's dense noise doubles
// dpsgd's footprint, so exactly the cases whose tables and noise exceed 256 GB are marked as misfits.
TEST(ReportCli, LazydpPaperPresetModelsThePapersSystemBothWays) {
  if (!have_matplotlib()) GTEST_SKIP() << "python3-matplotlib is not installed";
  const std::string d = dir() + "/paper";
  std::filesystem::remove_all(d);
  const Result r = run("report --preset lazydp-paper --png-only -q --out " + d);
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream cfg_in(d + "/data/config.json");
  const auto cfg = nlohmann::json::parse(cfg_in);
  EXPECT_EQ(cfg["preset"], "lazydp-paper");
  ASSERT_EQ(cfg["hardware"].size(), 1u);
  EXPECT_EQ(cfg["hardware"][0]["name"], "v100-xeon-e5-2698v4");
  EXPECT_EQ(cfg["privacy"]["target_epsilon"].get<double>(), 50.0);
  EXPECT_EQ(cfg["privacy"]["delta"].get<double>(), 1e-5);
  EXPECT_FALSE(cfg.contains("cluster"));
  const std::map<std::string, size_t> expected_rows = {
      {"paper_breakdown.csv", 2 * 4 * 6}, {"paper_lazydp.csv", 2 * 4 * 3 * 3},
      {"paper_pooling.csv", 2 * 3 * 4}, {"paper_table_size.csv", 2 * 4 * 4}};
  for (const auto& [file, n] : expected_rows) {
    const auto rows = read_csv(d + "/data/" + file);
    EXPECT_EQ(rows.size(), n) << file;
    std::map<std::string, size_t> per_impl;
    for (const auto& row : rows) {
      ++per_impl[row.at("implementation")];
      EXPECT_EQ(row.at("hardware"), "v100-xeon-e5-2698v4") << file;
      EXPECT_EQ(row.at("tables_in"), "host") << file;
      const double table_GB = std::stod(row.at("table_bytes")) / 1e9, noise_GB = std::stod(row.at("materialized_noise_GB"));
      const bool dense = row.at("algo").rfind("dpsgd-", 0) == 0;
      // The framework materializes dpsgd's noise (the whole model's, so at least the tables'); nothing else does.
      if (row.at("implementation") == "framework" && dense) {
        EXPECT_GE(noise_GB, table_GB) << file;
      } else {
        EXPECT_EQ(noise_GB, 0.0) << file << " " << row.at("implementation") << " " << row.at("algo");
      }
      EXPECT_EQ(row.at("fits"), table_GB + noise_GB <= 256 ? "true" : "false") << file << " " << row.at("algo");
      if (row.at("algo") != "sgd" && row.at("algo") != "eana") {
        EXPECT_NEAR(std::stod(row.at("epsilon")), 50.0, 1e-6);
      }
    }
    EXPECT_EQ(per_impl["framework"], n / 2) << file;
    EXPECT_EQ(per_impl["fused"], n / 2) << file;
  }
  // 96 GB of tables and their noise fit in 256 GB; 192 GB do not (REFERENCE.md section 8).
  size_t misfits = 0;
  for (const auto& row : read_csv(d + "/data/paper_table_size.csv"))
    if (row.at("fits") == "false") {
      ++misfits;
      EXPECT_EQ(row.at("implementation"), "framework");
      EXPECT_EQ(row.at("algo"), "dpsgd-f");
      EXPECT_EQ(row.at("table_scale"), "2");
      EXPECT_NE(row.at("note").find("materialized noise"), std::string::npos) << row.at("note");
    }
  EXPECT_EQ(misfits, 1u);
  for (const char* f : {"figP1_breakdown_v100-xeon-e5-2698v4.png", "figP2_lazydp_v100-xeon-e5-2698v4.png",
                        "figP3_sensitivity_v100-xeon-e5-2698v4.png"})
    EXPECT_TRUE(std::filesystem::is_regular_file(d + "/" + f)) << f;
  const std::string md = read(d + "/report.md");
  for (const char* s : {"preset lazydp-paper", "P1. Step breakdown", "P2. LazyDP against DP-SGD(F) and EANA",
                        "does not fit in 256 GB of host memory: dpsgd-f (framework) at 192 GB"})
    EXPECT_NE(md.find(s), std::string::npos) << s;
}

TEST(ReportCli, RefusesAnUnknownPresetAndMeasurementsWithThePaperPreset) {
  const std::string d = dir() + "/paper_refused";
  std::filesystem::remove_all(d);
  expect_bad("report --preset lazydp -q --out " + d, "--preset lazydp");
  expect_bad("report --preset lazydp-paper --measured configs/validation/results/cpu-epyc-2c_validate_2026-11-29.json "
             "-q --out " + d, "--measured");
  expect_bad("report --preset lazydp-paper --table-scales 1 -q --out " + d, "--table-scales");
  EXPECT_FALSE(std::filesystem::exists(d));
}
