#pragma once
// How the CUDA backend's per-table kernels take several tables in one launch, shared with the work
// the model counts for them (cuda_work.cpp: ceil(tables / kTablesPerLaunch) launches). A plain
// header: the device code includes it, and host tests check the tile arithmetic without a device.
//
// - The forward's bags and the backward coalesce's keys (kernels/cuda/embedding_bag.cu): blockIdx.y
//   is the table, each table's pointers passed by value.
// - The table updates and lazydp's settle (kernels/cuda/noisy_update.cu): each table's rows (all
//   of them, or a list) are cut into tiles of the same number of rows, and the group's tiles are
//   laid end to end, table after table. A block takes tiles b, b + grid, ... and finds each one's
//   table in the group's tile starts (a binary search over at most kTablesPerLaunch + 1 values held
//   in the launch's parameters), so a large table and a small one share one grid, balanced.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "models/rng/philox.hpp"  // PRIVREC_HD

namespace privrec::cuda_work {

inline constexpr uint64_t kTablesPerLaunch = 64;

// Launches of a per-table kernel over `tables` tables, a group at a time.
inline uint64_t table_groups(uint64_t tables) { return (tables + kTablesPerLaunch - 1) / kTablesPerLaunch; }

// The tiles of `count` rows cut `tile_rows` at a time.
PRIVREC_HD inline int64_t tiles_for(int64_t count, int64_t tile_rows) { return (count + tile_rows - 1) / tile_rows; }

// first[0] = 0 and first[k + 1] = first[k] + tiles of table k (counts[k] rows): table k's tiles are
// first[k] .. first[k + 1] - 1 of the group's.
inline std::vector<int64_t> tile_starts(const std::vector<int64_t>& counts, int64_t tile_rows) {
  std::vector<int64_t> first(counts.size() + 1, 0);
  for (size_t k = 0; k < counts.size(); ++k) first[k + 1] = first[k] + tiles_for(std::max<int64_t>(0, counts[k]), tile_rows);
  return first;
}

// The table of the group's tile `tile` (0 <= tile < first[n]): the last k with first[k] <= tile,
// which is never a table without tiles (its start equals the next table's).
PRIVREC_HD inline int table_of_tile(const int64_t* first, int n, int64_t tile) {
  int lo = 0, hi = n;  // first[lo] <= tile < first[hi]
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (first[mid] <= tile)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

}  // namespace privrec::cuda_work
