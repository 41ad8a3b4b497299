// The trace-driven split against Che's approximation (validation: statistical, about a second).
#include <gtest/gtest.h>

#include "models/algorithm.hpp"
#include "sim/memory_levels.hpp"
#include "sim/row_traffic.hpp"
#include "tests/test_helpers.hpp"
#include "traces/step_walk.hpp"
#include "traces/synthetic_trace.hpp"

using namespace privrec;
using namespace privrec::sim;

// The analytic mode (Che's approximation over the forward's table-by-table runs) against the
// trace-driven split, uniform and zipf 1.05, an L3-sized level on a CPU-like profile: within 2 %
// absolute of the hit rate.
TEST(RowTraffic, CheSplitMatchesTheTraceDrivenSplit) {
  for (const char* dist : {"uniform", "zipf:1.05"}) {
    Workload w = test::small_workload(256, dist);
    for (auto& t : w.tables) t.rows = 20000, t.pooling = 20;
    const AlgorithmConfig cfg = test::algo(AlgorithmKind::sgd, 0, 1);
    const double cap = 0.3 * static_cast<double>(w.table_bytes());
    MemoryLevel l3{"L3", cap, 1, 1, {}, false, "lru", {}}, mem{"memory", 1.0 / 0.0, 1, 1, {}, false, "lru", {}};
    RowTrafficModel model(w, plan_of(cfg.kind), {l3, mem}, 0, 1.0);
    SyntheticTrace trace(w, 9);
    walk_steps(trace, 40, [&](int64_t t, const Batch& b, const Batch* next) { model.step(b, next, t > 20); });
    WorkCounters fwd;
    fwd.rows_read_rand = static_cast<uint64_t>(w.batch_size * 20 * static_cast<int64_t>(w.tables.size()));
    const double traced = model.split(Stage::fwd_emb, fwd).share[0];
    const double che = analytic_split(w, plan_of(cfg.kind), {l3, mem}, Stage::fwd_emb, fwd).share[0];
    EXPECT_NEAR(che, traced, 0.02) << dist << " traced " << traced << " che " << che;
    EXPECT_GT(traced, 0.2) << dist;
  }
}

// A short trace from a cold start: the steady-state (Kaplan-Meier) estimate is within 2 % of Che's
// approximation for a level smaller than what the trace touched, and closer to it than counting
// every first touch as a miss.
TEST(RowTraffic, SteadyStateFromAShortTraceMatchesChe) {
  for (const char* dist : {"uniform", "zipf:1.05"}) {
    Workload w = test::small_workload(512, dist);
    for (auto& t : w.tables) t.rows = 40000, t.pooling = 10;
    const AlgorithmConfig cfg = test::algo(AlgorithmKind::sgd, 0, 1);
    const double cap = 0.1 * static_cast<double>(w.table_bytes());
    MemoryLevel l3{"L3", cap, 1, 1, {}, false, "lru", {}}, mem{"memory", 1.0 / 0.0, 1, 1, {}, false, "lru", {}};
    RowTrafficModel steady(w, plan_of(cfg.kind), {l3, mem}, 0, 1.0);
    RowTrafficModel cold(w, plan_of(cfg.kind), {l3, mem}, 0, 1.0, 0, true);
    SyntheticTrace trace(w, 4);
    walk_steps(trace, 4, [&](int64_t, const Batch& b, const Batch* next) { steady.step(b, next, true), cold.step(b, next, true); });
    WorkCounters fwd;
    fwd.rows_read_rand = static_cast<uint64_t>(w.batch_size * 10 * static_cast<int64_t>(w.tables.size()));
    ASSERT_GT(steady.bytes_touched(), cap) << dist;
    const double che = analytic_split(w, plan_of(cfg.kind), {l3, mem}, Stage::fwd_emb, fwd).share[0];
    EXPECT_NEAR(steady.split(Stage::fwd_emb, fwd).share[0], che, 0.02) << dist;
    EXPECT_LT(std::abs(steady.split(Stage::fwd_emb, fwd).share[0] - che), std::abs(cold.split(Stage::fwd_emb, fwd).share[0] - che)) << dist << " steady " << steady.split(Stage::fwd_emb, fwd).share[0] << " cold " << cold.split(Stage::fwd_emb, fwd).share[0] << " che " << che;
  }
}
