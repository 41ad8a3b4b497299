#include "models/kernel_work/framework_work.hpp"

#include "models/kernel_work/cpu_work.hpp"
#include "models/kernel_work/sort_work.hpp"

namespace privrec::framework_work {

namespace {
constexpr uint64_t kF = sizeof(float), kD = sizeof(double), kI = sizeof(int64_t), kH = sizeof(int32_t);

// A tensor the framework allocates: above glibc's largest mmap threshold (32 MiB on 64-bit) the
// allocator maps it fresh every step and the kernel faults in and zero-fills its pages on first
// touch (PyTorch's CPU allocator keeps no cache); below it, the heap reuses memory. Measured with
// Debian's torch 1.13 on the Zen 5 VM, median of five: a fresh 41 MB tensor filled in 83.7 ms
// against 0.58 ms for one that exists (100 MB: 195 against 4.4 ms), 4 and 16 MB alike either way.
constexpr uint64_t kMmapThreshold = uint64_t{32} << 20;
void fresh(WorkCounters& w, uint64_t bytes) {
  if (bytes > kMmapThreshold) w.bytes_first_touch += bytes;
}

// A tensor of n floats read, or written, once more (an elementwise operator's pass).
void pass(WorkCounters& w, uint64_t read_floats, uint64_t written_floats) {
  w.bytes_read_seq += read_floats * kF, w.bytes_written_seq += written_floats * kF;
}

// index_add_ of `rows` rows of values (with their int64 ids) into a table: rows gathered and
// scattered by index.
void index_add(WorkCounters& w, uint64_t rows, uint64_t dim) {
  w.rows_read_rand += rows, w.rows_written_rand += rows;
  w.bytes_read_rand += rows * dim * kF, w.bytes_written_rand += rows * dim * kF;
  w.bytes_read_seq += rows * (kI + dim * kF);
  w.flops += 2 * rows * dim;
  w.launches += 1;
}

// torch.randn of n values, then scaled into a new tensor (`* std`).
void scaled_normals(WorkCounters& w, uint64_t n, bool gaussian) {
  fresh(w, n * kF), fresh(w, n * kF);
  w.rng_samples += gaussian ? n : 0;
  pass(w, n, 2 * n);
  w.flops += n;
  w.launches += 2;
}

// Autograd's first backward: the deltas and, for DP (hooks on every layer), every layer's
// weight gradient too, as the framework computes every parameter's gradient in one backward.
WorkCounters backward(const DenseShape& d, bool weight_grads_too) {
  WorkCounters w = cpu_work::backward_deltas(d);
  w.launches = 3 * d.layers.size() + 6;  // per layer: the input's mm, the ReLU's; the interaction's
  if (weight_grads_too) {
    w += cpu_work::weight_grads(d, false);
    w.launches += d.layers.size();  // the backward hooks' copies of the output gradients
  }
  return w;
}

// The MLPs' ghost norms as the peer computes them: per layer, |a|^2 and |g|^2 in double.
WorkCounters ghost_norms_mlp(const DenseShape& d) {
  WorkCounters w;
  const uint64_t B = d.batch;
  for (const MlpLayer& l : d.layers) {
    const uint64_t n = B * (l.in + l.out);
    w.bytes_read_seq += n * kF + 2 * n * kD, w.bytes_written_seq += 2 * n * kD + 3 * B * kD;
    w.flops += 3 * n + 4 * B;
    w.launches += 9;
  }
  return w;
}

// Each bag's sum of squared id counts (every bag sorted on its own, runs marked and counted) and
// the pooled gradients' squares, per table.
WorkCounters ghost_norms_tables(const DenseShape& d, const std::vector<TableSizes>& tables) {
  WorkCounters w;
  const uint64_t B = d.batch;
  for (const TableSizes& t : tables) {
    w.sort_ops += t.bag_sort_ops;
    // Per id: the sort (values and their order), the run starts, their cumsum, the counts'
    // scatter_add_ and squares: about nine 8-byte reads and writes each. The pooled gradient in
    // double: converted, squared, summed (three passes).
    w.bytes_read_seq += 9 * t.lookups * kI + B * d.dim * (kF + 2 * kD);
    w.bytes_written_seq += 9 * t.lookups * kI + 2 * B * d.dim * kD + 3 * B * kD;
    w.flops += 3 * t.lookups + 2 * B * d.dim;
    w.launches += 16;
  }
  return w;
}

// Autograd's embedding-bag backward (one row of values per lookup, as a sparse tensor) and its
// coalesce(): the ids sorted, equal ids' rows summed.
WorkCounters sparse_gradients(const DenseShape& d, const std::vector<TableSizes>& tables) {
  WorkCounters w;
  const uint64_t B = d.batch, dim = d.dim;
  for (const TableSizes& t : tables) {
    w.bytes_read_seq += B * dim * kF + t.lookups * kI;
    w.bytes_written_seq += t.lookups * (kI + dim * kF);
    fresh(w, t.lookups * dim * kF), fresh(w, t.unique_rows * dim * kF);  // the values, the coalesced values
    w.bytes_read_seq += t.lookups * (kI + dim * kF);
    w.bytes_written_seq += t.unique_rows * (kI + dim * kF);
    w.sort_ops += comparison_sort_ops(t.lookups);
    w.flops += t.lookups * dim;
    w.launches += 2;
  }
  w.launches += 1;  // the backward call
  return w;
}

// The tables' update. dpsgd: a dense noise tensor per table, the gradient scattered into it and
// a separate dense add; eana: noise on the gradient's values; sgd: the gradient alone. lazydp's
// update is the catch-up's (lazy_catchup below), which applies both in one buffer.
WorkCounters table_update(NoiseTarget noise, const StepSizes& s, bool gaussian) {
  WorkCounters w;
  const uint64_t dim = s.dense.dim;
  for (const TableSizes& t : s.tables) {
    switch (noise) {
      case NoiseTarget::none: index_add(w, t.unique_rows, dim); break;
      case NoiseTarget::every_row: {
        const uint64_t n = t.rows * dim;
        scaled_normals(w, n, gaussian);
        index_add(w, t.unique_rows, dim);  // into the noise tensor
        pass(w, 2 * n, n);                 // table += -lr/B x noise
        w.flops += 2 * n;
        w.launches += 1;
        break;
      }
      case NoiseTarget::touched_rows:
      case NoiseTarget::selected_rows: {
        const uint64_t rows = noise == NoiseTarget::touched_rows ? t.unique_rows : t.selected;
        scaled_normals(w, rows * dim, gaussian);
        fresh(w, rows * dim * kF);
        pass(w, 2 * rows * dim, rows * dim);  // values + noise, a new tensor
        w.flops += rows * dim;
        w.launches += 1;
        index_add(w, rows, dim);
        break;
      }
      case NoiseTarget::next_batch_rows: break;
    }
  }
  return w;
}

// lazydp the framework way, per table: the next batch's ids made unique, their pending steps read
// from the history, a buffer of (those rows + the gradient's rows) x dim filled with N(0, 1), the
// first rows scaled by sqrt(pending) sigma C, the gradient's values copied into the rest, the ids
// concatenated, the whole coalesced and applied with one index_add_, the history updated.
WorkCounters lazy_catchup(const StepSizes& s, bool gaussian) {
  WorkCounters w;
  const uint64_t dim = s.dense.dim;
  for (const TableSizes& t : s.tables) {
    const uint64_t next = t.next_unique, buffer = t.next_unique + t.unique_rows;
    w.sort_ops += comparison_sort_ops(t.next_lookups) + comparison_sort_ops(buffer);
    w.bytes_read_seq += t.next_lookups * kI;
    w.bytes_written_seq += next * kI;
    w.rows_read_rand += next, w.bytes_read_rand += next * kH;  // the history's entries
    pass(w, 3 * next * 2, 3 * next * 2);                          // pending steps, sqrt, scale (double)
    w.rng_samples += gaussian ? buffer * dim : 0;
    fresh(w, buffer * dim * kF), fresh(w, buffer * dim * kF);  // the buffer, the coalesced buffer
    pass(w, 0, buffer * dim);
    pass(w, next * dim, next * dim);                 // scaled in place
    pass(w, t.unique_rows * dim, t.unique_rows * dim);  // the gradient's values copied in
    w.bytes_read_seq += buffer * kI, w.bytes_written_seq += buffer * kI;  // the ids concatenated
    // The coalesce: the buffer read, the merged rows written (counted as the buffer's: the next
    // batch's rows and the gradient's rarely meet in a large table, an upper bound in a small one).
    w.bytes_read_seq += buffer * (kI + dim * kF), w.bytes_written_seq += buffer * (kI + dim * kF);
    w.flops += buffer * dim + 4 * next;
    w.launches += 12;
    index_add(w, buffer, dim);
    w.rows_written_rand += next, w.bytes_written_rand += next * kH;  // the history
  }
  return w;
}

// The MLP update: per parameter, optionally noise (randn, scaled) added to its gradient, then
// the step (p.add_).
WorkCounters mlp_update(const DenseShape& d, bool noisy, bool gaussian) {
  WorkCounters w;
  for (const MlpLayer& l : d.layers) {
    const uint64_t p = l.parameters();
    if (noisy) {  // per tensor (weight, bias): randn, scaled, added to the gradient
      scaled_normals(w, p, gaussian);
      pass(w, 2 * p, p);
      w.flops += p, w.launches += 2 + 2;  // the bias's randn and scale; the two adds
    }
    pass(w, 2 * p, p);
    w.flops += 2 * p, w.launches += 2;
  }
  return w;
}

class FrameworkWork : public KernelWork {
 public:
  const char* family() const override { return "framework"; }
  uint64_t row_state_bytes(AlgorithmKind kind) const override { return lazy_history_bytes(kind); }
  WorkCounters part(const Op& op, const StepSizes& s, const AlgorithmConfig& cfg, WorkSide side) const override {
    if (!works_on(op.kind, side)) return {};
    const DenseShape& d = s.dense;
    const bool gaussian = cfg.noise == NoiseSource::gaussian;
    const bool dp = cfg.kind != AlgorithmKind::sgd;
    switch (op.kind) {
      case OpKind::embedding_forward: {
        WorkCounters w;
        for (const TableSizes& t : s.tables) w += cpu_work::embedding_forward(d.batch, 1, d.dim, t.lookups);
        return w;  // one nn.EmbeddingBag call per table
      }
      case OpKind::dense_forward: {
        WorkCounters w = cpu_work::forward_dense(d);
        pass(w, 2 * d.batch * d.features() * d.dim, d.batch * (d.features() * d.dim + d.width));  // stack, cat
        w.launches = 2 * d.layers.size() + 6;  // linear and ReLU per layer; the interaction; the loss
        return w;
      }
      case OpKind::backward_deltas: return backward(d, dp);
      case OpKind::weight_grads: {
        if (!op.clipped) {  // sgd: in the same backward as the deltas
          WorkCounters w = cpu_work::weight_grads(d, false);
          w.launches = 2 * d.layers.size();
          return w;
        }
        // The reweighted second backward: the whole MLP backward again, loss_i x c_i.
        WorkCounters w = backward(d, true);
        pass(w, 2 * d.batch, d.batch);
        w.launches += 2 * d.layers.size() + 2;  // the gradients reset; the reweighted loss
        return w;
      }
      case OpKind::clip_norms:
        if (op.norms != Norms::ghost) return cpu_work_fallback(op, s, cfg, side);
        return side == WorkSide::dense ? ghost_norms_mlp(d) : ghost_norms_tables(d, s.tables);
      case OpKind::coalesce: return sparse_gradients(d, s.tables);
      case OpKind::mlp_update: return mlp_update(d, op.noise != NoiseTarget::none, gaussian);
      case OpKind::table_update: return table_update(op.noise, s, gaussian);
      case OpKind::lazy_catchup: return lazy_catchup(s, gaussian);
      // What the peer does not write (materialized per-example gradients, adafest's and
      // dp-fest's selections, lazydp's final flush): the CPU kernels' formulas, one call each.
      case OpKind::clipped_sum:
      case OpKind::select_rows:
      case OpKind::choose_fixed_rows:
      case OpKind::lazy_flush: return cpu_work_fallback(op, s, cfg, side);
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

 private:
  static WorkCounters cpu_work_fallback(const Op& op, const StepSizes& s, const AlgorithmConfig& cfg, WorkSide side) {
    return cpu_work::cpu_kernel_work().part(op, s, cfg, side);
  }
};
}  // namespace

const KernelWork& framework_kernel_work() {
  static const FrameworkWork family;
  return family;
}

uint64_t materialized_noise_bytes(const Plan& plan, uint64_t table_bytes) {
  for (const auto* phase : {&plan.setup, &plan.step, &plan.finish})
    for (const PlanStage& st : *phase)
      for (const Op& op : st.ops)
        if (op.kind == OpKind::table_update && op.noise == NoiseTarget::every_row) return table_bytes;
  return 0;
}

}  // namespace privrec::framework_work
