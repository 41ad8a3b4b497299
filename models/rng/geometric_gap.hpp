#pragma once
// adafest's false positives walk the untouched rows by geometric gaps: every row is a Bernoulli(p)
// trial, and the gap to the next trial that passes is a number of failures, floor(ln u / ln(1-p)).
// One definition for every backend, with the IEEE-only logarithm, so the gaps are the same
// integers on the host and the device.
#include <cstdint>

#include "models/rng/ieee_log.hpp"
#include "models/rng/philox.hpp"

#if !defined(__CUDA_ARCH__)
#include <cmath>
#endif

namespace privrec {

// Gap j of `table` at `step` under `seed`: the failures before the next success, from the uniform
// u = (53 bits of words 0 and 1 + 1/2) / 2^53 in (0, 1] of the stream (select_skip, step, table,
// j). log1m_p = ln(1 - p), computed once per table on the host (log1p); p = 1 (log1m_p = -inf)
// gives gap 0.
PRIVREC_HD inline double geometric_gap(uint64_t seed, uint64_t step, uint32_t table, uint64_t j, double log1m_p) {
  using namespace ieee_log_detail;
  const NoiseCounter nc = noise_counter(RngDomain::select_skip, step, table, j);
  const Philox4 x =
      philox4x32_10(0, nc.c1, nc.c2, nc.c3, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  const double u =
      mul(add(static_cast<double>((static_cast<uint64_t>(x.v[0]) << 21) ^ (x.v[1] >> 11)), 0.5), 0x1p-53);
#if defined(__CUDA_ARCH__)
  return ::floor(div(ieee_log(u), log1m_p));  // floor is exact
#else
  return std::floor(div(ieee_log(u), log1m_p));
#endif
}

}  // namespace privrec
