#include "kernels/cpu/trainer.hpp"

#include <cmath>
#include <map>

namespace privrec::cpu {

// Each algorithm's factory lives in its own file; registering one is one line here.
std::unique_ptr<Trainer> make_sgd_trainer(DlrmModel&, const AlgorithmConfig&);
std::unique_ptr<Trainer> make_dpsgd_trainer(DlrmModel&, const AlgorithmConfig&);
std::unique_ptr<Trainer> make_lazydp_trainer(DlrmModel&, const AlgorithmConfig&);
std::unique_ptr<Trainer> make_adafest_trainer(DlrmModel&, const AlgorithmConfig&);

std::unique_ptr<Trainer> make_trainer(DlrmModel& model, const AlgorithmConfig& cfg) {
  static const std::map<AlgorithmKind, TrainerFactory> registry = {
      {AlgorithmKind::sgd, make_sgd_trainer},       {AlgorithmKind::dpsgd_b, make_dpsgd_trainer},
      {AlgorithmKind::dpsgd_r, make_dpsgd_trainer}, {AlgorithmKind::dpsgd_f, make_dpsgd_trainer},
      {AlgorithmKind::eana, make_dpsgd_trainer},    {AlgorithmKind::lazydp, make_lazydp_trainer},
      {AlgorithmKind::adafest, make_adafest_trainer},
  };
  return registry.at(cfg.kind)(model, cfg);
}

int64_t trainer_working_bytes(const Workload& w, AlgorithmKind kind, int64_t batch) {
  int64_t lookups = 0;
  for (const auto& t : w.tables) lookups += t.pooling;
  const int64_t f = static_cast<int64_t>(w.tables.size()) + 1, d = w.embedding_dim();
  int64_t widest = w.interaction_width();
  for (int64_t x : w.bottom_mlp) widest = std::max(widest, x);
  for (int64_t x : w.top_mlp) widest = std::max(widest, x);
  // Activations, deltas, features, gradients of lookups (coalescing), all fp32.
  int64_t bytes = batch * (4 * f * d + 6 * widest + lookups * (d + 4)) * 4;
  int64_t largest_layer = 0, in = w.dense_features;
  for (int64_t out : w.bottom_mlp) largest_layer = std::max(largest_layer, (in + 1) * out), in = out;
  in = w.interaction_width();
  for (int64_t out : w.top_mlp) largest_layer = std::max(largest_layer, (in + 1) * out), in = out;
  if (kind == AlgorithmKind::dpsgd_b) bytes += batch * (w.mlp_parameters() + lookups * d) * 4;
  if (kind == AlgorithmKind::dpsgd_r) bytes += batch * (largest_layer + lookups * d) * 4;
  return bytes;
}

Trainer::Trainer(DlrmModel& model, const AlgorithmConfig& cfg)
    : model_(model), cfg_(cfg), noise_(cfg.seed, cfg.noise) {
  grads_.resize(model_);
}

void Trainer::finish(int64_t, StepRecord&) {}

float Trainer::step_scale(int64_t t, const Batch& batch) const {
  return static_cast<float>(cfg_.lr_at(t) / static_cast<double>(batch.size));
}

void Trainer::forward(const Batch& batch, StepRecord& rec) {
  if (buf_.batch != batch.size) buf_.resize(model_, batch.size);
  {
    StageScope s(rec, Stage::fwd_emb);
    embedding_forward(model_, batch, buf_, s.work());
  }
  StageScope s(rec, Stage::fwd_mlp);
  rec.loss = forward_dense(model_, batch, buf_, s.work());
}

std::vector<float> Trainer::clip_factors(const std::vector<double>& norm2) const {
  std::vector<float> c(norm2.size(), 1.0f);
  if (std::isinf(cfg_.clip)) return c;
  for (size_t i = 0; i < norm2.size(); ++i) {
    const double n = std::sqrt(norm2[i]);
    if (n > cfg_.clip) c[i] = static_cast<float>(cfg_.clip / n);
  }
  return c;
}

void Trainer::record_clipping(const std::vector<float>& factors, StepRecord& rec) const {
  int64_t clipped = 0;
  for (float f : factors) clipped += f < 1.0f;
  rec.extras["clipped_fraction"] = factors.empty() ? 0.0 : static_cast<double>(clipped) / factors.size();
}

std::vector<float> Trainer::ghost_clip_factors(const Batch& batch, StepRecord& rec) {
  std::vector<double> norm2(batch.size, 0.0);
  {
    StageScope s(rec, Stage::dp_norm);
    ghost_norms_mlp(model_, buf_, norm2, s.work());
    const auto count_sq = bag_count_square_sums(batch, s.work());
    ghost_norms_embedding(buf_, count_sq, norm2, s.work());
  }
  auto c = clip_factors(norm2);
  record_clipping(c, rec);
  return c;
}

void Trainer::reweighted_gradients(const Batch& batch, const std::vector<float>& factors, StepRecord& rec) {
  {
    StageScope s(rec, Stage::dp_clip);
    weight_grads(model_, buf_, &factors, grads_, s.work());
  }
  StageScope s(rec, Stage::bwd_emb);
  coalesce_embedding_grads(batch, buf_, &factors, emb_grads_, s.work());
}

}  // namespace privrec::cpu
