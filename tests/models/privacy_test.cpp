// The RDP accountant against published reference values and against the properties it must have.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "models/config_error.hpp"
#include "models/privacy/privacy_budget.hpp"
#include "models/privacy/rdp_accountant.hpp"
#include "models/workload.hpp"

namespace privrec::privacy {
namespace {

void expect_rel(double got, double want, double rel, const char* what) {
  EXPECT_NEAR(got / want, 1.0, rel) << what << ": got " << got << ", want " << want;
}

// Opacus (pytorch/opacus, opacus/tests/accountants_test.py, test_rdp_accountant): sigma 1.5,
// q 0.04, int(90 / 0.04) = 2250 steps, delta 1e-5 -> epsilon 7.32911117143 (asserted to 7 places).
// Opacus's orders (1.1 .. 10.9 by 0.1, 12 .. 63) and ours share the optimum, 3.9.
TEST(RdpAccountant, MatchesOpacusRdpAccountant) {
  const Epsilon e = dpsgd_epsilon(0.04, 1.5, 2250, 1e-5);
  expect_rel(e.epsilon, 7.32911117143, 1e-9, "epsilon");
  EXPECT_DOUBLE_EQ(e.order, 3.9);
}

// dp_accounting (google/differential-privacy, python/dp_accounting/rdp/rdp_privacy_accountant_test.py,
// test_compute_rdp_poisson_sampled_gaussian): q 0.01, sigma 2.5, 50 steps; rtol 1e-4 there.
TEST(RdpAccountant, MatchesDpAccountingPoissonSampledGaussian) {
  const std::vector<double> orders = {1.5, 2.5, 5, 50, 100};
  const std::vector<double> want = {6.5007e-04, 1.0854e-03, 2.1808e-03, 2.3846e-02, 1.6742e+02};
  const auto rdp = rdp_curve(0.01, 2.5, 50, orders);
  for (size_t i = 0; i < orders.size(); ++i) expect_rel(rdp[i], want[i], 1e-4, "rdp");
}

// TensorFlow Privacy (tensorflow/privacy, tensorflow_privacy/privacy/analysis/rdp_accountant_test.py,
// test_compute_rdp_scalar): compute_rdp(q=0.1, noise_multiplier=2, steps=10, orders=5) = 0.07737
// to 5 places (an absolute 5e-6, 6.5e-5 relative).
TEST(RdpAccountant, MatchesTensorflowPrivacyScalar) {
  EXPECT_NEAR(rdp_curve(0.1, 2, 10, {5})[0], 0.07737, 5e-6);
}

// Both TF Privacy (test_get_privacy_spent_check_target_delta) and dp_accounting
// (test_compute_epsilon_delta_pure_dp): a constant RDP of 1.1 over orders 2..32 at delta 1e-5
// gives epsilon 1.32783806176 at order 32 under the tight conversion.
TEST(RdpAccountant, TightConversionMatchesPublishedPureDpCase) {
  std::vector<double> orders;
  for (int a = 2; a <= 32; ++a) orders.push_back(a);
  const Epsilon e = epsilon_from_rdp(orders, std::vector<double>(orders.size(), 1.1), 1e-5);
  expect_rel(e.epsilon, 1.32783806176, 1e-10, "epsilon");
  EXPECT_EQ(e.order, 32);
}

// The Gaussian mechanism with sigma 4.530877117 is exactly (1, 1e-6)-DP (Balle and Wang 2018,
// "Improving the Gaussian mechanism for differential privacy", arXiv 1805.06530, Theorem 8); over
// the fine orders 1.000 .. 99.999 the tight RDP conversion recovers epsilon 1 (TF Privacy and
// dp_accounting assert it to 7 places: test_get_privacy_spent_check_target_delta,
// test_compute_epsilon_delta_gaussian).
TEST(RdpAccountant, RecoversTheAnalyticGaussianMechanism) {
  std::vector<double> orders;
  for (int i = 1000; i < 100000; ++i) orders.push_back(0.001 * i);
  const Epsilon e = epsilon_from_rdp(orders, rdp_curve(1.0, 4.530877117, 1, orders), 1e-6);
  EXPECT_NEAR(e.epsilon, 1.0, 5e-8);
}

// TF Privacy's test_check_composition, with the classic conversion it was written for (the value
// is asserted there to 5 places; newer versions keep it as an upper bound for the tight one):
// 40000 steps at q 1e-4, sigma 0.4, composed with 100 steps at q 0.1, sigma 2; delta 1e-5.
TEST(RdpAccountant, ComposesAndConvertsLikeTensorflowPrivacyClassic) {
  const std::vector<double> orders = {1.25, 1.5, 1.75, 2., 2.5, 3., 4., 5., 6., 7., 8.,
                                      10., 12., 14., 16., 20., 24., 28., 32., 64., 256.};
  auto rdp = rdp_curve(1e-4, 0.4, 40000, orders);
  const auto second = rdp_curve(0.1, 2, 100, orders);
  for (size_t i = 0; i < rdp.size(); ++i) rdp[i] += second[i];
  const Epsilon classic = epsilon_from_rdp(orders, rdp, 1e-5, Conversion::classic);
  EXPECT_NEAR(classic.epsilon, 8.509656, 5e-6);
  EXPECT_EQ(classic.order, 2.5);
  EXPECT_LE(epsilon_from_rdp(orders, rdp, 1e-5).epsilon, 8.509656);
}

// Independent values: log A_alpha by 50-digit numerical integration (mpmath), at the points TF
// Privacy and dp_accounting use to stress the series (test_compute_log_a_equals_mp, which checks
// rtol 1e-4 against the same integral) plus this project's mlperf-dlrm regime.
// tests/models/privacy_reference_mpmath.py regenerates them.
TEST(RdpAccountant, LogAMatchesNumericalIntegration) {
  struct Point {
    double q, sigma, alpha, log_a;
  };
  const Point points[] = {
      {1e-07, 0.1, 1.01, 4.0034123225264e-8},      {1e-06, 0.1, 256, 3260463.22929716},
      {1e-05, 0.1, 256.1, 3263607.03978842},       {1e-06, 1, 27, 8.7695113048485e-10},
      {0.0001, 1, 1.5, 6.44268695383665e-9},       {0.001, 1, 2, 1.71828035221452e-6},
      {0.01, 10, 20, 0.00019129699912843},         {0.1, 100, 20.5, 0.000199918184580683},
      {0.99, 0.1, 256, 3263997.42711402},          {0.999, 100, 256.1, 3.26010803797311},
      {2048.0 / 4373472329.0, 0.18, 1.3, 2.04037689378489e-6}, {0.04, 1.5, 3.9, 0.00531628637879319},
  };
  for (const auto& p : points) expect_rel(log_a(p.q, p.sigma, p.alpha), p.log_a, 1e-6, "log A");
}

TEST(RdpAccountant, FullSamplingIsThePlainGaussianMechanism) {
  for (double sigma : {0.5, 1.0, 3.0})
    for (double alpha : {1.5, 2.0, 7.3, 32.0}) {
      EXPECT_DOUBLE_EQ(rdp_step(1.0, sigma, alpha), alpha / (2 * sigma * sigma));
      // And the subsampled formulas (series and binomial sum) converge to it as q -> 1.
      expect_rel(rdp_step(1.0 - 1e-10, sigma, alpha), alpha / (2 * sigma * sigma), 1e-6, "q -> 1");
    }
}

TEST(RdpAccountant, EpsilonIsMonotone) {
  double prev = 1e300;
  for (double sigma : {0.5, 0.7, 1.0, 1.5, 2.0, 4.0}) {  // more noise, less epsilon
    const double e = dpsgd_epsilon(0.01, sigma, 1000, 1e-5).epsilon;
    EXPECT_LT(e, prev);
    prev = e;
  }
  prev = 0;
  for (double q : {1e-5, 1e-4, 1e-3, 0.01, 0.1, 1.0}) {  // more sampling, more epsilon
    const double e = dpsgd_epsilon(q, 1.0, 1000, 1e-5).epsilon;
    EXPECT_GT(e, prev);
    prev = e;
  }
  prev = 0;
  for (int64_t steps : {1, 10, 100, 1000, 100000}) {  // more steps, more epsilon
    const double e = dpsgd_epsilon(0.01, 1.0, steps, 1e-5).epsilon;
    EXPECT_GT(e, prev);
    prev = e;
  }
}

// The inverse is the smallest sigma that meets the target; Opacus's get_noise_multiplier
// (opacus/tests/accountants_test.py: 1.416 for 90 epochs, 1.3562 for 2000 steps at q 0.04,
// epsilon 8, delta 1e-5) stops its bisection anywhere within 0.01 below the target, so its
// sigma is at most 0.01 in epsilon above ours, never below it.
TEST(RdpAccountant, SigmaForEpsilonIsTheSmallestThatMeetsTheTarget) {
  struct Case {
    int64_t steps;
    double opacus_sigma;
  };
  for (const Case c : {Case{2250, 1.416}, Case{2000, 1.3562}}) {
    const double s = sigma_for_epsilon(0.04, c.steps, 1e-5, 8.0);
    EXPECT_LE(dpsgd_epsilon(0.04, s, c.steps, 1e-5).epsilon, 8.0);
    EXPECT_GT(dpsgd_epsilon(0.04, s * (1 - 1e-6), c.steps, 1e-5).epsilon, 8.0);
    EXPECT_LE(s, c.opacus_sigma + 5e-5);
    const double opacus_eps = dpsgd_epsilon(0.04, c.opacus_sigma, c.steps, 1e-5).epsilon;
    EXPECT_GE(opacus_eps, 7.99 - 1e-3);
    EXPECT_LE(opacus_eps, 8.0 + 1e-3);
  }
}

TEST(RdpAccountant, BadInputIsRefused) {
  EXPECT_THROW(dpsgd_epsilon(0.0, 1, 10, 1e-5), InputError);
  EXPECT_THROW(dpsgd_epsilon(1.5, 1, 10, 1e-5), InputError);
  EXPECT_THROW(dpsgd_epsilon(0.1, -1, 10, 1e-5), InputError);
  EXPECT_THROW(dpsgd_epsilon(0.1, 1, 0, 1e-5), InputError);
  EXPECT_THROW(dpsgd_epsilon(0.1, 1, 10, 0.0), InputError);
  EXPECT_THROW(dpsgd_epsilon(0.1, 1, 10, 1.0), InputError);
  EXPECT_THROW(sigma_for_epsilon(0.1, 10, 1e-5, 0.0), InputError);
  // Below what the orders (up to 1024) can certify at this delta: no sigma reaches it.
  EXPECT_THROW(sigma_for_epsilon(0.1, 10, 1e-5, 1e-4), InputError);
  EXPECT_TRUE(std::isinf(dpsgd_epsilon(0.1, 0.0, 10, 1e-5).epsilon));
}

// adafest's two mechanisms compose as one Gaussian with sigma_eff = (sigma1^-2 + sigma2^-2)^-1/2
// (REFERENCE.md section 1; dp_accounting's test_effective_gaussian_noise_multiplier and
// test_compute_rdp_multi_gaussian check the same rule).
TEST(RdpAccountant, AdafestSplitComposesBackToTheEffectiveSigma) {
  EXPECT_NEAR(effective_noise_multiplier({3.0, 4.0}), 1.0 / std::sqrt(1.0 / 9 + 1.0 / 16), 1e-15);
  for (double f : {0.1, 0.5, 0.9}) {
    const AdafestSplit s = split_adafest(0.8, f);
    EXPECT_NEAR(effective_noise_multiplier({s.selection_multiplier, s.gradient_multiplier}), 0.8, 1e-14);
    // At q = 1 the composed RDP is the sum of the two Gaussians' RDP.
    EXPECT_NEAR(rdp_step(1, 0.8, 5.0), rdp_step(1, s.selection_multiplier, 5.0) + rdp_step(1, s.gradient_multiplier, 5.0),
                1e-12);
  }
  EXPECT_THROW(split_adafest(0.8, 0.0), InputError);
  EXPECT_THROW(split_adafest(0.8, 1.0), InputError);
}

Workload mlperf() { return load_workload("mlperf-dlrm"); }

TEST(PrivacyBudget, LazydpAndDpsgdfReportTheSameEpsilonEanaAndSgdNone) {
  PrivacySettings s;
  const Workload w = mlperf();
  AlgorithmConfig f, l, e, g;
  f.kind = AlgorithmKind::dpsgd_f;
  l.kind = AlgorithmKind::lazydp;
  e.kind = AlgorithmKind::eana;
  g.kind = AlgorithmKind::sgd;
  const auto rf = account(s, w, w.batch_size, f), rl = account(s, w, w.batch_size, l);
  ASSERT_TRUE(rf.accounted);
  EXPECT_EQ(rf.epsilon, rl.epsilon);
  EXPECT_EQ(rf.steps, static_cast<int64_t>(std::ceil(4373472329.0 / 2048)));
  const auto re = account(s, w, w.batch_size, e), rg = account(s, w, w.batch_size, g);
  EXPECT_FALSE(re.accounted);
  EXPECT_FALSE(re.dp_guarantee);
  EXPECT_NE(re.note.find("embedding tables"), std::string::npos);
  EXPECT_FALSE(rg.dp_guarantee);
}

TEST(PrivacyBudget, TargetEpsilonSetsTheNoise) {
  PrivacySettings s;
  s.target_epsilon = 50;
  const Workload w = mlperf();
  AlgorithmConfig f;
  f.kind = AlgorithmKind::dpsgd_f;
  const auto r = account(s, w, w.batch_size, f);
  EXPECT_NEAR(r.epsilon, 50, 1e-6);
  EXPECT_EQ(f.sigma, r.noise_multiplier);
  AlgorithmConfig a;
  a.kind = AlgorithmKind::adafest;
  a.adafest.c1 = 2.0;
  s.adafest_selection_budget = 0.25;
  const auto ra = account(s, w, w.batch_size, a);
  EXPECT_NEAR(ra.epsilon, 50, 1e-6);
  EXPECT_NEAR(ra.noise_multiplier, f.sigma, 1e-12 * f.sigma);  // the same mechanism in total
  EXPECT_NEAR(a.adafest.sigma1 / a.adafest.c1, f.sigma / std::sqrt(0.25), 1e-12);
  EXPECT_NEAR(a.sigma, f.sigma / std::sqrt(0.75), 1e-12);
}

TEST(PrivacyBudget, NeedsASamplingRateForATarget) {
  PrivacySettings s;
  Workload w = load_workload("rmc2");
  AlgorithmConfig f;
  EXPECT_FALSE(account(s, w, w.batch_size, f).accounted);  // no dataset size: no epsilon, said why
  s.target_epsilon = 5;
  EXPECT_THROW(account(s, w, w.batch_size, f), InputError);
  s.sampling_rate = 0.01;
  EXPECT_TRUE(account(s, w, w.batch_size, f).accounted);
  s.dataset_examples = 1000;
  EXPECT_THROW(account(s, w, w.batch_size, f), InputError);  // two sources of q
}

}  // namespace
}  // namespace privrec::privacy

namespace privrec::privacy {

// dp-fest: the one-shot histogram (noise multiplier fest-sigma / fest-c1, the whole data once) adds
// its Gaussian RDP alpha / (2 m^2) to the steps' curve at every order.
TEST(PrivacyBudget, DpFestComposesTheHistogramWithTheSteps) {
  PrivacySettings s;
  const Workload w = mlperf();
  AlgorithmConfig f, d;
  f.kind = AlgorithmKind::dpsgd_f;
  d.kind = AlgorithmKind::dp_fest;
  d.fest.sigma = 40, d.fest.c1 = 2;  // m = 20
  const auto rf = account(s, w, w.batch_size, f), rd = account(s, w, w.batch_size, d);
  ASSERT_TRUE(rd.accounted);
  EXPECT_GT(rd.epsilon, rf.epsilon);
  std::vector<double> total = rdp_curve(rd.sampling_rate, d.sigma, rd.steps, default_orders());
  for (size_t i = 0; i < total.size(); ++i) total[i] += default_orders()[i] / (2 * 20.0 * 20.0);
  EXPECT_DOUBLE_EQ(rd.epsilon, epsilon_from_rdp(default_orders(), total, s.delta).epsilon);
  // With a target, the steps' noise grows to leave room for the histogram.
  s.target_epsilon = 50;
  AlgorithmConfig t = d;
  const auto rt = account(s, w, w.batch_size, t);
  EXPECT_NEAR(rt.epsilon, 50, 1e-6);
  AlgorithmConfig ft;
  ft.kind = AlgorithmKind::dpsgd_f;
  account(s, w, w.batch_size, ft);
  EXPECT_GT(t.sigma, ft.sigma);
}

}  // namespace privrec::privacy

namespace privrec::privacy {

// A target the histogram alone already spends is refused, naming the flag that fixes it.
TEST(PrivacyBudget, DpFestTargetBelowTheHistogramsShareIsRefused) {
  PrivacySettings s;
  s.target_epsilon = 1;
  const Workload w = mlperf();
  AlgorithmConfig d;
  d.kind = AlgorithmKind::dp_fest;
  d.fest.sigma = 0.5;  // m = 0.5: one release at delta 1e-5 costs far more than epsilon 1
  try {
    account(s, w, w.batch_size, d);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--fest-sigma"), std::string::npos) << e.what();
  }
}

}  // namespace privrec::privacy
