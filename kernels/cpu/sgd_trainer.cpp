// sgd: minibatch SGD; the embedding update touches only the batch's rows.
#include "kernels/cpu/noisy_update.hpp"
#include "kernels/cpu/trainer.hpp"

namespace privrec::cpu {

namespace {
class SgdTrainer : public Trainer {
 public:
  using Trainer::Trainer;
  void step(int64_t t, const Batch& batch, const Batch*, StepRecord& rec) override {
    forward(batch, rec);
    {
      StageScope s(rec, Stage::bwd_mlp);
      backward_deltas(model_, buf_, s.work());
      weight_grads(model_, buf_, nullptr, grads_, s.work());
    }
    {
      StageScope s(rec, Stage::bwd_emb);
      coalesce_embedding_grads(batch, buf_, nullptr, emb_grads_, s.work());
    }
    const float scale = step_scale(t, batch);
    {
      StageScope s(rec, Stage::update_mlp);
      mlp_update(model_, grads_, scale, 0.0f, nullptr, static_cast<uint64_t>(t), s.work());
    }
    StageScope s(rec, Stage::update_sparse);
    for (size_t k = 0; k < model_.tables.size(); ++k) sparse_update(model_.tables[k], emb_grads_[k], scale, s.work());
  }
};
}  // namespace

std::unique_ptr<Trainer> make_sgd_trainer(DlrmModel& m, const AlgorithmConfig& c) {
  return std::make_unique<SgdTrainer>(m, c);
}

}  // namespace privrec::cpu
