#include "traces/zipf_sampler.hpp"

#include <algorithm>
#include <cmath>

namespace privrec {

namespace {
// log1p(t)/t and expm1(t)/t, continuous at t = 0.
double log1p_over(double t) { return std::abs(t) > 1e-8 ? std::log1p(t) / t : 1.0 - t * (0.5 - t / 3.0); }
double expm1_over(double t) { return std::abs(t) > 1e-8 ? std::expm1(t) / t : 1.0 + t * (0.5 + t / 6.0); }
}  // namespace

ZipfSampler::ZipfSampler(int64_t n, double s) : n_(n), s_(s) {
  h_integral_x1_ = H(1.5) - 1.0;
  h_integral_n_ = H(static_cast<double>(n) + 0.5);
  squeeze_ = 2.0 - H_inverse(H(2.5) - h(2.0));
}

double ZipfSampler::h(double x) const { return std::exp(-s_ * std::log(x)); }

// H(x) = integral of h: (x^(1-s) - 1)/(1-s), written to stay exact as s -> 1 (log x).
double ZipfSampler::H(double x) const {
  const double lx = std::log(x);
  return expm1_over((1.0 - s_) * lx) * lx;
}

double ZipfSampler::H_inverse(double u) const {
  double t = u * (1.0 - s_);
  t = std::max(t, -1.0 + 1e-16);
  return std::exp(log1p_over(t) * u);
}

int64_t ZipfSampler::try_sample(double u1) const {
  const double u = h_integral_n_ + u1 * (h_integral_x1_ - h_integral_n_);
  const double x = H_inverse(u);
  int64_t k = static_cast<int64_t>(x + 0.5);
  k = std::clamp<int64_t>(k, 1, n_);
  const double kd = static_cast<double>(k);
  if (kd - x <= squeeze_ || u >= H(kd + 0.5) - h(kd)) return k;
  return 0;
}

}  // namespace privrec
