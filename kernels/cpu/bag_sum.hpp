#pragma once
// The embedding-bag inner loop, shared by the forward kernel (embedding_bag.cpp) and calibrate's
// row-gather microbenchmark (machine_bench.cpp), so the row rates the model is calibrated with are
// the kernel's own: each bag summed in lookup order (the sums are a plain loop's, bit for bit), in
// registers for rows of D floats (D <= 64 keeps the accumulators in 8 AVX registers) or straight
// into the output when D is 0 (any width), with every row's cache lines prefetched kBagPrefetch
// lookups ahead across bag boundaries (one-lookup bags, mlperf-dlrm's, still overlap their misses).
#include <algorithm>
#include <cstdint>

#include "kernels/cpu/row_width.hpp"

namespace privrec::cpu {

inline constexpr int64_t kBagPrefetch = 16;

// Sums the bags lo..hi-1 (lookups offsets[i] .. offsets[i+1]-1 of idx, rows of d floats from
// `rows`) into out(i), d floats each.
template <int D, class Out>
void sum_bags(const float* rows, int64_t d, const int64_t* idx, const int64_t* offsets, int64_t lo, int64_t hi, Out&& out) {
  const int64_t width = D > 0 ? D : d;
  const int64_t row_bytes = width * static_cast<int64_t>(sizeof(float));
  const int64_t first = offsets[lo], end = offsets[hi];
  auto prefetch = [&](int64_t k) {
    const char* p = reinterpret_cast<const char*>(rows + idx[k] * width);
    for (int64_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(p + b);
  };
  for (int64_t k = first; k < std::min(end, first + kBagPrefetch); ++k) prefetch(k);
  for (int64_t i = lo; i < hi; ++i) {
    float* o = out(i);
    const int64_t b0 = offsets[i], b1 = offsets[i + 1];
    if constexpr (D > 0) {
      float acc[D];
      for (int c = 0; c < D; ++c) acc[c] = 0.0f;
      for (int64_t k = b0; k < b1; ++k) {
        if (k + kBagPrefetch < end) prefetch(k + kBagPrefetch);
        const float* row = rows + idx[k] * D;
#pragma GCC unroll 16
        for (int c = 0; c < D; ++c) acc[c] += row[c];
      }
      std::copy(acc, acc + D, o);
    } else if (b0 == b1) {
      std::fill(o, o + d, 0.0f);
    } else {
      // The first row as 0 + row (the same bits as a zeroed sum plus the row), with no zeroing
      // pass over the output first.
      if (b0 + kBagPrefetch < end) prefetch(b0 + kBagPrefetch);
      const float* first_row = rows + idx[b0] * d;
      for (int64_t c = 0; c < d; ++c) o[c] = 0.0f + first_row[c];
      for (int64_t k = b0 + 1; k < b1; ++k) {
        if (k + kBagPrefetch < end) prefetch(k + kBagPrefetch);
        const float* row = rows + idx[k] * d;
        for (int64_t c = 0; c < d; ++c) o[c] += row[c];
      }
    }
  }
}

// sum_bags for rows of d floats: registers for 16, 32 and 64, the plain loop otherwise (mlperf-dlrm's
// 128 in 64-column chunks measured 2.5-2.6 ms against the plain loop's 2.1-2.2, mlperf x0.01,
// pooling 1).
template <class Out>
void sum_bags_any(const float* rows, int64_t d, const int64_t* idx, const int64_t* offsets, int64_t lo, int64_t hi,
                  Out&& out) {
  with_row_width<16, 32, 64>(d, [&](auto D) { sum_bags<D>(rows, d, idx, offsets, lo, hi, out); });
}

}  // namespace privrec::cpu
