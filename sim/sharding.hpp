#pragma once
// Where each table lives on a cluster (REFERENCE.md section 7): table-wise (a whole table on one
// device), row-wise (row blocks over several devices), column-wise (the dimension split over
// several devices) or data-parallel (replicated on every device, gradients all-reduced); MLPs are
// always data-parallel. From a plan, the work a device does follows from the whole step's sizes:
// the MLPs at its share of the batch, and for the rows it owns the lookups of the whole batch.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/algorithm.hpp"
#include "models/kernel_work/step_sizes.hpp"
#include "models/row_blocks.hpp"  // row_block_rows, row_block_of
#include "models/workload.hpp"

namespace privrec::sim {

enum class ShardScheme { table_wise, row_wise, column_wise, data_parallel };
const char* shard_scheme_name(ShardScheme s);
ShardScheme parse_shard_scheme(const std::string& name, const std::string& where);  // throws InputError

struct TablePlacement {
  ShardScheme scheme = ShardScheme::table_wise;
  // The devices holding its shards, in shard order: one for table-wise, k for row-/column-wise
  // (row blocks or column blocks 0..k-1), every device for data-parallel.
  std::vector<int64_t> devices;
};

struct ShardingPlan {
  std::vector<TablePlacement> tables;  // one per workload table, in order
  nlohmann::json to_json(const Workload& w) const;
  // "table-wise 20, row-wise 4 (over 8 devices), column-wise 1 (2 shards), data-parallel 1".
  std::string summary() const;
};

// Every table on device 0: the one-device plan.
ShardingPlan single_device_plan(const Workload& w);

// A plan given by the user: {"tables": [{"table": NAME, "scheme": "row_wise", "devices": [0, 1]}, ...]}
// with every workload table listed once ("devices" optional: every device for data_parallel and
// row_wise, device 0 for table_wise). Throws InputError naming the file, key and value.
ShardingPlan load_sharding_plan(const std::string& file, const Workload& w, int64_t devices);
ShardingPlan parse_sharding_plan(const nlohmann::json& j, const std::string& file, const Workload& w, int64_t devices);

// One shard a device holds.
struct Shard {
  size_t table = 0;
  int64_t rows = 0, dim = 0;
  double lookup_share = 1;  // of the table's lookups of the whole batch (data-parallel: the local batch's)
  double row_share = 1;     // of the table's rows
  // A data-parallel copy: it looks up its local batch's ids but, after the gradients' all-reduce,
  // applies the whole batch's update (and catch-up, selection and flush) to every row it holds.
  bool replica = false;
};


// The share of a table's lookups each of k row blocks receives under the synthetic trace's
// row layout (traces/synthetic_trace.hpp): the rows' share for uniform access; for zipf the
// hottest ranks exactly where they land, the rest by rows. Sums to 1.
std::vector<double> row_block_lookup_shares(const TableSpec& t, int64_t k);

// The shards on each device (per device, in table order).
std::vector<std::vector<Shard>> device_shards(const Workload& w, const ShardingPlan& plan, int64_t devices);

// A device's sizes in a step whose whole-batch sizes are `whole`: `dense` (the MLPs at the local
// batch), and `tables` grouped by shard dimension (each group at the whole batch, its
// dense.tables the group's shard count; see KernelWork::part).
struct DeviceSizes {
  StepSizes dense;
  std::vector<StepSizes> tables;
};
// `flush`: `whole` is lazydp's flush, whose owed rows are every row (split by rows, not lookups).
DeviceSizes device_sizes(const Workload& w, const std::vector<Shard>& shards, const StepSizes& whole, int64_t devices,
                         bool flush = false);

// The examples one device trains on: the batch split evenly, the first devices taking the rest.
int64_t local_batch(int64_t batch, int64_t devices);

// What a device must hold, in bytes: its shards, the kernels' per-row state (`row_state_bytes` a
// row: KernelWork::row_state_bytes, lazydp's history and on CUDA the updates' slot map), the
// replicated MLPs with their gradients, and the step's working buffers (activations at the local
// batch; ids, pooled embeddings, their gradients and the coalesced gradient of its shards at the
// whole batch). privrec's kernels keep no optimizer state (plain SGD) and materialize no noise.
struct DeviceMemory {
  double tables = 0, row_state = 0, mlp = 0, buffers = 0;  // row_state: KernelWork::row_state_bytes a row
  double total() const { return tables + row_state + mlp + buffers; }
  nlohmann::json to_json() const;
};
DeviceMemory device_memory(const Workload& w, const AlgorithmConfig& cfg, const std::vector<Shard>& shards,
                           int64_t devices, uint64_t row_state_bytes);

}  // namespace privrec::sim
