#pragma once
// Row-major single-precision GEMM for the MLPs: C = A B (+ C). OpenMP over row blocks of C,
// a 4 x 16 register tile inside. Returns nothing; callers count 2 M N K flops.
#include <cstdint>

namespace privrec::cpu {

void sgemm_nn(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
              int64_t ldc, bool accumulate);

// out (cols x rows) = in (rows x cols) transposed.
void transpose(int64_t rows, int64_t cols, const float* in, float* out);

}  // namespace privrec::cpu
