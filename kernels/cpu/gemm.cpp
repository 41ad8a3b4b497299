#include "kernels/cpu/gemm.hpp"

#include <algorithm>
#include <vector>

#include <omp.h>

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

// Packs panels [p0, p1) of B[0..kc) x [0..nc) into packed: panel p (columns 16p..16p+15, zero-padded
// past nc) lands at packed + (p - p0) * kc * 16, row by row; row k times scale[k] when given.
void pack_b(int64_t kc, int64_t nc, int64_t p0, int64_t p1, const float* B, int64_t ldb, const float* scale,
            float* packed) {
  for (int64_t p = p0; p < p1; ++p) {
    const int64_t j0 = p * kNr, nj = std::min<int64_t>(kNr, nc - j0);
    float* dst = packed + (p - p0) * kc * kNr;
    for (int64_t k = 0; k < kc; ++k, dst += kNr) {
      const float* src = B + k * ldb + j0;
      int64_t j = 0;
      if (scale) {
        const float f = scale[k];
        for (; j < nj; ++j) dst[j] = src[j] * f;
      } else {
        for (; j < nj; ++j) dst[j] = src[j];
      }
      for (; j < kNr; ++j) dst[j] = 0.0f;
    }
  }
}

// C tile (6 x 16, row stride ldc) = (load ? C : 0) + A rows x packed B panel, over kc. Element k of
// row r of A is a[r][k * KS] (KS 1: row-major A; KS 6: a packed micro-panel).
template <int KS>
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
      const __m256 x = _mm256_broadcast_ss(a[r] + k * KS);
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
      for (int j = 0; j < kNr; ++j) acc[r][j] += a[r][k * KS] * bp[k * kNr + j];
  for (int r = 0; r < kMr; ++r)
    for (int j = 0; j < kNr; ++j) C[r * ldc + j] = acc[r][j];
#endif
}

// A K block of one N block: panels [p0, p1) of the N block starting at column jc, k in [pc, pc + kc).
struct Block {
  int64_t jc, p0, p1, pc, kc;
  bool load;  // add to C (accumulating, or a K block after the first)
};

// Row block ib of C (six rows) += its rows of A x the block's packed panels (panel p at
// packed + (p - p0) * kc * 16). Edge tiles go through a 6 x 16 scratch tile; rows past M repeat
// the last row (their products land in the scratch rows that are not copied back).
void multiply_row_block(const GemmA& A, int64_t M, int64_t N, int64_t ib, const Block& b, const float* packed, float* C,
                        int64_t ldc) {
  alignas(32) float edge[kMr * kNr];
  alignas(64) float apanel[kMr * kKc];
  const int64_t i0 = ib * kMr, mi = std::min<int64_t>(kMr, M - i0);
  const float* a[kMr];
  if (A.transposed) {
    // A transposed is read k by k, six values a row of A apart: at a power-of-two ld those lines
    // share a few L1 sets and evict one another, so the micro-panel is copied out once (k-major).
    for (int64_t k = 0; k < b.kc; ++k) {
      const float* src = A.data + (b.pc + k) * A.ld + i0;
      for (int r = 0; r < kMr; ++r) apanel[k * kMr + r] = src[std::min<int64_t>(r, mi - 1)];
    }
    for (int r = 0; r < kMr; ++r) a[r] = apanel + r;
  } else {
    for (int r = 0; r < kMr; ++r) a[r] = A.data + (i0 + std::min<int64_t>(r, mi - 1)) * A.ld + b.pc;
  }
  auto tile = [&](const float* bp, float* c, int64_t ld, bool load) {
    if (A.transposed)
      micro_tile<kMr>(b.kc, a, bp, c, ld, load);
    else
      micro_tile<1>(b.kc, a, bp, c, ld, load);
  };
  for (int64_t p = b.p0; p < b.p1; ++p) {
    const int64_t j0 = b.jc + p * kNr, nj = std::min<int64_t>(kNr, N - j0);
    const float* bp = packed + (p - b.p0) * b.kc * kNr;
    float* c = C + i0 * ldc + j0;
    if (mi == kMr && nj == kNr) {
      tile(bp, c, ldc, b.load);
      continue;
    }
    for (int64_t r = 0; r < mi; ++r)
      for (int64_t j = 0; j < nj; ++j) edge[r * kNr + j] = b.load ? c[r * ldc + j] : 0.0f;
    tile(bp, edge, kNr, true);
    for (int64_t r = 0; r < mi; ++r)
      for (int64_t j = 0; j < nj; ++j) c[r * ldc + j] = edge[r * kNr + j];
  }
}
}  // namespace

void sgemm_nn(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
              int64_t ldc, bool accumulate) {
  sgemm(M, N, K, GemmA{.data = A, .ld = lda}, nullptr, B, ldb, C, ldc, accumulate);
}

void sgemm(int64_t M, int64_t N, int64_t K, const GemmA& A, const float* k_scale, const float* B, int64_t ldb, float* C,
           int64_t ldc, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate)
      for (int64_t i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + N, 0.0f);
    return;
  }
  const int64_t row_blocks = (M + kMr - 1) / kMr, first_panels = (std::min(N, kNc) + kNr - 1) / kNr;
  const bool parallel = M * N * K > 32768;
  const int threads = parallel ? omp_get_max_threads() : 1;
  if (M < K && (first_panels >= 2 || threads == 1)) {
    // Few rows against a long K (the weight gradients: K is the batch): each thread (at most one
    // per column panel) packs its own panels of B and multiplies every row of A against them.
    // Nothing packed is shared, so there is no barrier and no packed data crosses cores. With the
    // threads splitting the rows instead, packing (K x N) outweighed a product of few rows: a
    // 6 x 512 x 2048 product took 1.1 ms on this VM's two threads against 0.3 ms on one.
#pragma omp parallel num_threads(static_cast<int>(std::min<int64_t>(threads, first_panels))) if (parallel)
    {
      static thread_local FloatArray packed;
      if (packed.size() < kKc * kNc) packed = FloatArray(kKc * kNc);
      const int t = omp_get_thread_num(), nt = omp_get_num_threads();
      for (int64_t jc = 0; jc < N; jc += kNc) {
        const int64_t nc = std::min(kNc, N - jc), panels = (nc + kNr - 1) / kNr;
        const int64_t p0 = panels * t / nt, p1 = panels * (t + 1) / nt;
        if (p0 == p1) continue;
        for (int64_t pc = 0; pc < K; pc += kKc) {
          const int64_t kc = std::min(kKc, K - pc);
          pack_b(kc, nc, p0, p1, B + pc * ldb + jc, ldb, k_scale ? k_scale + pc : nullptr, packed.data());
          const Block blk{.jc = jc, .p0 = p0, .p1 = p1, .pc = pc, .kc = kc, .load = accumulate || pc > 0};
          for (int64_t ib = 0; ib < row_blocks; ++ib) multiply_row_block(A, M, N, ib, blk, packed.data(), C, ldc);
        }
      }
    }
    return;
  }
  // Otherwise the threads share one packed panel set and split the rows.
  FloatArray packed(std::min(K, kKc) * first_panels * kNr);  // 64-byte aligned panels
#pragma omp parallel if (parallel)
  for (int64_t jc = 0; jc < N; jc += kNc) {
    const int64_t nc = std::min(kNc, N - jc), panels = (nc + kNr - 1) / kNr;
    for (int64_t pc = 0; pc < K; pc += kKc) {
      const int64_t kc = std::min(kKc, K - pc);
#pragma omp for schedule(static)
      for (int64_t p = 0; p < panels; ++p) pack_b(kc, nc, p, p + 1, B + pc * ldb + jc, ldb, k_scale ? k_scale + pc : nullptr,
               packed.data() + p * kc * kNr);
      const Block blk{.jc = jc, .p0 = 0, .p1 = panels, .pc = pc, .kc = kc, .load = accumulate || pc > 0};
#pragma omp for schedule(static)
      for (int64_t ib = 0; ib < row_blocks; ++ib) multiply_row_block(A, M, N, ib, blk, packed.data(), C, ldc);
      // implicit barrier: the panels are repacked only after every thread is done with them
    }
  }
}

namespace {
// out (8 x 8 block, row stride ldo) = in (8 x 8 block, row stride ldi) transposed, in registers.
inline void transpose8x8(const float* in, int64_t ldi, float* out, int64_t ldo) {
#if defined(__AVX2__)
  __m256 r[8], t[8], u[8];
  for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(in + k * ldi);
  for (int k = 0; k < 8; k += 2) {  // interleave pairs of rows: (a0 b0 a1 b1 | a4 b4 a5 b5), ...
    t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);
    t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
  }
  for (int k = 0; k < 8; k += 4) {  // then pairs of pairs: four-element columns within each 128-bit lane
    u[k] = _mm256_shuffle_ps(t[k], t[k + 2], 0x44);
    u[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], 0xEE);
    u[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], 0x44);
    u[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], 0xEE);
  }
  for (int k = 0; k < 4; ++k) {  // and the lanes of rows 0-3 with those of rows 4-7
    _mm256_storeu_ps(out + k * ldo, _mm256_permute2f128_ps(u[k], u[k + 4], 0x20));
    _mm256_storeu_ps(out + (k + 4) * ldo, _mm256_permute2f128_ps(u[k], u[k + 4], 0x31));
  }
#else
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 8; ++j) out[j * ldo + i] = in[i * ldi + j];
#endif
}
}  // namespace

void transpose(int64_t rows, int64_t cols, const float* in, float* out) {
  // 8 x 8 register blocks inside 64 x 64 tiles: a column of the output is written 32 bytes at a
  // time instead of 4 (the scalar loop ran at under 2 GB/s on power-of-two strides).
  constexpr int64_t kTile = 64;
  const int64_t tiles_i = (rows + kTile - 1) / kTile, tiles_j = (cols + kTile - 1) / kTile;
#pragma omp parallel for schedule(static) collapse(2) if (rows * cols > 65536)
  for (int64_t ti = 0; ti < tiles_i; ++ti)
    for (int64_t tj = 0; tj < tiles_j; ++tj) {
      const int64_t i0 = ti * kTile, i1 = std::min(rows, i0 + kTile), j0 = tj * kTile, j1 = std::min(cols, j0 + kTile);
      int64_t i = i0;
      for (; i + 8 <= i1; i += 8) {
        int64_t j = j0;
        for (; j + 8 <= j1; j += 8) transpose8x8(in + i * cols + j, cols, out + j * rows + i, rows);
        for (int64_t ii = i; ii < i + 8; ++ii)
          for (int64_t jj = j; jj < j1; ++jj) out[jj * rows + ii] = in[ii * cols + jj];
      }
      for (; i < i1; ++i)
        for (int64_t j = j0; j < j1; ++j) out[j * rows + i] = in[i * cols + j];
    }
}

}  // namespace privrec::cpu
