#pragma once
// Uniforms and normals from Philox words. Box–Muller with our own logarithm and sin/cos
// polynomials written only with correctly rounded IEEE operations (+, *, /, sqrt, fused
// multiply-add, int->float; each Horner step of the polynomials, and ln u = e ln 2 + ln m, is one fma):
// libm's and CUDA's transcendental functions differ in the last bit, these do not, so a noise value
// is the same on every backend and every vector width. (Host code is built with
// -ffp-contract=off; device code uses the _rn intrinsics, which nvcc never fuses.)
#include <cstdint>
#include <cstring>

#include "models/rng/philox.hpp"
#include "models/rng/rounded_ops.hpp"

namespace privrec {
namespace gaussian_detail {
using namespace rounded;
}  // namespace gaussian_detail

// A uniform in (0, 1) with 23 bits: (2m + 1) / 2^24 for the top 23 bits m; never 0 or 1.
PRIVREC_HD inline float uniform_open01(uint32_t x) {
  return static_cast<float>(static_cast<int32_t>(((x >> 9) << 1) | 1u)) * (1.0f / 16777216.0f);
}

// The split of a positive float with bits b whose exponent is its biased one less `bias`: x = m 2^e,
// m in [sqrt(1/2), sqrt(2)); returns s = (m-1)/(m+1), so ln m = 2 atanh(s), and sets e.
PRIVREC_HD inline float log_split(uint32_t b, int32_t bias, int32_t& e) {
  using namespace gaussian_detail;
  e = static_cast<int32_t>(b >> 23) - bias;
  float m = from_bits((b & 0x007FFFFFu) | 0x3F800000u);
  // Branch-free (a select of constants), so the compiler vectorizes it; m * 1 is exact.
  const bool high = m > 1.41421356f;
  m = mul(m, high ? 0.5f : 1.0f);
  e += high ? 1 : 0;
  return div(sub(m, 1.0f), add(m, 1.0f));
}

// -2 ln(u) for u in (0, 1): u = m 2^e, m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh((m-1)/(m+1)).
PRIVREC_HD inline float minus_two_log(float u) {
  using namespace gaussian_detail;
  int32_t e;
  const float s = log_split(bits(u), 127, e);
  const float s2 = mul(s, s);
  float p = fma(s2, 1.0f / 9.0f, 1.0f / 7.0f);
  p = fma(p, s2, 1.0f / 5.0f);
  p = fma(p, s2, 1.0f / 3.0f);
  p = fma(p, s2, 1.0f);
  const float ln_m = mul(mul(2.0f, s), p);
  const float ln_u = fma(static_cast<float>(e), 0.693147180559945f, ln_m);
  return mul(-2.0f, ln_u);
}

// sin and cos of a in [0, pi/2): Taylor polynomials (s, c).
PRIVREC_HD inline void sincos_quarter(float a, float& s, float& c) {
  using namespace gaussian_detail;
  const float a2 = mul(a, a);
  s = fma(a2, -1.0f / 39916800.0f, 1.0f / 362880.0f);
  s = fma(s, a2, -1.0f / 5040.0f);
  s = fma(s, a2, 1.0f / 120.0f);
  s = fma(s, a2, -1.0f / 6.0f);
  s = fma(s, a2, 1.0f);
  s = mul(s, a);
  c = fma(a2, 1.0f / 479001600.0f, -1.0f / 3628800.0f);
  c = fma(c, a2, 1.0f / 40320.0f);
  c = fma(c, a2, -1.0f / 720.0f);
  c = fma(c, a2, 1.0f / 24.0f);
  c = fma(c, a2, -0.5f);
  c = fma(c, a2, 1.0f);
}

// sin and cos of 2*pi*v for v in (0, 1): exact quadrant split of 4v, Taylor polynomials on [0, pi/2).
PRIVREC_HD inline void sincos_2pi(float v, float& sin_out, float& cos_out) {
  using namespace gaussian_detail;
  const float w = mul(v, 4.0f);
  const int32_t q = static_cast<int32_t>(w);
  float s, c;
  sincos_quarter(mul(sub(w, static_cast<float>(q)), 1.57079632679490f), s, c);
  // Quadrants: sin(a + q pi/2), cos(a + q pi/2).
  const float sq = (q & 1) ? c : s;
  const float cq = (q & 1) ? s : c;
  sin_out = (q & 2) ? -sq : sq;
  cos_out = ((q + 1) & 2) ? -cq : cq;
}

// The same two functions of a Philox word, in fewer operations and bit for bit equal to
// minus_two_log(uniform_open01(x)) and sincos_2pi(uniform_open01(x)) for every x
// (tests/models/rng_test.cpp checks all 2^23 uniforms). Why each step is exact:
// - u = k 2^-24 with k = (x >> 8) | 1 an odd integer below 2^24, so float(k) is exact and u's
//   mantissa bits are k's, its exponent k's minus 24: no multiply is needed to split u.
// - Scaling by a power of two commutes with rounding, a fused multiply-add's included (no value
//   here is near overflow or the subnormals), so minus_two_log's last "* -2" and its "2 s" move
//   into the polynomial's coefficients (each -4 times the float of 1/n, itself a float) and into
//   ln 2's.
// - 4u = k 2^-22: its integer part is x >> 30, its fraction (k mod 2^22) 2^-22, both exact, and the
//   fraction times pi/2 rounds as (k mod 2^22) times the float pi/2 2^-22.
// - The quadrant's sign flips are bits 31 and 30 of x: sin is negated where q & 2 (bit 31), cos where
//   (q + 1) & 2 (bit 31 xor bit 30).
namespace gaussian_detail {
constexpr float kMinusTwoLn2 = -2.0f * 0.693147180559945f;
constexpr float kLogC9 = -4.0f * (1.0f / 9.0f), kLogC7 = -4.0f * (1.0f / 7.0f), kLogC5 = -4.0f * (1.0f / 5.0f),
                kLogC3 = -4.0f * (1.0f / 3.0f), kLogC1 = -4.0f;
constexpr float kQuarterTurnUlp = 1.57079632679490f * (1.0f / 4194304.0f);  // float(pi/2) 2^-22, exact
}  // namespace gaussian_detail

PRIVREC_HD inline float minus_two_log_of_word(uint32_t x) {
  using namespace gaussian_detail;
  int32_t e;  // u = k 2^-24: k's exponent less 24 more than its bias
  const float s = log_split(bits(static_cast<float>(static_cast<int32_t>((x >> 8) | 1u))), 127 + 24, e);
  const float s2 = mul(s, s);
  float p = fma(s2, kLogC9, kLogC7);
  p = fma(p, s2, kLogC5);
  p = fma(p, s2, kLogC3);
  p = fma(p, s2, kLogC1);
  return fma(static_cast<float>(e), kMinusTwoLn2, mul(s, p));
}

PRIVREC_HD inline void sincos_2pi_of_word(uint32_t x, float& sin_out, float& cos_out) {
  using namespace gaussian_detail;
  float s, c;
  sincos_quarter(mul(static_cast<float>(static_cast<int32_t>(((x >> 8) & 0x003FFFFFu) | 1u)), kQuarterTurnUlp), s, c);
  const bool odd = (x >> 30) & 1u;
  const float sq = odd ? c : s;
  const float cq = odd ? s : c;
  sin_out = from_bits(bits(sq) ^ (x & 0x80000000u));
  cos_out = from_bits(bits(cq) ^ ((x ^ (x << 1)) & 0x80000000u));
}

// Two standard normals from two Philox words (Box–Muller).
PRIVREC_HD inline void box_muller(uint32_t a, uint32_t b, float& z0, float& z1) {
  using namespace gaussian_detail;
  float s, c;
  const float rad = sqrt_rn(minus_two_log_of_word(a));
  sincos_2pi_of_word(b, s, c);
  z0 = mul(rad, c);
  z1 = mul(rad, s);
}

// Four standard normals from one Philox block: Box–Muller on (w0, w1) and (w2, w3).
PRIVREC_HD inline void normals_from_block(const Philox4& r, float out[4]) {
  box_muller(r.v[0], r.v[1], out[0], out[1]);
  box_muller(r.v[2], r.v[3], out[2], out[3]);
}

// The reference definition of a noise value: normal number `column` of coordinate
// (seed, domain, step, table, row). Every backend must reproduce it bit for bit.
PRIVREC_HD inline float noise_normal(uint64_t seed, RngDomain domain, uint64_t step, uint32_t table, uint64_t row,
                                     uint32_t column) {
  const NoiseCounter n = noise_counter(domain, step, table, row);
  const Philox4 r = philox4x32_10(column >> 2, n.c1, n.c2, n.c3, static_cast<uint32_t>(seed),
                                  static_cast<uint32_t>(seed >> 32));
  float z[4];
  normals_from_block(r, z);
  return z[column & 3];
}

}  // namespace privrec
