#pragma once
// cuBLAS, loaded at run time. The library is too large to carry to the GPU machine, which has its
// own CUDA 13 install, so privrec neither links it nor includes its headers: it dlopens it, resolves
// the four functions the MLP GEMMs need, and falls back to its own SGEMM kernel when any of that
// fails. Plain C++ (no CUDA headers): the loading and the row-major mapping are checked on hosts
// without a device; only creating a handle needs one.
#include <cstdint>
#include <string>

namespace privrec::cuda {

// The few cuBLAS types and values used here, declared by hand. They are the documented ABI of
// cuBLAS 12 and 13 (cublas_api.h): cublasHandle_t is a pointer to an opaque struct, cublasStatus_t,
// cublasOperation_t and cublasMath_t are C enums passed as int, CUBLAS_STATUS_SUCCESS = 0,
// CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_DEFAULT_MATH = 0, CUBLAS_PEDANTIC_MATH = 2.
struct CublasContext;
using CublasHandle = CublasContext*;
using CublasStatus = int;
constexpr CublasStatus kCublasSuccess = 0;
constexpr int kCublasOpN = 0, kCublasOpT = 1;
constexpr int kCublasDefaultMath = 0, kCublasPedanticMath = 2;

struct CublasApi {
  std::string path;     // what was opened (the name given to dlopen)
  std::string why_not;  // empty when every function below resolved
  CublasStatus (*create)(CublasHandle*) = nullptr;                 // cublasCreate_v2
  CublasStatus (*destroy)(CublasHandle) = nullptr;                 // cublasDestroy_v2
  CublasStatus (*set_math_mode)(CublasHandle, int) = nullptr;      // cublasSetMathMode
  CublasStatus (*sgemm)(CublasHandle, int, int, int, int, int, const float*, const float*, int, const float*, int,
                        const float*, float*, int) = nullptr;      // cublasSgemm_v2
  bool ok() const { return why_not.empty(); }
};

// Opens libcublas and resolves the functions; never throws and needs no device. PRIVREC_CUBLAS=off
// refuses (the fallback, on purpose); PRIVREC_CUBLAS_PATH names the one file to open; otherwise
// "libcublas.so.13", "libcublas.so" and the toolkit's usual directory are tried in turn. The
// library stays loaded for the life of the process (a handle may outlive any scope that loaded it).
CublasApi load_cublas();

// cublasSgemm_v2's arguments for the row-major C (M x N) = op(A) op(B) (+ C). cuBLAS is
// column-major, and a row-major matrix read column-major is its transpose, so C^T = op(B)^T op(A)^T
// is computed instead: the operands are swapped (B first), each keeps its own transpose flag, and
// the shape becomes N x M with the same K. fits is false when a size exceeds cuBLAS's 32-bit int
// or K is 0 (then the project's kernel runs).
struct CublasGemmArgs {
  int op_first = kCublasOpN, op_second = kCublasOpN;  // for B, then A
  int m = 0, n = 0, k = 0;
  int ld_first = 0, ld_second = 0, ldc = 0;  // ldb, lda, ldc
  bool fits = false;
};
CublasGemmArgs cublas_gemm_args(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb,
                                int64_t ldc);

// The process's cuBLAS: loaded and given one handle (plain FP32, no TF32) on the first call, which
// needs the CUDA device. handle == nullptr means the project's own kernel runs; the reason was
// printed once to stderr. Thread-safe.
struct CublasSession {
  CublasApi api;
  CublasHandle handle = nullptr;
};
const CublasSession& cublas_session();

}  // namespace privrec::cuda
