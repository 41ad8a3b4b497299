// The CUDA backend's operations, part one: the state, stage timing, the forward and backward
// passes, per-example norms and the coalesced sparse gradients. The updates, adafest's selection
// and lazydp's settling are in cuda_update_ops.cpp.
#include "kernels/cuda/cuda_step_ops.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "kernels/cuda/dense_ops.hpp"
#include "kernels/cuda/host_copy.hpp"
#include "models/kernel_work/cuda_work.hpp"

namespace privrec::cuda {

namespace {
constexpr uint64_t kF = sizeof(float);
// Every piece of a packed batch starts on a 256-byte boundary, cudaMalloc's own alignment, so a
// view is as aligned as a buffer of its own was (vector loads of the dense features), and takes
// at least one boundary's worth, so even an empty table's indices point inside the buffer.
constexpr size_t kAlign = 256;
size_t padded(size_t bytes) { return (std::max<size_t>(bytes, 1) + kAlign - 1) / kAlign * kAlign; }

}  // namespace

CudaStepOps::CudaStepOps(const cpu::DlrmModel& host, const AlgorithmConfig& cfg) : cfg_(cfg) {
  for (const auto& t : host.tables) {
    tables_.emplace_back();
    tables_.back().upload(t.weights.data(), static_cast<size_t>(t.rows * t.dim));
    rows_.push_back(t.rows);
  }
  for (const cpu::DenseLayer* l : host.layers()) {
    Layer d;
    d.in = l->in, d.out = l->out, d.relu = l->relu;
    d.w.upload(l->weight), d.b.upload(l->bias);
    d.gw.resize(l->weight.size()), d.gb.resize(l->bias.size());
    layers_.push_back(std::move(d));
  }
  nb_ = host.bottom.size();
  dim_ = host.workload.embedding_dim();
  T_ = static_cast<int64_t>(host.tables.size());
  F_ = T_ + 1;
  width_ = host.workload.interaction_width();
  sizes_.tables.resize(T_);
  for (int64_t k = 0; k < T_; ++k) sizes_.tables[k].rows = static_cast<uint64_t>(rows_[k]);
  const Plan& plan = plan_of(cfg_.kind);
  if (plan.has(OpKind::lazy_catchup) || plan.has(OpKind::lazy_flush)) {
    for (int64_t r : rows_) {
      history_.emplace_back(static_cast<size_t>(r));
      history_.back().zero();
    }
    scale_.push_back(0), cum_.push_back(0), cum_sq_.push_back(0);
    owed_.resize(2 * static_cast<size_t>(T_));  // per table: rows that owed noise, their pending steps
  }
}

// A stage is timed with CUDA events around its kernels and the host work between them (copies,
// launches); the stop event is waited for, so the next stage starts after it.
void CudaStepOps::start_stage(Stage s) {
  auto& t = timers_[static_cast<size_t>(s)];
  if (!t) t = std::make_unique<EventTimer>();
  clip_rec_ = nullptr;  // left set only if an earlier stage threw before its stop
  t->start();
}

double CudaStepOps::stop_stage_seconds(Stage s) {
  const double seconds = timers_[static_cast<size_t>(s)]->stop_ms() / 1e3;
  if (clip_rec_) record_clipped_fraction();  // host bookkeeping, outside the stage's time
  return seconds;
}

void CudaStepOps::count(const Op& op, WorkCounters& w) const { w += cuda_work::cuda_kernel_work().op(op, sizes_, cfg_); }

void CudaStepOps::resize(int64_t B) {
  if (B == B_) return;
  B_ = B;
  input_.clear();
  delta_.clear();
  for (const auto& l : layers_) {
    input_.emplace_back(input_.empty() ? 0 : static_cast<size_t>(B * l.in));
    delta_.emplace_back(static_cast<size_t>(B * l.out));
  }
  bottom_out_.resize(B * dim_), feat_.resize(B * F_ * dim_), dfeat_.resize(B * F_ * dim_);
  logits_.resize(B), dlogit_.resize(B), dz_.resize(B * width_);
  norm2_.resize(B), clip_.resize(B), cs_.resize(B * T_), loss_.resize(kBceLossScratch);
  scaled_.resize(0);
  grads_.assign(T_, {});
  DenseShape& d = sizes_.dense;
  d.batch = static_cast<uint64_t>(B), d.tables = static_cast<uint64_t>(T_), d.dim = static_cast<uint64_t>(dim_);
  d.width = static_cast<uint64_t>(width_), d.bottom = nb_;
  d.dense_values = static_cast<uint64_t>(B * layers_[0].in);
  d.layers.clear();
  for (const auto& l : layers_) d.layers.push_back({static_cast<uint64_t>(l.in), static_cast<uint64_t>(l.out)});
}

// Packs `b` (whole: with its dense features, labels and the pointer arrays) into d.host and sends
// it to d.dev with one asynchronous copy on the default stream, which the kernels that read it
// run on after it. The pointer arrays hold device addresses, known once d.dev has its size, so
// they travel in the same copy. d.host.claim() waits for the copy it sent last, if still running.
void CudaStepOps::stage_batch(const Batch& b, bool whole, DeviceBatch& d) {
  std::vector<HostPiece> pieces;
  size_t total = 0;
  auto add = [&](const void* src, size_t bytes) {
    pieces.push_back({src, bytes, total});
    total += padded(bytes);
    return pieces.back().at;
  };
  for (int64_t k = 0; k < T_; ++k) {
    const auto& tb = b.tables[k];
    add(tb.offsets.data(), tb.offsets.size() * sizeof(int64_t));
    add(tb.indices.data(), tb.indices.size() * sizeof(int64_t));
  }
  size_t ptrs = 0, dense = 0, labels = 0;
  if (whole) {
    ptrs = add(nullptr, 2 * static_cast<size_t>(T_) * sizeof(const int64_t*));
    dense = add(b.dense.data(), b.dense.size() * kF);
    labels = add(b.labels.data(), b.labels.size() * kF);
  }
  // claim() waits for the last copy from d.host (its source must stay intact until then). A
  // growing d.dev is freed with cudaFree, which waits for the device, so kernels still reading the
  // last batch never see it go; on the same stream, the next copy lands after they ran.
  char* host = d.host.claim(total);
  d.dev.resize(total);
  char* base = d.dev.data();
  d.offsets.resize(T_), d.indices.resize(T_);
  for (int64_t k = 0; k < T_; ++k) {
    d.offsets[k] = reinterpret_cast<const int64_t*>(base + pieces[2 * k].at);
    d.indices[k] = reinterpret_cast<const int64_t*>(base + pieces[2 * k + 1].at);
  }
  copy_pieces(pieces, host);
  if (whole) {
    std::memcpy(host + ptrs, d.offsets.data(), T_ * sizeof(const int64_t*));
    std::memcpy(host + ptrs + T_ * sizeof(const int64_t*), d.indices.data(), T_ * sizeof(const int64_t*));
    d.offset_ptrs = reinterpret_cast<const int64_t* const*>(base + ptrs);
    d.index_ptrs = d.offset_ptrs + T_;
    d.dense = reinterpret_cast<const float*>(base + dense);
    d.labels = reinterpret_cast<const float*>(base + labels);
  }
  d.host.send(base, total);
}

// The first operation of every step: it sizes the buffers for the batch and sends the whole batch
// (every table's ids, the dense features and labels) up in one copy, which this stage's time
// includes as it included the per-table copies before.
void CudaStepOps::embedding_forward(const OpContext& c, WorkCounters& w) {
  const Batch& batch = *c.batch;
  resize(batch.size);
  stage_batch(batch, true, batch_);
  forward_group_.resize(static_cast<size_t>(T_));
  for (int64_t k = 0; k < T_; ++k) {
    forward_group_[k] = {tables_[k].data(), batch_.offsets[k], batch_.indices[k], feat_.data() + (1 + k) * dim_};
    sizes_.tables[k].lookups = batch.tables[k].indices.size();
  }
  launch_embedding_forward(forward_group_.data(), T_, dim_, B_, F_ * dim_);
  count({OpKind::embedding_forward}, w);
}

// The batch's dense features and labels are on the device already (sent by embedding_forward).
void CudaStepOps::dense_forward(const OpContext& c, WorkCounters& w) {
  const int64_t B = B_;
  for (size_t l = 0; l < layers_.size(); ++l) {
    if (l == nb_) interaction_forward(bottom_out_.data(), feat_.data(), B, F_, dim_, input_[nb_].data(), width_);
    const Layer& L = layers_[l];
    float* out = l + 1 == nb_ ? bottom_out_.data() : l + 1 < layers_.size() ? input_[l + 1].data() : logits_.data();
    gemm(false, true, B, L.out, L.in, input(l), L.in, L.w.data(), L.in, out, L.out, false);
    add_bias_act(out, L.b.data(), B, L.out, L.relu);
  }
  c.rec->loss = bce_loss(logits_.data(), batch_.labels, B, dlogit_.data(), loss_.data());
  count({OpKind::dense_forward}, w);
}

void CudaStepOps::backward_deltas(const OpContext&, WorkCounters& w) {
  const int64_t B = B_;
  copy_on_device(delta_.back().data(), dlogit_.data(), B * kF);
  for (size_t l = layers_.size(); l-- > nb_;) {
    const Layer& L = layers_[l];
    float* dX = l > nb_ ? delta_[l - 1].data() : dz_.data();
    gemm(false, false, B, L.in, L.out, delta_[l].data(), L.out, L.w.data(), L.in, dX, L.in, false);
    if (l > nb_) relu_mask(dX, input_[l].data(), B * L.in);
  }
  interaction_backward(feat_.data(), dz_.data(), B, F_, dim_, width_, dfeat_.data());
  feature_delta(dfeat_.data(), bottom_out_.data(), B, F_, dim_, 0, delta_[nb_ - 1].data());
  for (size_t l = nb_; l-- > 1;) {
    const Layer& L = layers_[l];
    gemm(false, false, B, L.in, L.out, delta_[l].data(), L.out, L.w.data(), L.in, delta_[l - 1].data(), L.in, false);
    relu_mask(delta_[l - 1].data(), input_[l].data(), B * L.in);
  }
  count({OpKind::backward_deltas}, w);
}

void CudaStepOps::weight_grads(const OpContext&, bool clipped, WorkCounters& w) {
  const int64_t B = B_;
  const float* factors = clipped ? clip_.data() : nullptr;
  for (size_t l = 0; l < layers_.size(); ++l) {
    Layer& L = layers_[l];
    const float* D = delta_[l].data();
    if (factors) {
      scaled_.resize(static_cast<size_t>(std::max<int64_t>(static_cast<int64_t>(scaled_.size()), B * L.out)));
      scale_rows(D, factors, B, L.out, scaled_.data());
      D = scaled_.data();
    }
    gemm(true, false, L.out, L.in, B, D, L.out, input(l), L.in, L.gw.data(), L.in, false);
    column_sums(delta_[l].data(), factors, B, L.out, L.gb.data());
  }
  count({.kind = OpKind::weight_grads, .clipped = clipped}, w);
}

void CudaStepOps::clip_norms(const OpContext& c, Norms norms, WorkCounters& w) {
  if (norms == Norms::ghost)
    ghost_norms(*c.batch);
  else
    materialized_norms(*c.batch, norms == Norms::materialized_kept);
  clip_factors(norm2_.data(), B_, cfg_.clip, clip_.data());
  count({.kind = OpKind::clip_norms, .norms = norms}, w);
  clip_rec_ = c.rec;
}

void CudaStepOps::record_clipped_fraction() {
  const std::vector<float> c = clip_.download();
  int64_t clipped = 0;
  for (float f : c) clipped += f < 1.0f;
  clip_rec_->extras["clipped_fraction"] = B_ ? static_cast<double>(clipped) / static_cast<double>(B_) : 0.0;
  clip_rec_ = nullptr;
}

// Per layer |a_i|^2 |d_i|^2; per table each bag's sum of count^2 (every table in one launch), whose
// kernel scans the bag's pairs of ids (the batch's sum of bag size squared, counted here from the
// host's offsets).
void CudaStepOps::ghost_norms(const Batch& batch) {
  const int64_t B = B_;
  norm2_.zero();
  for (size_t l = 0; l < layers_.size(); ++l)
    ghost_norms_layer(input(l), layers_[l].in, delta_[l].data(), layers_[l].out, B, norm2_.data());
  bag_count_squares(batch_.offset_ptrs, batch_.index_ptrs, B, T_, cs_.data());
  for (int64_t k = 0; k < T_; ++k) {
    uint64_t p2 = 0;
    for (int64_t i = 0; i < B; ++i) {
      const auto p = static_cast<uint64_t>(batch.tables[k].offsets[i + 1] - batch.tables[k].offsets[i]);
      p2 += p * p;
    }
    sizes_.tables[k].bag_lookups_sq = p2;
  }
  ghost_norms_embedding(dfeat_.data(), cs_.data(), B, T_, dim_, norm2_.data());
}

// dpsgd-b (all layers at once, kept for the clipped sum) or dpsgd-r (one layer at a time, for the
// norms only): every example's gradient written out, its squared norm summed; the tables' rows too.
void CudaStepOps::materialized_norms(const Batch& batch, bool keep_all) {
  const int64_t B = B_;
  norm2_.zero();
  int64_t total = 0, widest = 0;
  for (const auto& L : layers_) total += L.out * L.in + L.out, widest = std::max(widest, L.out * L.in + L.out);
  per_example_.resize(static_cast<size_t>(B * (keep_all ? total : widest)));
  int64_t offset = 0;
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer& L = layers_[l];
    const int64_t P = L.out * L.in + L.out;
    materialize_layer(input(l), L.in, delta_[l].data(), L.out, B, per_example_.data() + (keep_all ? offset : 0),
                      keep_all ? total : P, norm2_.data());
    offset += P;
  }
  per_example_stride_ = total;
  for (int64_t k = 0; k < T_; ++k) {
    const auto& tb = batch.tables[k];
    emb_rows_.resize(std::max(emb_rows_.size(), tb.indices.size() * static_cast<size_t>(dim_)));
    materialize_embedding(dfeat_.data(), B, F_, dim_, k, batch_.offsets[k], batch_.indices[k], emb_rows_.data(),
                          norm2_.data());
  }
}

// dpsgd-b: the MLP's clipped sum over the materialized per-example gradients, and the tables'
// rows coalesced with the clip factors (the same sum, without reading the copies back).
void CudaStepOps::clipped_sum(const OpContext& c, WorkCounters& w) {
  clipped_mlp_sum();
  coalesce_tables(*c.batch, clip_.data());
  count({OpKind::clipped_sum}, w);
}

void CudaStepOps::clipped_mlp_sum() {
  const int64_t B = B_, P = per_example_stride_;
  sum_.resize(static_cast<size_t>(P));
  cuda::clipped_sum(per_example_.data(), P, clip_.data(), B, P, sum_.data());
  int64_t offset = 0;
  for (auto& L : layers_) {
    copy_on_device(L.gw.data(), sum_.data() + offset, static_cast<size_t>(L.out * L.in) * kF);
    copy_on_device(L.gb.data(), sum_.data() + offset + L.out * L.in, static_cast<size_t>(L.out) * kF);
    offset += L.out * L.in + L.out;
  }
}

void CudaStepOps::coalesce(const OpContext& c, bool clipped, WorkCounters& w) {
  coalesce_tables(*c.batch, clipped ? clip_.data() : nullptr);
  count({.kind = OpKind::coalesce, .clipped = clipped}, w);
}

// Every table's rows in one sort, and every table's segment sums in one launch.
void CudaStepOps::coalesce_tables(const Batch& batch, const float* factors) {
  coalesce_all(batch, batch_, feat_grad(0), dim_, dim_, factors);
  for (int64_t k = 0; k < T_; ++k) {
    grads_[k] = ws_.rows(k);
    sizes_.tables[k].unique_rows = static_cast<uint64_t>(grads_[k].count);
  }
}

// ws_ over every table of `batch` as it lies on the device in `d`.
void CudaStepOps::coalesce_all(const Batch& batch, const DeviceBatch& d, const float* grad, int64_t table_stride,
                               int64_t dim, const float* factors) {
  coalesce_group_.resize(static_cast<size_t>(T_));
  for (int64_t k = 0; k < T_; ++k)
    coalesce_group_[k] = {d.offsets[k], d.indices[k], static_cast<int64_t>(batch.tables[k].indices.size()), rows_[k] - 1};
  ws_.coalesce(coalesce_group_.data(), T_, batch.size, grad, F_ * dim_, table_stride, dim, factors);
}

void CudaStepOps::download(cpu::DlrmModel& host) const {
  synchronize();
  for (size_t k = 0; k < tables_.size(); ++k) {
    if (static_cast<int64_t>(tables_[k].size()) != host.tables[k].rows * host.tables[k].dim)
      throw std::logic_error("CudaStepOps::download: the host model's tables differ from the device's");
    tables_[k].download_to(host.tables[k].weights.data());
  }
  auto layers = host.layers();
  for (size_t l = 0; l < layers.size(); ++l) {
    layers[l]->weight.resize(layers_[l].w.size()), layers[l]->bias.resize(layers_[l].b.size());
    layers_[l].w.download_to(layers[l]->weight.data()), layers_[l].b.download_to(layers[l]->bias.data());
  }
}

}  // namespace privrec::cuda
