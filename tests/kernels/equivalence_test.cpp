// The algorithms agree with each other exactly as the math says they must.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/cpu/adafest_selection.hpp"
#include "kernels/cpu/fest_selection.hpp"
#include "kernels/model_io.hpp"
#include "tests/test_helpers.hpp"

using namespace privrec;
using test::algo;
using test::small_workload;
using test::train;

namespace {
// Largest difference relative to the tensor's scale, over every tensor.
double max_rel(const cpu::DlrmModel& a, const cpu::DlrmModel& b) { return diff_models(a, b).back().max_rel_diff; }
constexpr int kSteps = 6;
// Float rounding: a few ulps per operation over kSteps steps of sums of up to a few hundred terms.
constexpr double kRounding = 2e-5;
}  // namespace

TEST(Equivalence, SgdEqualsDpsgdBWithoutNoiseOrClipping) {
  const Workload w = small_workload(8);
  const auto sgd = train(w, algo(AlgorithmKind::sgd, 0, INFINITY), kSteps);
  const auto b = train(w, algo(AlgorithmKind::dpsgd_b, 0, INFINITY), kSteps);
  EXPECT_LT(max_rel(sgd, b), kRounding);
}

TEST(Equivalence, DpsgdBRFAgreeWithClippingActive) {
  for (const char* dist : {"uniform", "zipf:1.5"}) {  // zipf puts duplicate rows in bags
    const Workload w = small_workload(8, dist);
    const auto cfg_b = algo(AlgorithmKind::dpsgd_b, 0, 0.05);
    std::vector<StepRecord> recs;
    const auto b = train(w, cfg_b, kSteps, nullptr, &recs);
    EXPECT_GT(recs[0].extras["clipped_fraction"].get<double>(), 0.5) << "clipping must be active for this test";
    const auto r = train(w, algo(AlgorithmKind::dpsgd_r, 0, 0.05), kSteps);
    const auto f = train(w, algo(AlgorithmKind::dpsgd_f, 0, 0.05), kSteps);
    EXPECT_LT(max_rel(b, r), kRounding) << dist;
    EXPECT_LT(max_rel(b, f), kRounding) << dist;
    // Clipping changes the model: the comparison above is not vacuous.
    EXPECT_GT(max_rel(b, train(w, algo(AlgorithmKind::sgd, 0, INFINITY), kSteps)), 1e-3);
  }
}

TEST(Equivalence, LazyDpEqualsDpsgdFAfterTheFlush) {
  for (const char* dist : {"uniform", "zipf:1.2"}) {
    const Workload w = small_workload(8, dist);
    struct Case {
      NoiseSource noise;
      LazyNoiseMode mode;
    };
    for (const Case c : {Case{NoiseSource::ones, LazyNoiseMode::aggregated}, Case{NoiseSource::ones, LazyNoiseMode::exact},
                         Case{NoiseSource::gaussian, LazyNoiseMode::exact}}) {
      auto f_cfg = algo(AlgorithmKind::dpsgd_f, 0.7, 0.5, c.noise);
      auto l_cfg = algo(AlgorithmKind::lazydp, 0.7, 0.5, c.noise);
      f_cfg.lr_decay = l_cfg.lr_decay = 0.9;  // a changing lr: pending noise must use each step's scale
      l_cfg.lazydp.noise = c.mode;
      const auto f = train(w, f_cfg, kSteps);
      const auto l = train(w, l_cfg, kSteps);
      EXPECT_LT(max_rel(f, l), kRounding) << dist << " noise " << noise_source_name(c.noise) << " "
                                          << lazy_noise_mode_name(c.mode);
      // Without the noise, the models differ by far more than rounding: the noise is really there.
      EXPECT_GT(max_rel(f, train(w, algo(AlgorithmKind::dpsgd_f, 0.0, 0.5), kSteps)), 1e-2);
    }
  }
}

TEST(Equivalence, LazyDpWithoutFlushIsNotDpsgdF) {
  // The same run stopped before the flush leaves rows owing noise: it must differ.
  const Workload w = small_workload(8);
  const auto f = train(w, algo(AlgorithmKind::dpsgd_f, 0.7, 0.5, NoiseSource::ones), kSteps);
  cpu::DlrmModel m = cpu::DlrmModel::create(w, 11);
  auto lazy = cpu::make_trainer(m, algo(AlgorithmKind::lazydp, 0.7, 0.5, NoiseSource::ones));
  SyntheticTrace trace(w, 3);
  for (int t = 1; t <= kSteps; ++t) {
    const Batch b = trace.batch(t - 1), n = trace.batch(t);
    StepRecord rec;
    lazy->step(t, b, t < kSteps ? &n : nullptr, rec);
  }
  EXPECT_GT(max_rel(f, m), 1e-2);
}

TEST(Equivalence, AdaFestSelectingEverythingIsDpsgdF) {
  const Workload w = small_workload(8);
  auto a = algo(AlgorithmKind::adafest, 0.7, 0.5);
  a.adafest.tau = -1e30;  // every row passes the threshold
  std::vector<StepRecord> recs;
  const auto ma = train(w, a, kSteps, nullptr, &recs);
  const auto mf = train(w, algo(AlgorithmKind::dpsgd_f, 0.7, 0.5), kSteps);
  EXPECT_LT(max_rel(ma, mf), kRounding);
  EXPECT_EQ(recs[0].extras["false_positive_rows"].get<int64_t>(), recs[0].extras["untouched_rows"].get<int64_t>());
}

TEST(AdaFest, FalsePositivesMatchTheirBinomialExpectation) {
  Workload w = small_workload(8);
  w.tables[0].rows = 200000;
  auto cfg = algo(AlgorithmKind::adafest, 1.0, 1.0);
  cfg.adafest.tau = 2.5;  // p = Q(2.5) = 0.00621
  const double p = cfg.zero_count_selection_probability();
  EXPECT_NEAR(p, 0.0062096653, 1e-9);
  SyntheticTrace trace(w, 3);
  double fp = 0, trials = 0;
  for (int step = 1; step <= 20; ++step) {
    WorkCounters work;
    std::vector<int64_t> rows;
    for (const auto& t : w.tables) rows.push_back(t.rows);
    const auto sel = cpu::adafest_select(trace.batch(step), rows, cfg, step, work);
    fp += sel.false_positives;
    trials += sel.untouched;
    // Geometric skipping: RNG work is O(touched + false positives), not O(rows).
    EXPECT_LT(work.rng_samples, static_cast<uint64_t>(3 * (sel.touched + 3 * sel.false_positives + 10)));
  }
  const double mean = trials * p, sd = std::sqrt(trials * p * (1 - p));
  EXPECT_NEAR(fp, mean, 5 * sd) << "trials " << trials;
}

TEST(AdaFest, RowsNeitherTouchedNorSelectedAreNeverWritten) {
  const Workload w = small_workload(8);
  auto cfg = algo(AlgorithmKind::adafest, 1.0, 1.0);
  cfg.adafest.tau = 1e30;  // nothing is selected
  const cpu::DlrmModel before = cpu::DlrmModel::create(w, 11);
  std::vector<StepRecord> recs;
  const auto after = train(w, cfg, 3, nullptr, &recs);
  for (size_t t = 0; t < w.tables.size(); ++t)
    for (int64_t i = 0; i < w.tables[t].rows * w.tables[t].dim; ++i)
      ASSERT_EQ(before.tables[t].weights[i], after.tables[t].weights[i]) << "table " << t;
  for (int s = 0; s < 3; ++s) {
    const auto& upd = recs[s].work[static_cast<size_t>(Stage::dp_update)];
    EXPECT_EQ(upd.rows_written_rand, 0u);
    EXPECT_EQ(upd.bytes_written_seq + upd.bytes_written_rand, 0u);
  }
}

// dp-fest with a set that holds every row updates every row with its noise every step: dpsgd-f.
TEST(Equivalence, DpFestKeepingEveryRowIsDpsgdF) {
  for (const char* dist : {"uniform", "zipf:1.2"}) {
    const Workload w = small_workload(8, dist);
    auto d = algo(AlgorithmKind::dp_fest, 0.7, 0.5);
    d.fest.k = 1 << 30;
    const auto md = train(w, d, kSteps);
    const auto mf = train(w, algo(AlgorithmKind::dpsgd_f, 0.7, 0.5), kSteps);
    EXPECT_LT(max_rel(md, mf), kRounding) << dist;
  }
}

// Rows outside the fixed set are never written, not by the gradient and not by noise; rows inside
// are (every step adds noise to each of them).
TEST(DpFest, RowsOutsideTheFixedSetAreNeverWritten) {
  const Workload w = small_workload(8, "zipf:1.1");
  auto cfg = algo(AlgorithmKind::dp_fest, 1.0, 1.0);
  cfg.fest.k = 7;
  const int64_t steps = 3;
  const cpu::DlrmModel before = cpu::DlrmModel::create(w, 11);
  const auto after = train(w, cfg, steps);
  SyntheticTrace trace(w, 3);  // the trace test::train uses
  std::vector<int64_t> rows;
  for (const auto& t : w.tables) rows.push_back(t.rows);
  WorkCounters work;
  const auto set = cpu::choose_fixed_rows(contribution_histogram(trace, steps, cfg.fest.c1), rows, cfg, work);
  for (size_t t = 0; t < w.tables.size(); ++t) {
    ASSERT_EQ(set[t].size(), 7u);
    const int64_t d = w.tables[t].dim;
    for (int64_t r = 0; r < w.tables[t].rows; ++r) {
      const bool kept = std::binary_search(set[t].begin(), set[t].end(), r);
      const bool changed = !std::equal(before.tables[t].weights.data() + r * d, before.tables[t].weights.data() + (r + 1) * d,
                                       after.tables[t].weights.data() + r * d);
      ASSERT_EQ(changed, kept) << "table " << t << " row " << r;
    }
  }
}

TEST(Training, LossFallsOnPlantedSignal) {
  Workload w = small_workload(32);
  for (AlgorithmKind k : {AlgorithmKind::sgd, AlgorithmKind::dpsgd_b, AlgorithmKind::dpsgd_r, AlgorithmKind::dpsgd_f,
                          AlgorithmKind::eana, AlgorithmKind::lazydp, AlgorithmKind::adafest, AlgorithmKind::dp_fest}) {
    auto cfg = algo(k, k == AlgorithmKind::sgd ? 0.0 : 0.3, k == AlgorithmKind::sgd ? INFINITY : 1.0);
    cfg.lr = 0.2;
    cfg.adafest.tau = 0.5;
    std::vector<double> losses;
    train(w, cfg, 150, &losses);
    double first = 0, last = 0;
    for (int i = 0; i < 25; ++i) first += losses[i], last += losses[losses.size() - 1 - i];
    EXPECT_LT(last / 25, first / 25 - 0.05) << algorithm_info(k).name << ": " << first / 25 << " -> " << last / 25;
  }
}
