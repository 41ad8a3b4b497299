#pragma once
// The AVX2 width of kernels/cpu/normals_simd.hpp: eight lanes, one pass per vector.
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/normals_simd.hpp"

namespace privrec::cpu::simd {

struct Avx2 {
  static constexpr int kLanes = 8;
  using I = __m256i;
  using F = __m256;
  using M = __m256;  // a lane mask in the sign bits (blendv reads only those)

  static I seti(uint32_t v) { return _mm256_set1_epi32(static_cast<int>(v)); }
  static F setf(float v) { return _mm256_set1_ps(v); }
  static I loadu(const uint32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void storeu(float* p, F v) { _mm256_storeu_ps(p, v); }
  template <int n>
  static I srli(I a) { return _mm256_srli_epi32(a, n); }
  template <int n>
  static I slli(I a) { return _mm256_slli_epi32(a, n); }
  static I or_(I a, I b) { return _mm256_or_si256(a, b); }
  static I xor_(I a, I b) { return _mm256_xor_si256(a, b); }
  static I xor3(I a, I b, I c) { return _mm256_xor_si256(_mm256_xor_si256(a, b), c); }
  static I and_or(I a, I b, I c) { return _mm256_or_si256(_mm256_and_si256(a, b), c); }    // (a & b) | c
  static I xor_and(I a, I b, I c) { return _mm256_xor_si256(a, _mm256_and_si256(b, c)); }  // a ^ (b & c)
  static I sub_i(I a, I b) { return _mm256_sub_epi32(a, b); }
  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F div(F a, F b) { return _mm256_div_ps(a, b); }
  static F sqrt(F a) { return _mm256_sqrt_ps(a); }
  static F cvt(I a) { return _mm256_cvtepi32_ps(a); }
  static F as_f(I a) { return _mm256_castsi256_ps(a); }
  static I as_i(F a) { return _mm256_castps_si256(a); }
  static M gt(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
  static M bit30(I x) { return _mm256_castsi256_ps(_mm256_slli_epi32(x, 1)); }
  static F select(M m, F if_set, F if_clear) { return _mm256_blendv_ps(if_clear, if_set, m); }
  static I add_one_where(I e, M m) { return _mm256_sub_epi32(e, _mm256_castps_si256(m)); }  // m is -1 where set
  static F mul_where(M m, F a, F b) { return _mm256_blendv_ps(a, _mm256_mul_ps(a, b), m); }  // a * b where set, else a

  // High and low halves of the eight 32x32 products a[i] * m (m broadcast).
  static void mul_hi_lo(I a, I m, I& hi, I& lo) {
    const I even = _mm256_mul_epu32(a, m);                             // lanes 0,2,4,6 as 64-bit
    const I odd = _mm256_mul_epu32(_mm256_shuffle_epi32(a, 0xF5), m);  // lanes 1,3,5,7
    hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
    lo = _mm256_mullo_epi32(a, m);  // one instruction on Zen 4 and recent Intel, cheaper than shift + blend
  }

  // Counters of one pass: block c0 + lane.
  static void load_passes(const Pass* p, I (&x)[4]) {
    x[0] = _mm256_add_epi32(seti(p->c0), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    x[1] = seti(p->c1);
    x[2] = seti(p->c2);
    x[3] = seti(p->c3);
  }

  // 4x8 -> 8x4: block l's four normals are columns 4l .. 4l+3 of the pass.
  static void store_passes(const F (&z)[4], const Pass* p) {
    const F t0 = _mm256_unpacklo_ps(z[0], z[1]), t1 = _mm256_unpackhi_ps(z[0], z[1]);
    const F t2 = _mm256_unpacklo_ps(z[2], z[3]), t3 = _mm256_unpackhi_ps(z[2], z[3]);
    const F u0 = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2)));
    const F u1 = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2)));
    const F u2 = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3)));
    const F u3 = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3)));
    float* out = p->out;
    _mm256_storeu_ps(out + 0, _mm256_permute2f128_ps(u0, u1, 0x20));
    _mm256_storeu_ps(out + 8, _mm256_permute2f128_ps(u2, u3, 0x20));
    _mm256_storeu_ps(out + 16, _mm256_permute2f128_ps(u0, u1, 0x31));
    _mm256_storeu_ps(out + 24, _mm256_permute2f128_ps(u2, u3, 0x31));
  }
};

}  // namespace privrec::cpu::simd
#endif
