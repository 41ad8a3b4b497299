#include "models/privacy/rdp_accountant.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include "models/config_error.hpp"

namespace privrec::privacy {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

// log(exp(a) + exp(b)) without overflow.
double log_add(double a, double b) {
  if (a == -kInf) return b;
  if (b == -kInf) return a;
  const double m = std::max(a, b);
  return m + std::log1p(std::exp(-std::abs(a - b)));
}

// log(exp(a) - exp(b)) for a >= b.
double log_sub(double a, double b) {
  if (b == -kInf) return a;
  if (b > a) throw std::runtime_error("RDP series: a partial sum turned negative (lost precision)");
  if (a == b) return -kInf;
  return a + std::log1p(-std::exp(b - a));
}

// log(erfc(x)), also far in the tail where erfc underflows: there the asymptotic expansion
// erfc(x) = exp(-x^2) / (x sqrt(pi)) (1 - 1/(2x^2) + 3/(4x^4) - 15/(8x^6) + ...).
double log_erfc(double x) {
  if (x < 25.0) return std::log(std::erfc(x));
  const double r = 1.0 / (x * x);
  return -x * x - std::log(x) - 0.5 * std::log(M_PI) + std::log1p(r * (-0.5 + r * (0.75 - r * 1.875)));
}

bool is_integer(double a) { return a == std::floor(a) && a < 1e9; }

// Integer alpha: A = sum_k C(alpha, k) (1-q)^(alpha-k) q^k exp((k^2 - k) / (2 sigma^2)).
double log_a_int(double q, double sigma, int64_t alpha) {
  double acc = -kInf;
  const double lq = std::log(q), l1q = std::log1p(-q), lg = std::lgamma(static_cast<double>(alpha) + 1);
  for (int64_t k = 0; k <= alpha; ++k) {
    const double kd = static_cast<double>(k);
    const double log_binom = lg - std::lgamma(kd + 1) - std::lgamma(static_cast<double>(alpha - k) + 1);
    acc = log_add(acc, log_binom + kd * lq + static_cast<double>(alpha - k) * l1q + (kd * kd - kd) / (2 * sigma * sigma));
  }
  return acc;
}

// Fractional alpha: split the integral over z at z0, where q mu1 = (1-q) mu0, and expand
// ((1-q) + q r)^alpha binomially in the smaller of the two terms on each side; each term
// integrates against the Gaussian in closed form (a shifted erfc). The generalized binomial
// coefficients alternate in sign past alpha, so positive and negative parts are summed apart.
double log_a_frac(double q, double sigma, double alpha) {
  double pos0 = -kInf, neg0 = -kInf, pos1 = -kInf, neg1 = -kInf;
  const double s2 = sigma * sigma, lq = std::log(q), l1q = std::log1p(-q);
  const double z0 = s2 * std::log(1.0 / q - 1.0) + 0.5;
  double coef = 1.0;  // C(alpha, i), generalized, updated as C(alpha, i+1) = C(alpha, i) (alpha - i) / (i + 1)
  constexpr int64_t kMaxTerms = 2'000'000;
  for (int64_t i = 0; i < kMaxTerms; ++i) {
    const double id = static_cast<double>(i), j = alpha - id;
    const double log_coef = std::log(std::abs(coef));
    const double s0 = log_coef + id * lq + j * l1q + (id * id - id) / (2 * s2) + std::log(0.5) +
                      log_erfc((id - z0) / (M_SQRT2 * sigma));
    const double s1 = log_coef + j * lq + id * l1q + (j * j - j) / (2 * s2) + std::log(0.5) +
                      log_erfc((z0 - j) / (M_SQRT2 * sigma));
    if (coef > 0) {
      pos0 = log_add(pos0, s0);
      pos1 = log_add(pos1, s1);
    } else {
      neg0 = log_add(neg0, s0);
      neg1 = log_add(neg1, s1);
    }
    if (id > alpha && std::max(s0, s1) < -30.0) break;
    coef *= (alpha - id) / (id + 1.0);
    if (coef == 0.0) break;
  }
  return log_add(log_sub(pos0, neg0), log_sub(pos1, neg1));
}

void check_rate(double q) {
  if (!(q > 0 && q <= 1)) throw InputError(fmt::format("--sampling-rate {}: expected a number in (0, 1]", q));
}
void check_delta(double delta) {
  if (!(delta > 0 && delta < 1)) throw InputError(fmt::format("--delta {}: expected a number in (0, 1)", delta));
}
void check_steps(int64_t steps) {
  if (steps < 1) throw InputError(fmt::format("--steps {}: privacy accounting needs at least one step", steps));
}
}  // namespace

const std::vector<double>& default_orders() {
  static const std::vector<double> orders = [] {
    std::vector<double> o;
    for (int x = 11; x < 110; ++x) o.push_back(x / 10.0);
    for (int a = 11; a < 64; ++a) o.push_back(a);
    for (double a : {128.0, 256.0, 512.0, 1024.0}) o.push_back(a);
    return o;
  }();
  return orders;
}

double log_a(double q, double sigma, double alpha) {
  if (q == 0) return 0;
  if (sigma == 0) return kInf;
  if (q == 1) return alpha * (alpha - 1) / (2 * sigma * sigma);
  return is_integer(alpha) ? log_a_int(q, sigma, static_cast<int64_t>(alpha)) : log_a_frac(q, sigma, alpha);
}

double rdp_step(double q, double sigma, double alpha) {
  if (q == 0) return 0;
  if (sigma == 0) return kInf;
  if (q == 1) return alpha / (2 * sigma * sigma);
  return log_a(q, sigma, alpha) / (alpha - 1);
}

std::vector<double> rdp_curve(double q, double sigma, int64_t steps, const std::vector<double>& orders) {
  std::vector<double> rdp;
  rdp.reserve(orders.size());
  for (double a : orders) rdp.push_back(static_cast<double>(steps) * rdp_step(q, sigma, a));
  return rdp;
}

Epsilon epsilon_from_rdp(const std::vector<double>& orders, const std::vector<double>& rdp, double delta,
                         Conversion conv) {
  check_delta(delta);
  if (orders.size() != rdp.size()) throw std::invalid_argument("epsilon_from_rdp: orders and rdp differ in length");
  Epsilon best{kInf, std::numeric_limits<double>::quiet_NaN()};
  for (size_t i = 0; i < orders.size(); ++i) {
    const double a = orders[i];
    if (!(a > 1) || !std::isfinite(rdp[i])) continue;
    const double eps = conv == Conversion::tight
                           ? rdp[i] + std::log1p(-1.0 / a) - (std::log(delta) + std::log(a)) / (a - 1)
                           : rdp[i] - std::log(delta) / (a - 1);
    if (eps < best.epsilon) best = {eps, a};
  }
  best.epsilon = std::max(0.0, best.epsilon);
  return best;
}

std::vector<double> gaussian_rdp(double m, const std::vector<double>& orders) {
  if (!(m > 0) || !std::isfinite(m)) throw InputError(fmt::format("noise multiplier {}: expected a positive number", m));
  std::vector<double> r;
  for (double a : orders) r.push_back(a / (2 * m * m));
  return r;
}

namespace {
// The steps' RDP curve plus the one-shot mechanisms' (if any).
std::vector<double> total_rdp(double q, double sigma, int64_t steps, const std::vector<double>& orders,
                              const std::vector<double>& once) {
  std::vector<double> r = rdp_curve(q, sigma, steps, orders);
  if (once.empty()) return r;
  if (once.size() != r.size()) throw std::logic_error("one-shot RDP curve over other orders");
  for (size_t i = 0; i < r.size(); ++i) r[i] += once[i];
  return r;
}
}  // namespace

Epsilon dpsgd_epsilon(double q, double sigma, int64_t steps, double delta, const std::vector<double>& orders,
                      Conversion conv, const std::vector<double>& once) {
  check_rate(q);
  if (!(sigma >= 0) || !std::isfinite(sigma))
    throw InputError(fmt::format("--sigma {}: expected a finite noise multiplier >= 0", sigma));
  check_steps(steps);
  check_delta(delta);
  return epsilon_from_rdp(orders, total_rdp(q, sigma, steps, orders, once), delta, conv);
}

double sigma_for_epsilon(double q, int64_t steps, double delta, double target, const std::vector<double>& orders,
                         Conversion conv, const std::vector<double>& once) {
  check_rate(q);
  check_steps(steps);
  check_delta(delta);
  if (!(target > 0) || !std::isfinite(target))
    throw InputError(fmt::format("--target-epsilon {}: expected a positive finite number", target));
  auto eps = [&](double s) {
    return epsilon_from_rdp(orders, total_rdp(q, s, steps, orders, once), delta, conv).epsilon;
  };
  constexpr double kMaxSigma = 1e6, kMinSigma = 1e-6;
  double hi = 1.0;
  while (eps(hi) > target) {
    hi *= 2;
    if (hi > kMaxSigma)
      throw InputError(fmt::format(
          "--target-epsilon {}: no noise multiplier up to {:g} reaches it at delta {:g} over {} steps (epsilon "
          "there is {:.4g}; the smallest epsilon these orders can certify at this delta is about {:.4g})",
          target, kMaxSigma, delta, steps, eps(kMaxSigma), epsilon_from_rdp(orders, once.empty() ? std::vector<double>(orders.size(), 0.0) : once, delta, conv).epsilon));
  }
  double lo = hi / 2;
  while (eps(lo) <= target) {
    hi = lo;
    lo /= 2;
    if (lo < kMinSigma)
      throw InputError(fmt::format("--target-epsilon {}: met even with noise multiplier {:g}; the target puts no "
                                   "real bound on the noise",
                                   target, kMinSigma));
  }
  // Invariant: eps(lo) > target >= eps(hi).
  while (hi / lo > 1 + 1e-9) {
    const double mid = std::sqrt(lo * hi);
    (eps(mid) <= target ? hi : lo) = mid;
  }
  return hi;
}

double effective_noise_multiplier(const std::vector<double>& sigmas) {
  double precision = 0;
  for (double s : sigmas) {
    if (!(s > 0)) throw InputError(fmt::format("noise multiplier {}: expected a positive number", s));
    precision += 1.0 / (s * s);
  }
  if (precision == 0) throw InputError("effective noise multiplier: no mechanisms given");
  return 1.0 / std::sqrt(precision);
}

AdafestSplit split_adafest(double sigma_eff, double selection_fraction) {
  if (!(sigma_eff > 0) || !std::isfinite(sigma_eff))
    throw InputError(fmt::format("adafest: effective noise multiplier {}: expected a positive finite number", sigma_eff));
  if (!(selection_fraction > 0 && selection_fraction < 1))
    throw InputError(
        fmt::format("--adafest-selection-budget {}: expected a fraction in (0, 1)", selection_fraction));
  return {sigma_eff / std::sqrt(selection_fraction), sigma_eff / std::sqrt(1 - selection_fraction)};
}

}  // namespace privrec::privacy
