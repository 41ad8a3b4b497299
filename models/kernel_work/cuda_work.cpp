#include "models/kernel_work/cuda_work.hpp"

#include "models/kernel_work/histogram_work.hpp"
#include "models/plan.hpp"

namespace privrec::cuda_work {

namespace {
constexpr uint64_t kF = sizeof(float), kI = sizeof(int64_t);
constexpr uint64_t kSlot = sizeof(int32_t), kHistory = sizeof(uint32_t);
// CUB's onesweep radix sort of 64-bit keys: 8 passes of 8-bit digits, over the keys and their copies.
constexpr uint64_t kRadixSortOpsPerKey = 2 * 8;

// Embedding rows gathered (and scattered back, when written) by index.
void count_rows(WorkCounters& w, uint64_t rows, uint64_t dim, bool write) {
  w.rows_read_rand += rows, w.bytes_read_rand += rows * dim * kF;
  if (write) w.rows_written_rand += rows, w.bytes_written_rand += rows * dim * kF;
}

// A linear layer's GEMM of B x in by in x out (forward, backward delta or weight gradient).
uint64_t gemm_flops(const MlpLayer& l, uint64_t batch) { return 2 * batch * l.in * l.out; }
}  // namespace

WorkCounters embedding_forward(uint64_t batch, uint64_t dim, const std::vector<TableSizes>& tables) {
  WorkCounters w;
  for (const TableSizes& t : tables) {
    count_rows(w, t.lookups, dim, false);
    w.bytes_read_seq += t.lookups * kI + (batch + 1) * kI;  // indices and offsets
    // which came up from the host first, in one copy with the dense features and labels (not
    // counted: 56 B an example on mlperf-dlrm against its ids' 208 B and offsets' 208 B, a few
    // percent on pooled models; a table shard cannot tell whether its device sends them)
    w.host_link_bytes += t.lookups * kI + (batch + 1) * kI;
    w.bytes_written_seq += batch * dim * kF;
    w.flops += t.lookups * dim;
    w.bags += batch;
  }
  // No launch at all for an empty batch or rows of no columns (nothing to pool).
  w.launches = batch > 0 && dim > 0 ? table_groups(tables.size()) : 0;
  return w;
}

WorkCounters coalesce(uint64_t lookups, uint64_t distinct, uint64_t dim, bool scaled) {
  WorkCounters w;
  w.bytes_read_seq = lookups * (kI + dim * kF);
  w.bytes_written_seq = distinct * (kI + dim * kF);
  w.flops = lookups * dim * (scaled ? 2 : 1);
  w.sort_ops = kRadixSortOpsPerKey * lookups;
  return w;
}

WorkCounters unique_next_rows(uint64_t lookups) {
  WorkCounters w;
  w.bytes_read_seq = lookups * kI;
  w.sort_ops = kRadixSortOpsPerKey * lookups;
  return w;
}

uint64_t coalesce_launches(const std::vector<TableSizes>& tables, bool next, bool sums) {
  std::vector<int64_t> lookups, max_rows;
  for (const TableSizes& t : tables) {
    lookups.push_back(static_cast<int64_t>(next ? t.next_lookups : t.lookups));
    max_rows.push_back(t.rows > 0 ? static_cast<int64_t>(t.rows) - 1 : 0);
  }
  std::vector<CoalesceGroup> groups;
  try {
    groups = plan_coalesce_groups(lookups, max_rows);
  } catch (const std::length_error&) {
    // Keys the backend refuses (a table alone past 64 bits): priced as one sort per table.
    for (size_t k = 0; k < lookups.size(); ++k) groups.push_back({.first_table = static_cast<int64_t>(k), .tables = 1, .lookups = lookups[k]});
  }
  return coalesce_launches(groups, kTablesPerLaunch, sums);
}

WorkCounters dense_forward(const DenseShape& s) {
  WorkCounters w;
  const uint64_t B = s.batch;
  for (size_t l = 0; l < s.layers.size(); ++l) {
    if (l == s.bottom) w.flops += 2 * B * s.pairs() * s.dim, w.launches += 2;  // the interaction
    const MlpLayer& L = s.layers[l];
    w.flops += gemm_flops(L, B) + 2 * B * L.out, w.gemm_flops += gemm_flops(L, B);
    w.bytes_read_seq += kF * (B * L.in + L.in * L.out + L.out);
    w.bytes_written_seq += kF * B * L.out;
    w.launches += 2;  // GEMM, bias and activation
  }
  w.launches += 1;  // the loss
  return w;
}

// Every layer but the first passes a delta down (GEMM, then the ReLU mask: 2 launches, counted as
// 2 for the top MLP's first layer too, whose delta goes to the interaction unmasked); the
// interaction's backward and the bottom MLP's delta from it are 2 more.
WorkCounters backward_deltas(const DenseShape& s) {
  WorkCounters w;
  const uint64_t B = s.batch;
  for (size_t l = 1; l < s.layers.size(); ++l) {
    w.flops += gemm_flops(s.layers[l], B), w.gemm_flops += gemm_flops(s.layers[l], B);
    w.launches += 2;
  }
  w.flops += 4 * B * s.pairs() * s.dim, w.launches += 2;
  return w;
}

WorkCounters weight_grads(const DenseShape& s, bool scaled) {
  WorkCounters w;
  const uint64_t B = s.batch;
  for (const MlpLayer& L : s.layers) {
    if (scaled) w.flops += B * L.out, w.launches += 1;  // the deltas scaled by the clip factors first
    w.flops += gemm_flops(L, B) + B * L.out, w.gemm_flops += gemm_flops(L, B);
    w.bytes_read_seq += kF * (2 * B * L.out + B * L.in);
    w.bytes_written_seq += kF * (L.in * L.out + L.out);
    w.launches += 2;  // GEMM, column sums
  }
  return w;
}

// Per layer |a_i|^2 |d_i|^2: the MLP's part of the ghost norms.
WorkCounters ghost_norms_mlp(const DenseShape& s) {
  WorkCounters w;
  const uint64_t B = s.batch;
  for (const MlpLayer& L : s.layers) {
    w.flops += 2 * B * (L.in + L.out) + 3 * B, w.launches += 1;
    w.bytes_read_seq += kF * B * (L.in + L.out);
  }
  return w;
}

// Per table the bag's sum of count^2 (bounded by the bag's ids squared, the kernel's pairwise
// scan; every table in one launch); then the embeddings' part over the s.tables tables the device
// holds.
WorkCounters ghost_norms_tables(const DenseShape& s, const std::vector<TableSizes>& t) {
  WorkCounters w;
  const uint64_t B = s.batch, T = s.tables;
  for (const TableSizes& k : t) w.flops += k.bag_lookups_sq, w.bytes_read_seq += k.lookups * kI;
  w.launches += t.empty() ? 0 : 1;
  w.flops += 2 * B * T * s.dim + 2 * B * T, w.bytes_read_seq += B * T * (s.dim + 1) * kF, w.launches += 2;
  return w;
}

// dpsgd-b (kept) and dpsgd-r (one layer at a time) write the same per-example gradients: the
// MLP's layers here, the tables' rows in materialized_norms_tables.
WorkCounters materialized_norms_mlp(const DenseShape& s) {
  WorkCounters w;
  const uint64_t B = s.batch;
  for (const MlpLayer& L : s.layers) {
    const uint64_t P = L.parameters();
    w.flops += 3 * B * P, w.bytes_read_seq += kF * B * (L.in + L.out), w.bytes_written_seq += kF * B * P;
    w.launches += 1;
  }
  return w;
}

WorkCounters materialized_norms_tables(const DenseShape& s, const std::vector<TableSizes>& t) {
  WorkCounters w;
  const uint64_t B = s.batch;
  for (const TableSizes& k : t) {
    w.bytes_read_seq += k.lookups * kI + B * s.dim * kF, w.bytes_written_seq += k.lookups * s.dim * kF;
    w.flops += 3 * k.lookups * s.dim, w.launches += 1;
  }
  return w;
}

WorkCounters clipped_mlp_sum(const DenseShape& s) {
  const uint64_t B = s.batch, P = s.mlp_parameters();
  WorkCounters w;
  w.bytes_read_seq = kF * B * P, w.bytes_written_seq = kF * P, w.flops = 2 * B * P, w.launches = 1;
  return w;
}

WorkCounters mlp_update(const DenseShape& s, bool noisy, bool gaussian) {
  WorkCounters w;
  for (const MlpLayer& L : s.layers) {
    const uint64_t p = L.parameters();
    w.bytes_read_seq += 2 * p * kF, w.bytes_written_seq += p * kF, w.flops += (noisy ? 4 : 2) * p;
    w.launches += 2;  // weights, biases
    if (noisy && gaussian) w.rng_samples += p;
  }
  return w;
}

WorkCounters sparse_update(uint64_t grad_rows, uint64_t dim) {
  WorkCounters w;
  count_rows(w, grad_rows, dim, true);
  w.bytes_read_seq = grad_rows * (kI + dim * kF), w.flops = 2 * grad_rows * dim, w.launches = 1;
  return w;
}

// The table streams through once in and once out; the gradient rows are found through the slot
// map (set and cleared around the pass: 3 launches).
WorkCounters dense_noisy_update(uint64_t rows, uint64_t dim, uint64_t grad_rows, bool gaussian) {
  const uint64_t n = rows * dim;
  WorkCounters w;
  w.bytes_read_seq = n * kF + grad_rows * (kI + dim * kF) + rows * kSlot;
  w.bytes_written_seq = n * kF + 2 * grad_rows * kSlot;
  w.rng_samples = gaussian ? n : 0;
  w.flops = 3 * n + grad_rows * dim;
  w.launches = 3;
  return w;
}

WorkCounters sparse_noisy_update(uint64_t grad_rows, uint64_t dim, bool gaussian) {
  WorkCounters w;
  count_rows(w, grad_rows, dim, true);
  w.bytes_read_seq = grad_rows * (kI + dim * kF);
  w.rng_samples = gaussian ? grad_rows * dim : 0;
  w.flops = 4 * grad_rows * dim;
  w.launches = 1;
  return w;
}

WorkCounters lazy_settle(uint64_t history_rows, uint64_t owed, uint64_t draws, uint64_t dim, bool gaussian) {
  WorkCounters w;
  w.bytes_read_rand = history_rows * kHistory, w.launches = 1;
  count_rows(w, owed, dim, true);
  w.bytes_written_rand += owed * kHistory;
  w.rng_samples = gaussian ? draws * dim : 0;
  w.flops = 2 * draws * dim;
  return w;
}

// The sort of the batch's ids, each touched row's noisy count (one normal each), the selected
// rows written out, and the untouched rows' geometric gaps (one uniform each).
WorkCounters adafest_select_table(const TableSizes& t, bool gaussian) {
  WorkCounters w;
  w.bytes_read_seq = t.lookups * kI;
  w.bytes_written_seq = t.selected * kI;
  w.rng_samples = (gaussian ? t.unique_rows : 0) + t.selection_draws;
  w.flops = t.lookups + 2 * t.unique_rows + 4 * t.selection_draws;
  w.sort_ops = kRadixSortOpsPerKey * t.lookups;
  // The noisy counts, the selected rows' compaction (with its merge), the false positives; the ids'
  // sort is every table's at once (select_rows).
  w.launches = 3;
  return w;
}

WorkCounters selected_noisy_update(uint64_t selected, uint64_t grad_rows, uint64_t dim, bool gaussian) {
  WorkCounters w;
  count_rows(w, selected, dim, true);
  w.bytes_read_seq = selected * kI + grad_rows * (kI + dim * kF) + selected * kSlot;
  w.bytes_written_seq = 2 * grad_rows * kSlot;  // the gradient rows' slots set and cleared, as the dense update's
  w.rng_samples = gaussian ? selected * dim : 0;
  w.flops = 3 * selected * dim + grad_rows * dim;
  w.launches = 3;
  return w;
}

WorkCounters choose_fixed_rows_table(const TableSizes& t, bool gaussian) {
  WorkCounters w = contribution_histogram_work(t);  // on the host, as the CPU backend builds it
  if (t.selected == 0) return w;
  if (t.selected >= t.rows) {  // every row, in order
    w.bytes_written_seq = t.rows * kI, w.launches = 1;
    return w;
  }
  // Every row's dense count read and its noisy count written as a key with its row id; the
  // (key, row) sort; the kept rows' sort into the output.
  w.bytes_read_seq += t.rows * kI;
  w.rng_samples = gaussian ? t.rows : 0;
  w.flops += 2 * t.rows;
  w.bytes_written_seq = t.rows * 2 * kI + t.selected * kI;
  w.sort_ops += kRadixSortOpsPerKey * (t.rows + t.selected);
  w.launches = 3;
  return w;
}

namespace {
bool gaussian(const AlgorithmConfig& cfg) { return cfg.noise == NoiseSource::gaussian; }

template <class F>
WorkCounters per_table(const StepSizes& s, F&& f) {
  WorkCounters w;
  for (const TableSizes& t : s.tables) w += f(t);
  return w;
}

// The noise rows a lazydp settle counts as drawn: one per owed row (none under `zero`) when
// aggregated, one per owed step when exact. The kernel skips the noise under `zero` or a zero
// stddev in both modes; exact mode's flops still count the steps, as the backend always has.
uint64_t settle_draws(const TableSizes& t, const AlgorithmConfig& cfg) {
  if (cfg.lazydp.noise == LazyNoiseMode::exact) return t.owed_steps;
  return cfg.noise == NoiseSource::zero ? 0 : t.owed;
}

// A per-table kernel's work over every table, launched a group of tables at a time
// (cuda_table_group.hpp): each table's formula counts the launches one table would take.
template <class F>
WorkCounters grouped(const StepSizes& s, F&& f) {
  WorkCounters w;
  uint64_t per_launch = 0;
  for (const TableSizes& t : s.tables) {
    WorkCounters one = f(t);
    per_launch = one.launches, one.launches = 0;
    w += one;
  }
  w.launches = per_launch * table_groups(s.tables.size());
  return w;
}

// The tables' update; the rows with a gradient are the batch's distinct rows (the coalesce's output).
// Every table's in one launch (a group at a time).
WorkCounters table_update(NoiseTarget noise, const StepSizes& s, const AlgorithmConfig& cfg) {
  const uint64_t d = s.dense.dim;
  const bool g = gaussian(cfg);
  switch (noise) {
    case NoiseTarget::none:
    case NoiseTarget::next_batch_rows:  // lazydp: the gradient now, the noise when the rows are next read
      return grouped(s, [&](const TableSizes& t) { return sparse_update(t.unique_rows, d); });
    case NoiseTarget::every_row:
      return grouped(s, [&](const TableSizes& t) { return dense_noisy_update(t.rows, d, t.unique_rows, g); });
    case NoiseTarget::touched_rows:
      return grouped(s, [&](const TableSizes& t) { return sparse_noisy_update(t.unique_rows, d, g); });
    case NoiseTarget::selected_rows:
      return grouped(s, [&](const TableSizes& t) { return selected_noisy_update(t.selected, t.unique_rows, d, g); });
  }
  return {};
}

WorkCounters lazy_op(bool catchup, const StepSizes& s, const AlgorithmConfig& cfg) {
  WorkCounters all = grouped(s, [&](const TableSizes& t) {
    WorkCounters w = catchup ? unique_next_rows(t.next_lookups) : WorkCounters{};
    // The next batch's ids and offsets go up first (one copy for every table).
    if (catchup) w.host_link_bytes = t.next_lookups * kI + (s.dense.batch + 1) * kI;
    w += lazy_settle(catchup ? t.next_unique : t.rows, t.owed, settle_draws(t, cfg), s.dense.dim, gaussian(cfg));
    return w;
  });
  if (catchup) all.launches += coalesce_launches(s.tables, true, false);  // the next rows, every table in one sort
  return all;
}

WorkCounters coalesce_tables(const StepSizes& s, bool scaled) {
  WorkCounters w =
      per_table(s, [&](const TableSizes& t) { return coalesce(t.lookups, t.unique_rows, s.dense.dim, scaled); });
  w.launches += coalesce_launches(s.tables, false, s.dense.dim > 0);
  return w;
}
}  // namespace

namespace {
// dp.norm's part on one side (the clip factors' launch is not counted, as it never was; a
// formula that did would put it on the dense side, where every device clips its own examples once
// comm.norm has summed their norms).
WorkCounters clip_norms(Norms norms, const StepSizes& s, WorkSide side) {
  const bool ghost = norms == Norms::ghost;
  if (side == WorkSide::dense) return ghost ? ghost_norms_mlp(s.dense) : materialized_norms_mlp(s.dense);
  return ghost ? ghost_norms_tables(s.dense, s.tables) : materialized_norms_tables(s.dense, s.tables);
}

WorkCounters select_rows(const StepSizes& s, const AlgorithmConfig& cfg) {
  WorkCounters w = per_table(s, [&](const TableSizes& t) { return adafest_select_table(t, gaussian(cfg)); });
  w.launches += coalesce_launches(s.tables, false, false);  // every table's ids in one sort
  w.launches += 1;  // the contribution maps' clip factors, over all tables
  return w;
}
}  // namespace

// A dense-side op reads only s.dense and a tables-side op never reads s.dense.layers, so a sharded
// caller may leave out what the side does not use.
WorkCounters CudaKernelWork::part(const Op& op, const StepSizes& s, const AlgorithmConfig& cfg, WorkSide side) const {
  if (!works_on(op.kind, side)) return {};
  const DenseShape& d = s.dense;
  switch (op.kind) {
    case OpKind::embedding_forward:
      return embedding_forward(d.batch, d.dim, s.tables);
    case OpKind::dense_forward: return dense_forward(d);
    case OpKind::backward_deltas: return backward_deltas(d);
    case OpKind::weight_grads: return weight_grads(d, op.clipped);
    case OpKind::clip_norms: return clip_norms(op.norms, s, side);
    case OpKind::clipped_sum:  // dpsgd-b: the MLP's sum, and the tables' rows coalesced with the clip factors
      return side == WorkSide::dense ? clipped_mlp_sum(d) : coalesce_tables(s, true);
    case OpKind::coalesce: return coalesce_tables(s, op.clipped);
    case OpKind::select_rows: return select_rows(s, cfg);
    case OpKind::choose_fixed_rows:
      return per_table(s, [&](const TableSizes& t) { return choose_fixed_rows_table(t, gaussian(cfg)); });
    case OpKind::mlp_update: return mlp_update(d, op.noise != NoiseTarget::none, gaussian(cfg));
    case OpKind::table_update: return table_update(op.noise, s, cfg);
    case OpKind::lazy_catchup: return lazy_op(true, s, cfg);
    case OpKind::lazy_flush: return lazy_op(false, s, cfg);
    // Between devices: no kernel of this family runs them (sim/scale_out models their cost).
    case OpKind::exchange_ids:
    case OpKind::exchange_pooled:
    case OpKind::exchange_pooled_grads:
    case OpKind::reduce_example_norms:
    case OpKind::reduce_contribution_norms:
    case OpKind::reduce_dense_grads:
    case OpKind::route_next_ids: return {};
  }
  return {};
}

const KernelWork& cuda_kernel_work() {
  static const CudaKernelWork family;
  return family;
}

uint64_t CudaKernelWork::row_state_bytes(AlgorithmKind kind) const {
  bool slots = false;
  for (const PlanStage& s : plan_of(kind).step)
    for (const Op& op : s.ops)
      slots = slots || (op.kind == OpKind::table_update &&
                        (op.noise == NoiseTarget::every_row || op.noise == NoiseTarget::selected_rows));
  return lazy_history_bytes(kind) + (slots ? kSlot : 0);
}

}  // namespace privrec::cuda_work
