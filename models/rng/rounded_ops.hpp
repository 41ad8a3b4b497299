#pragma once
// Arithmetic that rounds the same on the host and on the device: each operation correctly rounded
// on its own, never fused behind our back. Device code uses the _rn intrinsics (which nvcc never
// contracts); host code is built with -ffp-contract=off, so plain operators round once each. A
// fused multiply-add is written as one (fma: a * b + c rounded once, IEEE 754's fusedMultiplyAdd,
// an instruction on every x86-64-v3 CPU and every GPU). The noise (gaussian.hpp)
// and the shared double log (ieee_log.hpp) are written only with these, which is what makes a
// value the same on every backend and vector width.
#include <cstdint>
#include <cstring>

#if !defined(__CUDA_ARCH__)
#include <cmath>
#endif

namespace privrec::rounded {

#if defined(__CUDA_ARCH__)
__device__ inline float mul(float a, float b) { return __fmul_rn(a, b); }
__device__ inline float add(float a, float b) { return __fadd_rn(a, b); }
__device__ inline float sub(float a, float b) { return __fsub_rn(a, b); }
__device__ inline float div(float a, float b) { return __fdiv_rn(a, b); }
__device__ inline float fma(float a, float b, float c) { return __fmaf_rn(a, b, c); }
__device__ inline float sqrt_rn(float a) { return __fsqrt_rn(a); }
__device__ inline uint32_t bits(float f) { return __float_as_uint(f); }
__device__ inline float from_bits(uint32_t u) { return __uint_as_float(u); }
__device__ inline double mul(double a, double b) { return __dmul_rn(a, b); }
__device__ inline double add(double a, double b) { return __dadd_rn(a, b); }
__device__ inline double sub(double a, double b) { return __dsub_rn(a, b); }
__device__ inline double div(double a, double b) { return __ddiv_rn(a, b); }
__device__ inline uint64_t bits(double d) { return static_cast<uint64_t>(__double_as_longlong(d)); }
__device__ inline double from_bits(uint64_t u) { return __longlong_as_double(static_cast<long long>(u)); }
#else
inline float mul(float a, float b) { return a * b; }
inline float add(float a, float b) { return a + b; }
inline float sub(float a, float b) { return a - b; }
inline float div(float a, float b) { return a / b; }
inline float fma(float a, float b, float c) { return std::fma(a, b, c); }
inline float sqrt_rn(float a) { return std::sqrt(a); }
inline uint32_t bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float from_bits(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
inline double mul(double a, double b) { return a * b; }
inline double add(double a, double b) { return a + b; }
inline double sub(double a, double b) { return a - b; }
inline double div(double a, double b) { return a / b; }
inline uint64_t bits(double d) { uint64_t u; std::memcpy(&u, &d, 8); return u; }
inline double from_bits(uint64_t u) { double d; std::memcpy(&d, &u, 8); return d; }
#endif

}  // namespace privrec::rounded
