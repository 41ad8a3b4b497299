#pragma once
// The CUDA backend's kernel work formulas (kernels/cuda/): one function per kernel (or per fixed
// group of launches), from the sizes it ran with to what it reads, writes, draws and computes.
// kernels/cuda/cuda_step_ops.cpp counts by calling CudaKernelWork with the sizes it ran; the
// performance model predicts by calling the same with the sizes it expects, so a GPU profile's
// prediction follows the CUDA kernels, not the CPU ones.
//
// Where the counting differs from the CPU family (cpu_work.hpp), it is because the kernels do:
// sorts are CUB radix sorts of 64-bit keys (8 passes of 8 bits, keys and their copies:
// 2 x 8 x n), launches are kernel launches, not parallel regions, and the dense noisy update
// reads and writes a 4-byte slot per row to find the rows with a gradient.
#include <cstdint>
#include <vector>

#include "models/algorithm.hpp"
#include "models/kernel_work/cuda_coalesce_plan.hpp"
#include "models/kernel_work/cuda_table_group.hpp"
#include "models/kernel_work/kernel_work.hpp"
#include "models/kernel_work/step_sizes.hpp"
#include "models/work_counters.hpp"

namespace privrec::cuda_work {

// kernels/cuda/embedding_bag.hpp: every table's bags, ceil(tables / kTablesPerLaunch) launches.
WorkCounters embedding_forward(uint64_t batch, uint64_t dim, const std::vector<TableSizes>& tables);
// The backward's coalesce runs over every table at once (one sort per group of tables that fits
// 64 key bits: CoalesceWorkspace in kernels/cuda/embedding_bag.hpp, models/kernel_work/
// cuda_coalesce_plan.hpp), so its work is counted per table without launches, and the set's
// launches once: coalesce_launches.
WorkCounters coalesce(uint64_t lookups, uint64_t distinct, uint64_t dim, bool scaled);
// lazydp's next rows: the sort alone, per table, without launches.
WorkCounters unique_next_rows(uint64_t lookups);
// A coalesce over `tables` (their lookups, or with `next` their next batch's; rows up to their
// rows): cuda_coalesce_plan.hpp's launches, with `sums` the segment sums; none without lookups.
uint64_t coalesce_launches(const std::vector<TableSizes>& tables, bool next, bool sums);
// kernels/cuda/dense_ops.hpp
WorkCounters dense_forward(const DenseShape& s);
WorkCounters backward_deltas(const DenseShape& s);
WorkCounters weight_grads(const DenseShape& s, bool scaled);
// The per-example norms: the MLP's part (dense side) and the tables' (owners' side: `t` the device's
// tables, s.tables their number, s.layers unread).
WorkCounters ghost_norms_mlp(const DenseShape& s);
WorkCounters ghost_norms_tables(const DenseShape& s, const std::vector<TableSizes>& t);
WorkCounters materialized_norms_mlp(const DenseShape& s);
WorkCounters materialized_norms_tables(const DenseShape& s, const std::vector<TableSizes>& t);
WorkCounters clipped_mlp_sum(const DenseShape& s);
WorkCounters mlp_update(const DenseShape& s, bool noisy, bool gaussian);
// kernels/cuda/noisy_update.hpp, one table. `gaussian`: the noise source draws real samples. The
// launches are one table's: the step launches each for a group of up to kTablesPerLaunch tables
// (table_groups), as it does lazy_settle's.
WorkCounters sparse_update(uint64_t grad_rows, uint64_t dim);
WorkCounters dense_noisy_update(uint64_t rows, uint64_t dim, uint64_t grad_rows, bool gaussian);
WorkCounters sparse_noisy_update(uint64_t grad_rows, uint64_t dim, bool gaussian);
// adafest's and dp-fest's selected rows, their gradients found through the slot map.
WorkCounters selected_noisy_update(uint64_t selected, uint64_t grad_rows, uint64_t dim, bool gaussian);
// lazydp: `history_rows` history entries read, `owed` rows that owed noise, `draws` the noise rows
// drawn (owed, or the owed steps in exact mode).
WorkCounters lazy_settle(uint64_t history_rows, uint64_t owed, uint64_t draws, uint64_t dim, bool gaussian);
// kernels/cuda/adafest_selection.hpp, one table (the example factors are one more launch, and
// every table's ids go through one sort: coalesce_launches).
WorkCounters adafest_select_table(const TableSizes& t, bool gaussian);
// kernels/cuda/fest_selection.hpp, one table (`selected`: the rows kept): the host's contribution
// histogram of the run's data (counted as cpu_work's), then on the device every row's noisy count
// as a sort key, a radix sort of (key, row) and one of the kept rows. Keeping none or every row
// needs no scores: nothing, or one launch writing the rows.
WorkCounters choose_fixed_rows_table(const TableSizes& t, bool gaussian);

// The family "cuda": the formulas composed the way kernels/cuda/cuda_step_ops.cpp runs them.
class CudaKernelWork final : public KernelWork {
 public:
  const char* family() const override { return "cuda"; }
  WorkCounters part(const Op& op, const StepSizes& sizes, const AlgorithmConfig& cfg, WorkSide side) const override;
  // On the device beside the tables: lazydp's history and the slot map through which the dense and
  // the selected updates find a row's gradient (an int32 a row, every table's).
  uint64_t row_state_bytes(AlgorithmKind kind) const override;
};

const KernelWork& cuda_kernel_work();

}  // namespace privrec::cuda_work
