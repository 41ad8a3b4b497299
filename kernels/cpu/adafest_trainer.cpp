// adafest (DP-AdaFEST): private selection of the rows that receive a noisy update; gradients of
// unselected rows are dropped, noise goes to selected rows only.
#include "kernels/cpu/adafest_selection.hpp"
#include "kernels/cpu/noisy_update.hpp"
#include "kernels/cpu/trainer.hpp"

namespace privrec::cpu {

namespace {
class AdaFestTrainer : public Trainer {
 public:
  AdaFestTrainer(DlrmModel& m, const AlgorithmConfig& c) : Trainer(m, c) {
    for (const auto& t : m.tables) rows_.push_back(t.rows);
  }

  void step(int64_t t, const Batch& batch, const Batch*, StepRecord& rec) override {
    forward(batch, rec);
    {
      StageScope s(rec, Stage::bwd_mlp);
      backward_deltas(model_, buf_, s.work());
    }
    const auto factors = ghost_clip_factors(batch, rec);
    Selection sel;
    {
      StageScope s(rec, Stage::adafest_select);
      sel = adafest_select(batch, rows_, cfg_, static_cast<uint64_t>(t), s.work());
    }
    rec.extras["touched_rows"] = sel.touched;
    rec.extras["selected_touched_rows"] = sel.selected_touched;
    rec.extras["false_positive_rows"] = sel.false_positives;
    rec.extras["untouched_rows"] = sel.untouched;
    reweighted_gradients(batch, factors, rec);
    const float scale = step_scale(t, batch);
    const float stddev = static_cast<float>(cfg_.noise_stddev());
    {
      StageScope s(rec, Stage::update_mlp);
      mlp_update(model_, grads_, scale, stddev, &noise_, static_cast<uint64_t>(t), s.work());
    }
    StageScope s(rec, Stage::dp_update);
    for (size_t k = 0; k < model_.tables.size(); ++k)
      sparse_noisy_update(model_.tables[k], static_cast<uint32_t>(k), sel.rows[k], emb_grads_[k], scale, stddev, noise_,
                          static_cast<uint64_t>(t), s.work());
  }

 private:
  std::vector<int64_t> rows_;
};
}  // namespace

std::unique_ptr<Trainer> make_adafest_trainer(DlrmModel& m, const AlgorithmConfig& c) {
  return std::make_unique<AdaFestTrainer>(m, c);
}

}  // namespace privrec::cpu
