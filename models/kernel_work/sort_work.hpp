#pragma once
// The sorting work (WorkCounters::sort_ops, in key-steps) of the project's sorts, as formulas both
// the kernels (traces/row_sort.hpp implements the sorts) and the work formulas use.
#include <bit>
#include <cstddef>
#include <cstdint>

namespace privrec {

inline constexpr int kRadixDigitBits = 11;
inline constexpr size_t kRadixSmall = 256;  // below this, a comparison sort

// The sorting work (WorkCounters::sort_ops) of a comparison sort of k keys: k ceil(log2 k).
inline uint64_t comparison_sort_ops(uint64_t k) {
  return k < 2 ? 0 : k * static_cast<uint64_t>(std::bit_width(k - 1));
}

// The sorting work of radix_sort_bits on n keys with a `bits`-wide field: n per pass.
inline uint64_t radix_sort_ops(uint64_t n, int bits) {
  if (bits <= 0 || n < 2) return 0;
  if (n < kRadixSmall) return comparison_sort_ops(n);
  return n * static_cast<uint64_t>((bits + kRadixDigitBits - 1) / kRadixDigitBits);
}

}  // namespace privrec
