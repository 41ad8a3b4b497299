#pragma once
// How the CUDA backward coalesces every table's lookups at once (kernels/cuda/embedding_bag.cu),
// shared with the launches the model counts for it (cuda_work.cpp) and kept pure so that host tests
// check it without a device. A plain header: the device code includes it. Each lookup becomes one
// 64-bit key,
//   table << table_shift | row << shift | lookup,
// with the tables numbered within their group and the lookups numbered across the group's tables,
// table after table (each table's in its own order). One stable radix sort on the table and row
// bits then puts every table's lookups of one row together, tables in order, rows ascending, and
// each row's lookups in lookup order: the order the CPU backend sums them in. Tables whose keys
// would need more than 64 bits together are split into consecutive groups, one sort each (in
// practice one group: 26 mlperf-dlrm tables at batch 65536 take 21 + 26 + 5 = 52 bits).
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "models/rng/philox.hpp"  // PRIVREC_HD

namespace privrec::cuda_work {

// The bits v needs (0 for 0).
constexpr int bits_for(uint64_t v) {
  int b = 0;
  while (b < 64 && (v >> b) != 0) ++b;
  return b;
}

// One sort's tables and key layout.
struct CoalesceGroup {
  int64_t first_table = 0, tables = 0;
  int64_t lookup_base = 0, lookups = 0;  // its lookups' place among all tables' (table after table)
  int64_t max_row = 0;                   // the largest row id its tables may hold
  int shift = 0;                         // the lookup bits
  int row_bits = 0, table_bits = 0;
  int table_shift() const { return shift + row_bits; }
  int end_bit() const { return shift + row_bits + table_bits; }
  uint64_t row_mask() const { return row_bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << row_bits) - 1; }
};

PRIVREC_HD inline uint64_t coalesce_key(uint64_t table, uint64_t row, uint64_t lookup, int shift, int table_shift) {
  return (table_shift >= 64 ? 0 : table << table_shift) | (row << shift) | lookup;
}
PRIVREC_HD inline uint64_t key_table(uint64_t key, int table_shift) { return table_shift >= 64 ? 0 : key >> table_shift; }
PRIVREC_HD inline uint64_t key_row(uint64_t key, int shift, uint64_t row_mask) { return (key >> shift) & row_mask; }
PRIVREC_HD inline uint64_t key_lookup(uint64_t key, int shift) {
  return shift >= 64 ? key : key & ((uint64_t{1} << shift) - 1);
}

// Consecutive groups of the tables (table k: lookups[k] lookups, row ids up to max_rows[k]), each
// as many tables as fit 64 key bits, in table order; a group's row bits are its largest table's.
// Tables without lookups join their neighbours. std::length_error where one table alone needs
// more than 64 bits, or the two lists differ in length.
inline std::vector<CoalesceGroup> plan_coalesce_groups(const std::vector<int64_t>& lookups,
                                                       const std::vector<int64_t>& max_rows) {
  if (lookups.size() != max_rows.size()) throw std::length_error("coalesce: a row range per table");
  std::vector<CoalesceGroup> groups;
  auto layout = [](CoalesceGroup& g) {
    g.shift = bits_for(static_cast<uint64_t>(g.lookups));
    g.row_bits = bits_for(static_cast<uint64_t>(g.max_row));
    g.table_bits = bits_for(static_cast<uint64_t>(g.tables - 1));
  };
  int64_t base = 0;
  for (size_t k = 0; k < lookups.size(); ++k) {
    CoalesceGroup next = groups.empty() ? CoalesceGroup{} : groups.back();
    next.tables += 1, next.lookups += lookups[k], next.max_row = std::max(next.max_row, max_rows[k]);
    layout(next);
    if (groups.empty() || next.end_bit() > 64) {
      CoalesceGroup g;
      g.first_table = static_cast<int64_t>(k), g.tables = 1, g.lookup_base = base, g.lookups = lookups[k];
      g.max_row = max_rows[k];
      layout(g);
      if (g.end_bit() > 64)
        throw std::length_error("coalesce: table " + std::to_string(k) + "'s " + std::to_string(lookups[k]) +
                                " lookups and row ids up to " + std::to_string(max_rows[k]) +
                                " need more than 64 key bits");
      groups.push_back(g);
    } else {
      groups.back() = next;
    }
    base += lookups[k];
  }
  return groups;
}

// The launches of one coalesce over those tables: per group with lookups, ceil(tables /
// kTablesPerLaunch) making the keys, then the sort, the row marks, their scan, the numbering and
// the tables' first rows, and with `sums` the segment sums.
inline uint64_t coalesce_launches(const std::vector<CoalesceGroup>& groups, uint64_t tables_per_launch, bool sums) {
  uint64_t n = 0;
  for (const CoalesceGroup& g : groups)
    if (g.lookups > 0)
      n += (static_cast<uint64_t>(g.tables) + tables_per_launch - 1) / tables_per_launch + 5 + (sums ? 1 : 0);
  return n;
}

}  // namespace privrec::cuda_work
