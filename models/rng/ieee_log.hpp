#pragma once
// The natural logarithm of a double written only with correctly rounded IEEE operations (+, -, *,
// /) and bit manipulation, so the host and the device compute it bit for bit alike: libm's log and
// CUDA's log are not correctly rounded and differ in the last bit now and then, and adafest's
// false-positive gaps floor(log(u) / log1p(-p)) must be the same integers on every backend (one
// different gap shifts every later false positive). Within about an ulp of the true logarithm.
// (Host code is built with -ffp-contract=off; device code uses the _rn intrinsics, which nvcc never
// fuses.)
#include <cstdint>
#include <cstring>

#include "models/rng/philox.hpp"  // PRIVREC_HD
#include "models/rng/rounded_ops.hpp"

namespace privrec {
namespace ieee_log_detail {

using namespace rounded;

// ln 2 split so that e * kLn2Hi is exact for every exponent e of a double (|e| < 2^11: kLn2Hi has
// 42 significant bits), and kLn2Lo = ln 2 - kLn2Hi rounded.
constexpr double kLn2Hi = 0x1.62e42fefa38p-1;
constexpr double kLn2Lo = 0x1.ef35793c7673p-45;
constexpr double kSqrt2 = 0x1.6a09e667f3bcdp+0;

}  // namespace ieee_log_detail

// ln(u) for finite u > 0 (subnormals included; 0 gives -infinity). u = m 2^e with m in
// [sqrt(1/2), sqrt(2)), f = m - 1 (exact), s = f / (2 + f), and
//   ln m = 2 atanh(s) = f - hfsq + s (hfsq + R),  hfsq = f^2 / 2,  R = sum_k 2 s^(2k) / (2k + 1)
// (from 2s = f - hfsq + s hfsq): the exact f carries the result and the rest is a small correction,
// as in fdlibm's log. |s| <= 0.1716, so R to k = 10 leaves a relative error below 1e-18.
PRIVREC_HD inline double ieee_log(double u) {
  using namespace ieee_log_detail;
  if (u == 0.0) return from_bits(uint64_t{0xFFF0000000000000ull});
  int32_t e = 0;
  uint64_t b = bits(u);
  if ((b >> 52) == 0) {  // subnormal: scale into the normal range (exact)
    b = bits(mul(u, 0x1p54));
    e = -54;
  }
  e += static_cast<int32_t>(b >> 52) - 1023;
  double m = from_bits(static_cast<uint64_t>((b & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull));
  const bool high = m > kSqrt2;
  m = mul(m, high ? 0.5 : 1.0);  // exact
  e += high ? 1 : 0;
  const double f = sub(m, 1.0);  // exact (Sterbenz: m within a factor 2 of 1)
  const double s = div(f, add(2.0, f));
  const double z = mul(s, s);
  // Horner in z with the coefficients 2 / (2k + 1), k = 10 down to 1, each correctly rounded.
  double r = 0x1.8618618618618p-4;
  r = add(mul(r, z), 0x1.af286bca1af28p-4);
  r = add(mul(r, z), 0x1.e1e1e1e1e1e1ep-4);
  r = add(mul(r, z), 0x1.1111111111111p-3);
  r = add(mul(r, z), 0x1.3b13b13b13b14p-3);
  r = add(mul(r, z), 0x1.745d1745d1746p-3);
  r = add(mul(r, z), 0x1.c71c71c71c71cp-3);
  r = add(mul(r, z), 0x1.2492492492492p-2);
  r = add(mul(r, z), 0x1.999999999999ap-2);
  r = add(mul(r, z), 0x1.5555555555555p-1);
  r = mul(r, z);
  const double hfsq = mul(mul(0.5, f), f);
  const double de = static_cast<double>(e);
  // e ln2_hi (exact) + (f - (hfsq - (s (hfsq + R) + e ln2_lo))): the small terms first, the two
  // large ones last; with e = 0 this is f - (hfsq - s (hfsq + R)) to the bit.
  const double small = sub(hfsq, add(mul(s, add(hfsq, r)), mul(de, kLn2Lo)));
  return sub(mul(de, kLn2Hi), sub(small, f));
}

}  // namespace privrec
