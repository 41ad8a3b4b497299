#include "kernels/cuda/cublas_loader.hpp"

#include <dlfcn.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace privrec::cuda {

namespace {

// dlsym into a typed function pointer; records the first symbol that is missing.
template <typename Fn>
void resolve(void* lib, const char* name, Fn& fn, std::string& why_not) {
  fn = reinterpret_cast<Fn>(dlsym(lib, name));
  if (fn == nullptr && why_not.empty()) why_not = std::string("symbol ") + name + " not found in the library";
}

// The names to hand to dlopen, in order. The bare sonames go through the loader's own search
// (LD_LIBRARY_PATH, ld.so.cache); the toolkit directory covers installs that are not registered.
std::vector<std::string> candidates() {
  if (const char* p = std::getenv("PRIVREC_CUBLAS_PATH"); p != nullptr && *p != '\0') return {p};
  return {"libcublas.so.13", "libcublas.so", "/usr/local/cuda/lib64/libcublas.so.13"};
}

bool fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

}  // namespace

CublasApi load_cublas() {
  CublasApi api;
  if (const char* v = std::getenv("PRIVREC_CUBLAS"); v != nullptr && std::strcmp(v, "off") == 0) {
    api.why_not = "PRIVREC_CUBLAS=off";
    return api;
  }
  void* lib = nullptr;
  std::string errors;
  for (const std::string& name : candidates()) {
    // RTLD_LOCAL: cuBLAS's symbols are reached through dlsym only, never bound into privrec.
    lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib != nullptr) {
      api.path = name;
      break;
    }
    const char* e = dlerror();
    errors += (errors.empty() ? "" : "; ") + std::string(e != nullptr ? e : name + ": dlopen failed");
  }
  if (lib == nullptr) {
    api.why_not = "cannot load libcublas (" + errors + ")";
    return api;
  }
  resolve(lib, "cublasCreate_v2", api.create, api.why_not);
  resolve(lib, "cublasDestroy_v2", api.destroy, api.why_not);
  resolve(lib, "cublasSetMathMode", api.set_math_mode, api.why_not);
  resolve(lib, "cublasSgemm_v2", api.sgemm, api.why_not);
  if (!api.ok()) api.why_not = api.path + ": " + api.why_not;
  // Never dlclose: the process-wide handle lives until exit, and unloading cuBLAS under it (or
  // during static destruction) would leave it dangling.
  return api;
}

CublasGemmArgs cublas_gemm_args(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb,
                                int64_t ldc) {
  CublasGemmArgs g;
  // Row-major X stored with row stride ld is, read column-major with leading dimension ld, X^T. So
  // op(B)^T is B's storage read as is when B is not transposed (OP_N) and its transpose when it is
  // (OP_T); likewise for A. The flags therefore carry over unchanged, only the order swaps.
  g.op_first = trans_b ? kCublasOpT : kCublasOpN;
  g.op_second = trans_a ? kCublasOpT : kCublasOpN;
  g.fits = K > 0 && fits_int(M) && fits_int(N) && fits_int(K) && fits_int(lda) && fits_int(ldb) && fits_int(ldc);
  if (!g.fits) return g;
  g.m = static_cast<int>(N), g.n = static_cast<int>(M), g.k = static_cast<int>(K);
  g.ld_first = static_cast<int>(ldb), g.ld_second = static_cast<int>(lda), g.ldc = static_cast<int>(ldc);
  return g;
}

namespace {

// One attempt at the session; the reason is left in api.why_not when no handle results.
CublasSession open_session() {
  CublasSession s;
  s.api = load_cublas();
  if (!s.api.ok()) return s;
  CublasHandle h = nullptr;
  if (const CublasStatus st = s.api.create(&h); st != kCublasSuccess) {
    s.api.why_not = "cublasCreate_v2 failed with status " + std::to_string(st);
    return s;
  }
  // Plain FP32 arithmetic (no TF32 tensor cores), so results stay within the CPU backend's
  // tolerance; the default mode asks for that explicitly, whatever cuBLAS's own default becomes.
  if (const CublasStatus st = s.api.set_math_mode(h, kCublasDefaultMath); st != kCublasSuccess) {
    s.api.destroy(h);
    s.api.why_not = "cublasSetMathMode failed with status " + std::to_string(st);
    return s;
  }
  s.handle = h;
  return s;
}

}  // namespace

const CublasSession& cublas_session() {
  // A function-local static: created once, on first use, safely across threads.
  static const CublasSession session = [] {
    CublasSession s = open_session();
    if (s.handle == nullptr)
      std::fprintf(stderr, "[privrec] GEMMs run on privrec's own kernel, not cuBLAS: %s\n", s.api.why_not.c_str());
    return s;
  }();
  return session;
}

}  // namespace privrec::cuda
