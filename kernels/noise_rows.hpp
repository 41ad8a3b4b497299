#pragma once
// Host-side bulk noise: a run of consecutive columns of one coordinate, computed many Philox
// blocks at a time so the compiler vectorizes it. Bit-identical to noise_normal() (gaussian.hpp).
#include <cstdint>

#include "kernels/philox.hpp"
#include "models/algorithm.hpp"

namespace privrec {

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
  // Samples actually drawn from the RNG for n values (0 for ones/zero).
  uint64_t samples_for(int64_t n) const { return source_ == NoiseSource::gaussian ? static_cast<uint64_t>(n) : 0; }

 private:
  uint64_t seed_;
  NoiseSource source_;
};

}  // namespace privrec
