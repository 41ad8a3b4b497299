#include "kernels/mpi/sharded_step_ops.hpp"

#include <algorithm>
#include <stdexcept>

namespace privrec::mpi {

namespace {
void add(WorkCounters& w, const Traffic& t) {
  w.comm_bytes += t.bytes;
  w.comm_messages += t.messages;
}
}  // namespace

ShardedStepOps::ShardedStepOps(cpu::DlrmModel& dense, cpu::DlrmModel& tables, const AlgorithmConfig& cfg,
                               const Communicator& comm, const ShardLayout& layout)
    : CpuStepOps(dense, tables, cfg), comm_(comm), layout_(layout), exchange_(comm) {}

void ShardedStepOps::communicate(const OpContext& c, OpKind op, WorkCounters& w) {
  switch (op) {
    case OpKind::exchange_ids: return exchange_ids(*c.batch, owned_, &local_, w);
    case OpKind::exchange_pooled: return exchange_pooled(w);
    case OpKind::exchange_pooled_grads: return exchange_pooled_grads(w);
    case OpKind::reduce_example_norms: return reduce_example_norms(*c.rec, w);
    case OpKind::reduce_contribution_norms: return reduce_contribution_norms(w);
    case OpKind::reduce_dense_grads: return reduce_dense_grads(w);
    case OpKind::route_next_ids: return exchange_ids(*c.next, owned_next_, nullptr, w);
    default: throw std::logic_error("ShardedStepOps::communicate: not a communication operation");
  }
}

void ShardedStepOps::exchange_ids(const Batch& batch, Batch& owned, Batch* local, WorkCounters& w) {
  const int N = comm_.size(), me = comm_.rank();
  batch_ = batch.size;
  first_ = first_of(me);
  const int64_t L = count_of(me);
  // To rank s, per block of s: this rank's examples' counts of ids in the block, then the ids.
  exchange_.clear();
  counts_.resize(static_cast<size_t>(L));
  for (int s = 0; s < N; ++s)
    for (const auto& b : layout_.blocks[s]) {
      const TableBatch& tb = batch.tables[b.table];
      ids_.clear();
      for (int64_t i = 0; i < L; ++i) {
        const size_t before = ids_.size();
        for (int64_t k = tb.offsets[first_ + i]; k < tb.offsets[first_ + i + 1]; ++k) {
          const int64_t id = tb.indices[k];
          if (id >= b.first_row && id < b.first_row + b.rows) ids_.push_back(id - b.first_row);
        }
        counts_[i] = static_cast<int64_t>(ids_.size() - before);
      }
      exchange_.append(s, counts_.data(), L);
      exchange_.append(s, ids_.data(), static_cast<int64_t>(ids_.size()));
    }
  Traffic t;
  exchange_.run(t);
  add(w, t);
  const auto& mine = layout_.blocks[me];
  owned.size = batch.size;
  owned.num_dense = 0;
  owned.tables.resize(mine.size());
  for (auto& tb : owned.tables) tb.offsets.assign(1, 0), tb.indices.clear();
  for (int q = 0; q < N; ++q) {
    const int64_t* m = exchange_.received<int64_t>(q);
    const int64_t Lq = count_of(q);
    for (size_t j = 0; j < mine.size(); ++j) {
      TableBatch& tb = owned.tables[j];
      int64_t total = 0;
      for (int64_t i = 0; i < Lq; ++i) total += m[i], tb.offsets.push_back(tb.offsets.back() + m[i]);
      tb.indices.insert(tb.indices.end(), m + Lq, m + Lq + total);
      m += Lq + total;
    }
  }
  if (local) {
    local->size = L;
    local->num_dense = batch.num_dense;
    local->dense.assign(batch.dense.begin() + first_ * batch.num_dense, batch.dense.begin() + (first_ + L) * batch.num_dense);
    local->labels.assign(batch.labels.begin() + first_, batch.labels.begin() + first_ + L);
    local->tables.clear();
  }
}

// The owners' pooled rows go to the examples' ranks; a row-wise table's partial sums (one per
// block) are added up there in rank order.
void ShardedStepOps::exchange_pooled(WorkCounters& w) {
  const int N = comm_.size(), me = comm_.rank();
  const int64_t L = count_of(me), d = buf_.dim;
  if (dbuf_->batch != L) dbuf_->resize(dense_, L);
  exchange_.clear();
  const auto& mine = layout_.blocks[me];
  for (int s = 0; s < N; ++s)
    for (size_t j = 0; j < mine.size(); ++j)
      for (int64_t i = first_of(s); i < first_of(s) + count_of(s); ++i)
        exchange_.append(s, buf_.pooled(i, static_cast<int64_t>(j)), d);
  Traffic t;
  exchange_.run(t);
  add(w, t);
  for (int64_t i = 0; i < L; ++i)
    for (int64_t k = 0; k < static_cast<int64_t>(dense_.workload.tables.size()); ++k) std::fill_n(dbuf_->pooled(i, k), d, 0.0f);
  for (int q = 0; q < N; ++q) {
    const float* v = exchange_.received<float>(q);
    for (const auto& b : layout_.blocks[q])
      for (int64_t i = 0; i < L; ++i, v += d) {
        float* out = dbuf_->pooled(i, b.table);
        for (int64_t c = 0; c < d; ++c) out[c] += v[c];
      }
  }
}

// The pooled embeddings' gradients go from the examples' ranks to the owners of their rows.
void ShardedStepOps::exchange_pooled_grads(WorkCounters& w) {
  const int N = comm_.size(), me = comm_.rank();
  const int64_t L = count_of(me), d = buf_.dim;
  exchange_.clear();
  for (int s = 0; s < N; ++s)
    for (const auto& b : layout_.blocks[s])
      for (int64_t i = 0; i < L; ++i) exchange_.append(s, dbuf_->pooled_grad(i, b.table), d);
  Traffic t;
  exchange_.run(t);
  add(w, t);
  const int64_t F = buf_.features;
  for (int q = 0; q < N; ++q) {
    const float* v = exchange_.received<float>(q);
    for (size_t j = 0; j < layout_.blocks[me].size(); ++j)
      for (int64_t i = first_of(q); i < first_of(q) + count_of(q); ++i, v += d)
        std::copy(v, v + d, buf_.dfeat.data() + (i * F + 1 + static_cast<int64_t>(j)) * d);
  }
}

void ShardedStepOps::reduce_example_norms(StepRecord& rec, WorkCounters& w) {
  Traffic t;
  comm_.sum(norm2_.data(), static_cast<int64_t>(norm2_.size()), t);
  add(w, t);
  set_clip_factors(norm2_, rec);
}

// An example's contribution map is clipped over the distinct rows of all its bags: each rank
// counts them in the rows it holds (row blocks and tables never share a row) and the counts add up.
void ShardedStepOps::reduce_contribution_norms(WorkCounters& w) {
  std::vector<int64_t> distinct = distinct_rows_per_example(owned_);
  Traffic t;
  comm_.sum(distinct.data(), static_cast<int64_t>(distinct.size()), t);
  add(w, t);
  contrib_factors_ = contribution_clip_factors(distinct, cfg_.adafest.c1);
}

void ShardedStepOps::reduce_dense_grads(WorkCounters& w) {
  std::vector<float> flat;
  for (size_t l = 0; l < grads_.weight.size(); ++l) {
    flat.insert(flat.end(), grads_.weight[l].begin(), grads_.weight[l].end());
    flat.insert(flat.end(), grads_.bias[l].begin(), grads_.bias[l].end());
  }
  Traffic t;
  comm_.sum(flat.data(), static_cast<int64_t>(flat.size()), t);
  add(w, t);
  size_t at = 0;
  for (size_t l = 0; l < grads_.weight.size(); ++l) {
    std::copy(flat.begin() + at, flat.begin() + at + grads_.weight[l].size(), grads_.weight[l].begin());
    at += grads_.weight[l].size();
    std::copy(flat.begin() + at, flat.begin() + at + grads_.bias[l].size(), grads_.bias[l].begin());
    at += grads_.bias[l].size();
  }
}

// Reporting only (the training never reads it): not counted as the step's communication.
double ShardedStepOps::batch_loss(double local_mean) {
  const int64_t n = count_of(comm_.rank());
  double sum = n > 0 ? local_mean * static_cast<double>(n) : 0.0;  // a rank without examples has no mean
  Traffic ignored;
  comm_.sum(&sum, 1, ignored);
  return sum / static_cast<double>(batch_);
}

}  // namespace privrec::mpi
