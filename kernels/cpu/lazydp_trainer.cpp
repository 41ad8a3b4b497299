// lazydp: dpsgd-f's model with noise applied lazily. The gradient update touches only the batch's
// rows; the rows the next batch will read receive their pending noise (lookahead); every row's
// pending noise is flushed before the model is released.
#include <vector>

#include "kernels/cpu/lazydp_history.hpp"
#include "kernels/cpu/noisy_update.hpp"
#include "kernels/cpu/trainer.hpp"

namespace privrec::cpu {

namespace {
class LazyDpTrainer : public Trainer {
 public:
  LazyDpTrainer(DlrmModel& m, const AlgorithmConfig& c) : Trainer(m, c) {
    for (const auto& t : m.tables) history_.emplace_back(static_cast<size_t>(t.rows), 0u);
  }

  void step(int64_t t, const Batch& batch, const Batch* next, StepRecord& rec) override {
    forward(batch, rec);
    {
      StageScope s(rec, Stage::bwd_mlp);
      backward_deltas(model_, buf_, s.work());
    }
    reweighted_gradients(batch, ghost_clip_factors(batch, rec), rec);
    const float scale = step_scale(t, batch);
    schedule_.push(scale);
    {
      StageScope s(rec, Stage::update_mlp);
      mlp_update(model_, grads_, scale, static_cast<float>(cfg_.noise_stddev()), &noise_, static_cast<uint64_t>(t),
                 s.work());
    }
    {
      StageScope s(rec, Stage::dp_update);
      for (size_t k = 0; k < model_.tables.size(); ++k) sparse_update(model_.tables[k], emb_grads_[k], scale, s.work());
    }
    if (!next) return;
    StageScope s(rec, Stage::lazydp_catchup);
    int64_t owed = 0;
    const int64_t T = static_cast<int64_t>(model_.tables.size());
    std::vector<std::vector<int64_t>> rows(T);
    std::vector<uint64_t> sort_ops(T);
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t k = 0; k < T; ++k) rows[k] = unique_rows(next->tables[k], &sort_ops[k]);
    for (int64_t k = 0; k < T; ++k) {
      s.work().bytes_read_seq += next->tables[k].indices.size() * sizeof(int64_t);
      s.work().sort_ops += sort_ops[k];
      owed += lazy_catch_up(model_.tables[k], static_cast<uint32_t>(k), rows[k], history_[k], static_cast<uint32_t>(t),
                            params(), s.work());
    }
    rec.extras["catchup_rows"] = owed;
  }

  void finish(int64_t last_step, StepRecord& rec) override {
    StageScope s(rec, Stage::lazydp_flush);
    int64_t owed = 0;
    for (size_t k = 0; k < model_.tables.size(); ++k)
      owed += lazy_flush(model_.tables[k], static_cast<uint32_t>(k), history_[k], static_cast<uint32_t>(last_step),
                         params(), s.work());
    rec.extras["flushed_rows"] = owed;
  }

 private:
  LazyNoiseParams params() const {
    return {static_cast<float>(cfg_.noise_stddev()), cfg_.lazydp_noise, &noise_, &schedule_};
  }
  std::vector<std::vector<uint32_t>> history_;
  NoiseSchedule schedule_;
};
}  // namespace

std::unique_ptr<Trainer> make_lazydp_trainer(DlrmModel& m, const AlgorithmConfig& c) {
  return std::make_unique<LazyDpTrainer>(m, c);
}

}  // namespace privrec::cpu
