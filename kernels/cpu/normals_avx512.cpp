#include "kernels/cpu/normals_avx512.hpp"

// Everything the functions below use from other headers is included first, outside the region
// compiled for AVX-512, so no inline function another file shares is ever built with AVX-512.
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstdint>

#include "models/rng/gaussian.hpp"
#include "models/rng/philox.hpp"

namespace privrec::cpu {

bool cpu_has_avx512() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  // __builtin_cpu_supports also checks that the operating system saves the AVX-512 state.
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                          __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  return has;
#else
  return false;
#endif
}

}  // namespace privrec::cpu

#if defined(__AVX2__) && defined(__FMA__)  // the x86-64 build (noise_rows.cpp calls these only there)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl")
// GCC 12's own avx512fintrin.h builds its undefined vectors by self-initialization (__m512i __Y = __Y),
// which its uninitialized-use warnings then report at every intrinsic that uses one.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "kernels/cpu/normals_simd.hpp"

namespace privrec::cpu {
namespace simd {

struct Avx512 {
  static constexpr int kLanes = 16;
  using I = __m512i;
  using F = __m512;
  using M = __mmask16;

  static I seti(uint32_t v) { return _mm512_set1_epi32(static_cast<int>(v)); }
  static F setf(float v) { return _mm512_set1_ps(v); }
  static I loadu(const uint32_t* p) { return _mm512_loadu_si512(p); }
  static void storeu(float* p, F v) { _mm512_storeu_ps(p, v); }
  template <int n>
  static I srli(I a) { return _mm512_srli_epi32(a, n); }
  template <int n>
  static I slli(I a) { return _mm512_slli_epi32(a, n); }
  static I or_(I a, I b) { return _mm512_or_si512(a, b); }
  static I xor_(I a, I b) { return _mm512_xor_si512(a, b); }
  static I xor3(I a, I b, I c) { return _mm512_ternarylogic_epi32(a, b, c, 0x96); }  // a ^ b ^ c in one
  static I and_or(I a, I b, I c) { return _mm512_ternarylogic_epi32(a, b, c, 0xEA); }  // (a & b) | c
  static I xor_and(I a, I b, I c) { return _mm512_ternarylogic_epi32(a, b, c, 0x78); }  // a ^ (b & c)
  static I sub_i(I a, I b) { return _mm512_sub_epi32(a, b); }
  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F div(F a, F b) { return _mm512_div_ps(a, b); }
  static F sqrt(F a) { return _mm512_sqrt_ps(a); }
  static F cvt(I a) { return _mm512_cvtepi32_ps(a); }
  static F as_f(I a) { return _mm512_castsi512_ps(a); }
  static I as_i(F a) { return _mm512_castps_si512(a); }
  static M gt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static M bit30(I x) { return _mm512_test_epi32_mask(x, _mm512_set1_epi32(1 << 30)); }
  static F select(M m, F if_set, F if_clear) { return _mm512_mask_blend_ps(m, if_clear, if_set); }
  static I add_one_where(I e, M m) { return _mm512_mask_add_epi32(e, m, e, _mm512_set1_epi32(1)); }
  static F mul_where(M m, F a, F b) { return _mm512_mask_mul_ps(a, m, a, b); }  // a * b where set, else a

  // High and low halves of the sixteen 32x32 products a[i] * m (m broadcast): the even and odd
  // lanes' 64-bit products, their halves gathered by one two-source permute each.
  static void mul_hi_lo(I a, I m, I& hi, I& lo) {
    const I even = _mm512_mul_epu32(a, m);
    const I odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
    const I hi_index = _mm512_setr_epi32(1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
    const I lo_index = _mm512_setr_epi32(0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30);
    hi = _mm512_permutex2var_epi32(even, hi_index, odd);
    lo = _mm512_permutex2var_epi32(even, lo_index, odd);
  }

  // The ten rounds with each word's sixteen blocks in the low halves of two vectors of 64-bit lanes
  // (blocks 0-7, 8-15): a product's low word is then already in place and its high word one shift
  // away, where the sixteen-lane layout gathers both halves by permutes that each overwrite an
  // operand (so the compiler copies registers around them). The high halves of the lanes carry
  // junk that no operation reads: vpmuludq reads only the low halves. Two groups at a time keep
  // the 16 state vectors in registers.
  template <int kGroups>
  static void philox_rounds(I (&x)[kGroups][4], const I (&k0)[10], const I (&k1)[10]) {
    const I m0 = seti(philox_detail::kM0), m1 = seti(philox_detail::kM1);
    const I join = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    for (int g0 = 0; g0 < kGroups; g0 += 2) {
      constexpr int kHalves = 2 * (kGroups < 2 ? kGroups : 2);
      const int halves = std::min(kGroups - g0, 2) * 2;
      I h[kHalves][4];
      for (int v = 0; v < halves; ++v)
        for (int w = 0; w < 4; ++w) {
          const I src = x[g0 + v / 2][w];
          h[v][w] = _mm512_cvtepu32_epi64(v % 2 ? _mm512_extracti64x4_epi64(src, 1) : _mm512_castsi512_si256(src));
        }
      for (int round = 0; round < 10; ++round)
        for (int v = 0; v < halves; ++v) {
          const I p0 = _mm512_mul_epu32(h[v][0], m0);
          const I p1 = _mm512_mul_epu32(h[v][2], m1);
          h[v][0] = xor3(_mm512_srli_epi64(p1, 32), h[v][1], k0[round]);
          h[v][1] = p1;
          h[v][2] = xor3(_mm512_srli_epi64(p0, 32), h[v][3], k1[round]);
          h[v][3] = p0;
        }
      for (int v = 0; v < halves; v += 2)
        for (int w = 0; w < 4; ++w) x[g0 + v / 2][w] = _mm512_permutex2var_epi32(h[v][w], join, h[v + 1][w]);
    }
  }

  // Counters of two passes: lanes 0-7 block p[0].c0 + lane, lanes 8-15 block p[1].c0 + lane - 8.
  static void load_passes(const Pass* p, I (&x)[4]) {
    const I lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7);
    x[0] = _mm512_add_epi32(_mm512_mask_blend_epi32(0xFF00, seti(p[0].c0), seti(p[1].c0)), lane);
    x[1] = _mm512_mask_blend_epi32(0xFF00, seti(p[0].c1), seti(p[1].c1));
    x[2] = _mm512_mask_blend_epi32(0xFF00, seti(p[0].c2), seti(p[1].c2));
    x[3] = _mm512_mask_blend_epi32(0xFF00, seti(p[0].c3), seti(p[1].c3));
  }

  // 4x16 -> 16x4: block l's four normals are columns 4l .. 4l+3 of its pass. After the unpacks
  // (as in the AVX2 width, within 128-bit lanes) u_k holds blocks k, k+4, k+8, k+12; a 4x4
  // transpose of 128-bit lanes puts them in order.
  static void store_passes(const F (&z)[4], const Pass* p) {
    const F t0 = _mm512_unpacklo_ps(z[0], z[1]), t1 = _mm512_unpackhi_ps(z[0], z[1]);
    const F t2 = _mm512_unpacklo_ps(z[2], z[3]), t3 = _mm512_unpackhi_ps(z[2], z[3]);
    const F u0 = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2)));
    const F u1 = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2)));
    const F u2 = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3)));
    const F u3 = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3)));
    const F v0 = _mm512_shuffle_f32x4(u0, u1, _MM_SHUFFLE(1, 0, 1, 0));  // u0.0 u0.1 u1.0 u1.1
    const F v1 = _mm512_shuffle_f32x4(u2, u3, _MM_SHUFFLE(1, 0, 1, 0));
    const F v2 = _mm512_shuffle_f32x4(u0, u1, _MM_SHUFFLE(3, 2, 3, 2));  // u0.2 u0.3 u1.2 u1.3
    const F v3 = _mm512_shuffle_f32x4(u2, u3, _MM_SHUFFLE(3, 2, 3, 2));
    _mm512_storeu_ps(p[0].out + 0, _mm512_shuffle_f32x4(v0, v1, _MM_SHUFFLE(2, 0, 2, 0)));
    _mm512_storeu_ps(p[0].out + 16, _mm512_shuffle_f32x4(v0, v1, _MM_SHUFFLE(3, 1, 3, 1)));
    _mm512_storeu_ps(p[1].out + 0, _mm512_shuffle_f32x4(v2, v3, _MM_SHUFFLE(2, 0, 2, 0)));
    _mm512_storeu_ps(p[1].out + 16, _mm512_shuffle_f32x4(v2, v3, _MM_SHUFFLE(3, 1, 3, 1)));
  }
};

}  // namespace simd

// Groups of vectors interleaved per call: one core of the Intel Xeon VM (AVX-512), best of 5 runs of
// 4096 rows x 128: 1 group 678, 2 804, 3 852, 4 853 M normals/s (AVX2's 4 groups: about 520).
constexpr int kAvx512Groups = 4;

void normal_rows_avx512(uint64_t seed, RngDomain domain, uint64_t step, uint32_t table, const int64_t* rows,
                        int64_t nrows, int64_t n, float* out) {
  simd::normal_rows<simd::Avx512, kAvx512Groups>(seed, domain, step, table, rows, nrows, n, out);
}

int64_t first_normals_avx512(uint64_t seed, RngDomain domain, uint64_t step, uint32_t table, const int64_t* rows,
                             int64_t nrows, float* out) {
  return simd::first_normals<simd::Avx512, kAvx512Groups>(seed, domain, step, table, rows, nrows, out);
}

}  // namespace privrec::cpu

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC diagnostic pop
#pragma GCC pop_options
#endif

#endif
