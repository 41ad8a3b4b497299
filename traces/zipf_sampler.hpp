#pragma once
// Zipf ranks 1..n with P(k) proportional to k^-s by rejection-inversion (Hoermann & Derflinger,
// 1996): O(1) expected work per sample for any n, no tables.
#include <cstdint>

namespace privrec {

class ZipfSampler {
 public:
  ZipfSampler(int64_t n, double s);
  // u uniform in (0, 1); returns a rank in [1, n], or 0 if this draw was rejected (draw again).
  int64_t try_sample(double u) const;

 private:
  double h(double x) const;
  double H(double x) const;
  double H_inverse(double u) const;
  int64_t n_;
  double s_;
  double h_integral_x1_, h_integral_n_, squeeze_;
};

}  // namespace privrec
