#pragma once
// The CPU backend's kernel work formulas (kernels/cpu/): one function per kernel, from the sizes it
// ran with to what it reads, writes, draws and computes. The kernels count by calling these; the
// performance model predicts by calling them through CpuKernelWork (cpu_work.cpp), which composes
// them the way the CPU backend's operations call the kernels.
#include <cstdint>
#include <vector>

#include "models/algorithm.hpp"
#include "models/kernel_work/kernel_work.hpp"
#include "models/kernel_work/step_sizes.hpp"
#include "models/work_counters.hpp"

namespace privrec::cpu_work {

// kernels/cpu/embedding_bag.hpp
WorkCounters embedding_forward(uint64_t batch, uint64_t tables, uint64_t dim, uint64_t lookups);
// The coalesce sums a table with at least kSlotMinPooling lookups an example whose rows'
// accumulators all fit in kSlotAccumulatorBytes through a slot per row (the ids marked, the table's
// rows scanned for the marked ones, the contributions summed example by example, lookup by lookup:
// t.lookups + t.rows key-steps, no sort); any other table by sorting its ids (t.lookup_sort_ops).
// Each row's sum is the same either way, bit for bit. In example order an example's pooled gradient
// is read once for all its lookups; with one lookup an example (mlperf-dlrm) the sort was faster.
inline constexpr uint64_t kSlotAccumulatorBytes = uint64_t{4} << 20;
inline constexpr uint64_t kSlotMinPooling = 8;
bool coalesce_by_slots(uint64_t rows, uint64_t dim, uint64_t lookups, uint64_t examples);
WorkCounters coalesce(const std::vector<TableSizes>& t, uint64_t dim, bool scaled, uint64_t batch);
WorkCounters bag_count_square_sums(const std::vector<TableSizes>& t, uint64_t batch);
WorkCounters ghost_norms_embedding(uint64_t batch, uint64_t tables, uint64_t dim);
WorkCounters materialize_embedding_grads(const std::vector<TableSizes>& t, uint64_t batch, uint64_t dim);
WorkCounters coalesce_materialized(const std::vector<TableSizes>& t, uint64_t dim);
WorkCounters sparse_update(uint64_t rows, uint64_t dim);
// kernels/cpu/dlrm_pass.hpp
WorkCounters forward_dense(const DenseShape& s);
WorkCounters backward_deltas(const DenseShape& s);
WorkCounters weight_grads(const DenseShape& s, bool scaled);
WorkCounters ghost_norms_mlp(const DenseShape& s);
WorkCounters materialize_layer_grads(const MlpLayer& l, uint64_t batch);
WorkCounters clipped_mlp_sum(const DenseShape& s);  // dpsgd-b: sum_i c_i g_i over every MLP parameter
// kernels/cpu/noisy_update.hpp. `gaussian`: the noise source draws real samples.
WorkCounters dense_noisy_update(uint64_t rows, uint64_t dim, uint64_t grad_rows, bool gaussian);
WorkCounters sparse_noisy_update(uint64_t rows, uint64_t dim, uint64_t with_grad, bool gaussian);
WorkCounters mlp_update(const DenseShape& s, bool noisy, bool gaussian);
// kernels/cpu/lazydp_history.hpp: `draws` noise rows (owed) or step draws (owed steps, exact mode).
WorkCounters unique_next_rows(uint64_t lookups, uint64_t sort_ops);
WorkCounters lazy_catch_up(uint64_t rows, uint64_t owed, uint64_t draws, uint64_t dim, bool gaussian);
WorkCounters lazy_flush(uint64_t rows, uint64_t owed, uint64_t draws, uint64_t dim, bool gaussian);
// kernels/cpu/adafest_selection.hpp, one table (the kernel adds one launch for all tables).
WorkCounters adafest_select_table(const TableSizes& t, bool gaussian);

// kernels/cpu/fest_selection.hpp, one table: the contribution histogram of the run's data
// (traces/row_histogram.hpp), every row's noisy count, and the k largest.
WorkCounters choose_fixed_rows_table(const TableSizes& t, bool gaussian);

// The family "cpu" for the model (models/kernel_work/kernel_work.hpp).
const KernelWork& cpu_kernel_work();

}  // namespace privrec::cpu_work
