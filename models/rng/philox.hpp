#pragma once
// Philox4x32-10 (Salmon et al., SC'11): a keyed bijection of a 128-bit counter. Header-only and
// host/device ready, so the CPU and CUDA backends draw the very same numbers.
#include <cstdint>

#if defined(__CUDACC__)
#define PRIVREC_HD __host__ __device__
#else
#define PRIVREC_HD
#endif

namespace privrec {

struct Philox4 {
  uint32_t v[4];
};

namespace philox_detail {
constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
}  // namespace philox_detail

// Scalar outputs (no aggregate), so a vectorized loop over counters keeps every word in registers.
PRIVREC_HD inline void philox4x32_10_words(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1,
                                           uint32_t& o0, uint32_t& o1, uint32_t& o2, uint32_t& o3) {
  using namespace philox_detail;
#if defined(__GNUC__) && !defined(__CUDACC__)
#pragma GCC unroll 10
#endif
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(kM0) * c0;
    const uint64_t p1 = static_cast<uint64_t>(kM1) * c2;
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += kW0;
    k1 += kW1;
  }
  o0 = c0, o1 = c1, o2 = c2, o3 = c3;
}

PRIVREC_HD inline Philox4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0,
                                        uint32_t k1) {
  Philox4 r;
  philox4x32_10_words(c0, c1, c2, c3, k0, k1, r.v[0], r.v[1], r.v[2], r.v[3]);
  return r;
}

// What a random value is for. Each purpose has its own stream, so (seed, step, table, row, column)
// of table noise never collides with MLP noise, selection noise, data or initialisation.
enum class RngDomain : uint32_t {
  table_noise = 0,     // Gaussian noise on embedding rows (dpsgd-*, eana, lazydp, adafest)
  mlp_noise = 1,       // Gaussian noise on MLP parameters (table field = parameter tensor id)
  select_noise = 2,    // adafest: noise on a row's contribution count
  select_skip = 3,     // adafest: uniforms for geometric skipping over zero-count rows
  init = 4,            // parameter initialisation
  data = 5,            // synthetic dense features and labels
  index = 6,           // synthetic row indices
  fest_noise = 7,      // dp-fest: noise on a row's count in the one-shot histogram
};

// The 128-bit counter for a coordinate. Rows up to 2^40, 2^16 tables, 2^32 column blocks.
struct NoiseCounter {
  uint32_t c1, c2, c3;
};

PRIVREC_HD inline NoiseCounter noise_counter(RngDomain domain, uint64_t step, uint32_t table, uint64_t row) {
  return {static_cast<uint32_t>(row),
          static_cast<uint32_t>((row >> 32) & 0xFFu) | ((table & 0xFFFFu) << 8) |
              (static_cast<uint32_t>(domain) << 24),
          static_cast<uint32_t>(step)};
}

}  // namespace privrec
