#pragma once
// Which rank holds what in a sharded run: table-wise (whole tables, balanced by bytes) or row-wise
// (every table in even row blocks, models/row_blocks.hpp, block r on rank r). MLPs are replicated;
// rank r runs them on examples [example_first(B, r), +example_count(B, r)) of every batch.
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cpu/dlrm_model.hpp"
#include "models/workload.hpp"

namespace privrec::mpi {

enum class Sharding { table_wise, row_wise };
const char* sharding_name(Sharding s);  // "table_wise", "row_wise"
// Throws InputError naming --sharding and the value, with a suggestion.
Sharding parse_sharding(const std::string& name);

struct ShardLayout {
  Sharding scheme = Sharding::table_wise;
  int64_t ranks = 1;
  std::vector<std::vector<cpu::DlrmModel::Block>> blocks;  // per rank, in table order

  // Throws InputError when the workload cannot be split so (table-wise over more ranks than
  // tables; row-wise with a table of fewer rows than ranks).
  static ShardLayout make(const Workload& w, Sharding scheme, int64_t ranks);
  static int64_t example_first(int64_t batch, int64_t ranks, int64_t rank);
  static int64_t example_count(int64_t batch, int64_t ranks, int64_t rank);
  // "table_wise over 2 ranks: rank 0 holds 13 tables (48.1 MB), rank 1 13 tables (47.9 MB)".
  std::string summary(const Workload& w) const;
};

}  // namespace privrec::mpi
