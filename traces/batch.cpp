#include "traces/batch.hpp"

#include <algorithm>

#include "traces/row_sort.hpp"

namespace privrec {

int64_t Batch::lookups() const {
  int64_t n = 0;
  for (const auto& t : tables) n += static_cast<int64_t>(t.indices.size());
  return n;
}

std::vector<int64_t> unique_rows(const TableBatch& tb) {
  std::vector<uint64_t> keys(tb.indices.begin(), tb.indices.end());  // row ids are checked non-negative
  uint64_t max_row = 0;
  for (const uint64_t k : keys) max_row = std::max(max_row, k);
  radix_sort_bits(keys, 0, bits_for(max_row));
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return {keys.begin(), keys.end()};
}

}  // namespace privrec
