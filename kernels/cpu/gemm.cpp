#include "kernels/cpu/gemm.hpp"

#include <algorithm>

namespace privrec::cpu {

namespace {
constexpr int kMr = 4, kNr = 16;

inline void tile_full(int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
                      bool accumulate) {
  float acc[kMr][kNr];
  for (int r = 0; r < kMr; ++r)
    for (int j = 0; j < kNr; ++j) acc[r][j] = accumulate ? C[r * ldc + j] : 0.0f;
  for (int64_t k = 0; k < K; ++k) {
    const float* b = B + k * ldb;
    for (int r = 0; r < kMr; ++r) {
      const float a = A[r * lda + k];
      for (int j = 0; j < kNr; ++j) acc[r][j] += a * b[j];
    }
  }
  for (int r = 0; r < kMr; ++r)
    for (int j = 0; j < kNr; ++j) C[r * ldc + j] = acc[r][j];
}

inline void tile_edge(int64_t mi, int64_t nj, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                      float* C, int64_t ldc, bool accumulate) {
  for (int64_t r = 0; r < mi; ++r) {
    float acc[kNr];
    for (int64_t j = 0; j < nj; ++j) acc[j] = accumulate ? C[r * ldc + j] : 0.0f;
    for (int64_t k = 0; k < K; ++k) {
      const float a = A[r * lda + k];
      for (int64_t j = 0; j < nj; ++j) acc[j] += a * B[k * ldb + j];
    }
    for (int64_t j = 0; j < nj; ++j) C[r * ldc + j] = acc[j];
  }
}
}  // namespace

void sgemm_nn(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
              int64_t ldc, bool accumulate) {
  const int64_t row_blocks = (M + kMr - 1) / kMr;
#pragma omp parallel for schedule(static) if (M * N * K > 32768)
  for (int64_t ib = 0; ib < row_blocks; ++ib) {
    const int64_t i0 = ib * kMr, mi = std::min<int64_t>(kMr, M - i0);
    for (int64_t j0 = 0; j0 < N; j0 += kNr) {
      const int64_t nj = std::min<int64_t>(kNr, N - j0);
      if (mi == kMr && nj == kNr)
        tile_full(K, A + i0 * lda, lda, B + j0, ldb, C + i0 * ldc + j0, ldc, accumulate);
      else
        tile_edge(mi, nj, K, A + i0 * lda, lda, B + j0, ldb, C + i0 * ldc + j0, ldc, accumulate);
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
