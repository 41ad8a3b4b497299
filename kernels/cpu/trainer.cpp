#include "kernels/cpu/trainer.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/adafest_selection.hpp"
#include "kernels/cpu/fest_selection.hpp"
#include "kernels/cpu/noisy_update.hpp"
#include "models/kernel_work/cpu_work.hpp"
#include "traces/row_sort.hpp"
#include "models/parallel_each.hpp"

namespace privrec::cpu {

std::unique_ptr<Trainer> make_trainer(DlrmModel& model, const AlgorithmConfig& cfg) {
  return std::make_unique<Trainer>(model, cfg);
}

CpuStepOps::CpuStepOps(DlrmModel& dense, DlrmModel& tables, const AlgorithmConfig& cfg)
    : dense_(dense), tables_(tables), cfg_(cfg), dbuf_(&dense == &tables ? &buf_ : &dense_buf_), noise_(cfg.seed, cfg.noise) {
  grads_.resize(dense_);
  for (const auto& t : tables_.tables) table_rows_.push_back(t.rows);
  if (plan_of(cfg.kind).has(OpKind::lazy_catchup))
    for (const auto& t : tables_.tables) history_.emplace_back(static_cast<size_t>(t.rows), 0u);
}

void CpuStepOps::embedding_forward(const OpContext& c, WorkCounters& w) {
  const Batch& tb = table_batch(c);
  if (buf_.batch != tb.size) buf_.resize(tables_, tb.size);
  cpu::embedding_forward(tables_, tb, buf_, w);
}

void CpuStepOps::dense_forward(const OpContext& c, WorkCounters& w) {
  c.rec->loss = batch_loss(forward_dense(dense_, dense_batch(c), *dbuf_, w));
}

void CpuStepOps::backward_deltas(const OpContext&, WorkCounters& w) { cpu::backward_deltas(dense_, *dbuf_, w); }

void CpuStepOps::weight_grads(const OpContext&, bool clipped, WorkCounters& w) {
  cpu::weight_grads(dense_, *dbuf_, clipped ? &dense_factors_ : nullptr, grads_, w);
}

void CpuStepOps::coalesce(const OpContext& c, bool clipped, WorkCounters& w) {
  coalesce_embedding_grads(table_batch(c), table_rows_, buf_, clipped ? &factors_ : nullptr, emb_grads_, w);
}

void CpuStepOps::set_clip_factors(const std::vector<double>& norm2, StepRecord& rec) {
  factors_.assign(norm2.size(), 1.0f);
  int64_t clipped = 0;
  if (!std::isinf(cfg_.clip))
    for (size_t i = 0; i < norm2.size(); ++i) {
      const double n = std::sqrt(norm2[i]);
      if (n > cfg_.clip) factors_[i] = static_cast<float>(cfg_.clip / n), ++clipped;
    }
  const auto first = factors_.begin() + first_example();
  dense_factors_.assign(first, first + dbuf_->batch);
  rec.extras["clipped_fraction"] = norm2.empty() ? 0.0 : static_cast<double>(clipped) / norm2.size();
}

// This side's part of every example's squared norm: the MLP side's examples' MLP part, and the
// table part of every example over the rows held. One process has both, and its clip factors.
void CpuStepOps::clip_norms(const OpContext& c, Norms norms, WorkCounters& w) {
  const Batch& tb = table_batch(c);
  norm2_.assign(static_cast<size_t>(tb.size), 0.0);
  std::vector<double> mlp(static_cast<size_t>(dbuf_->batch), 0.0);
  if (norms == Norms::ghost) {
    ghost_norms_mlp(dense_, *dbuf_, mlp, w);
  } else {
    materialized_norms(norms == Norms::materialized_kept, mlp, w);
  }
  for (size_t i = 0; i < mlp.size(); ++i) norm2_[first_example() + i] += mlp[i];
  if (norms == Norms::ghost) {
    const auto count_sq = bag_count_square_sums(tb, w);
    ghost_norms_embedding(buf_, count_sq, norm2_, w);
  } else {
    materialize_embedding_grads(tb, buf_, example_rows_, norm2_, w);
  }
  if (ranks() == 1) set_clip_factors(norm2_, *c.rec);
}

// Every example's gradient written out: all layers side by side and kept for the clipped sum
// (dpsgd-b), or one layer at a time for the norms only (dpsgd-r).
void CpuStepOps::materialized_norms(bool keep, std::vector<double>& mlp_norm2, WorkCounters& w) {
  const auto layers = dense_.layers();
  const int64_t B = dbuf_->batch;
  int64_t total = 0;
  for (const DenseLayer* l : layers) total += l->out * l->in + l->out;
  int64_t offset = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    const DenseLayer& l = *layers[i];
    const int64_t P = l.out * l.in + l.out;
    reserve_per_example(B * (keep ? total : P));
    materialize_layer_grads(l, dbuf_->layer_input[i], dbuf_->layer_delta[i], B,
                            per_example_.data() + (keep ? offset : 0), keep ? total : P, mlp_norm2, w);
    offset += P;
  }
  per_example_stride_ = total;
}

// Grows only: every element is written before it is read, so old contents never matter.
void CpuStepOps::reserve_per_example(int64_t n) {
  if (per_example_.size() < n) per_example_ = FloatArray(n);
}

// dpsgd-b: sum_i c_i g_i over the materialized per-example gradients, MLP and tables.
void CpuStepOps::clipped_sum(const OpContext&, WorkCounters& w) {
  const auto layers = dense_.layers();
  const int64_t B = dbuf_->batch, P = per_example_stride_;
  std::vector<float>& sum = clipped_sum_;
  sum.assign(static_cast<size_t>(P), 0.0f);
  constexpr int64_t kChunk = 4096;
#pragma omp parallel for schedule(static)
  for (int64_t p0 = 0; p0 < P; p0 += kChunk) {
    const int64_t p1 = std::min(P, p0 + kChunk);
    for (int64_t i = 0; i < B; ++i) {
      const float ci = dense_factors_[i];
      const float* g = per_example_.data() + i * P;
      for (int64_t p = p0; p < p1; ++p) sum[p] += ci * g[p];
    }
  }
  int64_t offset = 0;
  for (size_t l = 0; l < layers.size(); ++l) {
    const int64_t nw = layers[l]->out * layers[l]->in, nb = layers[l]->out;
    std::copy(sum.begin() + offset, sum.begin() + offset + nw, grads_.weight[l].begin());
    std::copy(sum.begin() + offset + nw, sum.begin() + offset + nw + nb, grads_.bias[l].begin());
    offset += nw + nb;
  }
  w += cpu_work::clipped_mlp_sum(dense_shape(dense_.workload, B));
  coalesce_materialized(example_rows_, factors_, buf_.dim, emb_grads_, w);
}

std::vector<RowRange> CpuStepOps::row_ranges() const {
  std::vector<RowRange> out;
  for (const EmbeddingTable& t : tables_.tables) out.push_back({t.id, t.first_row, t.rows, t.table_rows});
  return out;
}

// The contribution clip factors span every table: a rank of a sharded run has them summed
// (contrib_factors_); one process finds them from its batch.
void CpuStepOps::select_rows(const OpContext& c, WorkCounters& w) {
  const Batch& tb = table_batch(c);
  const std::vector<float> factors = ranks() == 1 ? contribution_clip_factors(tb, cfg_.adafest.c1) : contrib_factors_;
  Selection sel = adafest_select(tb, row_ranges(), factors, cfg_, static_cast<uint64_t>(c.step), w);
  c.rec->extras["touched_rows"] = sel.touched;
  c.rec->extras["selected_touched_rows"] = sel.selected_touched;
  c.rec->extras["false_positive_rows"] = sel.false_positives;
  c.rec->extras["untouched_rows"] = sel.untouched;
  selection_ = std::move(sel.rows);
}

// The histogram and the choice are made over whole tables from the data every rank reads, and each
// side keeps the chosen rows it holds: a row block's choice needs every row's noisy count.
void CpuStepOps::choose_fixed_rows(const OpContext& c, WorkCounters& w) {
  std::vector<int64_t> rows;
  for (const auto& t : dense_.workload.tables) rows.push_back(t.rows);
  const RowHistogram h = contribution_histogram(*c.trace, c.steps, cfg_.fest.c1);
  const std::vector<std::vector<int64_t>> chosen = cpu::choose_fixed_rows(h, rows, cfg_, w);
  selection_.assign(tables_.tables.size(), {});
  int64_t kept = 0;
  for (size_t k = 0; k < tables_.tables.size(); ++k) {
    const EmbeddingTable& t = tables_.tables[k];
    for (const int64_t r : chosen[t.id])
      if (r >= t.first_row && r < t.first_row + t.rows) selection_[k].push_back(r - t.first_row);
    kept += static_cast<int64_t>(selection_[k].size());  // the rows held here (a sharded run sums the ranks')
  }
  c.rec->extras["fixed_rows"] = kept;
}

void CpuStepOps::mlp_update(const OpContext& c, NoiseTarget noise, WorkCounters& w) {
  const bool noisy = noise != NoiseTarget::none;
  cpu::mlp_update(dense_, grads_, c.scale, noisy ? static_cast<float>(cfg_.noise_stddev()) : 0.0f,
                  noisy ? &noise_ : nullptr, static_cast<uint64_t>(c.step), w);
}

void CpuStepOps::table_update(const OpContext& c, NoiseTarget noise, WorkCounters& w) {
  const float stddev = static_cast<float>(cfg_.noise_stddev());
  const uint64_t t = static_cast<uint64_t>(c.step);
  if (noise == NoiseTarget::next_batch_rows) schedule_.push(c.scale);  // this step's noise is owed
  for (size_t k = 0; k < tables_.tables.size(); ++k) {
    EmbeddingTable& table = tables_.tables[k];
    const uint32_t id = table.id;
    switch (noise) {
      case NoiseTarget::none:
      case NoiseTarget::next_batch_rows: sparse_update(table, emb_grads_[k], c.scale, w); break;
      case NoiseTarget::every_row: dense_noisy_update(table, id, emb_grads_[k], c.scale, stddev, noise_, t, w); break;
      case NoiseTarget::touched_rows:
        sparse_noisy_update(table, id, emb_grads_[k].rows, emb_grads_[k], c.scale, stddev, noise_, t, w);
        break;
      case NoiseTarget::selected_rows:
        sparse_noisy_update(table, id, selection_[k], emb_grads_[k], c.scale, stddev, noise_, t, w);
        break;
    }
  }
}

LazyNoiseParams CpuStepOps::lazy_params() const {
  return {static_cast<float>(cfg_.noise_stddev()), cfg_.lazydp.noise, &noise_, &schedule_};
}

void CpuStepOps::lazy_catchup(const OpContext& c, WorkCounters& w) {
  const Batch& next = table_next_batch(c);
  const int64_t T = static_cast<int64_t>(tables_.tables.size());
  std::vector<std::vector<int64_t>> rows(T);
  std::vector<uint64_t> sort_ops(T);
  parallel_each(T, [&](int64_t k) { rows[k] = unique_rows(next.tables[k], &sort_ops[k]); });
  int64_t owed = 0;
  for (int64_t k = 0; k < T; ++k) {
    w += cpu_work::unique_next_rows(next.tables[k].indices.size(), sort_ops[k]);
    owed += lazy_catch_up(tables_.tables[k], tables_.tables[k].id, rows[k], history_[k], static_cast<uint32_t>(c.step),
                          lazy_params(), w);
  }
  c.rec->extras["catchup_rows"] = owed;
}

void CpuStepOps::lazy_flush(const OpContext& c, WorkCounters& w) {
  int64_t owed = 0;
  for (size_t k = 0; k < tables_.tables.size(); ++k)
    owed += cpu::lazy_flush(tables_.tables[k], tables_.tables[k].id, history_[k], static_cast<uint32_t>(c.step),
                            lazy_params(), w);
  c.rec->extras["flushed_rows"] = owed;
}

}  // namespace privrec::cpu
