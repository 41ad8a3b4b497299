// The model describes what the code does: for every algorithm, the work the performance model
// predicts for each stage of each step equals the work the CPU trainer counted, number for number.
// And the model's times behave as the characterization says: dpsgd-f grows with table bytes,
// sgd and lazydp do not.
#include <gtest/gtest.h>

#include "sim/simulation.hpp"
#include "sim/work_model.hpp"
#include "tests/test_helpers.hpp"

using namespace privrec;
using namespace privrec::test;

namespace {
std::string describe(const WorkCounters& w) { return w.to_json().dump(); }

void expect_model_equals_kernels(const Workload& w, const AlgorithmConfig& cfg, int64_t steps) {
  std::vector<StepRecord> recs;
  StepRecord setup_rec;
  train(w, cfg, steps, nullptr, &recs, &setup_rec);
  ASSERT_EQ(static_cast<int64_t>(recs.size()), steps + 1);
  sim::WorkModel model(w, cfg, kernel_work("cpu"));
  SyntheticTrace trace(w, 3);  // the trace test::train uses
  std::vector<StepRecord> predicted;
  const StepRecord setup_pred = model.setup(trace, steps);
  walk_steps(trace, steps, [&](int64_t t, const Batch& b, const Batch* next) { predicted.push_back(model.step(t, b, next)); });
  predicted.push_back(model.finish(steps));
  auto expect_equal = [&](const StepRecord& pred, const StepRecord& rec, const std::string& when) {
    for (size_t s = 0; s < kStages; ++s) {
      const char* name = kStageNames[s];
      ASSERT_EQ(pred.ran[s], rec.ran[s]) << algorithm_info(cfg.kind).name << " " << when << " stage " << name;
      EXPECT_EQ(pred.work[s], rec.work[s])
          << algorithm_info(cfg.kind).name << " " << when << " stage " << name << "\n model:   "
          << describe(pred.work[s]) << "\n kernels: " << describe(rec.work[s]);
    }
  };
  expect_equal(setup_pred, setup_rec, "setup");
  for (int64_t t = 1; t <= steps + 1; ++t) expect_equal(predicted[t - 1], recs[t - 1], "step " + std::to_string(t));
}
}  // namespace

TEST(WorkModel, EqualsKernelCountersForEveryAlgorithm) {
  for (const char* dist : {"uniform", "zipf:1.1"}) {
    const Workload w = small_workload(16, dist);
    for (AlgorithmKind k : {AlgorithmKind::sgd, AlgorithmKind::dpsgd_b, AlgorithmKind::dpsgd_r, AlgorithmKind::dpsgd_f,
                            AlgorithmKind::eana, AlgorithmKind::lazydp}) {
      SCOPED_TRACE(std::string(algorithm_info(k).name) + " " + dist);
      expect_model_equals_kernels(w, algo(k, 0.8, 0.5), 4);
    }
  }
}

TEST(WorkModel, EqualsKernelCountersForLazyDpModes) {
  const Workload w = small_workload(16, "zipf:1.1");
  for (LazyNoiseMode mode : {LazyNoiseMode::aggregated, LazyNoiseMode::exact})
    for (NoiseSource src : {NoiseSource::gaussian, NoiseSource::ones, NoiseSource::zero}) {
      auto cfg = algo(AlgorithmKind::lazydp, 0.8, 0.5, src);
      cfg.lazydp.noise = mode;
      expect_model_equals_kernels(w, cfg, 5);
    }
}

// adafest's selection is random under Gaussian noise; with the deterministic sources it is not,
// and the model's counts must then be exact. Thresholds chosen so some touched rows pass and
// some do not (ones: count + 1 >= tau), none pass, or every row of every table passes.
TEST(WorkModel, EqualsKernelCountersForAdaFestWhenSelectionIsDeterministic) {
  const Workload w = small_workload(16, "zipf:1.1");
  for (double tau : {1.5, 2.2, 1e30, -1e30})
    for (NoiseSource src : {NoiseSource::ones, NoiseSource::zero}) {
      auto cfg = algo(AlgorithmKind::adafest, 0.8, 0.5, src);
      cfg.adafest.tau = tau;
      cfg.adafest.c1 = 1.0;
      SCOPED_TRACE("tau " + std::to_string(tau));
      expect_model_equals_kernels(w, cfg, 3);
    }
}

// dp-fest's fixed rows come from a noisy histogram; with zero noise, or the same noise on every row,
// they are the k rows of largest clipped count, and the model's choice (and so every counter of the
// setup and of every step) must be exact. k from none, through some, to more than a table holds.
TEST(WorkModel, EqualsKernelCountersForDpFestWhenTheChoiceIsDeterministic) {
  const Workload w = small_workload(16, "zipf:1.1");
  for (int64_t k : {0, 3, 40, 1000000})
    for (NoiseSource src : {NoiseSource::ones, NoiseSource::zero}) {
      auto cfg = algo(AlgorithmKind::dp_fest, 0.8, 0.5, src);
      cfg.fest.k = k;
      SCOPED_TRACE("k " + std::to_string(k));
      expect_model_equals_kernels(w, cfg, 3);
    }
}

// REFERENCE.md section 2: dense-noise DP-SGD grows linearly with table bytes; sgd and lazydp do
// not. Modeled on the H100 preset for tables 1000x, 10000x and 100000x the tiny preset's.
TEST(TimeModel, DenseNoiseGrowsWithTableBytesSgdAndLazyDpStayFlat) {
  const auto h = sim::load_hardware_profile("h100-sxm");
  auto modeled = [&](AlgorithmKind k, double scale) {
    Workload w = small_workload(256);
    w.scale_tables(scale * 1000);
    SyntheticTrace trace(w, 3);
    return sim::simulate(w, algo(k, 0.8, 0.5), trace, h, 3);
  };
  // step = fixed + slope x table bytes: for tables 1, 10 and 100 units, (c - b) / (b - a) = 10.
  const auto fa = modeled(AlgorithmKind::dpsgd_f, 1), fb = modeled(AlgorithmKind::dpsgd_f, 10),
             fc = modeled(AlgorithmKind::dpsgd_f, 100);
  const double growth = fc.step_ms - fa.step_ms;
  EXPECT_NEAR((fc.step_ms - fb.step_ms) / (fb.step_ms - fa.step_ms), 10.0, 0.2);
  EXPECT_GT(growth, fa.step_ms) << "the dense update dominates at 100 units";
  for (AlgorithmKind k : {AlgorithmKind::sgd, AlgorithmKind::lazydp}) {
    const auto a = modeled(k, 1), c = modeled(k, 100);
    // Batch-bound: 100x the table moves the step by under 5% of what it moves dpsgd-f's.
    EXPECT_LT(std::abs(c.step_ms - a.step_ms), 0.05 * growth) << algorithm_info(k).name << " " << a.step_ms << " -> " << c.step_ms;
  }
}
