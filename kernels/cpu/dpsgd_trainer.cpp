// The DP-SGD family with dense noise (dpsgd-b, dpsgd-r, dpsgd-f) and eana, which differ only in
// how per-example norms are found and in which embedding rows receive noise.
#include "kernels/cpu/noisy_update.hpp"
#include "kernels/cpu/trainer.hpp"

namespace privrec::cpu {

namespace {
class DpsgdTrainer : public Trainer {
 public:
  using Trainer::Trainer;
  void step(int64_t t, const Batch& batch, const Batch*, StepRecord& rec) override {
    forward(batch, rec);
    {
      StageScope s(rec, Stage::bwd_mlp);
      backward_deltas(model_, buf_, s.work());
    }
    switch (cfg_.kind) {
      case AlgorithmKind::dpsgd_b: materialized_clipped_sum(batch, rec); break;
      case AlgorithmKind::dpsgd_r: reweighted_gradients(batch, materialized_norm_factors(batch, rec), rec); break;
      default: reweighted_gradients(batch, ghost_clip_factors(batch, rec), rec); break;
    }
    const float scale = step_scale(t, batch);
    const float stddev = static_cast<float>(cfg_.noise_stddev());
    {
      StageScope s(rec, Stage::update_mlp);
      mlp_update(model_, grads_, scale, stddev, &noise_, static_cast<uint64_t>(t), s.work());
    }
    StageScope s(rec, Stage::dp_update);
    for (size_t k = 0; k < model_.tables.size(); ++k) {
      if (cfg_.kind == AlgorithmKind::eana)
        sparse_noisy_update(model_.tables[k], static_cast<uint32_t>(k), emb_grads_[k].rows, emb_grads_[k], scale,
                            stddev, noise_, static_cast<uint64_t>(t), s.work());
      else
        dense_noisy_update(model_.tables[k], static_cast<uint32_t>(k), emb_grads_[k], scale, stddev, noise_,
                           static_cast<uint64_t>(t), s.work());
    }
  }

 private:
  // dpsgd-b: every example's gradient over all parameters is materialized, its norm taken, and the
  // clipped gradients summed from the materialized copies.
  void materialized_clipped_sum(const Batch& batch, StepRecord& rec) {
    const auto layers = model_.layers();
    const int64_t B = batch.size;
    std::vector<double> norm2(B, 0.0);
    std::vector<int64_t> offset(layers.size() + 1, 0);
    for (size_t l = 0; l < layers.size(); ++l) offset[l + 1] = offset[l] + layers[l]->out * layers[l]->in + layers[l]->out;
    const int64_t P = offset.back();
    std::vector<ExampleRows> rows;
    {
      StageScope s(rec, Stage::dp_norm);
      reserve_per_example(B * P);
      for (size_t l = 0; l < layers.size(); ++l)
        materialize_layer_grads(*layers[l], buf_.layer_input[l], buf_.layer_delta[l], B, per_example_.data() + offset[l],
                                P, norm2, s.work());
      materialize_embedding_grads(batch, buf_, rows, norm2, s.work());
    }
    const auto c = clip_factors(norm2);
    record_clipping(c, rec);
    StageScope s(rec, Stage::dp_clip);
    // sum_i c_i g_i over the materialized per-example gradients.
    std::vector<float> sum(static_cast<size_t>(P), 0.0f);
    constexpr int64_t kChunk = 4096;
#pragma omp parallel for schedule(static)
    for (int64_t p0 = 0; p0 < P; p0 += kChunk) {
      const int64_t p1 = std::min(P, p0 + kChunk);
      for (int64_t i = 0; i < B; ++i) {
        const float ci = c[i];
        const float* g = per_example_.data() + i * P;
        for (int64_t p = p0; p < p1; ++p) sum[p] += ci * g[p];
      }
    }
    for (size_t l = 0; l < layers.size(); ++l) {
      const int64_t nw = layers[l]->out * layers[l]->in;
      std::copy(sum.begin() + offset[l], sum.begin() + offset[l] + nw, grads_.weight[l].begin());
      std::copy(sum.begin() + offset[l] + nw, sum.begin() + offset[l + 1], grads_.bias[l].begin());
    }
    s.work().bytes_read_seq += 4ull * B * P;
    s.work().bytes_written_seq += 4ull * P;
    s.work().flops += 2ull * B * P;
    s.work().launches += 1;
    coalesce_materialized(rows, c, buf_.dim, emb_grads_, s.work());
  }

  // dpsgd-r: per-example gradients materialized one layer at a time, only for their norms.
  std::vector<float> materialized_norm_factors(const Batch& batch, StepRecord& rec) {
    const auto layers = model_.layers();
    std::vector<double> norm2(batch.size, 0.0);
    {
      StageScope s(rec, Stage::dp_norm);
      for (size_t l = 0; l < layers.size(); ++l) {
        const DenseLayer& L = *layers[l];
        reserve_per_example(batch.size * (L.out * L.in + L.out));
        materialize_layer_grads(L, buf_.layer_input[l], buf_.layer_delta[l], batch.size, per_example_.data(),
                                L.out * L.in + L.out, norm2, s.work());
      }
      std::vector<ExampleRows> rows;
      materialize_embedding_grads(batch, buf_, rows, norm2, s.work());
    }
    auto c = clip_factors(norm2);
    record_clipping(c, rec);
    return c;
  }

  // Grows only: every element is written before it is read, so old contents never matter.
  void reserve_per_example(int64_t n) {
    if (per_example_.size() < n) per_example_ = FloatArray(n);
  }
  FloatArray per_example_;  // on huge pages: gigabytes are first-touched here
};
}  // namespace

std::unique_ptr<Trainer> make_dpsgd_trainer(DlrmModel& m, const AlgorithmConfig& c) {
  return std::make_unique<DpsgdTrainer>(m, c);
}

}  // namespace privrec::cpu
