// Error metrics and the calibration fit, on numbers whose answers are known exactly.
#include <gtest/gtest.h>

#include "sim/calibration.hpp"
#include "sim/error_metrics.hpp"
#include "sim/hardware_profile.hpp"

using namespace privrec;
using namespace privrec::sim;

TEST(ErrorMetrics, MedianWorstPearsonShare) {
  const std::vector<double> measured = {10, 20, 40, 80};
  const std::vector<double> modeled = {11, 18, 40, 100};  // +10 %, -10 %, 0 %, +25 %
  const ErrorSummary s = summarize_errors(measured, modeled);
  EXPECT_EQ(s.pairs, 4);
  EXPECT_NEAR(s.median_abs_pct, 10.0, 1e-12);
  EXPECT_NEAR(s.worst_abs_pct, 25.0, 1e-12);
  EXPECT_NEAR(s.share_within_10pct, 0.75, 1e-12);
  const ErrorSummary linear = summarize_errors({1, 2, 3, 4}, {3, 5, 7, 9});  // modeled = 2 x + 1
  EXPECT_NEAR(linear.pearson, 1.0, 1e-12);
  EXPECT_NEAR(error_pct(50, 40), -20.0, 1e-12);
}

namespace {
StageObservation obs(Stage s, double roof_ms, double measured_ms) {
  StageObservation o;
  o.stage = s;
  o.measured_ms = measured_ms;
  o.modeled.memory_ms = roof_ms;
  o.modeled.overhead_ms = 0.1;
  return o;
}
}  // namespace

TEST(Calibration, RecoversEfficiencyAndFixedCostExactly) {
  // measured = 1.5 roof + 2 + 0.1 (the modeled overhead): the fit must return 1.5 and 2.
  std::vector<StageObservation> o;
  for (double r : {10.0, 40.0, 90.0, 300.0, 500.0}) o.push_back(obs(Stage::bwd_emb, r, 1.5 * r + 2.0 + 0.1));
  EXPECT_EQ(fit_stages(o).efficiency.count("bwd.emb:memory"), 0u) << "one bound only: no per-bound key";
  // Fewer than five cases: a pure ratio through the origin (a slope and an intercept would chase noise).
  o.push_back(obs(Stage::update_mlp, 10.0, 20.1));
  o.push_back(obs(Stage::update_mlp, 20.0, 40.1));
  // One case only: a pure ratio, no fixed cost.
  o.push_back(obs(Stage::fwd_emb, 10.0, 25.1));
  // A negative intercept is refused: fitted as a ratio through the origin instead.
  for (double r : {10.0, 20.0}) o.push_back(obs(Stage::dp_norm, r, 3.0 * r - 5.0 + 0.1));
  const StageFit f = fit_stages(o);
  EXPECT_NEAR(f.efficiency.at("bwd.emb"), 1.5, 1e-9);
  EXPECT_NEAR(f.fixed_ms.at("bwd.emb"), 2.0, 1e-9);
  EXPECT_NEAR(f.efficiency.at("fwd.emb"), 2.5, 1e-12);
  EXPECT_EQ(f.fixed_ms.at("fwd.emb"), 0.0);
  EXPECT_EQ(f.fixed_ms.at("dp.norm"), 0.0);
  EXPECT_NEAR(f.efficiency.at("update.mlp"), 2.0, 1e-12);
  EXPECT_EQ(f.fixed_ms.at("update.mlp"), 0.0);
  EXPECT_GT(f.efficiency.at("dp.norm"), 2.0);
  EXPECT_LT(f.efficiency.at("dp.norm"), 3.0);
}

TEST(Calibration, AStageThatHitsTwoBoundsGetsAnEfficiencyPerBound) {
  // One fixed cost for the stage (0.5 ms), an efficiency per bound: recovered exactly.
  std::vector<StageObservation> o;
  for (double r : {2.0, 4.0, 6.0}) o.push_back(obs(Stage::dp_update, r, 3.0 * r + 0.5 + 0.1));  // memory-bound cases
  for (double r : {5.0, 7.0, 9.0}) {
    StageObservation x = obs(Stage::dp_update, 0.0, 1.2 * r + 0.5 + 0.1);
    x.modeled.rng_ms = r;  // RNG-bound cases
    o.push_back(x);
  }
  const StageFit f = fit_stages(o);
  EXPECT_NEAR(f.efficiency.at("dp.update:memory"), 3.0, 1e-9);
  EXPECT_NEAR(f.efficiency.at("dp.update:rng"), 1.2, 1e-9);
  EXPECT_NEAR(f.fixed_ms.at("dp.update:rng"), 0.5, 1e-9);
  EXPECT_NEAR(f.fixed_ms.at("dp.update"), 0.5, 1e-9);
  HardwareProfile h = load_hardware_profile("h100-sxm");
  h.stage_efficiency = f.efficiency;
  h.stage_fixed_ms = f.fixed_ms;
  WorkCounters w;
  w.rng_samples = static_cast<uint64_t>(h.device.rng_normals_per_s / 1000);  // 1 ms of sampling
  const StageTime t = stage_time(Stage::dp_update, w, 0, h, 0);
  EXPECT_NEAR(t.ms, 1.2 * 1.0 + 0.5, 1e-9);
}

TEST(Calibration, AFixedCostIsNeverMoreThanAQuarterOfTheShortestCase) {
  // Long cases whose line would cross zero at 30 ms: that intercept cannot be told apart from a
  // steeper slope, and applied to a 2 ms stage it would be absurd. It is held at a quarter of the
  // shortest case (here 0.25 x 40 = 10 ms) and the efficiency refitted around it.
  std::vector<StageObservation> o;
  for (double r : {10.0, 20.0, 40.0, 60.0, 80.0}) o.push_back(obs(Stage::bwd_emb, r, r + 30.0 + 0.1));
  const StageFit f = fit_stages(o);
  EXPECT_NEAR(f.fixed_ms.at("bwd.emb"), 10.0, 1e-6);
  EXPECT_GT(f.efficiency.at("bwd.emb"), 1.0);
  // Four cases: no fixed cost at all.
  o.pop_back();
  EXPECT_EQ(fit_stages(o).fixed_ms.at("bwd.emb"), 0.0);
}

TEST(Calibration, CombinesTermsByTheOverlapFraction) {
  EXPECT_DOUBLE_EQ(combine_terms(3, 1, 2, 1.0), 3.0);   // full overlap: the roofline
  EXPECT_DOUBLE_EQ(combine_terms(3, 1, 2, 0.0), 6.0);   // none: the sum
  EXPECT_DOUBLE_EQ(combine_terms(3, 1, 2, 0.25), 5.25); // 3 + 0.75 x 3
}

TEST(Calibration, FindsTheOverlapThatGeneratedTheData) {
  // Stages whose measured time is exactly their terms combined at overlap 0.3 (efficiency 1, no
  // fixed cost): the search must pick 0.3 and reproduce every observation.
  std::vector<StageObservation> o;
  const Stage stages[] = {Stage::dp_update, Stage::lazydp_catchup, Stage::fwd_emb};
  for (int i = 0; i < 12; ++i) {
    StageObservation x;
    x.stage = stages[i % 3];
    x.modeled.memory_ms = 1.0 + i;
    x.modeled.rng_ms = 0.5 + 0.7 * ((i * 5) % 7);
    x.modeled.compute_ms = 0.2 * (i % 4);
    x.measured_ms = combine_terms(x.modeled.memory_ms, x.modeled.compute_ms, x.modeled.rng_ms, 0.3);
    o.push_back(x);
  }
  const StageFit f = fit_calibration(o);
  EXPECT_NEAR(f.overlap_fraction, 0.3, 1e-9);
  EXPECT_NEAR(f.median_abs_error_pct, 0.0, 1e-9);
  EXPECT_GT(fit_stages(o, 1.0).median_abs_error_pct, 1.0);  // the pure roofline cannot fit it
}
