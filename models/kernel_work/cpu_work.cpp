#include "models/kernel_work/cpu_work.hpp"

#include <algorithm>

#include "models/kernel_work/histogram_work.hpp"
#include "models/kernel_work/sort_work.hpp"

namespace privrec::cpu_work {

namespace {
constexpr uint64_t kF = sizeof(float), kI = sizeof(int64_t), kH = sizeof(uint32_t), kSlot = sizeof(int32_t);
constexpr uint64_t kPtr = 8;  // a row's pointer to its gradient

// One row-wise pass over `rows` rows of `dim` floats gathered and scattered by index.
void random_rows(WorkCounters& w, uint64_t rows, uint64_t dim) {
  w.rows_read_rand += rows;
  w.rows_written_rand += rows;
  w.bytes_read_rand += rows * dim * kF;
  w.bytes_written_rand += rows * dim * kF;
}
}  // namespace

WorkCounters embedding_forward(uint64_t B, uint64_t T, uint64_t d, uint64_t L) {
  WorkCounters w;
  w.rows_read_rand = L;
  w.bytes_read_rand = L * d * kF;
  w.bytes_read_seq = L * kI + T * (B + 1) * kI;
  w.bytes_written_seq = B * T * d * kF;
  w.flops = L * d;
  w.launches = 1;
  w.bags = B * T;
  return w;
}

bool coalesce_by_slots(uint64_t rows, uint64_t dim, uint64_t lookups, uint64_t examples) {
  return rows * dim * kF <= kSlotAccumulatorBytes && lookups >= kSlotMinPooling * examples;
}

WorkCounters coalesce(const std::vector<TableSizes>& tables, uint64_t d, bool scaled, uint64_t B) {
  WorkCounters w;
  w.bags = B * tables.size();  // every example's bag is walked to tag its lookups
  for (const TableSizes& t : tables) {
    const uint64_t examples = t.bags ? t.bags : B;
    if (coalesce_by_slots(t.rows, d, t.lookups, examples)) {
      // Every row summed: the row's sum read and written in lookup order (from the caches when the
      // table's sums fit them, and each example's pooled gradient read once for all its lookups).
      w.bytes_written_seq += t.unique_rows * (kI + d * kF);
      w.flops += t.lookups * d * (scaled ? 2 : 1);
      w.bytes_read_seq += t.lookups * (kI + d * kF);
      w.bytes_read_seq += t.lookups * kI + examples * d * kF + t.rows * kSlot;  // the ids again, the slots scanned
      w.sort_ops += t.lookups + t.rows;
    } else {
      // The pooled gradients gathered in sorted order and summed, but for the rows one lookup
      // touched: those are left where they lie, each row a pointer and a factor.
      const uint64_t alone = std::min({t.single_rows, t.unique_rows, t.lookups}), summed = t.lookups - alone;
      w.bytes_read_seq += t.lookups * kI + summed * d * kF;
      w.bytes_written_seq += t.unique_rows * (kI + kPtr + kF) + (t.unique_rows - alone) * d * kF;
      w.flops += summed * d * (scaled ? 2 : 1);
      w.sort_ops += t.lookup_sort_ops;
    }
  }
  w.launches = 1;
  return w;
}

// Each lookup one probe and count of the bag's hash table (kernels/cpu/embedding_bag.cpp), priced
// as one step of a sort (a compare and a move: the sort rate's unit).
WorkCounters bag_count_square_sums(const std::vector<TableSizes>& tables, uint64_t B) {
  WorkCounters w;
  for (const TableSizes& t : tables) w.bytes_read_seq += t.lookups * kI, w.sort_ops += t.lookups;
  w.bytes_written_seq = B * tables.size() * kF;
  w.launches = 1;
  return w;
}

WorkCounters ghost_norms_embedding(uint64_t B, uint64_t T, uint64_t d) {
  WorkCounters w;
  w.flops = 2 * B * T * d + 2 * B * T;
  w.bytes_read_seq = B * T * (d + 1) * kF;
  w.launches = 1;
  return w;
}

WorkCounters materialize_embedding_grads(const std::vector<TableSizes>& tables, uint64_t B, uint64_t d) {
  WorkCounters w;
  for (const TableSizes& t : tables) {
    w.bytes_read_seq += t.lookups * kI + B * d * kF;
    w.bytes_written_seq += t.bag_distinct * (kI + d * kF);
    w.flops += 3 * t.bag_distinct * d;
    w.sort_ops += t.bag_sort_ops;
  }
  w.launches = tables.size();
  return w;
}

WorkCounters coalesce_materialized(const std::vector<TableSizes>& tables, uint64_t d) {
  WorkCounters w;
  for (const TableSizes& t : tables) {
    w.bytes_read_seq += t.bag_distinct * (kI + d * kF);
    w.bytes_written_seq += t.unique_rows * (kI + d * kF);
    w.flops += 2 * t.bag_distinct * d;
    w.sort_ops += t.bag_distinct_sort_ops;
  }
  w.launches = 1;
  return w;
}

WorkCounters sparse_update(uint64_t U, uint64_t d) {
  WorkCounters w;
  random_rows(w, U, d);
  w.bytes_read_seq = U * (kI + d * kF);
  w.flops = 3 * U * d;  // w -= scale * (factor * g)
  w.launches = 1;
  return w;
}

WorkCounters forward_dense(const DenseShape& s) {
  const uint64_t B = s.batch, d = s.dim;
  WorkCounters w;
  w.bytes_read_seq = kF * s.dense_values;
  w.bytes_written_seq = kF * s.dense_values;
  auto layer = [&](const MlpLayer& l) {
    w.flops += 2 * B * l.in * l.out + 2 * B * l.out;
    w.gemm_flops += 2 * B * l.in * l.out;
    w.bytes_read_seq += kF * (B * l.in + 2 * l.in * l.out + l.out + B * l.out);
    w.bytes_written_seq += kF * (l.in * l.out + 2 * B * l.out);
    w.launches += 3;
  };
  for (size_t l = 0; l < s.bottom; ++l) layer(s.layers[l]);
  w.flops += 2 * B * s.pairs() * d;  // the dot interaction
  w.bytes_read_seq += kF * (B * s.features() * d + B * d);
  w.bytes_written_seq += kF * (B * d + B * s.width);
  w.launches += 1;
  for (size_t l = s.bottom; l < s.layers.size(); ++l) layer(s.layers[l]);
  w.flops += 10 * B;  // sigmoid and cross-entropy
  w.bytes_read_seq += 2 * kF * B;
  w.bytes_written_seq += 3 * kF * B;
  return w;
}

WorkCounters backward_deltas(const DenseShape& s) {
  const uint64_t B = s.batch, d = s.dim;
  WorkCounters w;
  auto backward_input = [&](const MlpLayer& l, bool masked) {
    w.flops += 2 * B * l.in * l.out;
    w.gemm_flops += 2 * B * l.in * l.out;
    w.bytes_read_seq += kF * (B * l.out + l.in * l.out);
    w.bytes_written_seq += kF * B * l.in;
    w.launches += 1;
    if (!masked) return;
    w.bytes_read_seq += 2 * kF * B * l.in;  // the ReLU mask
    w.bytes_written_seq += kF * B * l.in;
    w.launches += 1;
  };
  const size_t nb = s.bottom, nt = s.layers.size() - s.bottom;
  for (size_t l = nt; l-- > 0;) backward_input(s.layers[nb + l], l > 0);
  w.flops += 4 * B * s.pairs() * d;  // the interaction's backward
  w.bytes_read_seq += kF * (B * s.width + B * s.features() * d);
  w.bytes_written_seq += kF * B * s.features() * d;
  w.launches += 1;
  w.bytes_read_seq += 2 * kF * B * d;
  w.bytes_written_seq += kF * B * d;
  for (size_t l = nb; l-- > 1;) backward_input(s.layers[l], true);
  return w;
}

WorkCounters weight_grads(const DenseShape& s, bool scaled) {
  const uint64_t B = s.batch;
  WorkCounters w;
  // Per layer: the GEMM reads the batch-major deltas in place (transposed operand) and, when
  // scaled, multiplies the inputs' rows by the clip factors as it packs them; then the bias sums
  // (scaled deltas) over the batch.
  for (const MlpLayer& l : s.layers) {
    if (scaled) w.flops += B * l.in + B * l.out;
    w.flops += 2 * B * l.in * l.out + B * l.out;
    w.gemm_flops += 2 * B * l.in * l.out;
    w.bytes_read_seq += kF * (2 * B * l.out + B * l.in);
    w.bytes_written_seq += kF * (l.in * l.out + l.out);
    w.launches += 2;
  }
  return w;
}

WorkCounters ghost_norms_mlp(const DenseShape& s) {
  const uint64_t B = s.batch;
  WorkCounters w;
  for (const MlpLayer& l : s.layers) {
    w.flops += 2 * B * (l.in + l.out) + 3 * B;
    w.bytes_read_seq += kF * B * (l.in + l.out);
    w.launches += 1;
  }
  return w;
}

WorkCounters materialize_layer_grads(const MlpLayer& l, uint64_t B) {
  WorkCounters w;
  w.flops = 3 * B * l.parameters();
  w.bytes_read_seq = kF * B * (l.in + l.out);
  w.bytes_written_seq = kF * B * l.parameters();
  w.launches = 1;
  return w;
}

WorkCounters clipped_mlp_sum(const DenseShape& s) {
  const uint64_t B = s.batch, P = s.mlp_parameters();
  WorkCounters w;
  w.bytes_read_seq = 4 * B * P;
  w.bytes_written_seq = 4 * P;
  w.flops = 2 * B * P;
  w.launches = 1;
  return w;
}

WorkCounters dense_noisy_update(uint64_t rows, uint64_t d, uint64_t gu, bool gaussian) {
  const uint64_t n = rows * d;
  WorkCounters w;
  w.bytes_read_seq = n * kF + gu * (kI + d * kF);
  w.bytes_written_seq = n * kF;
  w.rng_samples = gaussian ? n : 0;
  w.flops = 3 * n + 2 * gu * d;  // and factor * g + noise for the rows with a gradient
  w.launches = 1;
  return w;
}

WorkCounters sparse_noisy_update(uint64_t n, uint64_t d, uint64_t with_grad, bool gaussian) {
  WorkCounters w;
  random_rows(w, n, d);
  w.bytes_read_seq = n * kI + with_grad * d * kF;
  w.rng_samples = gaussian ? n * d : 0;
  w.flops = 3 * n * d + 2 * with_grad * d;
  w.launches = 1;
  return w;
}

WorkCounters mlp_update(const DenseShape& s, bool noisy, bool gaussian) {
  WorkCounters w;
  for (const MlpLayer& l : s.layers) {
    const uint64_t p = l.parameters();
    w.bytes_read_seq += 2 * p * kF;
    w.bytes_written_seq += p * kF;
    w.flops += (noisy ? 4 : 2) * p;
    if (noisy && gaussian) w.rng_samples += p;
    w.launches += 2;
  }
  return w;
}

WorkCounters unique_next_rows(uint64_t lookups, uint64_t sort_ops) {
  WorkCounters w;
  w.bytes_read_seq = lookups * kI;
  w.sort_ops = sort_ops;
  return w;
}

WorkCounters lazy_catch_up(uint64_t n, uint64_t owed, uint64_t draws, uint64_t d, bool gaussian) {
  WorkCounters w;
  w.bytes_read_seq = n * kI;
  w.bytes_read_rand = n * kH + owed * d * kF;
  w.bytes_written_rand = owed * kH + owed * d * kF;
  w.rows_read_rand = owed;
  w.rows_written_rand = owed;
  w.rng_samples = gaussian ? draws * d : 0;
  w.flops = 2 * draws * d;
  w.launches = 1;
  return w;
}

WorkCounters lazy_flush(uint64_t rows, uint64_t owed, uint64_t draws, uint64_t d, bool gaussian) {
  WorkCounters w;
  w.bytes_read_seq = rows * kH + owed * d * kF;
  w.bytes_written_seq = owed * kH + owed * d * kF;
  w.rng_samples = gaussian ? draws * d : 0;
  w.flops = 2 * draws * d;
  w.launches = 1;
  return w;
}

WorkCounters choose_fixed_rows_table(const TableSizes& t, bool gaussian) {
  WorkCounters w = contribution_histogram_work(t);
  if (t.selected == 0) return w;
  if (t.selected >= t.rows) {  // every row, in order: no noise to draw, nothing to rank
    w.bytes_written_seq = t.rows * kI, w.launches = 1;
    return w;
  }
  // Every row's noisy count (8-byte scores), then the k largest and their ids in order.
  w.rng_samples = gaussian ? t.rows : 0;
  w.flops += 2 * t.rows;
  w.bytes_written_seq = t.rows * kI + t.selected * kI;
  w.bytes_read_seq += t.rows * kI;
  w.sort_ops += t.rows + comparison_sort_ops(t.selected);
  w.launches = 1;
  return w;
}

WorkCounters adafest_select_table(const TableSizes& t, bool gaussian) {
  WorkCounters w;
  w.bytes_read_seq = t.lookups * kI;
  w.bytes_written_seq = t.selected * kI;
  w.rng_samples = (gaussian ? t.unique_rows : 0) + t.selection_draws;
  w.flops = t.lookups + 2 * t.unique_rows + 4 * t.selection_draws;
  // The ids' sort, and every id hashed once for the clip factors (a key-step each: BagDistinct).
  w.sort_ops = t.lookup_sort_ops + t.lookups;
  return w;
}

}  // namespace privrec::cpu_work

namespace privrec::cpu_work {

namespace {
uint64_t total_lookups(const std::vector<TableSizes>& tables) {
  uint64_t n = 0;
  for (const TableSizes& t : tables) n += t.lookups;
  return n;
}

// dp.norm's part on one side. Dense: the MLP layers' norms, or their per-example gradients written
// out. Tables: the bags' count-square sums and the embeddings' ghost norms over the shards the
// device holds (sizes.dense.tables), or the embeddings' per-example gradients written out.
// Combining the summed norms into clip factors is a per-example term of neither: the kernels do
// not count it, and a formula that did would put it on the dense side, where every device clips
// its own examples once comm.norm has summed their norms.
WorkCounters clip_norms(Norms norms, const StepSizes& s, WorkSide side) {
  const DenseShape& d = s.dense;
  WorkCounters w;
  if (side == WorkSide::dense) {
    if (norms == Norms::ghost) return ghost_norms_mlp(d);
    for (const MlpLayer& l : d.layers) w += materialize_layer_grads(l, d.batch);
    return w;
  }
  if (norms != Norms::ghost) return materialize_embedding_grads(s.tables, d.batch, d.dim);
  w += bag_count_square_sums(s.tables, d.batch);
  w += ghost_norms_embedding(d.batch, d.tables, d.dim);
  return w;
}

WorkCounters table_update(NoiseTarget noise, const StepSizes& s, bool gaussian) {
  const uint64_t d = s.dense.dim;
  WorkCounters w;
  for (const TableSizes& t : s.tables) {
    switch (noise) {
      case NoiseTarget::none:
      case NoiseTarget::next_batch_rows: w += sparse_update(t.unique_rows, d); break;
      case NoiseTarget::every_row: w += dense_noisy_update(t.rows, d, t.unique_rows, gaussian); break;
      case NoiseTarget::touched_rows: w += sparse_noisy_update(t.unique_rows, d, t.unique_rows, gaussian); break;
      case NoiseTarget::selected_rows: w += sparse_noisy_update(t.selected, d, t.selected_touched, gaussian); break;
    }
  }
  return w;
}

// lazydp's settling of owed noise: draws are rows (aggregated) or pending steps (exact).
WorkCounters lazy_settle(bool flush, const StepSizes& s, const AlgorithmConfig& cfg) {
  const bool draws_noise = cfg.noise == NoiseSource::gaussian && cfg.noise_stddev() != 0.0;
  WorkCounters w;
  for (const TableSizes& t : s.tables) {
    const uint64_t draws = cfg.lazydp.noise == LazyNoiseMode::exact ? t.owed_steps : t.owed;
    if (flush) {
      w += lazy_flush(t.rows, t.owed, draws, s.dense.dim, draws_noise);
    } else {
      w += unique_next_rows(t.next_lookups, t.next_sort_ops);
      w += lazy_catch_up(t.next_unique, t.owed, draws, s.dense.dim, draws_noise);
    }
  }
  return w;
}

WorkCounters per_table_selection(const StepSizes& s, bool gaussian) {
  WorkCounters w;
  for (const TableSizes& t : s.tables) w += adafest_select_table(t, gaussian);
  w.launches += 1;
  return w;
}

class CpuKernelWork : public KernelWork {
 public:
  const char* family() const override { return "cpu"; }
  uint64_t row_state_bytes(AlgorithmKind kind) const override { return lazy_history_bytes(kind); }
  // A dense-side op reads only s.dense and a tables-side op never reads s.dense.layers, so a
  // sharded caller may leave out what the side does not use.
  WorkCounters part(const Op& op, const StepSizes& s, const AlgorithmConfig& cfg, WorkSide side) const override {
    if (!works_on(op.kind, side)) return {};
    const DenseShape& d = s.dense;
    const bool gaussian = cfg.noise == NoiseSource::gaussian;
    switch (op.kind) {
      case OpKind::embedding_forward: return embedding_forward(d.batch, d.tables, d.dim, total_lookups(s.tables));
      case OpKind::dense_forward: return forward_dense(d);
      case OpKind::backward_deltas: return backward_deltas(d);
      case OpKind::weight_grads: return weight_grads(d, op.clipped);
      case OpKind::clip_norms: return clip_norms(op.norms, s, side);
      case OpKind::clipped_sum:  // the MLP's sum of the kept copies; the tables' rows of theirs
        return side == WorkSide::dense ? clipped_mlp_sum(d) : coalesce_materialized(s.tables, d.dim);
      case OpKind::coalesce: return coalesce(s.tables, d.dim, op.clipped, d.batch);
      case OpKind::select_rows: return per_table_selection(s, gaussian);
      case OpKind::choose_fixed_rows: {
        WorkCounters w;
        for (const TableSizes& t : s.tables) w += choose_fixed_rows_table(t, gaussian);
        return w;
      }
      case OpKind::mlp_update: return mlp_update(d, op.noise != NoiseTarget::none, gaussian);
      case OpKind::table_update: return table_update(op.noise, s, gaussian);
      case OpKind::lazy_catchup: return lazy_settle(false, s, cfg);
      case OpKind::lazy_flush: return lazy_settle(true, s, cfg);
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
};
}  // namespace

const KernelWork& cpu_kernel_work() {
  static const CpuKernelWork family;
  return family;
}

}  // namespace privrec::cpu_work
