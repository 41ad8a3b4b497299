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

// A stage measured at or below its modeled overheads in every case leaves nothing to fit: it gets
// no key (the model prices it at efficiency 1) and the fit names it, as does calibrate's warning; a
// stage with one usable case among unusable ones is fitted, and a stage never run (0 ms) is neither.
TEST(Calibration, NamesTheStagesItCouldNotFit) {
  std::vector<StageObservation> o;
  for (double roof : {1.0, 2.0, 3.0}) o.push_back(obs(Stage::fwd_mlp, roof, 1.5 * roof + 0.1));
  for (double roof : {1.0, 2.0}) o.push_back(obs(Stage::update_mlp, roof, 0.05));  // below the 0.1 ms overhead
  o.push_back(obs(Stage::dp_update, 1.0, 0.1));                                   // at it
  o.push_back(obs(Stage::bwd_mlp, 1.0, 0.05));
  o.push_back(obs(Stage::bwd_mlp, 1.0, 2.0));  // one usable case
  o.push_back(obs(Stage::dp_clip, 1.0, 0.0));  // not run
  for (const StageFit& fit : {fit_stages(o), fit_calibration(o)}) {
    EXPECT_EQ(fit.unfitted, (std::vector<std::string>{"dp.update", "update.mlp"}));
    EXPECT_FALSE(fit.efficiency.count("update.mlp"));
    EXPECT_TRUE(fit.efficiency.count("bwd.mlp"));
    EXPECT_NEAR(fit.efficiency.at("fwd.mlp"), 1.5, 1e-9);
    EXPECT_EQ(unfitted_warning(fit),
              "warning: dp.update, update.mlp have no fit (measured at or below the modeled overheads and link time, "
              "or with no modeled work, in every case): the model prices them at efficiency 1 with no fixed cost");
  }
  o.resize(3);
  EXPECT_TRUE(fit_stages(o).unfitted.empty());
  EXPECT_EQ(unfitted_warning(fit_stages(o)), "");
}

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

// What the kernels send up themselves crosses the link at its rate, with its latency, on a
// profile that describes a link (alone, as calibrate writes one, or with a host); a launch cost
// adds per launch. A profile without a link prices the upload at nothing.
TEST(Calibration, PricesTheBatchUploadAtTheLinkAndALaunchCostPerLaunch) {
  HardwareProfile h = load_hardware_profile("h100-sxm");
  h.host.reset();
  h.link_GBps = 20, h.link_latency_us = 15;
  const HardwareProfile parsed = parse_hardware_profile(h.to_json(), "link-alone.json");
  EXPECT_FALSE(parsed.host);
  EXPECT_EQ(parsed.link_GBps, 20.0);
  EXPECT_EQ(parsed.link_latency_us, 15.0);
  WorkCounters w;
  w.host_link_bytes = 40'000'000;  // 2 ms at 20 GB/s
  w.launches = 10;
  StageTime t = stage_time(Stage::fwd_emb, w, 0, parsed, 0);
  EXPECT_NEAR(t.link_ms, 2.0 + 0.015, 1e-12);
  const double overhead = t.overhead_ms;
  HardwareProfile with_launch = parsed;
  with_launch.stage_launch_us["fwd.emb"] = 7.0;
  t = stage_time(Stage::fwd_emb, w, 0, with_launch, 0);
  EXPECT_NEAR(t.overhead_ms - overhead, 10 * 7.0e-3, 1e-12);
  HardwareProfile no_link = parsed;
  no_link.link_GBps = 0;
  EXPECT_EQ(stage_time(Stage::fwd_emb, w, 0, no_link, 0).link_ms, 0.0);
  // Tables in host memory, their stages on the host: the ids never go up; the pooled bytes do.
  HardwareProfile host_tables = load_hardware_profile("h100-sxm");
  host_tables.tables_in = "host";
  const StageTime on_host = stage_time(Stage::fwd_emb, w, 1'000'000, host_tables, 0);
  EXPECT_NEAR(on_host.link_ms, 1e3 * 1e6 / (host_tables.link_GBps * 1e9) + 1e-3 * host_tables.link_latency_us, 1e-12);
  // A stage with no work costs nothing, calibrated fixed costs included.
  HardwareProfile fixed = parsed;
  fixed.stage_fixed_ms["dp.update"] = 1.5;
  EXPECT_EQ(stage_time(Stage::dp_update, WorkCounters{}, 0, fixed, 0).ms, 0.0);
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

TEST(Calibration, GivesEachStageTheOverlapThatGeneratedItsData) {
  // bwd.emb's terms add up (overlap 0), dp.update's overlap fully (1), fwd.mlp's at 0.4: with
  // kOwnOverlapCases observations each, every stage gets its own and the fit reproduces them all;
  // a stage with fewer observations (update.mlp, below) keeps the fit's overall fraction.
  std::vector<StageObservation> o;
  const std::pair<Stage, double> truth[] = {{Stage::bwd_emb, 0.0}, {Stage::dp_update, 1.0}, {Stage::fwd_mlp, 0.4}};
  for (const auto& [stage, overlap] : truth)
    for (size_t i = 0; i < kOwnOverlapCases; ++i) {
      StageObservation x;
      x.stage = stage;
      x.modeled.memory_ms = 1.0 + static_cast<double>(i);
      x.modeled.compute_ms = 0.3 + 0.9 * static_cast<double>((i * 5) % 7);
      x.modeled.rng_ms = 0.1 * static_cast<double>(i % 3);
      x.measured_ms = combine_terms(x.modeled.memory_ms, x.modeled.compute_ms, x.modeled.rng_ms, overlap);
      o.push_back(x);
    }
  StageObservation few;
  few.stage = Stage::update_mlp;
  few.modeled.memory_ms = 2.0, few.modeled.compute_ms = 1.0, few.measured_ms = 2.0;
  o.push_back(few);
  const StageFit f = fit_calibration(o);
  for (const auto& [stage, overlap] : truth) {
    ASSERT_TRUE(f.overlap.count(stage_name(stage))) << stage_name(stage);
    EXPECT_NEAR(f.overlap.at(stage_name(stage)), overlap, 1e-9) << stage_name(stage);
  }
  EXPECT_EQ(f.overlap.count("update.mlp"), 0u);
  EXPECT_NEAR(f.median_abs_error_pct, 0.0, 1e-9);
  // Repeats of a case count once: the same observations as half as many cases, each run twice,
  // are too few for a stage's own overlap.
  std::vector<StageObservation> repeated = o;
  for (size_t k = 0; k + 1 < repeated.size(); ++k) repeated[k].case_id = static_cast<int64_t>(k % kOwnOverlapCases / 2);
  EXPECT_TRUE(fit_calibration(repeated).overlap.empty());
  // One fraction for all cannot reproduce them.
  for (int k = 0; k <= 20; ++k) EXPECT_GT(fit_stages(o, 0.05 * k).median_abs_error_pct, 0.0) << k;
}

TEST(Calibration, TheTimeModelCombinesAStagesTermsAtItsOwnOverlap) {
  HardwareProfile h = load_hardware_profile("h100-sxm");
  h.device.overlap_fraction = 1.0;
  h.stage_overlap["fwd.mlp"] = 0.0;
  WorkCounters w;
  w.bytes_read_seq = 1ull << 30, w.gemm_flops = w.flops = 1ull << 40;
  for (const Stage s : {Stage::fwd_mlp, Stage::bwd_mlp}) {
    const StageTime t = stage_time(s, w, 0, h, 0);
    ASSERT_GT(t.memory_ms, 0.0);
    ASSERT_GT(t.compute_ms, 0.0);
    const double expected = s == Stage::fwd_mlp ? t.memory_ms + t.compute_ms + t.rng_ms  // its own: none
                                                : std::max({t.memory_ms, t.compute_ms, t.rng_ms});  // the device's
    EXPECT_DOUBLE_EQ(t.roofline_ms, expected) << stage_name(s);
  }
}

// --- Memory levels from a footprint curve ------------------------------------------------------

namespace {
// Two caches (2 and 32 MB) in front of memory, with bandwidths by row size that fall with distance.
ProcessorProfile two_cache_processor() {
  ProcessorProfile p;
  p.memory_GB = 24;
  p.random_GBps_by_row_B = {{64, 4.0}, {128, 7.0}, {256, 9.0}, {512, 10.0}};
  p.random_GBps = 7.0;
  CacheLevel l2{"L2", 2.0, 150, 40, {{64, 25.0}, {128, 40.0}, {256, 55.0}, {512, 60.0}}};
  CacheLevel l3{"L3", 32.0, 100, 20, {{64, 12.0}, {128, 20.0}, {256, 26.0}, {512, 30.0}}};
  p.caches = {l2, l3};
  return p;
}

// The curve the model itself predicts for `p` at these footprints (every row size of p's memory).
std::vector<FootprintPoint> model_curve(const ProcessorProfile& p, const std::vector<double>& footprints_MB) {
  std::vector<FootprintPoint> curve;
  for (double f : footprints_MB)
    for (const auto& [row, gbps] : p.random_GBps_by_row_B) curve.push_back({f, row, uniform_gather_GBps(p, f, row)});
  return curve;
}

std::vector<CacheLevel> sizes_only(const ProcessorProfile& p) {
  std::vector<CacheLevel> c = p.caches;
  for (auto& l : c) l.random_GBps = 0, l.random_GBps_by_row_B.clear();
  return c;
}

void expect_rel(double got, double want, double tol) { EXPECT_NEAR(got / want, 1.0, tol) << got << " vs " << want; }
}  // namespace

TEST(FootprintFit, SharesOfUniformAccessAreTheCapacitiesOverTheFootprint) {
  const ProcessorProfile p = two_cache_processor();
  const std::vector<double> in_l2 = uniform_access_shares(p.caches, 1.0);  // all in L2
  EXPECT_EQ(in_l2, (std::vector<double>{1.0, 0.0, 0.0}));
  const std::vector<double> s16 = uniform_access_shares(p.caches, 16.0);  // L2 2/16, L3 the rest
  EXPECT_DOUBLE_EQ(s16[0], 0.125);
  EXPECT_DOUBLE_EQ(s16[1], 0.875);
  EXPECT_DOUBLE_EQ(s16[2], 0.0);
  const std::vector<double> s64 = uniform_access_shares(p.caches, 64.0);  // 2/64, 30/64, 32/64
  EXPECT_DOUBLE_EQ(s64[0], 2.0 / 64);
  EXPECT_DOUBLE_EQ(s64[1], 30.0 / 64);
  EXPECT_DOUBLE_EQ(s64[2], 0.5);
  // 1 / t(F) with t = sum of share / bandwidth, at 128 B rows: 64 MB -> 1 / (2/64/40 + 30/64/20 + 32/64/7).
  EXPECT_NEAR(uniform_gather_GBps(p, 64.0, 128), 1.0 / (2.0 / 64 / 40 + 30.0 / 64 / 20 + 0.5 / 7), 1e-12);
  EXPECT_DOUBLE_EQ(uniform_gather_GBps(p, 0.5, 256), 55.0);
  // The memory figure that reproduces a gather measured over 1024 MB, caches kept: the model's own
  // prediction gives memory's figure back; a slower measurement, memory slower by what is left.
  const double at_1024 = uniform_gather_GBps(p, 1024.0, 128);
  EXPECT_NEAR(level_random_GBps_matching(p, 2, 1024.0, 128, at_1024), 7.0, 1e-12);
  const double m = level_random_GBps_matching(p, 2, 1024.0, 128, 5.0);
  EXPECT_NEAR(1.0 / (2.0 / 1024 / 40 + 30.0 / 1024 / 20 + (1 - 32.0 / 1024) / m), 5.0, 1e-12);
  EXPECT_EQ(level_random_GBps_matching(ProcessorProfile{}, 0, 1024.0, 128, 5.0), 5.0);  // memory alone: as measured
  // L3 from a gather over 8 MB (L2 2/8, L3 6/8): the figure that, with L2's 40, gives 25 GB/s.
  const double l3 = level_random_GBps_matching(p, 1, 8.0, 128, 25.0);
  EXPECT_NEAR(1.0 / (0.25 / 40 + 0.75 / l3), 25.0, 1e-12);
  EXPECT_EQ(level_random_GBps_matching(p, 0, 0.5, 128, 33.0), 33.0);  // L2 serves everything at 0.5 MB
}

TEST(FootprintFit, RecoversTheBandwidthsThatGeneratedTheCurveExactly) {
  const ProcessorProfile p = two_cache_processor();
  const auto curve = model_curve(p, {0.5, 1, 2, 4, 8, 16, 24, 32, 48, 64, 128, 256, 1073.741824});
  const LevelFit f = fit_memory_levels(curve, sizes_only(p));
  ASSERT_EQ(f.caches.size(), 2u);
  for (size_t l = 0; l < 2; ++l) {
    EXPECT_EQ(f.caches[l].name, p.caches[l].name);
    EXPECT_EQ(f.caches[l].capacity_MB, p.caches[l].capacity_MB);
    EXPECT_EQ(f.caches[l].stream_GBps, p.caches[l].stream_GBps);  // given, kept
    ASSERT_EQ(f.caches[l].random_GBps_by_row_B.size(), 4u);
    for (size_t r = 0; r < 4; ++r) {
      EXPECT_EQ(f.caches[l].random_GBps_by_row_B[r].first, p.caches[l].random_GBps_by_row_B[r].first);
      expect_rel(f.caches[l].random_GBps_by_row_B[r].second, p.caches[l].random_GBps_by_row_B[r].second, 1e-9);
    }
    expect_rel(f.caches[l].random_GBps, p.caches[l].random_GBps, 1e-9);  // the 128 B figure
  }
  ASSERT_EQ(f.memory_random_GBps_by_row_B.size(), 4u);
  for (size_t r = 0; r < 4; ++r) expect_rel(f.memory_random_GBps_by_row_B[r].second, p.random_GBps_by_row_B[r].second, 1e-9);
  expect_rel(f.memory_random_GBps, 7.0, 1e-9);
  EXPECT_LT(f.median_abs_error_pct, 1e-9);
  EXPECT_TRUE(f.notes.empty());
}

// With a miss-cost curve, memory's share of each footprint weighs by the curve at that share: the
// fit given the same curve recovers the bandwidths exactly, and a footprint just past the caches
// (few, sparse misses) reads slower than the rates alone say.
TEST(FootprintFit, RecoversTheBandwidthsUnderAMissCostCurveExactly) {
  ProcessorProfile p = two_cache_processor();
  p.memory_miss_cost.by_row_B = {{64, {{0.05, 12.0}, {0.5, 2.0}, {1.0, 1.0}}}, {512, {{0.05, 3.0}, {1.0, 1.0}}}};
  const std::vector<double> w = uniform_access_weights(p.caches, p.memory_miss_cost, 64.0, 64);
  EXPECT_DOUBLE_EQ(w[2], 0.5 * 2.0);  // memory's share 32/64, factor 2 at a half
  ProcessorProfile plain = p;
  plain.memory_miss_cost = {};
  EXPECT_LT(uniform_gather_GBps(p, 36.0, 128), uniform_gather_GBps(plain, 36.0, 128));
  expect_rel(uniform_gather_GBps(p, 1e12, 128), uniform_gather_GBps(plain, 1e12, 128), 1e-9);  // all miss: factor 1
  const auto curve = model_curve(p, {0.5, 1, 2, 4, 8, 16, 24, 32, 36, 48, 64, 128, 256, 1073.741824});
  const LevelFit f = fit_memory_levels(curve, sizes_only(p), p.memory_miss_cost);
  for (size_t r = 0; r < 4; ++r) {
    expect_rel(f.memory_random_GBps_by_row_B[r].second, p.random_GBps_by_row_B[r].second, 1e-9);
    for (size_t l = 0; l < 2; ++l)
      expect_rel(f.caches[l].random_GBps_by_row_B[r].second, p.caches[l].random_GBps_by_row_B[r].second, 1e-9);
  }
  EXPECT_LT(f.median_abs_error_pct, 1e-9);
  // Fitted without the curve, the same points cannot be reproduced.
  EXPECT_GT(fit_memory_levels(curve, sizes_only(p)).median_abs_error_pct, 1.0);
}

TEST(FootprintFit, CachesTheCurveCannotSeparateShareOneBandwidth) {
  // Every footprint beyond both caches: L2's and L3's shares are 2/F and 30/F at every point, so
  // only their sum of times is seen. L3 is merged with L2 (one bandwidth for both, fitted over
  // both) and a note says so; memory is still exact, and the curve is reproduced exactly.
  ProcessorProfile p = two_cache_processor();
  const auto far = model_curve(p, {48, 64, 128, 256, 1024});
  const LevelFit f = fit_memory_levels(far, sizes_only(p));
  for (size_t r = 0; r < 4; ++r) {
    EXPECT_EQ(f.caches[0].random_GBps_by_row_B[r].second, f.caches[1].random_GBps_by_row_B[r].second);
    expect_rel(f.memory_random_GBps_by_row_B[r].second, p.random_GBps_by_row_B[r].second, 1e-9);
  }
  EXPECT_LT(f.median_abs_error_pct, 1e-9);
  ASSERT_EQ(f.notes.size(), 4u);  // one per row size
  EXPECT_NE(f.notes[0].find("does not separate L3 from L2"), std::string::npos) << f.notes[0];
  // Where the two caches truly have one bandwidth, that bandwidth is recovered exactly.
  p.caches[1].random_GBps_by_row_B = p.caches[0].random_GBps_by_row_B;
  const LevelFit same = fit_memory_levels(model_curve(p, {48, 64, 128, 256, 1024}), sizes_only(p));
  for (size_t r = 0; r < 4; ++r) {
    expect_rel(same.caches[1].random_GBps_by_row_B[r].second, p.caches[0].random_GBps_by_row_B[r].second, 1e-9);
    expect_rel(same.caches[0].random_GBps_by_row_B[r].second, p.caches[0].random_GBps_by_row_B[r].second, 1e-9);
  }
}

TEST(FootprintFit, AFartherLevelNeverComesOutFasterThanANearerOne) {
  // A curve from an L3 faster than the L2 in front of it (what noise can suggest): bandwidths may
  // not rise with distance, so the two get one bandwidth, between the two that generated it.
  ProcessorProfile p = two_cache_processor();
  p.caches[1].random_GBps_by_row_B = {{128, 60.0}};
  p.caches[0].random_GBps_by_row_B = {{128, 30.0}};
  p.random_GBps_by_row_B = {{128, 7.0}};
  const LevelFit f = fit_memory_levels(model_curve(p, {0.5, 1, 4, 8, 16, 32, 64, 256, 1024}), sizes_only(p));
  const double l2 = f.caches[0].random_GBps, l3 = f.caches[1].random_GBps;
  EXPECT_EQ(l2, l3);
  EXPECT_GT(l2, 30.0);
  EXPECT_LT(l2, 60.0);
  EXPECT_GT(f.memory_random_GBps, 0.0);
  ASSERT_FALSE(f.notes.empty());
  EXPECT_NE(f.notes[0].find("L3 fitted no slower than L2"), std::string::npos) << f.notes[0];
}

TEST(FootprintFit, RefusesACurveItCannotFit) {
  const ProcessorProfile p = two_cache_processor();
  try {
    fit_memory_levels({}, sizes_only(p));
    FAIL() << "an empty curve was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("footprint curve: empty"), std::string::npos) << e.what();
  }
  // Nothing beyond the largest cache: memory is never seen.
  EXPECT_THROW(fit_memory_levels(model_curve(p, {0.5, 1, 4, 16, 32}), sizes_only(p)), std::invalid_argument);
  // A single footprint size: one equation per row size.
  EXPECT_THROW(fit_memory_levels(model_curve(p, {256}), sizes_only(p)), std::invalid_argument);
  EXPECT_THROW(fit_memory_levels({{64, 128, 0.0}}, sizes_only(p)), std::invalid_argument);  // 0 GB/s
  std::vector<CacheLevel> unordered = sizes_only(p);
  std::swap(unordered[0], unordered[1]);
  EXPECT_THROW(fit_memory_levels(model_curve(p, {1, 64, 256}), unordered), std::invalid_argument);
  // No caches: memory alone, the weighted mean of the curve (here one bandwidth at every footprint).
  const LevelFit m = fit_memory_levels({{1, 128, 8.0}, {1000, 128, 8.0}}, {});
  expect_rel(m.memory_random_GBps, 8.0, 1e-12);
}

TEST(FootprintFit, FitsTheCapacityACacheBehavesAsIfItHad) {
  // The curve of an L3 that holds 8 MB of this process's rows although 32 MB were detected (a VM's
  // L3 shared with its neighbours): at the detected size the fit is off; with the capacity fitted
  // too (8 = 32 x 2^-2 is on the search grid) the capacity and every bandwidth come back exactly.
  ProcessorProfile truth = two_cache_processor();
  truth.caches[1].capacity_MB = 8.0;
  const auto curve = model_curve(truth, {0.5, 1, 2, 4, 8, 16, 24, 32, 48, 64, 128, 256, 1024});
  std::vector<CacheLevel> detected = sizes_only(truth);
  detected[1].capacity_MB = 32.0;
  EXPECT_GT(fit_memory_levels(curve, detected).median_abs_error_pct, 1.0);
  const LevelFit f = fit_memory_levels_and_capacities(curve, detected);
  EXPECT_EQ(f.caches[0].capacity_MB, 2.0);
  EXPECT_EQ(f.caches[1].capacity_MB, 8.0);
  for (size_t l = 0; l < 2; ++l)
    for (size_t r = 0; r < 4; ++r)
      expect_rel(f.caches[l].random_GBps_by_row_B[r].second, truth.caches[l].random_GBps_by_row_B[r].second, 1e-9);
  for (size_t r = 0; r < 4; ++r) expect_rel(f.memory_random_GBps_by_row_B[r].second, truth.random_GBps_by_row_B[r].second, 1e-9);
  EXPECT_LT(f.median_abs_error_pct, 1e-9);
  ASSERT_EQ(f.notes.size(), 1u);
  EXPECT_NE(f.notes[0].find("L3: effective capacity 8 MB of 32 MB detected"), std::string::npos) << f.notes[0];
  // A curve the detected sizes explain exactly keeps them.
  const LevelFit same = fit_memory_levels_and_capacities(model_curve(two_cache_processor(), {0.5, 2, 8, 32, 128, 1024}),
                                                         sizes_only(two_cache_processor()));
  EXPECT_EQ(same.caches[1].capacity_MB, 32.0);
  EXPECT_TRUE(same.notes.empty());
}

// measured = 1.2 roof + 0.5 + 30 ns x bags + 0.1 (modeled overhead), over cases whose bags per
// roofline ms differ (pooling 80 against pooling 1): the fit recovers the three within its search
// resolution; the same cases without the bag term get none.
TEST(Calibration, RecoversACostPerBagWhereTheCasesNeedOne) {
  std::vector<StageObservation> with, without;
  const double bags[] = {2e4, 5e4, 1e5, 4e4, 8e4, 1e4}, roofs[] = {40, 5, 90, 2, 30, 60};
  for (int i = 0; i < 6; ++i) {
    StageObservation x = obs(Stage::fwd_emb, roofs[i], 1.2 * roofs[i] + 0.5 + 30e-6 * bags[i] + 0.1);
    x.modeled.bags = bags[i];
    with.push_back(x);
    StageObservation y = obs(Stage::fwd_emb, roofs[i], 1.2 * roofs[i] + 0.5 + 0.1);
    y.modeled.bags = bags[i];
    without.push_back(y);
  }
  const StageFit f = fit_stages(with);
  ASSERT_TRUE(f.bag_ns.count("fwd.emb"));
  EXPECT_NEAR(f.bag_ns.at("fwd.emb"), 30.0, 0.05);
  EXPECT_NEAR(f.efficiency.at("fwd.emb"), 1.2, 1e-3);
  EXPECT_NEAR(f.fixed_ms.at("fwd.emb"), 0.5, 5e-3);
  EXPECT_LT(f.median_abs_error_pct, 0.1);
  EXPECT_EQ(fit_stages(without).bag_ns.count("fwd.emb"), 0u);
}

// measured = 1.5 roof + 0.005 + 2 us x launches + 0.1 (modeled overhead), over cases whose launches
// per roofline ms differ (a small MLP's chain of short kernels against a large one's): the fit
// recovers the cost per launch; the same cases without it get none, and no bag cost either way.
TEST(Calibration, RecoversACostPerLaunchWhereTheCasesNeedOne) {
  std::vector<StageObservation> with, without;
  const double launches[] = {19, 31, 55, 43, 25, 67}, roofs[] = {2.0, 0.5, 6.0, 0.3, 1.0, 4.0};
  for (int i = 0; i < 6; ++i) {
    StageObservation x = obs(Stage::fwd_mlp, roofs[i], 1.5 * roofs[i] + 0.005 + 2e-3 * launches[i] + 0.1);
    x.modeled.launches = launches[i];
    with.push_back(x);
    StageObservation y = obs(Stage::fwd_mlp, roofs[i], 1.5 * roofs[i] + 0.005 + 0.1);
    y.modeled.launches = launches[i];
    without.push_back(y);
  }
  const StageFit f = fit_stages(with);
  ASSERT_TRUE(f.launch_us.count("fwd.mlp"));
  EXPECT_NEAR(f.launch_us.at("fwd.mlp"), 2.0, 0.05);
  EXPECT_NEAR(f.efficiency.at("fwd.mlp"), 1.5, 1e-2);
  EXPECT_LT(f.median_abs_error_pct, 0.5);
  EXPECT_EQ(f.bag_ns.count("fwd.mlp"), 0u);
  EXPECT_EQ(fit_stages(without).launch_us.count("fwd.mlp"), 0u);
  // The same cost made large (30 us a call, most of each short case): not believed as a launch cost.
  std::vector<StageObservation> large;
  for (int i = 0; i < 6; ++i) {
    StageObservation x = obs(Stage::fwd_mlp, roofs[i] / 20, 1.5 * roofs[i] / 20 + 30e-3 * launches[i] + 0.1);
    x.modeled.launches = launches[i];
    large.push_back(x);
  }
  const StageFit g = fit_stages(large);
  EXPECT_TRUE(!g.launch_us.count("fwd.mlp") || g.launch_us.at("fwd.mlp") * 1e-3 * 67 <= 0.25 * (1.5 * 0.2 + 30e-3 * 67) + 1e-9);
}
