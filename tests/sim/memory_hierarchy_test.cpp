// The memory hierarchy in the model: placements and device caches, the split of a
// table stage's row traffic over the levels (exact arithmetic), and the trace-driven split against
// a plain LRU simulation of the same access order (the Che comparisons: row_traffic_validation_test.cpp).
#include <gtest/gtest.h>


#include "models/algorithm.hpp"
#include "models/config_error.hpp"
#include "sim/implementation_profile.hpp"
#include "sim/memory_levels.hpp"
#include "sim/row_traffic.hpp"
#include "sim/simulation.hpp"
#include "sim/time_model.hpp"
#include "tests/test_helpers.hpp"
#include "tests/traces/reuse_streams.hpp"
#include "traces/step_walk.hpp"
#include "traces/synthetic_trace.hpp"

using namespace privrec;
using namespace privrec::sim;

namespace {
// The reference cache of the reuse-distance tests, counting hits of counted accesses.
struct LruCache {
  test::ReferenceLru lru;
  uint64_t hits = 0, accesses = 0;
  void access(uint64_t key, uint32_t bytes, bool count) {
    const bool hit = lru.access(key, bytes);
    accesses += count, hits += count && hit;
  }
};
}  // namespace

TEST(MemoryLevels, PlacementFlagsMoveTablesAndAddTheCache) {
  HardwareProfile h = load_hardware_profile("h100-sxm");
  EXPECT_THROW(apply_placement(h, "", 8, ""), InputError);  // tables still on the device
  apply_placement(h, "host", 8, "lfu");
  ASSERT_TRUE(h.device_cache);
  EXPECT_EQ(h.device_cache->policy, "lfu");
  EXPECT_FALSE(h.table_stages_on_host());  // the cache's device runs the table stages
  const std::vector<MemoryLevel> levels = table_row_levels(h);
  ASSERT_EQ(levels.size(), 3u);  // L2, the device cache, host memory over the link
  EXPECT_EQ(levels[1].capacity_bytes, 8e9);
  EXPECT_TRUE(levels[2].over_link);
  EXPECT_EQ(levels[2].random_GBps_for(128), std::min(h.host->random_GBps, h.link_GBps));
  EXPECT_THROW(apply_placement(h, "", 81, ""), InputError);  // larger than the 80 GB device
  HardwareProfile cpu = load_hardware_profile("cpu-epyc-2c");
  EXPECT_THROW(apply_placement(cpu, "host", -1, ""), InputError);  // no host described
}

TEST(MemoryLevels, StageTimeIsTheSumOverLevelsOfBytesOverRates) {
  HardwareProfile h = load_hardware_profile("h100-sxm");
  h.stage_efficiency.clear(), h.stage_fixed_ms.clear();
  WorkCounters w;
  w.rows_read_rand = 1000000;
  w.bytes_read_rand = 128000000;  // 128 B rows
  LevelSplit split{{0.25, 0.75}, 0, {}};
  const StageTime t = stage_time(Stage::fwd_emb, w, 0, h, 1ull << 40, &split);
  const double l2 = 0.25 * 128e6 / (h.device.caches[0].random_GBps * 1e9);
  const double hbm = 0.75 * 128e6 / (h.device.random_GBps * 1e9);
  EXPECT_DOUBLE_EQ(t.memory_ms, 1e3 * (l2 + hbm));
  ASSERT_EQ(t.levels.size(), 2u);
  EXPECT_DOUBLE_EQ(t.levels[0].rows, 250000);
  EXPECT_DOUBLE_EQ(t.levels[1].ms, 1e3 * hbm);
  // No split known: everything from memory, as before caches were modeled.
  EXPECT_DOUBLE_EQ(stage_time(Stage::fwd_emb, w, 0, h, 1ull << 40).memory_ms, 1e3 * 128e6 / (h.device.random_GBps * 1e9));
  EXPECT_EQ(shares_from_hit_rates({0.2, 0.5}), (std::vector<double>{0.2, 0.5 - 0.2, 1.0 - 0.5}));
  EXPECT_EQ(shares_from_hit_rates({0.6, 0.5}), (std::vector<double>{0.6, 0.0, 1.0 - 0.6}));  // clamped monotone
}

// The trace-driven split of fwd.emb and update.sparse equals an LRU cache fed the same order:
// lookups table by table (each table's in example order), then the batch's distinct rows table by
// table.
TEST(RowTraffic, ExactSplitEqualsAnLruCacheFedTheKernelsOrder) {
  Workload w = test::small_workload(64, "zipf:1.05");
  for (auto& t : w.tables) t.rows = 500;
  SyntheticTrace trace(w, 5);
  const AlgorithmConfig cfg = test::algo(AlgorithmKind::sgd, 0, 1);
  MemoryLevel l1{"small", 16e3, 1, 1, {}, false, "lru", {}, {}}, mem{"memory", 1.0 / 0.0, 1, 1, {}, false, "lru", {}, {}};
  RowTrafficModel model(w, plan_of(cfg.kind), {l1, mem}, 0, 1.0, 0, /*cold_start=*/true);
  LruCache ref{test::ReferenceLru(16000)};
  uint64_t fwd_hits = 0, fwd_acc = 0;
  walk_steps(trace, 6, [&](int64_t t, const Batch& b, const Batch* next) {
    const bool count = t > 1;
    model.step(b, next, count);
    for (size_t k = 0; k < b.tables.size(); ++k)
      for (int64_t i = 0; i < b.size; ++i)
        for (int64_t j = b.tables[k].offsets[i]; j < b.tables[k].offsets[i + 1]; ++j) {
          const uint64_t before = ref.hits;
          ref.access(k << 40 | b.tables[k].indices[j], static_cast<uint32_t>(w.tables[k].dim * 4), count);
          fwd_hits += ref.hits - before, fwd_acc += count;
        }
    for (size_t k = 0; k < b.tables.size(); ++k)
      for (const int64_t r : unique_rows(b.tables[k])) ref.access(k << 40 | r, static_cast<uint32_t>(w.tables[k].dim * 4), count);
  });
  WorkCounters fwd;
  fwd.rows_read_rand = fwd_acc / 5;
  const LevelSplit s = model.split(Stage::fwd_emb, fwd);
  ASSERT_EQ(s.share.size(), 2u);
  EXPECT_DOUBLE_EQ(s.share[0], static_cast<double>(fwd_hits) / static_cast<double>(fwd_acc));
  // The misses' local fractions: multiples of 1/256 in (0, 1], shares summing to 1 (the window
  // itself: ReuseAnalyzer.MissWindowCountsTheMissesAroundEachMiss).
  double sum = 0;
  for (const auto& [q, share] : s.last_level_miss_fractions) {
    EXPECT_GT(q, 0.0);
    EXPECT_LE(q, 1.0);
    EXPECT_DOUBLE_EQ(q * 256, std::round(q * 256));
    sum += share;
  }
  EXPECT_NEAR(sum, 1.0, 1e-12);
  const uint64_t upd_hits = ref.hits - fwd_hits, upd_acc = ref.accesses - fwd_acc;
  WorkCounters upd;
  upd.rows_read_rand = upd.rows_written_rand = upd_acc / 5;
  EXPECT_NEAR(model.split(Stage::update_sparse, upd).share[0], static_cast<double>(upd_hits) / static_cast<double>(upd_acc),
              1e-12);
  EXPECT_GT(fwd_hits, 0u);
  EXPECT_LT(fwd_hits, fwd_acc);
}

// A dense pass over tables larger than a level leaves nothing of one step for the next: the
// step's first touch of a row misses; with tables that fit, every reuse hits.
TEST(RowTraffic, DensePassOverLargerTablesKeepsNoReuseAcrossSteps) {
  Workload w = test::small_workload(4);
  for (auto& t : w.tables) t.rows = 100000, t.pooling = 1;
  SyntheticTrace trace(w, 2);
  const AlgorithmConfig cfg = test::algo(AlgorithmKind::dpsgd_f, 1, 1);
  const double table_bytes = static_cast<double>(w.table_bytes());
  MemoryLevel small{"small", table_bytes / 2, 1, 1, {}, false, "lru", {}, {}}, mem{"memory", 1.0 / 0.0, 1, 1, {}, false, "lru", {}, {}};
  RowTrafficModel model(w, plan_of(cfg.kind), {small, mem}, 0, 1.0, 0, /*cold_start=*/true);
  // The same batch every step: without the dense pass every access after the first step would hit.
  const Batch b = trace.batch(0);
  for (int t = 1; t <= 4; ++t) model.step(b, &b, t > 1);
  WorkCounters fwd;
  fwd.rows_read_rand = static_cast<uint64_t>(b.lookups());
  const LevelSplit s = model.split(Stage::fwd_emb, fwd);
  // Within a step a row appears once per table here (pooling 1, few examples), so nothing hits.
  uint64_t repeats = 0;
  for (const auto& tb : b.tables) repeats += tb.indices.size() - unique_rows(tb).size();
  EXPECT_DOUBLE_EQ(s.share[0], static_cast<double>(repeats) / static_cast<double>(b.lookups()));
  EXPECT_EQ(s.dense_pass_bytes, 0);
  EXPECT_EQ(model.split(Stage::dp_update, WorkCounters{}).dense_pass_bytes, 2 * table_bytes);
}

// The working data of a step, from its counters: what each stage writes as it streams, and the
// forward's streamed reads (the batch's ids); nothing for a stage that writes table rows; with the
// tables in host memory, only the table stages' (the MLPs run on the device); nothing at all
// behind a device cache of host tables (a software cache of rows alone).
TEST(RowTraffic, WorkingBytesComeFromTheStepsCounters) {
  const Workload w = test::small_workload(64);
  const AlgorithmConfig cfg = test::algo(AlgorithmKind::sgd, 0, 1);
  std::vector<StepRecord> records;
  test::train(w, cfg, 2, nullptr, &records);
  const StepRecord& step = records[1];
  auto work = [&](Stage s) { return step.of(s); };
  const StageBytes b = working_bytes_by_stage(plan_of(cfg.kind), step, load_hardware_profile("cpu-epyc-2c"));
  auto at = [&](Stage s) { return b[static_cast<size_t>(s)]; };
  EXPECT_EQ(at(Stage::fwd_emb), static_cast<double>(work(Stage::fwd_emb).bytes_written_seq + work(Stage::fwd_emb).bytes_read_seq));
  EXPECT_GT(at(Stage::fwd_emb), 0.0);
  for (Stage s : {Stage::fwd_mlp, Stage::bwd_mlp, Stage::bwd_emb, Stage::update_mlp}) {
    EXPECT_EQ(at(s), static_cast<double>(work(s).bytes_written_seq)) << stage_name(s);
    EXPECT_GT(at(s), 0.0) << stage_name(s);
  }
  EXPECT_EQ(at(Stage::update_sparse), 0.0);
  const HardwareProfile v100 = load_hardware_profile("v100-xeon-e5-2698v4");
  ASSERT_TRUE(v100.table_stages_on_host());
  const StageBytes host = working_bytes_by_stage(plan_of(cfg.kind), step, v100);
  for (size_t s = 0; s < kStages; ++s)
    EXPECT_EQ(host[s], runs_with_tables(static_cast<Stage>(s)) ? b[s] : 0.0) << stage_name(static_cast<Stage>(s));
  HardwareProfile cached = load_hardware_profile("h100-sxm");
  apply_placement(cached, "host", 8, "lru");
  for (const double x : working_bytes_by_stage(plan_of(cfg.kind), step, cached)) EXPECT_EQ(x, 0.0);
}

// Tables a level holds entirely: every reuse hits there, whatever whole-table passes came between
// (a pass adds no distinct rows beyond the tables).
TEST(RowTraffic, ALevelHoldingEveryTableHitsEveryReuse) {
  Workload w = test::small_workload(16);
  SyntheticTrace trace(w, 2);
  const AlgorithmConfig cfg = test::algo(AlgorithmKind::dpsgd_f, 1, 1);
  MemoryLevel big{"big", 2.0 * static_cast<double>(w.table_bytes()), 1, 1, {}, false, "lru", {}, {}},
      mem{"memory", 1.0 / 0.0, 1, 1, {}, false, "lru", {}, {}};
  RowTrafficModel model(w, plan_of(cfg.kind), {big, mem}, 0, 1.0);
  walk_steps(trace, 30, [&](int64_t t, const Batch& b, const Batch* next) { model.step(b, next, t > 1); });
  WorkCounters fwd;
  fwd.rows_read_rand = static_cast<uint64_t>(trace.batch(0).lookups());
  EXPECT_EQ(model.split(Stage::fwd_emb, fwd).share[0], 1.0);
  EXPECT_TRUE(model.levels_beyond_trace().empty());
}

// The analytic forward (Che over the table-by-table runs) at its limits: a level that holds every
// table hits every lookup (as the trace-driven mode says), and one uniform table alone runs back to
// back with nothing between its runs, so a level of 90 % of it hits 90 % (Che's steady state for
// uniform access: the capacity's share of the rows), however long the run.
TEST(RowTraffic, AnalyticForwardAtItsLimits) {
  const AlgorithmConfig cfg = test::algo(AlgorithmKind::sgd, 0, 1);
  WorkCounters fwd;
  fwd.rows_read_rand = 1000;
  Workload w = test::small_workload(256);
  const double all = static_cast<double>(w.table_bytes());
  MemoryLevel mem{"memory", 1.0 / 0.0, 1, 1, {}, false, "lru", {}, {}};
  for (const double times : {1.0, 1.5, 3.0}) {
    MemoryLevel big{"big", times * all, 1, 1, {}, false, "lru", {}, {}};
    EXPECT_DOUBLE_EQ(analytic_split(w, plan_of(cfg.kind), {big, mem}, Stage::fwd_emb, fwd).share[0], 1.0) << times;
  }
  w.tables.resize(1);
  w.tables[0].rows = 100000000, w.tables[0].pooling = 1, w.batch_size = 1024;
  MemoryLevel most{"most", 0.9 * static_cast<double>(w.table_bytes()), 1, 1, {}, false, "lru", {}, {}};
  EXPECT_NEAR(analytic_split(w, plan_of(cfg.kind), {most, mem}, Stage::fwd_emb, fwd).share[0], 0.9, 0.005);
}

// Sparse misses: the miss-cost curve's interpolation (log fraction, then log row bytes, flat
// beyond), and the last level's time scaled by the curve averaged over the split's local fractions.
TEST(MissCost, InterpolatesInLogFractionAndLogRowBytes) {
  CostCurve c;
  EXPECT_EQ(c.factor(128, 0.01), 1.0);  // none measured: factor 1
  c.by_row_B = {{128, {{0.01, 10.0}, {0.1, 4.0}, {1.0, 1.0}}}};
  EXPECT_DOUBLE_EQ(c.factor(128, 0.01), 10.0);
  EXPECT_DOUBLE_EQ(c.factor(128, 0.001), 10.0);  // flat below the sparsest fraction measured
  EXPECT_DOUBLE_EQ(c.factor(128, 1.0), 1.0);
  EXPECT_NEAR(c.factor(128, std::sqrt(0.01 * 0.1)), 7.0, 1e-12);  // half way in log(fraction)
  EXPECT_DOUBLE_EQ(c.factor(4096, 0.1), 4.0);  // one row size: every row size alike
  c.by_row_B = {{64, {{0.01, 20.0}, {1.0, 1.0}}}, {256, {{0.01, 4.0}, {1.0, 1.0}}}};
  EXPECT_NEAR(c.factor(128, 0.01), 12.0, 1e-12);  // half way in log(row bytes)
  EXPECT_NEAR(c.factor(128, 0.1), 0.5 * (10.5 + 2.5), 1e-12);
  EXPECT_DOUBLE_EQ(c.factor(32, 0.01), 20.0);
}

TEST(MissCost, ScalesTheLastLevelByTheCurveAtTheSplitsLocalFractions) {
  HardwareProfile h = load_hardware_profile("h100-sxm");
  h.stage_efficiency.clear(), h.stage_fixed_ms.clear();
  h.device.memory_miss_cost.by_row_B = {{128, {{0.1, 4.0}, {1.0, 1.0}}}};
  WorkCounters w;
  w.rows_read_rand = 1000000;
  w.bytes_read_rand = 128000000;  // 128 B rows
  const double l2 = 0.25 * 128e6 / (h.device.caches[0].random_GBps * 1e9);
  const double hbm = 0.75 * 128e6 / (h.device.random_GBps * 1e9);
  // Half of memory's rows missed where a tenth of the lookups missed (factor 4), half where all did.
  LevelSplit split{{0.25, 0.75}, 0, {{0.1, 0.5}, {1.0, 0.5}}};
  StageTime t = stage_time(Stage::fwd_emb, w, 0, h, 1ull << 40, &split);
  EXPECT_NEAR(t.memory_ms, 1e3 * (l2 + 2.5 * hbm), 1e-12);
  ASSERT_EQ(t.levels.size(), 2u);
  EXPECT_DOUBLE_EQ(t.levels[0].miss_cost_factor, 1.0);
  EXPECT_DOUBLE_EQ(t.levels[1].miss_cost_factor, 2.5);
  EXPECT_EQ(levels_json(t)[1]["miss_cost_factor"], 2.5);
  EXPECT_FALSE(levels_json(t)[0].contains("miss_cost_factor"));
  // No local fractions: the stage's average, memory's share (0.75, held flat above 0.1 .. 1 in log).
  split.last_level_miss_fractions.clear();
  t = stage_time(Stage::fwd_emb, w, 0, h, 1ull << 40, &split);
  const double at_075 = 4.0 + (1.0 - 4.0) * std::log(0.75 / 0.1) / std::log(10.0);
  EXPECT_NEAR(t.memory_ms, 1e3 * (l2 + at_075 * hbm), 1e-12);
  // Only the forward's reads: an update's written rows and other stages keep factor 1, and so
  // does a stage with no split.
  WorkCounters rmw = w;
  rmw.bytes_written_rand = rmw.bytes_read_rand, rmw.rows_written_rand = rmw.rows_read_rand;
  split.last_level_miss_fractions = {{0.1, 1.0}};
  const StageTime fwd_rmw = stage_time(Stage::fwd_emb, rmw, 0, h, 1ull << 40, &split);
  EXPECT_NEAR(fwd_rmw.levels[1].ms, 1e3 * (0.75 * 128e6 * 4.0 + 0.75 * 128e6) / (h.device.random_GBps * 1e9), 1e-9);
  EXPECT_EQ(stage_time(Stage::update_sparse, rmw, 0, h, 1ull << 40, &split).levels[1].miss_cost_factor, 1.0);
  EXPECT_DOUBLE_EQ(stage_time(Stage::fwd_emb, w, 0, h, 1ull << 40).memory_ms, 1e3 * 128e6 / (h.device.random_GBps * 1e9));
  EXPECT_NE(levels_summary(fwd_rmw).find("memory 75.0 % (x4.00 sparse)"), std::string::npos) << levels_summary(fwd_rmw);
  // Host memory across the link keeps no curve: the link binds, not the latency.
  HardwareProfile host = load_hardware_profile("h100-sxm");
  host.host->memory_miss_cost = h.device.memory_miss_cost;
  apply_placement(host, "host", 8, "lru");
  EXPECT_TRUE(table_row_levels(host).back().miss_cost.empty());
  EXPECT_FALSE(table_row_levels(h).back().miss_cost.empty());
  // The framework way's kernels are not the fused forward the curve was measured through.
  h.device.sorted_visit_cost.by_row_B = {{128, {{0.25, 2.0}, {1.0, 1.0}}}};
  apply_implementation(h, load_implementation_profile("framework"));
  EXPECT_TRUE(h.device.memory_miss_cost.empty());
  EXPECT_FALSE(h.device.sorted_visit_cost.empty());
}

// Rows visited in ascending order (the sparse updates): without a measured curve at the row-random
// rate, at most one streaming pass over the tables; with one, the bytes at the stream rate times
// the curve's factor at the stage's density (rows visited x row bytes over the tables' bytes),
// never above the other two.
TEST(SortedVisits, CostTheCurvesFactorAtTheStagesDensity) {
  HardwareProfile h = load_hardware_profile("h100-sxm");
  h.stage_efficiency.clear(), h.stage_fixed_ms.clear();
  h.device.caches.clear();
  h.device.random_GBps_by_row_B.clear();
  h.device.random_GBps = 1000, h.device.stream_GBps = 1000;
  const double table = 1.28e9;  // 10 M rows of 128 B
  WorkCounters w;               // a quarter of them, read and written
  w.rows_read_rand = w.rows_written_rand = 2500000;
  w.bytes_read_rand = w.bytes_written_rand = 320000000;
  auto memory_ms = [&](Stage s) { return stage_time(s, w, 0, h, static_cast<uint64_t>(table)).memory_ms; };
  EXPECT_DOUBLE_EQ(memory_ms(Stage::update_sparse), 1e3 * 6.4e8 / 1000e9);  // row-random: below one pass
  h.device.random_GBps = 10;
  EXPECT_DOUBLE_EQ(memory_ms(Stage::update_sparse), 1e3 * 2 * table / 1000e9);  // one pass (2.56 ms) binds
  h.device.sorted_visit_cost.by_row_B = {{128, {{1.0 / 16, 8.0}, {0.25, 3.0}, {1.0, 1.0}}}};
  EXPECT_DOUBLE_EQ(memory_ms(Stage::update_sparse), 1e3 * 6.4e8 * 3.0 / 1000e9);  // density 1/4: factor 3
  EXPECT_DOUBLE_EQ(memory_ms(Stage::dp_update), 1e3 * 6.4e8 * 3.0 / 1000e9);
  EXPECT_DOUBLE_EQ(memory_ms(Stage::lazydp_catchup), 1e3 * 6.4e8 * 3.0 / 1000e9);
  EXPECT_DOUBLE_EQ(memory_ms(Stage::fwd_emb), 1e3 * 6.4e8 / 10e9);  // a gather: not a sorted visit
  // Density 1/8, half way in log between 1/16 and 1/4: the factor half way (5.5); and where the
  // row-random rate costs less, it does.
  w.rows_read_rand = w.rows_written_rand = 1250000;
  w.bytes_read_rand = w.bytes_written_rand = 160000000;
  EXPECT_NEAR(memory_ms(Stage::update_sparse), 1e3 * 3.2e8 * 5.5 / 1000e9, 1e-12);
  h.device.random_GBps = 200;
  EXPECT_DOUBLE_EQ(memory_ms(Stage::update_sparse), 1e3 * 3.2e8 / 200e9);
  // Below the sparsest density measured (1/16 here) the factor rises in log(density) from the
  // curve's (8) to the row-random rate's (stream / random = 100), reached at one row per 2 MiB.
  h.device.random_GBps = 10;
  const double q_end = 128.0 / (2 << 20), q = std::sqrt(q_end / 16);  // half way in log
  w.rows_read_rand = w.rows_written_rand = static_cast<uint64_t>(std::llround(q * table / 128));
  w.bytes_read_rand = w.bytes_written_rand = 128 * w.rows_read_rand;
  const double rnd = 2.0 * static_cast<double>(w.bytes_read_rand), dq = w.rows_read_rand * 128.0 / table;
  const double f = 8 + (100 - 8) * std::log((1.0 / 16) / dq) / std::log((1.0 / 16) / q_end);
  EXPECT_NEAR(f, 54, 0.01);
  EXPECT_NEAR(memory_ms(Stage::update_sparse), 1e3 * rnd * f / 1000e9, 1e-12);
  w.rows_read_rand = w.rows_written_rand = 100;  // sparser than one row per 2 MiB: row-random
  w.bytes_read_rand = w.bytes_written_rand = 12800;
  EXPECT_DOUBLE_EQ(memory_ms(Stage::update_sparse), 1e3 * 25600 / 10e9);
  // Host memory across the link keeps no curve: the link binds.
  HardwareProfile host = load_hardware_profile("h100-sxm");
  host.host->sorted_visit_cost = h.device.sorted_visit_cost;
  apply_placement(host, "host", 8, "lru");
  EXPECT_TRUE(table_row_levels(host).back().sorted_visit_cost.empty());
  EXPECT_FALSE(table_row_levels(h).back().sorted_visit_cost.empty());
}

TEST(MissCost, AnalyticForwardMissesFallWhereEachTableRunWarmsUp) {
  // Four uniform tables, each read twice over per step, a cache of most of one: every row a run
  // starts on was evicted by the other tables (nearly all its first lookups miss), and reuses
  // within the run mostly hit; the local fractions' shares sum to 1 and the densest one is near 1.
  Workload w = test::small_workload(2000);
  w.tables.resize(4);
  for (auto& t : w.tables) t.rows = 4000, t.dim = 32, t.pooling = 4;  // 8000 lookups per table: each row about twice
  const AlgorithmConfig cfg = test::algo(AlgorithmKind::sgd, 0, 1);
  const double table = 4000.0 * 128;
  MemoryLevel l3{"L3", 0.9 * table, 1, 1, {}, false, "lru", {}, {}}, mem{"memory", 1.0 / 0.0, 1, 1, {}, false, "lru", {}, {}};
  WorkCounters work;
  work.rows_read_rand = 32000, work.bytes_read_rand = 32000 * 128;
  const LevelSplit s = analytic_split(w, plan_of(cfg.kind), {l3, mem}, Stage::fwd_emb, work);
  ASSERT_FALSE(s.last_level_miss_fractions.empty());
  double sum = 0, densest = 0;
  for (const auto& [q, share] : s.last_level_miss_fractions) sum += share, densest = std::max(densest, q);
  EXPECT_NEAR(sum, 1.0, 1e-12);
  EXPECT_GT(densest, 0.9);       // the run's first 1/32 of lookups: nearly every row new
  EXPECT_LT(s.share.back(), 0.7) << s.share.back();  // yet the run's average miss share is well below
}
