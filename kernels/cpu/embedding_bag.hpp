#pragma once
// Embedding bags on the host: sum-pooled lookups, gradient coalescing (sort the touched rows,
// sum duplicate rows' contributions), bag statistics for ghost norms, and row-wise updates.
#include <vector>

#include "kernels/cpu/dlrm_model.hpp"
#include "kernels/cpu/dlrm_pass.hpp"
#include "kernels/host_allocator.hpp"
#include "models/work_counters.hpp"
#include "traces/batch.hpp"

namespace privrec::cpu {

// A sparse gradient of one table: sorted distinct rows and one gradient row (dim floats) each,
// row u's being factor(u) x values(u). Built by hand, every row's values lie in `grads` in order
// (src empty, factors 1). The sorted coalesce of coalesce_embedding_grads sums in `grads` only the
// rows several lookups touched, and leaves a row one lookup touched where that lookup's pooled
// gradient lies (src[u] points there, src_scale[u] is its example's clip factor): it is neither read
// nor copied before the update reads it. Such a gradient lives as long as the pooled gradients it
// points into. src may point into grads, so a copy would point into the original's: moves only.
struct SparseRows {
  std::vector<int64_t> rows;
  HugePageVector<float> grads;    // on 2 MB pages (host_allocator.hpp)
  std::vector<const float*> src;  // empty, or every row's values
  std::vector<float> src_scale;   // empty, or every row's factor
  int64_t in_place_rows = 0;      // rows whose values are not in `grads`

  SparseRows() = default;
  SparseRows(SparseRows&&) = default;
  SparseRows& operator=(SparseRows&&) = default;
  SparseRows(const SparseRows&) = delete;
  SparseRows& operator=(const SparseRows&) = delete;

  const float* values(size_t u, int64_t dim) const {
    return src.empty() ? grads.data() + static_cast<int64_t>(u) * dim : src[u];
  }
  float factor(size_t u) const { return src_scale.empty() ? 1.0f : src_scale[u]; }
};

// Row by row, factor x values: the gradient as one dense block of rows.size() x dim floats.
std::vector<float> gradient_values(const SparseRows& g, int64_t dim);

// Per-example gradients of one table, materialized: example i owns entries [offsets[i], offsets[i+1]),
// one per distinct row of its bag, each count * pooled gradient.
struct ExampleRows {
  std::vector<int64_t> offsets, rows;
  HugePageVector<float> grads;
};

// pooled(i, t) = sum of the rows in example i's bag of table t.
void embedding_forward(const DlrmModel& m, const Batch& batch, PassBuffers& buf, WorkCounters& work);

// out[t]: rows touched by the batch in table t (of rows[t] rows) with sum_i scale_i * (pooled
// gradient of i), one contribution per lookup (so a row twice in a bag counts twice), each row's in
// lookup order. scale == nullptr: all ones. Rows one lookup touched may point into buf's pooled
// gradients (SparseRows): out is read before buf changes.
void coalesce_embedding_grads(const Batch& batch, const std::vector<int64_t>& rows, const PassBuffers& buf,
                              const std::vector<float>* scale, std::vector<SparseRows>& out, WorkCounters& work);

// sum over distinct rows r of the bag of count_r^2, per example and table (B x T).
std::vector<float> bag_count_square_sums(const Batch& batch, WorkCounters& work);

// norm2[i] += |pooled grad(i,t)|^2 * count_square_sums(i,t) summed over tables (ghost norm).
void ghost_norms_embedding(const PassBuffers& buf, const std::vector<float>& count_sq, std::vector<double>& norm2,
                           WorkCounters& work);

// Materializes every example's per-row table gradients; norm2[i] += their squared norm.
void materialize_embedding_grads(const Batch& batch, const PassBuffers& buf, std::vector<ExampleRows>& out,
                                 std::vector<double>& norm2, WorkCounters& work);
// out[t]: the coalesced sum_i scale_i * (example i's materialized rows).
void coalesce_materialized(const std::vector<ExampleRows>& per_example, const std::vector<float>& scale, int64_t dim,
                           std::vector<SparseRows>& out, WorkCounters& work);

// w[r] -= scale * g[r] for every row of the sparse gradient.
void sparse_update(EmbeddingTable& table, const SparseRows& grad, float scale, WorkCounters& work);

}  // namespace privrec::cpu
