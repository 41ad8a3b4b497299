// Workload presets, scaling, and the errors for bad workload files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "models/suggest.hpp"
#include "models/algorithm.hpp"
#include "models/config_error.hpp"
#include "models/workload.hpp"
#include "tests/temp_dir.hpp"

using namespace privrec;

TEST(Workload, PresetsMatchReference) {
  const Workload m = load_workload("mlperf-dlrm");
  EXPECT_EQ(m.tables.size(), 26u);
  EXPECT_EQ(m.table_rows(), 187767399);
  EXPECT_EQ(m.interaction_width(), 479);
  EXPECT_EQ(m.table_bytes(), 187767399LL * 128 * 4);  // 96.1 GB
  for (const char* name : {"rmc1", "rmc2", "rmc3"}) EXPECT_EQ(load_workload(name).table_bytes(), 96'000'000'000LL) << name;
  EXPECT_EQ(load_workload("rmc2").tables.size(), 40u);
  EXPECT_EQ(load_workload("rmc3").tables[0].pooling, 20);
  EXPECT_EQ(load_workload("rmc3").bottom_mlp[0], 2560);
}

TEST(Workload, TableScaleRoundsUp) {
  Workload w = load_workload("mlperf-dlrm");
  w.scale_tables(0.001);
  EXPECT_EQ(w.tables[0].rows, 39885);  // ceil(39884406 * 0.001)
  EXPECT_EQ(w.tables[5].rows, 1);      // ceil(0.003)
  EXPECT_THROW(w.scale_tables(0), InputError);
}

namespace {
std::string error_of(const std::string& text) {
  try {
    workload_from_json(nlohmann::json::parse(text), "w.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}
const char* kGood = R"({"name":"x","dense_features":2,"bottom_mlp":[4],"top_mlp":[3,1],"interaction":"dot",
  "batch_size":4,"tables":[{"name":"a","rows":10,"dim":4,"pooling":2,"access":"zipf:1.1","count":3}]})";
}  // namespace

TEST(Workload, GoodFileParses) {
  EXPECT_EQ(error_of(kGood), "");
  const Workload w = workload_from_json(nlohmann::json::parse(kGood), "w.json");
  ASSERT_EQ(w.tables.size(), 3u);
  EXPECT_EQ(w.tables[2].name, "a_2");
  EXPECT_EQ(w.tables[0].access.kind, AccessDistribution::Kind::zipf);
}

TEST(Workload, BadFilesNameFileKeyAndValue) {
  auto bad = [](std::string from, std::string to) {
    std::string s = kGood;
    s.replace(s.find(from), from.size(), to);
    return error_of(s);
  };
  EXPECT_EQ(bad("\"dense_features\":2", "\"dense_features\":-2"), "w.json: dense_features = -2: expected a positive integer");
  EXPECT_NE(bad("\"batch_size\":4", "\"batch_size\":\"4\"").find("batch_size = \"4\""), std::string::npos);
  EXPECT_NE(bad("\"name\":\"x\",", "").find("name = (missing)"), std::string::npos);
  EXPECT_NE(bad("\"interaction\":\"dot\"", "\"interaction\":\"dot\",\"colour\":1").find("colour = 1: expected no such key"),
            std::string::npos);
  EXPECT_NE(bad("\"rows\":10", "\"rows\":0").find("tables[0].rows = 0"), std::string::npos);
  EXPECT_NE(bad("\"dim\":4", "\"dim\":8").find("tables[0].dim = 8"), std::string::npos);
  EXPECT_NE(bad("zipf:1.1", "zipf:-1").find("tables[0].access = \"zipf:-1\""), std::string::npos);
  EXPECT_NE(bad("[3,1]", "[3,2]").find("top_mlp[1] = 2"), std::string::npos);
}

// Regression (issue 18, fuzzing): "count" is held to the 65536 tables in all before any copy is
// made; 290 tables of count 100000 (16 KB) made 29 million tables, 2.4 GB, before the refusal.
TEST(Workload, CountsAreRefusedBeforeTheTablesAreMade) {
  std::string tables;
  for (int i = 0; i < 290; ++i) tables += std::string(i ? "," : "") + R"({"name":"t","rows":1,"dim":4,"pooling":1,"count":100000})";
  const std::string many = R"({"name":"x","dense_features":2,"bottom_mlp":[4],"top_mlp":[1],"interaction":"dot",
    "batch_size":4,"tables":[)" + tables + "]}";
  EXPECT_EQ(error_of(many), "w.json: tables[0].count = 100000: expected at most 65536 tables in all (0 before this one)");
  const std::string two = R"({"name":"x","dense_features":2,"bottom_mlp":[4],"top_mlp":[1],"interaction":"dot",
    "batch_size":4,"tables":[{"name":"a","rows":1,"dim":4,"pooling":1,"count":60000},
                             {"name":"b","rows":1,"dim":4,"pooling":1,"count":5537}]})";
  EXPECT_EQ(error_of(two), "w.json: tables[1].count = 5537: expected at most 65536 tables in all (60000 before this one)");
  std::string exact = two;
  exact.replace(exact.find("5537"), 4, "5536");
  EXPECT_EQ(error_of(exact), "");
}

// Regression (issue 18, fuzzing): JSON nested past 100 levels is bad input; 500000 levels of '['
// overflowed the stack (exit 139) when the complaint quoted the value.
TEST(Workload, DeeplyNestedJsonIsRefused) {
  const std::string path = test::temp_path("deep.json");
  auto error_of_file = [&](const std::string& text) {
    std::ofstream(path) << text;
    try {
      load_workload(path);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  auto nested = [](int levels) { return "{\"name\": " + std::string(levels - 1, '[') + std::string(levels - 1, ']') + "}"; };
  EXPECT_NE(error_of_file(nested(100)).find("name = [[[["), std::string::npos);  // 100 levels: read, then refused as a name
  EXPECT_EQ(error_of_file(nested(101)), path + ": not valid JSON: nested deeper than 100 levels");
  EXPECT_EQ(error_of_file(nested(500000)), path + ": not valid JSON: nested deeper than 100 levels");
  std::filesystem::remove(path);
}

// Regression (issue 18, fuzzing): table_bytes() and mlp_parameters() overflowed int64_t on workloads
// the reader accepted (600 tables of 2^40 rows x 4096; dense_features 2^62); --table-scale too.
TEST(Workload, SizesThatOverflowAreRefused) {
  const std::string big_tables = R"({"name":"x","dense_features":4,"bottom_mlp":[16,4096],"top_mlp":[16,1],
    "interaction":"dot","batch_size":16,"tables":[{"name":"t","rows":1099511627776,"dim":4096,"pooling":3,"count":600}]})";
  EXPECT_EQ(error_of(big_tables), "w.json: tables = 1.08e+19 bytes: expected at most 2^60 bytes of tables in all");
  const std::string wide = R"({"name":"x","dense_features":4611686018427387904,"bottom_mlp":[16,8],"top_mlp":[16,1],
    "interaction":"dot","batch_size":16,"tables":[{"name":"t0","rows":1000,"dim":8,"pooling":3}]})";
  EXPECT_EQ(error_of(wide),
            "w.json: dense_features, bottom_mlp, top_mlp = 7.38e+19 MLP parameters: expected at most 2^40 parameters in all");
  Workload m = load_workload("mlperf-dlrm");
  EXPECT_THROW(m.scale_tables(2e8), InputError);  // 96 GB x 2e8: 1.9e19 bytes
  Workload r = load_workload("rmc2");
  r.scale_tables(1000);  // 96 TB: allowed
  EXPECT_EQ(r.table_bytes(), 96'000'000'000'000LL);
}

TEST(Algorithm, ValidationNamesTheFlag) {
  AlgorithmConfig c;
  c.sigma = -1;
  try {
    c.validate();
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--sigma -1"), std::string::npos);
  }
  EXPECT_THROW(parse_algorithm("dpsgd"), InputError);
  EXPECT_EQ(parse_algorithm("lazydp"), AlgorithmKind::lazydp);
  AlgorithmConfig d;
  d.clip = INFINITY;
  EXPECT_THROW(d.validate(), InputError);  // noise needs a finite clip
  d.sigma = 0;
  EXPECT_NO_THROW(d.validate());
}

// Plans are data: dpsgd-f's step reads as docs/plans-and-backends.md shows it, and every
// registered algorithm's plan starts with the forward pass (after routing the ids to the tables'
// owners, which one device skips) and updates the tables.
TEST(Plans, DescribeTheAlgorithmsAsTheDocsSay) {
  EXPECT_EQ(plan_of(AlgorithmKind::dpsgd_f).describe(),
            "comm.ids: exchange_ids\nfwd.emb: embedding_forward\ncomm.fwd: exchange_pooled\nfwd.mlp: dense_forward\n"
            "bwd.mlp: backward_deltas\ncomm.bwd: exchange_pooled_grads\n"
            "dp.norm: clip_norms(ghost)\ncomm.norm: reduce_example_norms\n"
            "dp.clip: weight_grads(clipped)\nbwd.emb: coalesce(clipped)\n"
            "comm.grads: reduce_dense_grads\nupdate.mlp: mlp_update(noise=every_row)\n"
            "dp.update: table_update(noise=every_row)\n");
  for (const auto& a : algorithm_registry()) {
    ASSERT_GE(a.plan.step.size(), 3u) << a.name;
    EXPECT_EQ(a.plan.step[0].stage, Stage::comm_ids) << a.name;
    EXPECT_EQ(a.plan.step[1].stage, Stage::fwd_emb) << a.name;
    EXPECT_TRUE(a.plan.has(OpKind::table_update)) << a.name;
  }
  EXPECT_EQ(plan_of(AlgorithmKind::lazydp).describe().find("once after training, lazydp.flush: lazy_flush") !=
                std::string::npos,
            true);
  EXPECT_TRUE(plan_of(AlgorithmKind::dp_fest).has(OpKind::choose_fixed_rows));
  EXPECT_FALSE(plan_of(AlgorithmKind::dpsgd_f).has(OpKind::choose_fixed_rows));
}

// "Did you mean": typos of a known name within two edits get it; far or ambiguous ones get nothing.
TEST(Suggest, NamesTheNearestKnownNameOnlyWhenItIsATypo) {
  const std::vector<std::string> commands = {"train", "trace", "simulate", "sweep", "compare"};
  EXPECT_EQ(closest_match("trian", commands), "train");     // a swap
  EXPECT_EQ(closest_match("simulat", commands), "simulate");  // a deletion
  EXPECT_EQ(closest_match("swep", commands), "sweep");
  EXPECT_EQ(closest_match("report", commands), "");          // nothing near
  EXPECT_EQ(closest_match("tr", commands), "");              // too short to tell
  EXPECT_EQ(closest_match("rmc4", {"rmc1", "rmc2", "rmc3"}), "");  // three equally near
  EXPECT_EQ(did_you_mean("poolng", {"pooling", "rows"}), " (did you mean pooling?)");
  EXPECT_EQ(did_you_mean("xyz", {"pooling", "rows"}), "");
}

TEST(Suggest, AMisspeltRequiredKeyIsNamed) {
  const auto j = nlohmann::json::parse(R"({"name": "w", "dense_features": 4, "bottom_mlp": [8], "top_mlp": [1],
      "interaction": "dot", "batch_size": 4, "tables": [{"name": "a", "rows": 10, "dim": 8, "poolng": 2}]})");
  try {
    workload_from_json(j, "w.json");
    FAIL() << "a misspelt key accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("tables[0].pooling"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("\"poolng\""), std::string::npos) << e.what();
  }
}

TEST(Suggest, AWholeNumberWrittenAsAFloatIsExplained) {
  const auto j = nlohmann::json::parse(R"({"name": "w", "dense_features": 4, "bottom_mlp": [8], "top_mlp": [1],
      "interaction": "dot", "batch_size": 4, "tables": [{"name": "a", "rows": 1e15, "dim": 8, "pooling": 2}]})");
  try {
    workload_from_json(j, "w.json");
    FAIL() << "1e15 rows accepted as written";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("without exponent"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("1000000000000000"), std::string::npos) << e.what();
  }
}
