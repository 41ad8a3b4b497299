#pragma once
// The AVX-512 width of the bulk normal generator (kernels/cpu/normals_simd.hpp): sixteen lanes, two
// passes per vector. Built into every binary (normals_avx512.cpp, its functions compiled for
// AVX-512 alone) and chosen at run time where the processor has AVX-512 F/DQ/BW/VL, so the binary
// still runs on AVX2-only machines. Bit-identical to the AVX2 width and to noise_normal().
#include <cstdint>

#include "models/rng/philox.hpp"

namespace privrec::cpu {

// True where this processor (and its operating system) runs AVX-512 F, DQ, BW and VL.
bool cpu_has_avx512();

// normal_rows / first_normals (kernels/noise_rows.hpp) at 16 lanes; call only where
// cpu_has_avx512(). first_normals_avx512 does the leading multiple of 16 rows and returns how many.
void normal_rows_avx512(uint64_t seed, RngDomain domain, uint64_t step, uint32_t table, const int64_t* rows,
                        int64_t nrows, int64_t n, float* out);
int64_t first_normals_avx512(uint64_t seed, RngDomain domain, uint64_t step, uint32_t table, const int64_t* rows,
                             int64_t nrows, float* out);

}  // namespace privrec::cpu
