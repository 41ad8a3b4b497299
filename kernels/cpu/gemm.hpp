#pragma once
// Row-major single-precision GEMM for the MLPs: C = A diag(k_scale) B (+ C). B is packed in
// 16-column panels for a 6 x 16 register tile; the threads split the column panels when A has
// fewer rows than K (the weight gradients) and there are two panels or more, else the rows.
// Returns nothing; callers count 2 M N K flops.
#include <cstdint>

namespace privrec::cpu {

// The left operand: element (i, k) is data[i * ld + k], or data[k * ld + i] when transposed (A
// stored K x M, as the batch-major deltas of the weight gradients are).
struct GemmA {
  const float* data = nullptr;
  int64_t ld = 0;
  bool transposed = false;
};

// k_scale (may be null): a factor per k (per example, when K is the batch) applied to B's row k as
// it is packed, so a clipped sum of per-example products needs no scaled copy of either operand.
void sgemm(int64_t M, int64_t N, int64_t K, const GemmA& A, const float* k_scale, const float* B, int64_t ldb, float* C,
           int64_t ldc, bool accumulate);
void sgemm_nn(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
              int64_t ldc, bool accumulate);

// out (cols x rows) = in (rows x cols) transposed.
void transpose(int64_t rows, int64_t cols, const float* in, float* out);

}  // namespace privrec::cpu
