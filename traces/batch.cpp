#include "traces/batch.hpp"

#include <algorithm>

namespace privrec {

int64_t Batch::lookups() const {
  int64_t n = 0;
  for (const auto& t : tables) n += static_cast<int64_t>(t.indices.size());
  return n;
}

std::vector<int64_t> unique_rows(const TableBatch& tb) {
  std::vector<int64_t> rows(tb.indices);
  std::sort(rows.begin(), rows.end());
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  return rows;
}

}  // namespace privrec
