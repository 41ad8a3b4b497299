#include "kernels/noise_rows.hpp"

#include <algorithm>

#include "kernels/cpu/normals_avx2.hpp"
#include "kernels/gaussian.hpp"

namespace privrec {

void normal_row(uint64_t seed, RngDomain domain, uint64_t step, uint32_t table, uint64_t row, int64_t n, float* out) {
  const NoiseCounter nc = noise_counter(domain, step, table, row);
  const uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  constexpr int kLanes = 8;  // Philox blocks per pass: 32 normals, no waste for dim 32
  const int64_t blocks = (n + 3) / 4;
#if defined(__AVX2__)
  alignas(32) float tail[kLanes * 4];
  for (int64_t base = 0; base < blocks; base += kLanes) {
    const int64_t first = base * 4, count = std::min<int64_t>(kLanes * 4, n - first);
    float* dst = count == kLanes * 4 ? out + first : tail;
    cpu::avx2::normals32(static_cast<uint32_t>(base), nc.c1, nc.c2, nc.c3, k0, k1, dst);
    if (dst == tail) std::copy(tail, tail + count, out + first);
  }
#else
  alignas(64) float lanes[4][kLanes];
  for (int64_t base = 0; base < blocks; base += kLanes) {
#pragma omp simd
    for (int l = 0; l < kLanes; ++l) {
      uint32_t x0, x1, x2, x3;
      philox4x32_10_words(static_cast<uint32_t>(base + l), nc.c1, nc.c2, nc.c3, k0, k1, x0, x1, x2, x3);
      box_muller(x0, x1, lanes[0][l], lanes[1][l]);
      box_muller(x2, x3, lanes[2][l], lanes[3][l]);
    }
    const int64_t first = base * 4, count = std::min<int64_t>(kLanes * 4, n - first);
    for (int64_t c = 0; c < count; ++c) out[first + c] = lanes[c & 3][c >> 2];
  }
#endif
}

void NoiseGenerator::fill(RngDomain domain, uint64_t step, uint32_t table, uint64_t row, int64_t n, float* out) const {
  switch (source_) {
    case NoiseSource::gaussian: normal_row(seed_, domain, step, table, row, n, out); break;
    case NoiseSource::ones: std::fill(out, out + n, 1.0f); break;
    case NoiseSource::zero: std::fill(out, out + n, 0.0f); break;
  }
}

}  // namespace privrec
