#pragma once
// Philox4x32-10 blocks and their Box–Muller normals, a vector of counters at a time, written once
// for any vector width: the algorithm below is generic, a width is a small struct of primitives
// (kernels/cpu/normals_avx2.hpp: 8 lanes, normals_avx512.cpp: 16 lanes). Every operation mirrors
// gaussian.hpp's reference one for one (same constants, same order, a fused multiply-add exactly
// where the reference has one), so the
// output is bit-identical to noise_normal() at every width (the word forms of box_muller); tests/models/rng_test.cpp holds each
// width to that. Why by hand: the compiler's version of the 32x32->64 multiplies and the per-lane
// selects costs about twice the instructions.
//
// A lane is one Philox block. A vector of V::kLanes lanes covers V::kLanes / 8 passes, a pass being
// the eight blocks (32 normals) of column blocks c0 .. c0+7 of one counter (c1, c2, c3).
#include <algorithm>
#include <cstdint>

#include "models/rng/gaussian.hpp"
#include "models/rng/philox.hpp"

namespace privrec::cpu::simd {

// One pass: the 32 normals of column blocks c0 .. c0+7 of counter (c1, c2, c3).
struct Pass {
  uint32_t c0, c1, c2, c3;
  float* out;  // 32 floats, in column order
};

constexpr int kBlocksPerPass = 8;
constexpr int64_t kPassNormals = kBlocksPerPass * 4;

// The ten round keys of a seed, broadcast: computed once per batch of rows, not once per pass.
template <class V>
struct KeySchedule {
  typename V::I k0[10], k1[10];
  KeySchedule(uint32_t k0_, uint32_t k1_) {
    for (int round = 0; round < 10; ++round) {
      k0[round] = V::seti(k0_);
      k1[round] = V::seti(k1_);
      k0_ += philox_detail::kW0;
      k1_ += philox_detail::kW1;
    }
  }
};

// The ten Philox4x32 rounds on kGroups vectors of counters (x[g][0..3], lanes independent).
// Interleaved groups: one vector's rounds are a long chain of dependent latency that the
// out-of-order window overlaps poorly with the next.
template <class V, int kGroups>
inline void philox_rounds(typename V::I (&x)[kGroups][4], const KeySchedule<V>& key) {
  using namespace philox_detail;
  using I = typename V::I;
  if constexpr (requires { V::template philox_rounds<kGroups>(x, key.k0, key.k1); }) {
    V::template philox_rounds<kGroups>(x, key.k0, key.k1);  // the width's own layout of the rounds
    return;
  }
  const I m0 = V::seti(kM0), m1 = V::seti(kM1);
  for (int round = 0; round < 10; ++round) {
    const I key0 = key.k0[round], key1 = key.k1[round];
    for (int g = 0; g < kGroups; ++g) {
      I hi0, lo0, hi1, lo1;
      V::mul_hi_lo(x[g][0], m0, hi0, lo0);
      V::mul_hi_lo(x[g][2], m1, hi1, lo1);
      x[g][0] = V::xor3(hi1, x[g][1], key0);
      x[g][1] = lo1;
      x[g][2] = V::xor3(hi0, x[g][3], key1);
      x[g][3] = lo0;
    }
  }
}

template <class V>
inline typename V::F add(typename V::F a, float b) { return V::add(a, V::setf(b)); }
template <class V>
inline typename V::F mul(typename V::F a, float b) { return V::mul(a, V::setf(b)); }
template <class V>  // a * b + c rounded once
inline typename V::F fma(typename V::F a, typename V::F b, float c) { return V::fma(a, b, V::setf(c)); }

// gaussian.hpp: minus_two_log_of_word.
template <class V>
inline typename V::F minus_two_log_of_word(typename V::I x) {
  using namespace gaussian_detail;
  using F = typename V::F;
  using I = typename V::I;
  const I b = V::as_i(V::cvt(V::or_(V::template srli<8>(x), V::seti(1))));
  I e = V::sub_i(V::template srli<23>(b), V::seti(151));
  F m = V::as_f(V::and_or(b, V::seti(0x007FFFFFu), V::seti(0x3F800000u)));
  const auto high = V::gt(m, V::setf(1.41421356f));
  m = V::mul_where(high, m, V::setf(0.5f));
  e = V::add_one_where(e, high);
  const F s = V::div(add<V>(m, -1.0f), add<V>(m, 1.0f));
  const F s2 = V::mul(s, s);
  F p = V::fma(s2, V::setf(kLogC9), V::setf(kLogC7));
  p = fma<V>(p, s2, kLogC5);
  p = fma<V>(p, s2, kLogC3);
  p = fma<V>(p, s2, kLogC1);
  return V::fma(V::cvt(e), V::setf(kMinusTwoLn2), V::mul(s, p));
}

// gaussian.hpp: sincos_2pi_of_word.
template <class V>
inline void sincos_2pi_of_word(typename V::I x, typename V::F& sin_out, typename V::F& cos_out) {
  using namespace gaussian_detail;
  using F = typename V::F;
  using I = typename V::I;
  const F a = mul<V>(V::cvt(V::and_or(V::template srli<8>(x), V::seti(0x003FFFFFu), V::seti(1))), kQuarterTurnUlp);
  const F a2 = V::mul(a, a);
  F s = V::fma(a2, V::setf(-1.0f / 39916800.0f), V::setf(1.0f / 362880.0f));
  s = fma<V>(s, a2, -1.0f / 5040.0f);
  s = fma<V>(s, a2, 1.0f / 120.0f);
  s = fma<V>(s, a2, -1.0f / 6.0f);
  s = fma<V>(s, a2, 1.0f);
  s = V::mul(s, a);
  F c = V::fma(a2, V::setf(1.0f / 479001600.0f), V::setf(-1.0f / 3628800.0f));
  c = fma<V>(c, a2, 1.0f / 40320.0f);
  c = fma<V>(c, a2, -1.0f / 720.0f);
  c = fma<V>(c, a2, 1.0f / 24.0f);
  c = fma<V>(c, a2, -0.5f);
  c = fma<V>(c, a2, 1.0f);
  const auto odd = V::bit30(x);
  const F sq = V::select(odd, c, s);
  const F cq = V::select(odd, s, c);
  const I sign = V::seti(0x80000000u);
  sin_out = V::as_f(V::xor_and(V::as_i(sq), x, sign));
  cos_out = V::as_f(V::xor_and(V::as_i(cq), V::xor_(x, V::template slli<1>(x)), sign));
}

template <class V>
inline void box_muller(typename V::I a, typename V::I b, typename V::F& z0, typename V::F& z1) {
  typename V::F s, c;
  const typename V::F rad = V::sqrt(minus_two_log_of_word<V>(a));
  sincos_2pi_of_word<V>(b, s, c);
  z0 = V::mul(rad, c);
  z1 = V::mul(rad, s);
}

// The normals of kGroups vectors of passes (kGroups * V::kLanes / 8 passes, in order).
template <class V, int kGroups>
inline void normals_of_passes(const Pass* passes, const KeySchedule<V>& key) {
  constexpr int kPassesPerVector = V::kLanes / kBlocksPerPass;
  typename V::I x[kGroups][4];
  for (int g = 0; g < kGroups; ++g) V::load_passes(passes + g * kPassesPerVector, x[g]);
  philox_rounds<V, kGroups>(x, key);
  typename V::F z[kGroups][4];
  for (int g = 0; g < kGroups; ++g) {
    box_muller<V>(x[g][0], x[g][1], z[g][0], z[g][1]);
    box_muller<V>(x[g][2], x[g][3], z[g][2], z[g][3]);
  }
  for (int g = 0; g < kGroups; ++g) V::store_passes(z[g], passes + g * kPassesPerVector);
}

// A batch of kWays passes for normal_rows: passes that end a row early, and the padding of a last
// partial batch, write into a scratch tail, and the part that belongs to a row is copied out.
template <class V, int kGroups>
struct PassBatch {
  static constexpr int kWays = kGroups * V::kLanes / kBlocksPerPass;
  alignas(64) float tail[kWays][kPassNormals];
  Pass pass[kWays];
  int64_t copy_count[kWays];
  float* copy_to[kWays];
  int pending = 0;

  // Queues normals [first, first + 32) of the row whose counter is nc and whose values start at row_out.
  void add(const NoiseCounter& nc, int64_t first, int64_t n, float* row_out, const KeySchedule<V>& key) {
    const int64_t count = std::min(kPassNormals, n - first);
    const bool whole = count == kPassNormals;
    pass[pending] = {static_cast<uint32_t>(first / 4), nc.c1, nc.c2, nc.c3, whole ? row_out + first : tail[pending]};
    copy_to[pending] = whole ? nullptr : row_out + first;
    copy_count[pending] = count;
    if (++pending == kWays) flush(key);
  }
  void flush(const KeySchedule<V>& key) {
    constexpr int kPassesPerVector = V::kLanes / kBlocksPerPass;
    if (pending == kWays) {
      normals_of_passes<V, kGroups>(pass, key);
    } else {  // a partial batch (a short call, or the end of one): only the vectors it fills
      for (int g = pending; g % kPassesPerVector; ++g) pass[g] = {0, 0, 0, 0, tail[g]}, copy_to[g] = nullptr;
      for (int g = 0; g < pending; g += kPassesPerVector) normals_of_passes<V, 1>(pass + g, key);
    }
    for (int g = 0; g < pending; ++g)
      if (copy_to[g]) std::copy(tail[g], tail[g] + copy_count[g], copy_to[g]);
    pending = 0;
  }
};

// normal_rows (kernels/noise_rows.hpp) at width V: every (row, pass) is one job; jobs go kGroups
// vectors at a time.
template <class V, int kGroups>
void normal_rows(uint64_t seed, RngDomain domain, uint64_t step, uint32_t table, const int64_t* rows, int64_t nrows,
                 int64_t n, float* out) {
  const KeySchedule<V> key(static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  PassBatch<V, kGroups> batch;
  for (int64_t j = 0; j < nrows; ++j) {
    const NoiseCounter nc = noise_counter(domain, step, table, static_cast<uint64_t>(rows[j]));
    for (int64_t first = 0; first < n; first += kPassNormals) batch.add(nc, first, n, out + j * n, key);
  }
  if (batch.pending) batch.flush(key);
}

// first_normals (kernels/noise_rows.hpp) at width V for the leading whole vectors of rows (kGroups
// vectors at a time, then one): one lane per row (block 0), the first Box–Muller normal only.
// Returns how many rows it did (nrows rounded down to a multiple of V::kLanes).
template <class V, int kGroups>
int64_t first_normals(uint64_t seed, RngDomain domain, uint64_t step, uint32_t table, const int64_t* rows,
                      int64_t nrows, float* out) {
  constexpr int kRows = V::kLanes * kGroups;
  const KeySchedule<V> key(static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  alignas(64) uint32_t c1[kRows], c2[kRows], c3[kRows];
  int64_t j = 0;
  for (; j + kRows <= nrows; j += kRows) {
    for (int l = 0; l < kRows; ++l) {
      const NoiseCounter nc = noise_counter(domain, step, table, static_cast<uint64_t>(rows[j + l]));
      c1[l] = nc.c1, c2[l] = nc.c2, c3[l] = nc.c3;
    }
    typename V::I x[kGroups][4];
    for (int g = 0; g < kGroups; ++g) {
      x[g][0] = V::seti(0);
      x[g][1] = V::loadu(c1 + V::kLanes * g);
      x[g][2] = V::loadu(c2 + V::kLanes * g);
      x[g][3] = V::loadu(c3 + V::kLanes * g);
    }
    philox_rounds<V, kGroups>(x, key);
    for (int g = 0; g < kGroups; ++g) {
      typename V::F z0, z1;
      box_muller<V>(x[g][0], x[g][1], z0, z1);
      V::storeu(out + j + V::kLanes * g, z0);
    }
  }
  // The whole vectors left, one at a time.
  if constexpr (kGroups > 1) j += first_normals<V, 1>(seed, domain, step, table, rows + j, nrows - j, out + j);
  return j;
}

}  // namespace privrec::cpu::simd
