#include "kernels/cuda/cuda_trainer.hpp"

#include <array>
#include <chrono>
#include <cmath>
#include <memory>

#include <fmt/format.h>

#include "kernels/cpu/dlrm_model.hpp"
#include "kernels/cpu/trainer.hpp"
#include "kernels/cuda/adafest_selection.hpp"
#include "kernels/cuda/dense_ops.hpp"
#include "kernels/cuda/device.hpp"
#include "kernels/cuda/device_memory.hpp"
#include "kernels/cuda/embedding_bag.hpp"
#include "kernels/cuda/noisy_update.hpp"
#include "kernels/model_io.hpp"
#include "models/config_error.hpp"

namespace privrec::cuda {

namespace {
constexpr uint64_t kF = sizeof(float), kI = sizeof(int64_t);

// A stage on the device, timed with CUDA events around its kernels (and the host work between
// them: copies, launches); the stop event is waited for, so the next stage starts after it. A
// failure inside the stage surfaces at the next checked CUDA call (errors are sticky), not here.
EventTimer& stage_timer(Stage s) {
  static std::array<std::unique_ptr<EventTimer>, cpu::kStages> timers;
  auto& t = timers[static_cast<size_t>(s)];
  if (!t) t = std::make_unique<EventTimer>();
  return *t;
}

struct DeviceStage {
  cpu::StepRecord& rec;
  size_t s;
  EventTimer& timer;
  DeviceStage(cpu::StepRecord& r, Stage stage) : rec(r), s(static_cast<size_t>(stage)), timer(stage_timer(stage)) {
    rec.ran[s] = true;
    timer.start();
  }
  ~DeviceStage() { rec.seconds[s] += timer.stop_ms_quietly() / 1e3; }
  WorkCounters& work() { return rec.work[s]; }
};

DeviceNoise device_noise(NoiseSource s) {
  switch (s) {
    case NoiseSource::gaussian: return DeviceNoise::gaussian;
    case NoiseSource::ones: return DeviceNoise::ones;
    case NoiseSource::zero: return DeviceNoise::zero;
  }
  return DeviceNoise::zero;
}

struct DevLayer {
  int64_t in = 0, out = 0;
  bool relu = true;
  DeviceArray<float> w, b, gw, gb;
};

class CudaTrainer : public cpu::StepTrainer {
 public:
  CudaTrainer(const cpu::DlrmModel& host, const AlgorithmConfig& cfg) : w_(host.workload), cfg_(cfg) {
    for (const auto& t : host.tables) {
      tables_.emplace_back();
      tables_.back().upload(t.weights.data(), static_cast<size_t>(t.rows * t.dim));
      rows_.push_back(t.rows);
    }
    for (const cpu::DenseLayer* l : host.layers()) {
      DevLayer d;
      d.in = l->in, d.out = l->out, d.relu = l->relu;
      d.w.upload(l->weight), d.b.upload(l->bias);
      d.gw.resize(l->weight.size()), d.gb.resize(l->bias.size());
      layers_.push_back(std::move(d));
    }
    nb_ = host.bottom.size();
    dim_ = w_.embedding_dim();
    T_ = static_cast<int64_t>(host.tables.size());
    F_ = T_ + 1;
    width_ = w_.interaction_width();
    for (int64_t k = 0; k < T_; ++k) ws_.push_back(std::make_unique<CoalesceWorkspace>());
    offsets_.resize(T_), indices_.resize(T_), next_offsets_.resize(T_), next_indices_.resize(T_);
    if (cfg_.kind == AlgorithmKind::lazydp) {
      for (int64_t r : rows_) {
        history_.emplace_back(static_cast<size_t>(r));
        history_.back().zero();
      }
      scale_.push_back(0), cum_.push_back(0), cum_sq_.push_back(0);
      owed_.resize(2);
    }
  }

  void step(int64_t t, const Batch& batch, const Batch* next, cpu::StepRecord& rec) override {
    const int64_t B = batch.size;
    resize(B);
    const float scale = static_cast<float>(cfg_.lr_at(t) / static_cast<double>(B));
    const float stddev = static_cast<float>(cfg_.noise_stddev());
    forward(batch, rec);
    const bool dp = cfg_.kind != AlgorithmKind::sgd;
    {
      DeviceStage s(rec, Stage::bwd_mlp);
      backward_deltas(s.work());
      if (!dp) weight_grads(nullptr, s.work());
    }
    const float* factors = nullptr;
    const bool materialized = cfg_.kind == AlgorithmKind::dpsgd_b || cfg_.kind == AlgorithmKind::dpsgd_r;
    if (dp) {
      {
        DeviceStage s(rec, Stage::dp_norm);
        if (materialized)
          materialized_norms(batch, cfg_.kind == AlgorithmKind::dpsgd_b, s.work());
        else
          ghost_norms(batch, s.work());
        clip_factors(norm2_.data(), B, cfg_.clip, clip_.data());
      }
      const std::vector<float> c = clip_.download();
      int64_t clipped = 0;
      for (float f : c) clipped += f < 1.0f;
      rec.extras["clipped_fraction"] = B ? static_cast<double>(clipped) / static_cast<double>(B) : 0.0;
      factors = clip_.data();
      if (cfg_.kind == AlgorithmKind::adafest) {
        DeviceStage s(rec, Stage::adafest_select);
        select_rows(batch, static_cast<uint64_t>(t), rec, s.work());
      }
      DeviceStage s(rec, Stage::dp_clip);
      if (cfg_.kind == AlgorithmKind::dpsgd_b) {
        clipped_mlp_sum(s.work());
        coalesce_tables(batch, factors, s.work());  // dpsgd-b sums the embedding rows here too
      } else {
        weight_grads(factors, s.work());
      }
    }
    if (cfg_.kind != AlgorithmKind::dpsgd_b) {
      DeviceStage s(rec, Stage::bwd_emb);
      coalesce_tables(batch, factors, s.work());
    }
    {
      DeviceStage s(rec, Stage::update_mlp);
      mlp_update(scale, dp ? stddev : 0.0f, dp, static_cast<uint64_t>(t), s.work());
    }
    const bool noisy = dp && cfg_.noise != NoiseSource::zero;
    switch (cfg_.kind) {
      case AlgorithmKind::sgd: {
        DeviceStage s(rec, Stage::update_sparse);
        for (int64_t k = 0; k < T_; ++k) sparse_update(k, scale, s.work());
        break;
      }
      case AlgorithmKind::dpsgd_b:
      case AlgorithmKind::dpsgd_r:
      case AlgorithmKind::dpsgd_f: {
        DeviceStage s(rec, Stage::dp_update);
        for (int64_t k = 0; k < T_; ++k) {
          ensure_slots(rows_[k]);
          launch_set_slots(slots_.data(), grads_[k].rows, grads_[k].count, true);
          launch_dense_noisy_update(tables_[k].data(), rows_[k], dim_, static_cast<uint32_t>(k), slots_.data(),
                                    grads_[k].grads, scale, stddev, cfg_.seed, device_noise(cfg_.noise),
                                    static_cast<uint64_t>(t));
          launch_set_slots(slots_.data(), grads_[k].rows, grads_[k].count, false);
          const uint64_t n = static_cast<uint64_t>(rows_[k] * dim_), gu = static_cast<uint64_t>(grads_[k].count);
          s.work().bytes_read_seq += n * kF + gu * (kI + dim_ * kF) + static_cast<uint64_t>(rows_[k]) * 4;
          s.work().bytes_written_seq += n * kF + 2 * gu * 4;
          s.work().rng_samples += noisy && cfg_.noise == NoiseSource::gaussian ? n : 0;
          s.work().flops += 3 * n + gu * dim_;
          s.work().launches += 3;
        }
        break;
      }
      case AlgorithmKind::eana: {
        DeviceStage s(rec, Stage::dp_update);
        for (int64_t k = 0; k < T_; ++k) {
          launch_sparse_noisy_update(tables_[k].data(), dim_, static_cast<uint32_t>(k), grads_[k].rows, grads_[k].grads,
                                     grads_[k].count, scale, stddev, cfg_.seed, device_noise(cfg_.noise),
                                     static_cast<uint64_t>(t));
          const uint64_t n = static_cast<uint64_t>(grads_[k].count);
          count_rows(s.work(), n, n * dim_ * kF, true);
          s.work().bytes_read_seq += n * (kI + dim_ * kF);
          s.work().rng_samples += cfg_.noise == NoiseSource::gaussian ? n * dim_ : 0;
          s.work().flops += 4 * n * dim_;
          s.work().launches += 1;
        }
        break;
      }
      case AlgorithmKind::adafest: {
        DeviceStage s(rec, Stage::dp_update);
        for (int64_t k = 0; k < T_; ++k) {
          ensure_slots(rows_[k]);
          launch_set_slots(slots_.data(), grads_[k].rows, grads_[k].count, true);
          launch_selected_noisy_update(tables_[k].data(), dim_, static_cast<uint32_t>(k), selection_[k].rows,
                                       selection_[k].count, slots_.data(), grads_[k].grads, scale, stddev, cfg_.seed,
                                       device_noise(cfg_.noise), static_cast<uint64_t>(t));
          launch_set_slots(slots_.data(), grads_[k].rows, grads_[k].count, false);
          const uint64_t n = static_cast<uint64_t>(selection_[k].count), gu = static_cast<uint64_t>(grads_[k].count);
          count_rows(s.work(), n, n * dim_ * kF, true);
          s.work().bytes_read_seq += n * kI + gu * (kI + dim_ * kF) + n * 4;
          s.work().rng_samples += cfg_.noise == NoiseSource::gaussian ? n * dim_ : 0;
          s.work().flops += 3 * n * dim_ + gu * dim_;
          s.work().launches += 3;
        }
        break;
      }
      case AlgorithmKind::lazydp: {
        {
          DeviceStage s(rec, Stage::dp_update);
          for (int64_t k = 0; k < T_; ++k) sparse_update(k, scale, s.work());
        }
        scale_.push_back(scale);
        cum_.push_back(cum_.back() + scale);
        cum_sq_.push_back(cum_sq_.back() + static_cast<double>(scale) * scale);
        if (!next) break;
        DeviceStage s(rec, Stage::lazydp_catchup);
        rec.extras["catchup_rows"] = settle(next, static_cast<uint32_t>(t), s.work());
        break;
      }

    }
  }

  void finish(int64_t last_step, cpu::StepRecord& rec) override {
    if (cfg_.kind != AlgorithmKind::lazydp) return;
    DeviceStage s(rec, Stage::lazydp_flush);
    rec.extras["flushed_rows"] = settle(nullptr, static_cast<uint32_t>(last_step), s.work());
  }

  // The trained model, back on the host (for --save-model and comparisons).
  void download(cpu::DlrmModel& host) const {
    for (size_t k = 0; k < tables_.size(); ++k) {
      const std::vector<float> v = tables_[k].download();
      std::copy(v.begin(), v.end(), host.tables[k].weights.data());
    }
    auto layers = host.layers();
    for (size_t l = 0; l < layers.size(); ++l) layers[l]->weight = layers_[l].w.download(), layers[l]->bias = layers_[l].b.download();
  }

 private:
  float* feat_grad(int64_t k) { return dfeat_.data() + (1 + k) * dim_; }

  void resize(int64_t B) {
    if (B == B_) return;
    B_ = B;
    input_.clear();
    delta_.clear();
    for (const auto& l : layers_) {
      input_.emplace_back(static_cast<size_t>(B * l.in));
      delta_.emplace_back(static_cast<size_t>(B * l.out));
    }
    bottom_out_.resize(B * dim_), feat_.resize(B * F_ * dim_), dfeat_.resize(B * F_ * dim_);
    logits_.resize(B), labels_.resize(B), dlogit_.resize(B), dz_.resize(B * width_);
    norm2_.resize(B), clip_.resize(B), cs_.resize(B * T_), loss_.resize(1);
    scaled_.resize(0);
    grads_.assign(T_, {});
  }

  static void count_rows(WorkCounters& w, uint64_t rows, uint64_t bytes, bool write) {
    w.rows_read_rand += rows, w.bytes_read_rand += bytes;
    if (write) w.rows_written_rand += rows, w.bytes_written_rand += bytes;
  }

  void count_coalesce(uint64_t lookups, uint64_t distinct, const float* scale, WorkCounters& w) const {
    w.bytes_read_seq += lookups * (kI + dim_ * kF);
    w.bytes_written_seq += distinct * (kI + dim_ * kF);
    w.flops += lookups * dim_ * (scale ? 2 : 1);
    w.sort_ops += 2 * lookups * 8;  // CUB's onesweep radix sort: 8-bit digits over the 64-bit keys, keys and copies
    w.launches += 6;
  }

  void forward(const Batch& batch, cpu::StepRecord& rec) {
    const int64_t B = batch.size;
    {
      DeviceStage s(rec, Stage::fwd_emb);
      for (int64_t k = 0; k < T_; ++k) {
        const auto& tb = batch.tables[k];
        offsets_[k].upload(tb.offsets), indices_[k].upload(tb.indices);
        launch_embedding_forward(tables_[k].data(), dim_, offsets_[k].data(), indices_[k].data(), B,
                                 feat_.data() + (1 + k) * dim_, F_ * dim_);
        const uint64_t L = tb.indices.size();
        s.work().rows_read_rand += L, s.work().bytes_read_rand += L * dim_ * kF;
        s.work().bytes_read_seq += L * kI + (B + 1) * kI;
        s.work().bytes_written_seq += B * dim_ * kF;
        s.work().flops += L * dim_;
        s.work().launches += 1;
      }
    }
    DeviceStage s(rec, Stage::fwd_mlp);
    input_[0].upload(batch.dense);
    labels_.upload(batch.labels);
    for (size_t l = 0; l < layers_.size(); ++l) {
      if (l == nb_) {
        interaction_forward(bottom_out_.data(), feat_.data(), B, F_, dim_, input_[nb_].data(), width_);
        s.work().flops += 2 * B * (F_ * (F_ - 1) / 2) * dim_;
        s.work().launches += 2;
      }
      const DevLayer& L = layers_[l];
      float* out = l + 1 == nb_ ? bottom_out_.data() : l + 1 < layers_.size() ? input_[l + 1].data() : logits_.data();
      gemm(false, true, B, L.out, L.in, input_[l].data(), L.in, L.w.data(), L.in, out, L.out, false);
      add_bias_act(out, L.b.data(), B, L.out, L.relu);
      s.work().flops += 2 * B * L.in * L.out + 2 * B * L.out;
      s.work().gemm_flops += 2 * B * L.in * L.out;
      s.work().bytes_read_seq += kF * (B * L.in + L.in * L.out + L.out);
      s.work().bytes_written_seq += kF * B * L.out;
      s.work().launches += 2;
    }
    rec.loss = bce_loss(logits_.data(), labels_.data(), B, dlogit_.data(), loss_.data());
    s.work().launches += 1;
  }

  void backward_deltas(WorkCounters& w) {
    const int64_t B = B_;
    copy_on_device(delta_.back().data(), dlogit_.data(), B * kF);
    for (size_t l = layers_.size(); l-- > nb_;) {
      const DevLayer& L = layers_[l];
      float* dX = l > nb_ ? delta_[l - 1].data() : dz_.data();
      gemm(false, false, B, L.in, L.out, delta_[l].data(), L.out, L.w.data(), L.in, dX, L.in, false);
      if (l > nb_) relu_mask(dX, input_[l].data(), B * L.in);
      w.flops += 2 * B * L.in * L.out, w.gemm_flops += 2 * B * L.in * L.out, w.launches += 2;
    }
    interaction_backward(feat_.data(), dz_.data(), B, F_, dim_, width_, dfeat_.data());
    feature_delta(dfeat_.data(), bottom_out_.data(), B, F_, dim_, 0, delta_[nb_ - 1].data());
    w.flops += 4 * B * (F_ * (F_ - 1) / 2) * dim_, w.launches += 2;
    for (size_t l = nb_; l-- > 1;) {
      const DevLayer& L = layers_[l];
      gemm(false, false, B, L.in, L.out, delta_[l].data(), L.out, L.w.data(), L.in, delta_[l - 1].data(), L.in, false);
      relu_mask(delta_[l - 1].data(), input_[l].data(), B * L.in);
      w.flops += 2 * B * L.in * L.out, w.gemm_flops += 2 * B * L.in * L.out, w.launches += 2;
    }
  }

  void weight_grads(const float* factors, WorkCounters& w) {
    const int64_t B = B_;
    for (size_t l = 0; l < layers_.size(); ++l) {
      DevLayer& L = layers_[l];
      const float* D = delta_[l].data();
      if (factors) {
        scaled_.resize(static_cast<size_t>(std::max<int64_t>(static_cast<int64_t>(scaled_.size()), B * L.out)));
        scale_rows(D, factors, B, L.out, scaled_.data());
        D = scaled_.data();
        w.flops += B * L.out, w.launches += 1;
      }
      gemm(true, false, L.out, L.in, B, D, L.out, input_[l].data(), L.in, L.gw.data(), L.in, false);
      column_sums(delta_[l].data(), factors, B, L.out, L.gb.data());
      w.flops += 2 * B * L.in * L.out + B * L.out, w.gemm_flops += 2 * B * L.in * L.out;
      w.bytes_read_seq += kF * (2 * B * L.out + B * L.in);
      w.bytes_written_seq += kF * (L.in * L.out + L.out);
      w.launches += 2;
    }
  }

  void ghost_norms(const Batch& batch, WorkCounters& w) {
    const int64_t B = B_;
    norm2_.zero();
    for (size_t l = 0; l < layers_.size(); ++l) {
      ghost_norms_layer(input_[l].data(), layers_[l].in, delta_[l].data(), layers_[l].out, B, norm2_.data());
      w.flops += 2 * B * (layers_[l].in + layers_[l].out) + 3 * B, w.launches += 1;
      w.bytes_read_seq += kF * B * (layers_[l].in + layers_[l].out);
    }
    for (int64_t k = 0; k < T_; ++k) {
      bag_count_squares(offsets_[k].data(), indices_[k].data(), B, k, T_, cs_.data());
      int64_t p2 = 0;
      for (int64_t i = 0; i < B; ++i) {
        const int64_t p = batch.tables[k].offsets[i + 1] - batch.tables[k].offsets[i];
        p2 += p * p;
      }
      w.flops += p2, w.bytes_read_seq += batch.tables[k].indices.size() * kI, w.launches += 1;
    }
    ghost_norms_embedding(dfeat_.data(), cs_.data(), B, T_, dim_, norm2_.data());
    w.flops += 2 * B * T_ * dim_ + 2 * B * T_, w.bytes_read_seq += B * T_ * (dim_ + 1) * kF, w.launches += 2;
  }

  // A slot map covering `rows` rows, all -1 (set and cleared around each use).
  void ensure_slots(int64_t rows) {
    if (slots_.size() >= static_cast<size_t>(rows)) return;
    slots_.resize(static_cast<size_t>(rows));
    fill_bytes(slots_.data(), 0xFF, slots_.size() * sizeof(int32_t));
  }

  // adafest: the contribution maps' clip factors, then per table the selected rows.
  void select_rows(const Batch& batch, uint64_t t, cpu::StepRecord& rec, WorkCounters& w) {
    const int64_t B = B_;
    std::vector<const int64_t*> off(T_), idx(T_);
    for (int64_t k = 0; k < T_; ++k) off[k] = offsets_[k].data(), idx[k] = indices_[k].data();
    off_ptrs_.upload(off), idx_ptrs_.upload(idx);
    factor_.resize(static_cast<size_t>(B));
    adafest_example_factors(off_ptrs_.data(), idx_ptrs_.data(), T_, B, cfg_.adafest_c1, factor_.data());
    if (selectors_.empty())
      for (int64_t k = 0; k < T_; ++k) selectors_.push_back(std::make_unique<AdafestSelector>());
    selection_.resize(T_);
    const double p = cfg_.zero_count_selection_probability();
    int64_t touched = 0, selected = 0, fps = 0, untouched = 0;
    for (int64_t k = 0; k < T_; ++k) {
      const auto& tb = batch.tables[k];
      const int64_t L = static_cast<int64_t>(tb.indices.size());
      ws_[k]->coalesce(offsets_[k].data(), indices_[k].data(), B, L, rows_[k] - 1, nullptr, 0, 0, nullptr);
      selection_[k] = selectors_[k]->select(ws_[k]->last_sort(), factor_.data(), rows_[k], static_cast<uint32_t>(k),
                                            cfg_.adafest_sigma1, cfg_.adafest_tau, p, cfg_.seed,
                                            device_noise(cfg_.noise), t);
      const TableSelection& sel = selection_[k];
      touched += sel.touched, selected += sel.selected_touched, fps += sel.false_positives;
      untouched += rows_[k] - sel.touched;
      w.bytes_read_seq += static_cast<uint64_t>(L) * kI;
      w.bytes_written_seq += static_cast<uint64_t>(sel.count) * kI;
      w.rng_samples += (cfg_.noise == NoiseSource::gaussian ? sel.touched : 0) + sel.draws;
      w.flops += L + 2 * sel.touched + 4 * sel.draws;
      w.sort_ops += 2 * static_cast<uint64_t>(L) * 8;
      w.launches += 8;
    }
    w.launches += 1;
    rec.extras["touched_rows"] = touched;
    rec.extras["selected_touched_rows"] = selected;
    rec.extras["false_positive_rows"] = fps;
    rec.extras["untouched_rows"] = untouched;
  }

  void coalesce_tables(const Batch& batch, const float* factors, WorkCounters& w) {
    for (int64_t k = 0; k < T_; ++k) {
      const auto& tb = batch.tables[k];
      grads_[k] = ws_[k]->coalesce(offsets_[k].data(), indices_[k].data(), B_, static_cast<int64_t>(tb.indices.size()),
                                   rows_[k] - 1, feat_grad(k), F_ * dim_, dim_, factors);
      count_coalesce(static_cast<uint64_t>(tb.indices.size()), static_cast<uint64_t>(grads_[k].count), factors, w);
    }
  }

  // dpsgd-b (all layers at once, kept for the clipped sum) or dpsgd-r (one layer at a time, for the
  // norms only): every example's gradient written out, its squared norm summed; the tables' rows too.
  void materialized_norms(const Batch& batch, bool keep_all, WorkCounters& w) {
    const int64_t B = B_;
    norm2_.zero();
    int64_t total = 0, widest = 0;
    for (const auto& L : layers_) total += L.out * L.in + L.out, widest = std::max(widest, L.out * L.in + L.out);
    per_example_.resize(static_cast<size_t>(B * (keep_all ? total : widest)));
    int64_t offset = 0;
    for (size_t l = 0; l < layers_.size(); ++l) {
      const DevLayer& L = layers_[l];
      const int64_t P = L.out * L.in + L.out;
      materialize_layer(input_[l].data(), L.in, delta_[l].data(), L.out, B, per_example_.data() + (keep_all ? offset : 0),
                        keep_all ? total : P, norm2_.data());
      offset += P;
      w.flops += 3 * B * P, w.bytes_read_seq += kF * B * (L.in + L.out), w.bytes_written_seq += kF * B * P;
      w.launches += 1;
    }
    per_example_stride_ = total;
    for (int64_t k = 0; k < T_; ++k) {
      const auto& tb = batch.tables[k];
      emb_rows_.resize(std::max(emb_rows_.size(), tb.indices.size() * static_cast<size_t>(dim_)));
      materialize_embedding(dfeat_.data(), B, F_, dim_, k, offsets_[k].data(), indices_[k].data(), emb_rows_.data(),
                            norm2_.data());
      const uint64_t L = tb.indices.size();
      w.bytes_read_seq += L * kI + B * dim_ * kF, w.bytes_written_seq += L * dim_ * kF, w.flops += 3 * L * dim_;
      w.launches += 1;
    }
  }

  // dpsgd-b: sum_i c_i g_i over the materialized per-example MLP gradients, into each layer's grads.
  void clipped_mlp_sum(WorkCounters& w) {
    const int64_t B = B_, P = per_example_stride_;
    sum_.resize(static_cast<size_t>(P));
    clipped_sum(per_example_.data(), P, clip_.data(), B, P, sum_.data());
    int64_t offset = 0;
    for (auto& L : layers_) {
      copy_on_device(L.gw.data(), sum_.data() + offset, static_cast<size_t>(L.out * L.in) * kF);
      copy_on_device(L.gb.data(), sum_.data() + offset + L.out * L.in, static_cast<size_t>(L.out) * kF);
      offset += L.out * L.in + L.out;
    }
    w.bytes_read_seq += 4ull * B * P, w.bytes_written_seq += 4ull * P, w.flops += 2ull * B * P, w.launches += 1;
  }

  void mlp_update(float scale, float stddev, bool noise, uint64_t t, WorkCounters& w) {
    for (size_t l = 0; l < layers_.size(); ++l) {
      DevLayer& L = layers_[l];
      noisy_mlp_update(L.w.data(), L.gw.data(), L.out, L.in, scale, stddev, cfg_.seed, device_noise(cfg_.noise), noise, t,
                       static_cast<uint32_t>(2 * l));
      noisy_mlp_update(L.b.data(), L.gb.data(), 1, L.out, scale, stddev, cfg_.seed, device_noise(cfg_.noise), noise, t,
                       static_cast<uint32_t>(2 * l + 1));
      const uint64_t p = static_cast<uint64_t>(L.out * L.in + L.out);
      w.bytes_read_seq += 2 * p * kF, w.bytes_written_seq += p * kF, w.flops += (noise ? 4 : 2) * p, w.launches += 2;
      if (noise && cfg_.noise == NoiseSource::gaussian) w.rng_samples += p;
    }
  }

  void sparse_update(int64_t k, float scale, WorkCounters& w) {
    launch_sparse_update(tables_[k].data(), dim_, grads_[k].rows, grads_[k].grads, grads_[k].count, scale);
    const uint64_t n = static_cast<uint64_t>(grads_[k].count);
    count_rows(w, n, n * dim_ * kF, true);
    w.bytes_read_seq += n * (kI + dim_ * kF), w.flops += 2 * n * dim_, w.launches += 1;
  }

  // lazydp: the next batch's distinct rows (next == nullptr: every row) receive their pending noise.
  int64_t settle(const Batch* next, uint32_t now, WorkCounters& w) {
    scale_d_.upload(scale_), cum_d_.upload(cum_), cum_sq_d_.upload(cum_sq_);
    owed_.zero();
    const bool exact = cfg_.lazydp_noise == LazyNoiseMode::exact;
    for (int64_t k = 0; k < T_; ++k) {
      const int64_t* rows = nullptr;
      int64_t n = rows_[k];
      if (next) {
        const auto& tb = next->tables[k];
        next_offsets_[k].upload(tb.offsets), next_indices_[k].upload(tb.indices);
        const DeviceSparseRows u =
            ws_[k]->coalesce(next_offsets_[k].data(), next_indices_[k].data(), next->size,
                            static_cast<int64_t>(tb.indices.size()), rows_[k] - 1, nullptr, 0, 0, nullptr);
        rows = u.rows, n = u.count;
        w.bytes_read_seq += tb.indices.size() * kI, w.sort_ops += 2 * tb.indices.size() * 8, w.launches += 5;
      }
      launch_lazy_settle(tables_[k].data(), dim_, static_cast<uint32_t>(k), rows, n, history_[k].data(), now,
                         static_cast<float>(cfg_.noise_stddev()), exact, device_noise(cfg_.noise), cfg_.seed,
                         scale_d_.data(), cum_d_.data(), cum_sq_d_.data(), owed_.data());
      w.bytes_read_rand += static_cast<uint64_t>(n) * 4, w.launches += 1;
    }
    const std::vector<unsigned long long> o = owed_.download();
    const uint64_t owed = o[0], steps = o[1], noise_rows = cfg_.noise == NoiseSource::zero ? 0 : owed;
    count_rows(w, owed, owed * dim_ * kF, true);
    w.bytes_written_rand += owed * 4;
    const uint64_t draws = exact ? steps : noise_rows;
    w.rng_samples += cfg_.noise == NoiseSource::gaussian ? draws * dim_ : 0;
    w.flops += 2 * draws * dim_;
    return static_cast<int64_t>(owed);
  }

  Workload w_;
  AlgorithmConfig cfg_;
  std::vector<DeviceArray<float>> tables_;
  std::vector<int64_t> rows_;
  std::vector<DevLayer> layers_;
  size_t nb_ = 0;
  int64_t dim_ = 0, T_ = 0, F_ = 0, width_ = 0, B_ = -1;
  std::vector<DeviceArray<float>> input_, delta_;
  DeviceArray<float> bottom_out_, feat_, dfeat_, logits_, labels_, dlogit_, dz_, clip_, cs_, scaled_;
  DeviceArray<double> norm2_, loss_;
  DeviceArray<float> per_example_, emb_rows_, sum_;
  int64_t per_example_stride_ = 0;
  std::vector<DeviceArray<int64_t>> offsets_, indices_, next_offsets_, next_indices_;
  std::vector<std::unique_ptr<CoalesceWorkspace>> ws_;
  std::vector<DeviceSparseRows> grads_;
  DeviceArray<int32_t> slots_;
  DeviceArray<const int64_t*> off_ptrs_, idx_ptrs_;
  DeviceArray<float> factor_;
  std::vector<std::unique_ptr<AdafestSelector>> selectors_;
  std::vector<TableSelection> selection_;
  std::vector<DeviceArray<uint32_t>> history_;
  std::vector<double> scale_, cum_, cum_sq_;
  DeviceArray<double> scale_d_, cum_d_, cum_sq_d_;
  DeviceArray<unsigned long long> owed_;
};
}  // namespace

void require_cuda_algorithm(AlgorithmKind kind) {
  (void)kind;  // every algorithm runs on this backend
  require_device();
}

cpu::DlrmModel train_model_on_cuda(const Workload& w, const AlgorithmConfig& cfg, const TraceSource& trace,
                                   int64_t steps, uint64_t model_seed) {
  require_cuda_algorithm(cfg.kind);
  cpu::DlrmModel host = cpu::DlrmModel::create(w, model_seed);
  CudaTrainer trainer(host, cfg);
  Batch cur = trace.batch(0);
  for (int64_t t = 1; t <= steps; ++t) {
    Batch next;
    if (t < steps) next = trace.batch(t);
    cpu::StepRecord rec;
    trainer.step(t, cur, t < steps ? &next : nullptr, rec);
    cur = std::move(next);
  }
  cpu::StepRecord fin;
  trainer.finish(steps, fin);
  synchronize();
  trainer.download(host);
  return host;
}

TrainReport run_cuda_training(const Workload& w, const AlgorithmConfig& cfg, const TraceSource& trace,
                              const TrainOptions& opt) {
  require_cuda_algorithm(cfg.kind);
  const auto t_setup = std::chrono::steady_clock::now();
  cpu::DlrmModel host = cpu::DlrmModel::create(w, cfg.seed);  // the same initial model as the CPU backend
  CudaTrainer trainer(host, cfg);
  const double setup_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_setup).count();
  TrainReport rep = run_training_loop(trainer, trace, opt, [&] {
    synchronize();  // any error of the last stage, checked
    if (opt.save_model.empty()) return;
    trainer.download(host);
    save_model(opt.save_model, host, opt.save_info);
  });
  rep.setup_s = setup_s;
  return rep;
}

}  // namespace privrec::cuda
