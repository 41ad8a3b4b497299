#include "kernels/cpu/gemm.hpp"

#include <algorithm>
#include <vector>

#include "kernels/cpu/dlrm_model.hpp"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

namespace privrec::cpu {

namespace {
// Blocking as in Goto & van de Geijn: B is packed into 16-column panels of kKc rows (kKc x kNc
// floats = 512 KB, about one core's L2), and a 6 x 16 register tile (12 accumulators, enough to
// hide the FMA latency on two FMA pipes) walks the packed panel against six rows of A.
constexpr int kMr = 6, kNr = 16;
constexpr int64_t kKc = 256, kNc = 512;

// Packs B[0..kc) x [0..nc) into panels: panel p holds columns 16p..16p+15, row by row, zero-padded.
void pack_b(int64_t kc, int64_t nc, const float* B, int64_t ldb, float* packed) {
  const int64_t panels = (nc + kNr - 1) / kNr;
#pragma omp for schedule(static)
  for (int64_t p = 0; p < panels; ++p) {
    const int64_t j0 = p * kNr, nj = std::min<int64_t>(kNr, nc - j0);
    float* dst = packed + p * kc * kNr;
    for (int64_t k = 0; k < kc; ++k) {
      const float* src = B + k * ldb + j0;
      int64_t j = 0;
      for (; j < nj; ++j) dst[k * kNr + j] = src[j];
      for (; j < kNr; ++j) dst[k * kNr + j] = 0.0f;
    }
  }
}

// C tile (6 x 16, row stride ldc) = (load ? C : 0) + A rows x packed panel, over kc.
inline void micro_tile(int64_t kc, const float* const a[kMr], const float* bp, float* C, int64_t ldc, bool load) {
#if defined(__AVX2__) && defined(__FMA__)
  __m256 acc[kMr][2];
  for (int r = 0; r < kMr; ++r) {
    acc[r][0] = load ? _mm256_loadu_ps(C + r * ldc) : _mm256_setzero_ps();
    acc[r][1] = load ? _mm256_loadu_ps(C + r * ldc + 8) : _mm256_setzero_ps();
  }
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(bp + k * kNr), b1 = _mm256_load_ps(bp + k * kNr + 8);
#pragma GCC unroll 6
    for (int r = 0; r < kMr; ++r) {
      const __m256 x = _mm256_broadcast_ss(a[r] + k);
      acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
    }
  }
  for (int r = 0; r < kMr; ++r) {
    _mm256_storeu_ps(C + r * ldc, acc[r][0]);
    _mm256_storeu_ps(C + r * ldc + 8, acc[r][1]);
  }
#else
  float acc[kMr][kNr];
  for (int r = 0; r < kMr; ++r)
    for (int j = 0; j < kNr; ++j) acc[r][j] = load ? C[r * ldc + j] : 0.0f;
  for (int64_t k = 0; k < kc; ++k)
    for (int r = 0; r < kMr; ++r)
      for (int j = 0; j < kNr; ++j) acc[r][j] += a[r][k] * bp[k * kNr + j];
  for (int r = 0; r < kMr; ++r)
    for (int j = 0; j < kNr; ++j) C[r * ldc + j] = acc[r][j];
#endif
}
}  // namespace

void sgemm_nn(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
              int64_t ldc, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate)
      for (int64_t i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + N, 0.0f);
    return;
  }
  const int64_t kc_max = std::min(K, kKc), nc_max = std::min(N, kNc);
  FloatArray packed(kc_max * ((nc_max + kNr - 1) / kNr) * kNr);  // 64-byte aligned panels
  const int64_t row_blocks = (M + kMr - 1) / kMr;
#pragma omp parallel if (M * N * K > 32768)
  {
    alignas(32) float edge[kMr * kNr];
    for (int64_t jc = 0; jc < N; jc += kNc) {
      const int64_t nc = std::min(kNc, N - jc), panels = (nc + kNr - 1) / kNr;
      for (int64_t pc = 0; pc < K; pc += kKc) {
        const int64_t kc = std::min(kKc, K - pc);
        const bool load = accumulate || pc > 0;
        pack_b(kc, nc, B + pc * ldb + jc, ldb, packed.data());  // ends with a barrier
#pragma omp for schedule(static)
        for (int64_t ib = 0; ib < row_blocks; ++ib) {
          const int64_t i0 = ib * kMr, mi = std::min<int64_t>(kMr, M - i0);
          const float* a[kMr];
          for (int r = 0; r < kMr; ++r) a[r] = A + (i0 + std::min<int64_t>(r, mi - 1)) * lda + pc;
          for (int64_t p = 0; p < panels; ++p) {
            const int64_t j0 = jc + p * kNr, nj = std::min<int64_t>(kNr, N - j0);
            float* c = C + i0 * ldc + j0;
            if (mi == kMr && nj == kNr) {
              micro_tile(kc, a, packed.data() + p * kc * kNr, c, ldc, load);
            } else {
              for (int64_t r = 0; r < mi; ++r)
                for (int64_t j = 0; j < nj; ++j) edge[r * kNr + j] = load ? c[r * ldc + j] : 0.0f;
              micro_tile(kc, a, packed.data() + p * kc * kNr, edge, kNr, true);
              for (int64_t r = 0; r < mi; ++r)
                for (int64_t j = 0; j < nj; ++j) c[r * ldc + j] = edge[r * kNr + j];
            }
          }
        }  // implicit barrier: the panel is repacked only after every thread is done with it
      }
    }
  }
}

void transpose(int64_t rows, int64_t cols, const float* in, float* out) {
  constexpr int64_t kBlock = 32;
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
  for (int64_t i0 = 0; i0 < rows; i0 += kBlock)
    for (int64_t j0 = 0; j0 < cols; j0 += kBlock)
      for (int64_t i = i0; i < std::min(rows, i0 + kBlock); ++i)
        for (int64_t j = j0; j < std::min(cols, j0 + kBlock); ++j) out[j * rows + i] = in[i * cols + j];
}

}  // namespace privrec::cpu
