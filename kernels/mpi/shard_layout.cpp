#include "kernels/mpi/shard_layout.hpp"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

#include "models/config_error.hpp"
#include "models/human_bytes.hpp"
#include "models/row_blocks.hpp"
#include "models/suggest.hpp"

namespace privrec::mpi {

const char* sharding_name(Sharding s) { return s == Sharding::table_wise ? "table_wise" : "row_wise"; }

Sharding parse_sharding(const std::string& name) {
  if (name == "table_wise") return Sharding::table_wise;
  if (name == "row_wise") return Sharding::row_wise;
  throw InputError(fmt::format("--sharding {}: expected table_wise or row_wise{}", name,
                               did_you_mean(name, {"table_wise", "row_wise"})));
}

namespace {
int64_t table_bytes(const TableSpec& t) { return t.rows * t.dim * static_cast<int64_t>(sizeof(float)); }

// Largest table first onto the rank holding the fewest bytes so far (ties: the lower table, the
// lower rank); each rank's tables then in table order.
std::vector<std::vector<cpu::DlrmModel::Block>> table_wise(const Workload& w, int64_t ranks) {
  std::vector<size_t> order(w.tables.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return table_bytes(w.tables[a]) > table_bytes(w.tables[b]); });
  std::vector<int64_t> load(static_cast<size_t>(ranks), 0);
  std::vector<int64_t> owner(w.tables.size());
  for (const size_t t : order) {
    const auto r = std::min_element(load.begin(), load.end()) - load.begin();
    owner[t] = r;
    load[r] += table_bytes(w.tables[t]);
  }
  std::vector<std::vector<cpu::DlrmModel::Block>> blocks(static_cast<size_t>(ranks));
  for (size_t t = 0; t < w.tables.size(); ++t)
    blocks[owner[t]].push_back({static_cast<uint32_t>(t), 0, w.tables[t].rows});
  return blocks;
}
}  // namespace

ShardLayout ShardLayout::make(const Workload& w, Sharding scheme, int64_t ranks) {
  ShardLayout l;
  l.scheme = scheme, l.ranks = ranks;
  const int64_t T = static_cast<int64_t>(w.tables.size());
  if (scheme == Sharding::table_wise) {
    if (ranks > T)
      throw InputError(fmt::format("--sharding table_wise over {} ranks: workload '{}' has {} table{}, so a rank would "
                                   "hold none; use fewer ranks or --sharding row_wise",
                                   ranks, w.name, T, T == 1 ? "" : "s"));
    l.blocks = table_wise(w, ranks);
    return l;
  }
  l.blocks.resize(static_cast<size_t>(ranks));
  for (int64_t t = 0; t < T; ++t) {
    const int64_t rows = w.tables[t].rows;
    if (rows < ranks)
      throw InputError(fmt::format("--sharding row_wise over {} ranks: table {} ('{}') has {} row{}, fewer than the "
                                   "ranks; use fewer ranks or --sharding table_wise",
                                   ranks, t, w.tables[t].name, rows, rows == 1 ? "" : "s"));
    for (int64_t r = 0; r < ranks; ++r)
      l.blocks[r].push_back({static_cast<uint32_t>(t), row_block_first(rows, ranks, r), row_block_rows(rows, ranks, r)});
  }
  return l;
}

int64_t ShardLayout::example_first(int64_t batch, int64_t ranks, int64_t rank) {
  return row_block_first(batch, ranks, rank);
}
int64_t ShardLayout::example_count(int64_t batch, int64_t ranks, int64_t rank) {
  return row_block_rows(batch, ranks, rank);
}

std::string ShardLayout::summary(const Workload& w) const {
  std::string s = fmt::format("{} over {} ranks:", sharding_name(scheme), ranks);
  for (int64_t r = 0; r < ranks; ++r) {
    int64_t bytes = 0;
    for (const auto& b : blocks[r]) bytes += b.rows * w.tables[b.table].dim * static_cast<int64_t>(sizeof(float));
    s += fmt::format("{} rank {} holds {} {} ({})", r ? "," : "", r, blocks[r].size(),
                     scheme == Sharding::table_wise ? "tables" : "row blocks", human_bytes(static_cast<double>(bytes)));
  }
  return s;
}

}  // namespace privrec::mpi
