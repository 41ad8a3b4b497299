#pragma once
// Host-side bulk noise: runs of consecutive columns of one or more rows, computed eight Philox
// blocks (32 normals) a pass, several passes at a time: by hand at AVX-512 where the processor has
// it, else AVX2 with FMA (kernels/cpu/normals_simd.hpp; PRIVREC_SIMD=avx2 forces AVX2), elsewhere a
// loop of the reference (vectorized where the target has FMA; without it each fused multiply-add is
// libm's fmaf, exact but slow). Bit-identical to noise_normal() (gaussian.hpp) at every width.
#include <cstdint>

#include "models/rng/philox.hpp"
#include "models/algorithm.hpp"

namespace privrec {

// out[j * n + c] = noise_normal(seed, domain, step, table, rows[j], c) for j in [0, nrows), c in [0, n).
// Several rows per call let short rows (dim 32 is one pass) be generated four at a time.
void normal_rows(uint64_t seed, RngDomain domain, uint64_t step, uint32_t table, const int64_t* rows, int64_t nrows,
                 int64_t n, float* out);

// out[j] = noise_normal(seed, domain, step, table, rows[j], 0) for j in [0, nrows): one value per
// row, a row per vector lane (a row's first normal alone, not the pass of 32 normal_rows makes).
void first_normals(uint64_t seed, RngDomain domain, uint64_t step, uint32_t table, const int64_t* rows, int64_t nrows,
                   float* out);

// out[c] = noise_normal(seed, domain, step, table, row, c) for c in [0, n).
void normal_row(uint64_t seed, RngDomain domain, uint64_t step, uint32_t table, uint64_t row, int64_t n, float* out);

// A noise source: real Gaussian samples, or the deterministic stand-ins of NoiseSource.
class NoiseGenerator {
 public:
  NoiseGenerator(uint64_t seed, NoiseSource source) : seed_(seed), source_(source) {}
  NoiseSource source() const { return source_; }
  uint64_t seed() const { return seed_; }
  // Fills out[0..n) with the per-step samples of a coordinate's columns.
  void fill(RngDomain domain, uint64_t step, uint32_t table, uint64_t row, int64_t n, float* out) const;
  // The same for the rows rows[0..nrows), out row-major (nrows x n).
  void fill_rows(RngDomain domain, uint64_t step, uint32_t table, const int64_t* rows, int64_t nrows, int64_t n,
                 float* out) const;
  // Samples actually drawn from the RNG for n values (0 for ones/zero).
  uint64_t samples_for(int64_t n) const { return source_ == NoiseSource::gaussian ? static_cast<uint64_t>(n) : 0; }

 private:
  uint64_t seed_;
  NoiseSource source_;
};

}  // namespace privrec
