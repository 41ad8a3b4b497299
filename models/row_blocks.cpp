#include "models/row_blocks.hpp"

#include <algorithm>

namespace privrec {

int64_t row_block_rows(int64_t rows, int64_t k, int64_t block) { return rows / k + (block < rows % k ? 1 : 0); }

int64_t row_block_first(int64_t rows, int64_t k, int64_t block) {
  return block * (rows / k) + std::min(block, rows % k);
}

int64_t row_block_of(int64_t rows, int64_t k, int64_t row) {
  const int64_t small = rows / k, big = small + 1, split = (rows % k) * big;  // the first rows % k blocks are big
  return row < split ? row / big : rows % k + (row - split) / small;
}

}  // namespace privrec
