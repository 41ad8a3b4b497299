#pragma once
// Eight Philox4x32-10 blocks and their 32 Box–Muller normals at once, written with AVX2 intrinsics.
// Every operation mirrors gaussian.hpp's reference one for one (same constants, same order, no
// fused multiply-add), so the output is bit-identical to noise_normal(); the test
// Gaussian.BulkRowEqualsReferenceBitForBit holds it to that. Why by hand: the compiler's version of
// the 32x32->64 multiplies and the per-lane selects costs about twice the instructions.
#if defined(__AVX2__)
#include <immintrin.h>

#include <cstdint>

#include "models/rng/philox.hpp"

namespace privrec::cpu::avx2 {

// High and low halves of the eight 32x32 products a[i] * m (m broadcast).
inline void mul_hi_lo(__m256i a, __m256i m, __m256i& hi, __m256i& lo) {
  const __m256i even = _mm256_mul_epu32(a, m);                        // lanes 0,2,4,6 as 64-bit
  const __m256i odd = _mm256_mul_epu32(_mm256_shuffle_epi32(a, 0xF5), m);  // lanes 1,3,5,7
  hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  lo = _mm256_mullo_epi32(a, m);  // one instruction on Zen 4 and recent Intel, cheaper than shift + blend
}

inline __m256 uniform_open01(__m256i x) {
  const __m256i m = _mm256_or_si256(_mm256_slli_epi32(_mm256_srli_epi32(x, 9), 1), _mm256_set1_epi32(1));
  return _mm256_mul_ps(_mm256_cvtepi32_ps(m), _mm256_set1_ps(1.0f / 16777216.0f));
}

inline __m256 add(__m256 a, float b) { return _mm256_add_ps(a, _mm256_set1_ps(b)); }
inline __m256 mul(__m256 a, float b) { return _mm256_mul_ps(a, _mm256_set1_ps(b)); }

// gaussian.hpp: minus_two_log.
inline __m256 minus_two_log(__m256 u) {
  const __m256i b = _mm256_castps_si256(u);
  __m256i e = _mm256_sub_epi32(_mm256_srli_epi32(b, 23), _mm256_set1_epi32(127));
  __m256 m = _mm256_castsi256_ps(
      _mm256_or_si256(_mm256_and_si256(b, _mm256_set1_epi32(0x007FFFFF)), _mm256_set1_epi32(0x3F800000)));
  const __m256 high = _mm256_cmp_ps(m, _mm256_set1_ps(1.41421356f), _CMP_GT_OQ);
  m = _mm256_mul_ps(m, _mm256_blendv_ps(_mm256_set1_ps(1.0f), _mm256_set1_ps(0.5f), high));
  e = _mm256_sub_epi32(e, _mm256_castps_si256(high));  // high is all ones (-1) where true
  const __m256 s = _mm256_div_ps(add(m, -1.0f), add(m, 1.0f));
  const __m256 s2 = _mm256_mul_ps(s, s);
  __m256 p = add(mul(s2, 1.0f / 9.0f), 1.0f / 7.0f);
  p = add(_mm256_mul_ps(p, s2), 1.0f / 5.0f);
  p = add(_mm256_mul_ps(p, s2), 1.0f / 3.0f);
  p = add(_mm256_mul_ps(p, s2), 1.0f);
  const __m256 ln_m = _mm256_mul_ps(mul(s, 2.0f), p);
  const __m256 ln_u = _mm256_add_ps(mul(_mm256_cvtepi32_ps(e), 0.693147180559945f), ln_m);
  return mul(ln_u, -2.0f);
}

// gaussian.hpp: sincos_2pi.
inline void sincos_2pi(__m256 v, __m256& sin_out, __m256& cos_out) {
  const __m256 w = mul(v, 4.0f);
  const __m256i q = _mm256_cvttps_epi32(w);
  const __m256 a = mul(_mm256_sub_ps(w, _mm256_cvtepi32_ps(q)), 1.57079632679490f);
  const __m256 a2 = _mm256_mul_ps(a, a);
  __m256 s = add(mul(a2, -1.0f / 39916800.0f), 1.0f / 362880.0f);
  s = add(_mm256_mul_ps(s, a2), -1.0f / 5040.0f);
  s = add(_mm256_mul_ps(s, a2), 1.0f / 120.0f);
  s = add(_mm256_mul_ps(s, a2), -1.0f / 6.0f);
  s = add(_mm256_mul_ps(s, a2), 1.0f);
  s = _mm256_mul_ps(s, a);
  __m256 c = add(mul(a2, 1.0f / 479001600.0f), -1.0f / 3628800.0f);
  c = add(_mm256_mul_ps(c, a2), 1.0f / 40320.0f);
  c = add(_mm256_mul_ps(c, a2), -1.0f / 720.0f);
  c = add(_mm256_mul_ps(c, a2), 1.0f / 24.0f);
  c = add(_mm256_mul_ps(c, a2), -0.5f);
  c = add(_mm256_mul_ps(c, a2), 1.0f);
  const __m256 odd = _mm256_castsi256_ps(_mm256_slli_epi32(q, 31));  // sign bit set where q & 1
  const __m256 sq = _mm256_blendv_ps(s, c, odd);
  const __m256 cq = _mm256_blendv_ps(c, s, odd);
  // Negation is a sign flip: bit 1 of q (or of q + 1) moved to the sign bit.
  const __m256i sign_s = _mm256_slli_epi32(_mm256_and_si256(q, _mm256_set1_epi32(2)), 30);
  const __m256i sign_c =
      _mm256_slli_epi32(_mm256_and_si256(_mm256_add_epi32(q, _mm256_set1_epi32(1)), _mm256_set1_epi32(2)), 30);
  sin_out = _mm256_xor_ps(sq, _mm256_castsi256_ps(sign_s));
  cos_out = _mm256_xor_ps(cq, _mm256_castsi256_ps(sign_c));
}

inline void box_muller(__m256i a, __m256i b, __m256& z0, __m256& z1) {
  __m256 s, c;
  const __m256 rad = _mm256_sqrt_ps(minus_two_log(uniform_open01(a)));
  sincos_2pi(uniform_open01(b), s, c);
  z0 = _mm256_mul_ps(rad, c);
  z1 = _mm256_mul_ps(rad, s);
}

// One pass: the 32 normals of column blocks c0 .. c0+7 of counter (c1, c2, c3).
struct Pass {
  uint32_t c0, c1, c2, c3;
  float* out;  // 32 floats, in column order
};

inline void transpose_store(__m256 z0, __m256 z1, __m256 z2, __m256 z3, float* out) {
  // 4x8 -> 8x4: block l's four normals are columns 4l .. 4l+3.
  const __m256 t0 = _mm256_unpacklo_ps(z0, z1), t1 = _mm256_unpackhi_ps(z0, z1);
  const __m256 t2 = _mm256_unpacklo_ps(z2, z3), t3 = _mm256_unpackhi_ps(z2, z3);
  const __m256 u0 = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2)));
  const __m256 u1 = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2)));
  const __m256 u2 = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3)));
  const __m256 u3 = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3)));
  _mm256_storeu_ps(out + 0, _mm256_permute2f128_ps(u0, u1, 0x20));
  _mm256_storeu_ps(out + 8, _mm256_permute2f128_ps(u2, u3, 0x20));
  _mm256_storeu_ps(out + 16, _mm256_permute2f128_ps(u0, u1, 0x31));
  _mm256_storeu_ps(out + 24, _mm256_permute2f128_ps(u2, u3, 0x31));
}

// kGroups independent passes at once. One pass is a long chain of dependent latency (ten Philox
// rounds, then the log and sin/cos polynomials) that the out-of-order window overlaps poorly with
// the next; interleaved chains keep the vector units busy (4 groups: 1.38x the speed of 1).
// The ten round keys of a seed, broadcast: computed once per batch of rows, not once per pass.
struct KeySchedule {
  __m256i k0[10], k1[10];
  KeySchedule(uint32_t k0_, uint32_t k1_) {
    for (int round = 0; round < 10; ++round) {
      k0[round] = _mm256_set1_epi32(static_cast<int>(k0_));
      k1[round] = _mm256_set1_epi32(static_cast<int>(k1_));
      k0_ += philox_detail::kW0;
      k1_ += philox_detail::kW1;
    }
  }
};

// The ten Philox4x32 rounds on kGroups sets of eight counters (x[g][0..3], lanes independent).
template <int kGroups>
inline void philox_rounds(__m256i (&x)[kGroups][4], const KeySchedule& key) {
  using namespace philox_detail;
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(kM0)), m1 = _mm256_set1_epi32(static_cast<int>(kM1));
  for (int round = 0; round < 10; ++round) {
    const __m256i key0 = key.k0[round], key1 = key.k1[round];
    for (int g = 0; g < kGroups; ++g) {
      __m256i hi0, lo0, hi1, lo1;
      mul_hi_lo(x[g][0], m0, hi0, lo0);
      mul_hi_lo(x[g][2], m1, hi1, lo1);
      x[g][0] = _mm256_xor_si256(_mm256_xor_si256(hi1, x[g][1]), key0);
      x[g][1] = lo1;
      x[g][2] = _mm256_xor_si256(_mm256_xor_si256(hi0, x[g][3]), key1);
      x[g][3] = lo0;
    }
  }
}

template <int kGroups>
inline void normals32(const Pass* passes, const KeySchedule& key) {
  __m256i x[kGroups][4];
  for (int g = 0; g < kGroups; ++g) {
    const Pass& p = passes[g];
    x[g][0] = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(p.c0)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    x[g][1] = _mm256_set1_epi32(static_cast<int>(p.c1));
    x[g][2] = _mm256_set1_epi32(static_cast<int>(p.c2));
    x[g][3] = _mm256_set1_epi32(static_cast<int>(p.c3));
  }
  philox_rounds<kGroups>(x, key);
  __m256 z[kGroups][4];
  for (int g = 0; g < kGroups; ++g) {
    box_muller(x[g][0], x[g][1], z[g][0], z[g][1]);
    box_muller(x[g][2], x[g][3], z[g][2], z[g][3]);
  }
  for (int g = 0; g < kGroups; ++g) transpose_store(z[g][0], z[g][1], z[g][2], z[g][3], passes[g].out);
}

// Column 0 of eight coordinates at once, one per lane (c1, c2, c3 per lane, block 0): the first
// Box–Muller normal of each block only. kGroups sets of eight interleaved, as in normals32.
template <int kGroups>
inline void first_normals8(const uint32_t* c1, const uint32_t* c2, const uint32_t* c3, const KeySchedule& key, float* out) {
  __m256i x[kGroups][4];
  for (int g = 0; g < kGroups; ++g) {
    x[g][0] = _mm256_setzero_si256();
    x[g][1] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c1 + 8 * g));
    x[g][2] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c2 + 8 * g));
    x[g][3] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c3 + 8 * g));
  }
  philox_rounds<kGroups>(x, key);
  for (int g = 0; g < kGroups; ++g) {
    __m256 z0, z1;
    box_muller(x[g][0], x[g][1], z0, z1);
    _mm256_storeu_ps(out + 8 * g, z0);
  }
}

}  // namespace privrec::cpu::avx2
#endif
