// The scale-out model: one device is exactly the single-device model; the planner never overfills
// a device and refuses, naming the table, when nothing fits; sharding conserves the step's work
// where the math says it must; per-shard lookup shares follow the synthetic trace's row layout.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <numeric>
#include <optional>

#include "models/config_error.hpp"
#include "models/kernel_work/kernel_work.hpp"
#include "models/kernel_work/cpu_work.hpp"
#include "sim/analytic_model.hpp"
#include "sim/scale_out.hpp"
#include "sim/sharding_planner.hpp"
#include "tests/test_helpers.hpp"

using namespace privrec;
using namespace privrec::test;

namespace {
const AlgorithmKind kAll[] = {AlgorithmKind::sgd,  AlgorithmKind::dpsgd_b, AlgorithmKind::dpsgd_r, AlgorithmKind::dpsgd_f,
                              AlgorithmKind::eana, AlgorithmKind::lazydp,  AlgorithmKind::adafest, AlgorithmKind::dp_fest};

AlgorithmConfig config_of(AlgorithmKind k) {
  AlgorithmConfig cfg = algo(k, 0.8, 0.5);
  cfg.adafest.tau = 0.3;
  cfg.fest.k = 50;
  return cfg;
}

void expect_same_stage(const sim::SimStage& a, const sim::SimStage& b, const std::string& what) {
  EXPECT_EQ(a.stage, b.stage) << what;
  EXPECT_EQ(a.work, b.work) << what << " " << stage_name(a.stage);
  EXPECT_EQ(a.link_bytes, b.link_bytes) << what << " " << stage_name(a.stage);
  EXPECT_EQ(a.time.ms, b.time.ms) << what << " " << stage_name(a.stage);  // the same arithmetic, bit for bit
  EXPECT_EQ(a.before_training, b.before_training) << what;
}
}  // namespace

TEST(ScaleOut, OneDeviceClusterIsTheSingleDeviceModelExactly) {
  for (const char* hw : {"h100-sxm", "cpu-epyc-2c", "v100-xeon-e5-2698v4"}) {
    const sim::HardwareProfile h = sim::load_hardware_profile(hw);
    for (const char* dist : {"uniform", "zipf:1.05"}) {
      Workload w = small_workload(256, dist);
      w.scale_tables(100);
      for (AlgorithmKind k : kAll) {
        const AlgorithmConfig cfg = config_of(k);
        const std::string what = std::string(hw) + " " + dist + " " + algorithm_info(k).name;
        const sim::SimReport one = sim::simulate_analytic(w, cfg, h, 4);
        const sim::ClusterModel m(w, cfg, sim::single_device_cluster(h), 4);
        const sim::SimReport c = m.run(sim::single_device_plan(w)).as_sim_report();
        ASSERT_EQ(one.stages.size(), c.stages.size()) << what;
        for (size_t i = 0; i < one.stages.size(); ++i) expect_same_stage(one.stages[i], c.stages[i], what);
        ASSERT_EQ(one.once.size(), c.once.size()) << what;
        for (size_t i = 0; i < one.once.size(); ++i) expect_same_stage(one.once[i], c.once[i], what);
        EXPECT_EQ(one.step_ms, c.step_ms) << what;
        EXPECT_EQ(one.tables_fit, c.tables_fit) << what;
        EXPECT_EQ(one.throughput_examples_per_s, c.throughput_examples_per_s) << what;
      }
    }
  }
}

// Table-wise sharding only moves whole tables: the table stages' work summed over the devices is
// the one device's, counter for counter, for every algorithm (the per-example norm terms included:
// each owner computes its tables' part of every example's squared norm, and comm.norm sums them).
TEST(ScaleOut, TableWiseShardsSumToTheOneDeviceWork) {
  Workload w = small_workload(512, "zipf:1.1");
  w.scale_tables(1000);
  const int64_t n = 3;
  sim::ShardingPlan plan;
  for (size_t t = 0; t < w.tables.size(); ++t) plan.tables.push_back({sim::ShardScheme::table_wise, {int64_t(t % n)}});
  const auto shards = sim::device_shards(w, plan, n);
  for (AlgorithmKind k : kAll) {
    const AlgorithmConfig cfg = config_of(k);
    const sim::AnalyticModel expected(w, cfg);
    const StepSizes whole = expected.step(2, true);
    for (const char* family : {"cpu", "cuda"}) {
      const KernelWork& f = kernel_work(family);
      for (const PlanStage& st : plan_of(k).step)
        for (const Op& op : st.ops) {
          if (!works_on(op.kind, WorkSide::tables)) continue;
          WorkCounters sum;
          for (int64_t d = 0; d < n; ++d)
            for (const StepSizes& g : sim::device_sizes(w, shards[d], whole, n).tables) sum += f.part(op, g, cfg, WorkSide::tables);
          WorkCounters one = f.part(op, whole, cfg, WorkSide::tables);
          // Launches are per device (each owner launches its kernels): compare them apart.
          EXPECT_GE(sum.launches, one.launches) << family << " " << op_name(op.kind);
          sum.launches = one.launches = 0;
          EXPECT_EQ(sum, one) << family << " " << algorithm_info(k).name << " " << op_name(op.kind);
        }
    }
  }
}

// Row blocks under the generator's zipf layout: the shares are where the sampled ids land.
TEST(ScaleOut, RowBlockSharesFollowTheTrace) {
  Workload w = small_workload(4096, "zipf:1.05");
  w.tables.resize(1);
  w.tables[0].rows = 100000;
  const int64_t k = 8;
  const std::vector<double> share = sim::row_block_lookup_shares(w.tables[0], k);
  EXPECT_NEAR(std::accumulate(share.begin(), share.end(), 0.0), 1.0, 1e-12);
  SyntheticTrace trace(w, 5);
  std::vector<double> seen(k, 0);
  double total = 0;
  for (int64_t b = 0; b < 20; ++b) {
    const Batch batch = trace.batch(b);
    for (int64_t id : batch.tables[0].indices) seen[row_block_of(w.tables[0].rows, k, id)] += 1, total += 1;
  }
  // Each block's count is binomial(total, share): 5 standard deviations, plus the tail integral's
  // first-order error (well under 1e-3 of the mass at 2^16 exact ranks).
  for (int64_t b = 0; b < k; ++b) {
    const double sd = std::sqrt(total * share[b] * (1 - share[b]));
    EXPECT_NEAR(seen[b], total * share[b], 5 * sd + 1e-3 * total) << "block " << b;
  }
  EXPECT_GT(share[0], 1.5 / k);  // the hottest rows sit in block 0 and block k/2: an imbalance to plan for
}

// Near the limit too: scales whose tables fill 60 to 98 % of the usable device memory, tables in
// host memory with and without a device cache. Every device of the chosen plan (and of the
// runner-up) must fit, checked here from the footprint itself, not through the planner's own test.
TEST(ScaleOut, PlannerNeverOverfillsADevice) {
  sim::ClusterProfile c = sim::load_cluster_profile("dgx-h100");
  const double table_GB_at_1 = static_cast<double>(load_workload("mlperf-dlrm").table_bytes()) / 1e9;
  int64_t planned = 0, refused = 0;
  for (int64_t nodes : {1, 2}) {
    sim::set_nodes(c, nodes);
    const double usable = 0.9 * 80 * static_cast<double>(c.devices());
    for (const char* tables_in : {"device", "host"}) {
      for (double fill : {0.6, 0.9, 0.98}) {
        sim::ClusterProfile placed = c;
        const bool host = std::string(tables_in) == "host";
        sim::apply_placement(placed.device, tables_in, host && fill > 0.9 ? 8.0 : -1.0, "");
        const double scale = fill * (host ? 2000.0 * static_cast<double>(nodes) : usable) / table_GB_at_1;
        Workload w = load_workload("mlperf-dlrm");
        w.scale_tables(scale);
        for (AlgorithmKind k : {AlgorithmKind::sgd, AlgorithmKind::dpsgd_f, AlgorithmKind::lazydp, AlgorithmKind::adafest}) {
          const sim::ClusterModel m(w, config_of(k), placed, 2);
          std::optional<sim::PlannerResult> r;
          try {
            r = sim::plan_sharding(m);
          } catch (const InputError&) {
            ++refused;
            continue;
          }
          ++planned;
          auto check = [&](const sim::ShardingPlan& plan) {
            for (const sim::DeviceMemory& d : m.memory(plan)) {
              if (host) {
                EXPECT_LE(d.tables + d.row_state, 2000e9 / 8) << nodes << " " << fill;
                EXPECT_LE(d.mlp + d.buffers + (fill > 0.9 ? 8e9 : 0), 0.9 * 80e9) << nodes << " " << fill;
              } else {
                EXPECT_LE(d.total(), 0.9 * 80e9) << nodes << " nodes, fill " << fill;
              }
            }
          };
          check(r->best.plan);
          if (r->runner_up) check(r->runner_up->plan);
          EXPECT_EQ(m.run(r->best.plan).step_ms, r->best.step_ms);
          if (r->runner_up) {
            EXPECT_LE(r->best.step_ms, r->runner_up->step_ms);
          }
        }
      }
    }
  }
  EXPECT_GT(planned, 30);  // most cases fit; at 98 % some algorithms' buffers tip a device over
  EXPECT_LT(refused, planned);
}

TEST(ScaleOut, PlannerRefusesNamingTheTableAndTheShortfall) {
  Workload w = load_workload("mlperf-dlrm");
  w.scale_tables(104);  // 10 TB on one 8-GPU node (640 GB of HBM)
  const sim::ClusterModel m(w, config_of(AlgorithmKind::dpsgd_f), sim::load_cluster_profile("dgx-h100"), 2);
  try {
    sim::plan_sharding(m);
    FAIL() << "10 TB planned onto 640 GB";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("table C"), std::string::npos) << msg;
    EXPECT_NE(msg.find("short"), std::string::npos) << msg;
    EXPECT_NE(msg.find("dgx-h100"), std::string::npos) << msg;
  }
}

TEST(ScaleOut, AGivenPlanThatOverfillsADeviceIsRefused) {
  Workload w = load_workload("mlperf-dlrm");
  w.scale_tables(1);  // 96 GB: every table on device 0 of 8 cannot fit its 80 GB
  const sim::ClusterModel m(w, config_of(AlgorithmKind::sgd), sim::load_cluster_profile("dgx-h100"), 2);
  const std::string file = testing::TempDir() + "/all_on_zero.json";
  {
    nlohmann::json j = sim::single_device_plan(w).to_json(w);
    std::ofstream(file) << j.dump();
  }
  try {
    sim::predict_on_cluster(m, file);
    FAIL() << "96 GB on one 80 GB device";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(file), std::string::npos) << msg;
    EXPECT_NE(msg.find("device 0"), std::string::npos) << msg;
  }
}

TEST(ScaleOut, BadPlanFilesNameFileKeyAndValue) {
  const Workload w = small_workload(64);
  auto error_of = [&](const std::string& text) {
    try {
      sim::parse_sharding_plan(nlohmann::json::parse(text), "plan.json", w, 4);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string t0 = w.tables[0].name, t1 = w.tables[1].name;
  auto entry = [](const std::string& t, const std::string& rest) { return "{\"table\": \"" + t + "\", " + rest + "}"; };
  std::string rest_ok;
  for (size_t t = 1; t < w.tables.size(); ++t) rest_ok += ", " + entry(w.tables[t].name, "\"scheme\": \"table_wise\"");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{\"tables\": [" + entry(t0, "\"scheme\": \"diagonal\"") + rest_ok + "]}", "diagonal"},
      {"{\"tables\": [" + entry(t0, "\"scheme\": \"table_wise\", \"devices\": [4]") + rest_ok + "]}", "tables[0].devices"},
      {"{\"tables\": [" + entry(t0, "\"scheme\": \"table_wise\", \"devices\": [0, 1]") + rest_ok + "]}", "exactly one"},
      {"{\"tables\": [" + entry(t0, "\"scheme\": \"row_wise\", \"devices\": [1, 1]") + rest_ok + "]}", "at most once"},
      {"{\"tables\": [" + entry("nope", "\"scheme\": \"table_wise\"") + rest_ok + "]}", "nope"},
      {"{\"tables\": [" + entry(t1, "\"scheme\": \"table_wise\"") + rest_ok + "]}", "listed once"},
      {"{\"tables\": [" + entry(t0, "\"scheme\": \"table_wise\", \"color\": 1") + rest_ok + "]}", "color"},
      {"{\"tables\": []}", "tables"},
      {"{\"tables\": [" + rest_ok.substr(2) + "]}", t0},  // a table left out
      {"{\"tables\": [" + entry(t0, "\"scheme\": \"column_wise\", \"devices\": [0, 1, 2]") + rest_ok + "]}", "divides"},
  };
  for (const auto& [text, needle] : cases) {
    const std::string msg = error_of(text);
    EXPECT_NE(msg.find("plan.json"), std::string::npos) << text << " -> " << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << text << " -> " << msg;
  }
  EXPECT_EQ(error_of("{\"tables\": [" + entry(t0, "\"scheme\": \"row_wise\"") + rest_ok + "]}"), "no error");
}

// Communication: nothing on one device; on several, the ids, pooled embeddings and gradients move
// by all-to-all and the DP algorithms sum B per-example norms.
TEST(ScaleOut, CommunicationStagesFollowThePlan) {
  Workload w = load_workload("mlperf-dlrm");
  w.scale_tables(0.1);
  w.batch_size = 8192;
  sim::ClusterProfile c = sim::load_cluster_profile("dgx-h100");
  sim::set_nodes(c, 2);
  for (AlgorithmKind k : {AlgorithmKind::sgd, AlgorithmKind::dpsgd_f, AlgorithmKind::lazydp, AlgorithmKind::adafest}) {
    const sim::ClusterModel m(w, config_of(k), c, 3);
    sim::ShardingPlan plan;
    for (size_t t = 0; t < w.tables.size(); ++t) plan.tables.push_back({sim::ShardScheme::table_wise, {int64_t(t % 16)}});
    const sim::ClusterReport r = m.run(plan);
    std::map<Stage, const sim::ClusterStage*> by;
    for (const auto& s : r.stages) by[s.stage.stage] = &s;
    for (Stage s : {Stage::comm_ids, Stage::comm_fwd, Stage::comm_bwd, Stage::comm_grads}) ASSERT_TRUE(by.count(s)) << stage_name(s);
    EXPECT_EQ(by.count(Stage::comm_norm) > 0, k != AlgorithmKind::sgd);
    EXPECT_EQ(by.count(Stage::comm_next) > 0, k == AlgorithmKind::lazydp);
    EXPECT_EQ(by.count(Stage::comm_contrib) > 0, k == AlgorithmKind::adafest);
    if (k != AlgorithmKind::sgd) {
      const sim::CollectiveCost expect = sim::all_reduce(c, 4.0 * static_cast<double>(w.batch_size));
      EXPECT_EQ(by[Stage::comm_norm]->stage.time.ms, expect.ms);
    }
    // The forward all-to-all: each device receives its 512 examples' pooled vectors of every table.
    const double recv = 8192.0 / 16 * 26 * 128 * 4;
    EXPECT_GE(by[Stage::comm_fwd]->comm->intra.bytes + by[Stage::comm_fwd]->comm->inter.bytes, recv * 15 / 16 * 0.999);
    double sum = 0;
    for (const auto& s : r.stages) sum += s.stage.time.ms;
    EXPECT_NEAR(sum, r.step_ms, 1e-12 * r.step_ms);  // summed in another order
  }
}

// A data-parallel copy looks up its share of the batch but applies the whole batch's update,
// catch-up and flush to every row; a row block's flush owes its rows, not its lookups.
TEST(ScaleOut, ReplicasApplyTheWholeBatchAndFlushesGoByRows) {
  Workload w = small_workload(512, "zipf:1.1");
  w.scale_tables(1000);
  const AlgorithmConfig cfg = config_of(AlgorithmKind::lazydp);
  const sim::AnalyticModel expected(w, cfg);
  const StepSizes step = expected.step(3, true), flush = expected.flush(3);
  const int64_t n = 4;
  sim::ShardingPlan plan = sim::single_device_plan(w);
  plan.tables[0] = {sim::ShardScheme::data_parallel, {0, 1, 2, 3}};
  plan.tables[1] = {sim::ShardScheme::row_wise, {0, 1, 2, 3}};
  const auto shards = sim::device_shards(w, plan, n);
  const sim::Shard* replica = nullptr;
  for (const sim::Shard& s : shards[2])
    if (s.table == 0) replica = &s;
  ASSERT_NE(replica, nullptr);
  const TableSizes r = sim::device_sizes(w, {*replica}, step, n).tables[0].tables[0];
  EXPECT_EQ(r.rows, step.tables[0].rows);
  EXPECT_EQ(r.lookups, static_cast<uint64_t>(std::llround(step.tables[0].lookups / 4.0)));
  EXPECT_EQ(r.unique_rows, step.tables[0].unique_rows);  // after the all-reduce, every copy updates the batch's rows
  // Its coalesce runs over its own lookups: its rows alone never outnumber them, and the CPU
  // formula reads no more than every lookup's gradient (once wrapped below zero to ~1e19 bytes).
  EXPECT_EQ(r.single_rows, static_cast<uint64_t>(std::llround(step.tables[0].single_rows / 4.0)));
  EXPECT_LE(r.single_rows, r.lookups);
  const WorkCounters c = cpu_work::coalesce({r}, 16, false, 128);
  EXPECT_LE(c.bytes_read_seq, r.lookups * (8 + 16 * 4) + 128 * 16 * 4 + r.rows * 4);
  EXPECT_EQ(r.owed, step.tables[0].owed);
  EXPECT_EQ(r.next_unique, step.tables[0].next_unique);
  uint64_t owed = 0, rows = 0;
  for (int64_t d = 0; d < n; ++d)
    for (const sim::Shard& s : shards[d])
      if (s.table == 1) {
        const TableSizes f = sim::device_sizes(w, {s}, flush, n, true).tables[0].tables[0];
        EXPECT_NEAR(double(f.owed) / double(flush.tables[1].owed), double(s.rows) / double(w.tables[1].rows), 1e-3);
        owed += f.owed, rows += f.rows;
      }
  EXPECT_EQ(rows, static_cast<uint64_t>(w.tables[1].rows));
  EXPECT_NEAR(double(owed), double(flush.tables[1].owed), 4.0);  // four blocks, each rounded
  // The copy holds the table and its dense gradient for the all-reduce, and its rows' history.
  const sim::DeviceMemory with = sim::device_memory(w, cfg, {*replica}, n, 4), without = sim::device_memory(w, cfg, {}, n, 4);
  EXPECT_GE(with.buffers - without.buffers, double(w.tables[0].bytes()));
  EXPECT_EQ(with.row_state - without.row_state, 4.0 * double(replica->rows));
}

// Row blocks are as even as can be: every device of a row-wise table holds rows, and the blocks
// partition the table; column shards split the dimension, and their norm arithmetic adds up.
TEST(ScaleOut, RowBlocksPartitionAndColumnShardsSplitTheNormArithmetic) {
  for (const auto& [rows, k] : {std::pair<int64_t, int64_t>{312, 256}, {1000, 7}, {5, 5}, {1 << 20, 64}}) {
    int64_t sum = 0;
    for (int64_t b = 0; b < k; ++b) {
      EXPECT_GE(row_block_rows(rows, k, b), rows / k);
      EXPECT_LE(row_block_rows(rows, k, b), rows / k + 1);
      sum += row_block_rows(rows, k, b);
    }
    EXPECT_EQ(sum, rows);
    int64_t first = 0;  // row_block_of agrees with the block sizes, row by row at the block edges
    for (int64_t b = 0; b < k; ++b) {
      EXPECT_EQ(row_block_of(rows, k, first), b);
      EXPECT_EQ(row_block_first(rows, k, b), first);
      first += row_block_rows(rows, k, b);
      EXPECT_EQ(row_block_of(rows, k, first - 1), b);
    }
  }
  Workload w = small_workload(256);
  w.scale_tables(100);
  const AlgorithmConfig cfg = config_of(AlgorithmKind::dpsgd_f);
  const StepSizes whole = sim::AnalyticModel(w, cfg).step(1, true);
  sim::ShardingPlan plan;
  for (size_t t = 0; t < w.tables.size(); ++t) plan.tables.push_back({sim::ShardScheme::column_wise, {0, 1}});
  const auto shards = sim::device_shards(w, plan, 2);
  const Op norms{.kind = OpKind::clip_norms, .norms = Norms::ghost};
  for (const char* family : {"cpu", "cuda"}) {
    const KernelWork& f = kernel_work(family);
    uint64_t flops = 0;
    for (int64_t d = 0; d < 2; ++d)
      for (const StepSizes& g : sim::device_sizes(w, shards[d], whole, 2).tables) flops += f.part(norms, g, cfg, WorkSide::tables).flops;
    // Each column half squares its half of every pooled gradient, 2 B T d/2 flops: that part
    // splits; what does not depend on the dimension (the count squares, the products with them)
    // both halves compute: halves = 2 x one - 2 B T d.
    const uint64_t B = whole.dense.batch, T = w.tables.size(), d = static_cast<uint64_t>(w.embedding_dim());
    const uint64_t one = f.part(norms, whole, cfg, WorkSide::tables).flops;
    EXPECT_EQ(flops, 2 * one - 2 * B * T * d) << family;
    EXPECT_GT(one, 2 * B * T * d) << family;
  }
}

// Each column shard of a table keeps the per-row state of all its rows (lazydp's history), and a
// replica keeps its own: the cluster's row state is what its devices hold, not one table's worth.
TEST(ScaleOut, RowStateCountsEveryShardThatHoldsTheRows) {
  Workload w = small_workload(256);
  w.scale_tables(100);
  const AlgorithmConfig cfg = config_of(AlgorithmKind::lazydp);
  const sim::ClusterProfile c = sim::load_cluster_profile("dgx-h100");
  const double per_row = static_cast<double>(kernel_work("cuda").row_state_bytes(AlgorithmKind::lazydp));
  const double one_copy = per_row * static_cast<double>(w.table_rows()) / 1e9;
  for (const auto scheme : {sim::ShardScheme::row_wise, sim::ShardScheme::column_wise, sim::ShardScheme::data_parallel}) {
    sim::ShardingPlan plan;
    for (size_t t = 0; t < w.tables.size(); ++t) plan.tables.push_back({scheme, {0, 1}});
    const sim::ClusterModel m(w, cfg, c, 2);
    const sim::ClusterReport r = m.run(plan);
    const double copies = scheme == sim::ShardScheme::row_wise ? 1.0 : 2.0;
    EXPECT_NEAR(r.row_state_GB, copies * one_copy, 1e-12 * one_copy) << sim::shard_scheme_name(scheme);
  }
}

// The whole-cluster fit counts what the devices hold: tables of 1.2x one device's usable memory fit
// two devices as row blocks, not as two replicas (2.4x in all against 2x).
TEST(ScaleOut, TablesFitCountsEveryReplica) {
  sim::ClusterProfile c = sim::load_cluster_profile("dgx-h100");
  c.devices_per_node = 2;  // the two devices the plans use
  Workload w = small_workload(256);
  w.scale_tables(1.2 * c.device.table_capacity_GB() * 1e9 / static_cast<double>(w.table_bytes()));
  const sim::ClusterModel m(w, config_of(AlgorithmKind::sgd), c, 2);
  for (const auto scheme : {sim::ShardScheme::row_wise, sim::ShardScheme::data_parallel}) {
    sim::ShardingPlan plan;
    for (size_t t = 0; t < w.tables.size(); ++t) plan.tables.push_back({scheme, {0, 1}});
    EXPECT_EQ(m.run(plan).tables_fit, scheme == sim::ShardScheme::row_wise) << sim::shard_scheme_name(scheme);
  }
}

TEST(ScaleOut, OversizedClustersAreRefused) {
  sim::ClusterProfile c = sim::load_cluster_profile("dgx-h100");
  EXPECT_THROW(sim::set_nodes(c, 4096 * 2), InputError);
  nlohmann::json j = c.to_json();
  j["devices_per_node"] = 4096, j["nodes"] = 4096;
  try {
    sim::parse_cluster_profile(j, "big.json");
    FAIL() << "16.7 M devices accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("big.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("65536"), std::string::npos) << e.what();
  }
}
