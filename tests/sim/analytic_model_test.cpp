// The analytic model: its closed forms against direct summation, and its predictions against the
// trace-driven model on the same workloads.
#include <gtest/gtest.h>

#include <cmath>

#include "sim/analytic_model.hpp"
#include "sim/simulation.hpp"
#include "tests/test_helpers.hpp"

using namespace privrec;
using namespace privrec::test;

TEST(AnalyticModel, UniformDistinctRowsIsTheClosedForm) {
  const AccessDistribution uniform;
  for (const auto& [n, k] : {std::pair{1000.0, 500.0}, {187500.0, 163840.0}}) {
    const sim::RowProbabilities rows(static_cast<int64_t>(n), uniform);
    const double closed = n * (1 - std::pow(1 - 1 / n, k));
    EXPECT_NEAR(sim::expected_distinct(rows, k) / closed, 1.0, 1e-9) << n << " " << k;
    // Rows one lookup touched: n x k (1/n) (1 - 1/n)^(k-1).
    EXPECT_NEAR(sim::expected_single(rows, k) / (k * std::pow(1 - 1 / n, k - 1)), 1.0, 1e-9) << n << " " << k;
  }
  EXPECT_EQ(sim::expected_single(sim::RowProbabilities(1, uniform), 1), 1.0);  // one row, one lookup
  EXPECT_EQ(sim::expected_single(sim::RowProbabilities(1, uniform), 2), 0.0);
  // 10^10 rows (where 1 - 1/n is no longer exact in doubles): k - k^2 / 2n + k^3 / 6n^2 - ...
  const double n = 1e10, k = 2e6;
  EXPECT_NEAR(sim::expected_distinct(sim::RowProbabilities(static_cast<int64_t>(n), uniform), k),
              k - k * k / (2 * n) + k * k * k / (6 * n * n), 1e-3);
}

TEST(AnalyticModel, ZipfSumsMatchDirectSummation) {
  for (const double s : {0.8, 1.05, 1.3}) {
    const int64_t n = 300000;
    const sim::RowProbabilities rows(n, AccessDistribution::parse("zipf:" + std::to_string(s)));
    double norm = 0;
    for (int64_t r = 1; r <= n; ++r) norm += std::pow(double(r), -s);
    double direct = 0, single = 0;
    const double k = 20000;
    for (int64_t r = 1; r <= n; ++r) {
      const double p = std::pow(double(r), -s) / norm;
      direct += 1 - std::pow(1 - p, k);
      single += k * p * std::pow(1 - p, k - 1);
    }
    EXPECT_NEAR(rows.sum([](double p) { return p; }), 1.0, 1e-4) << s;  // probabilities sum to 1
    EXPECT_NEAR(sim::expected_distinct(rows, k) / direct, 1.0, 2e-3) << s;
    EXPECT_NEAR(sim::expected_single(rows, k) / single, 1.0, 2e-3) << s;
  }
}

// Same workload, same algorithm: the model from expectations and the model from a synthetic
// trace agree. Tolerance: uniform batches of 256 x 3..4 lookups into 5k..100k rows have distinct-row
// counts with relative spread under 1 %; 2 % covers it at 8 steps.
// The profile's caches are left out: this compares the work of the two modes; their cache splits
// (a short trace's Kaplan-Meier estimate against Che) are compared in tests/sim/memory_hierarchy_test.cpp.
TEST(AnalyticModel, AgreesWithTheTraceDrivenModel) {
  auto h = sim::load_hardware_profile("v100-xeon-e5-2698v4");
  h.device.caches.clear(), h.host->caches.clear();
  for (const char* dist : {"uniform", "zipf:1.05"}) {
    Workload w = small_workload(256, dist);
    w.scale_tables(100);
    for (AlgorithmKind k : {AlgorithmKind::sgd, AlgorithmKind::dpsgd_f, AlgorithmKind::eana, AlgorithmKind::lazydp,
                            AlgorithmKind::adafest, AlgorithmKind::dpsgd_b}) {
      auto cfg = algo(k, 0.8, 0.5);
      cfg.adafest.tau = 0.3;  // some touched rows pass, some do not
      SyntheticTrace trace(w, 3);
      const auto traced = sim::simulate(w, cfg, trace, h, 8);
      const auto expected = sim::simulate_analytic(w, cfg, h, 8);
      EXPECT_NEAR(expected.step_ms / traced.step_ms, 1.0, 0.02) << algorithm_info(k).name << " " << dist;
      for (size_t i = 0; i < traced.stages.size(); ++i) {
        const auto& a = traced.stages[i].work;
        const auto& b = expected.stages[i].work;
        EXPECT_NEAR(double(b.bytes()) / double(std::max<uint64_t>(a.bytes(), 1)), 1.0, 0.03)
            << algorithm_info(k).name << " " << dist << " " << stage_name(traced.stages[i].stage);
      }
      if (!traced.once.empty()) {
        EXPECT_NEAR(expected.once.front().time.ms / traced.once.front().time.ms, 1.0, 0.02) << dist;
      }
    }
    // lazydp's exact mode draws one sample per pending step: the pending-step sums must agree too.
    auto exact = algo(AlgorithmKind::lazydp, 0.8, 0.5);
    exact.lazydp.noise = LazyNoiseMode::exact;
    SyntheticTrace trace(w, 3);
    const auto traced = sim::simulate(w, exact, trace, h, 8);
    const auto expected = sim::simulate_analytic(w, exact, h, 8);
    for (size_t i = 0; i < traced.stages.size(); ++i) {
      if (traced.stages[i].stage == Stage::lazydp_catchup) {
        EXPECT_NEAR(double(expected.stages[i].work.rng_samples) / double(traced.stages[i].work.rng_samples), 1.0, 0.03)
            << dist;
      }
    }
    EXPECT_NEAR(double(expected.once.front().work.rng_samples) / double(traced.once.front().work.rng_samples), 1.0, 0.02)
        << dist;
  }
}
