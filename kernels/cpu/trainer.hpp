#pragma once
// One trainer per algorithm on the CPU backend. A trainer runs training step t (1-based) on a
// batch, timing each stage of the shared vocabulary and counting its work.
#include <array>
#include <chrono>
#include <functional>
#include <memory>

#include <nlohmann/json.hpp>

#include "kernels/cpu/dlrm_pass.hpp"
#include "kernels/cpu/embedding_bag.hpp"
#include "kernels/noise_rows.hpp"
#include "models/algorithm.hpp"
#include "models/stage.hpp"
#include "models/work_counters.hpp"

namespace privrec::cpu {

constexpr size_t kStages = static_cast<size_t>(Stage::count);

struct StepRecord {
  std::array<double, kStages> seconds{};
  std::array<WorkCounters, kStages> work{};
  std::array<bool, kStages> ran{};
  double loss = 0;
  nlohmann::json extras = nlohmann::json::object();
};

// Times one stage and hands out its counters.
class StageScope {
 public:
  StageScope(StepRecord& rec, Stage s) : rec_(rec), s_(static_cast<size_t>(s)), t0_(std::chrono::steady_clock::now()) {
    rec_.ran[s_] = true;
  }
  ~StageScope() {
    rec_.seconds[s_] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  }
  WorkCounters& work() { return rec_.work[s_]; }

 private:
  StepRecord& rec_;
  size_t s_;
  std::chrono::steady_clock::time_point t0_;
};

// What the training driver runs, on any backend.
class StepTrainer {
 public:
  virtual ~StepTrainer() = default;
  // `next` is the batch of step t+1 (nullptr on the last step): lazydp's lookahead.
  virtual void step(int64_t t, const Batch& batch, const Batch* next, StepRecord& rec) = 0;
  // Work owed before the model is released (lazydp's flush); `last_step` is the final step.
  virtual void finish(int64_t last_step, StepRecord& rec) = 0;
};

class Trainer : public StepTrainer {
 public:
  Trainer(DlrmModel& model, const AlgorithmConfig& cfg);
  void finish(int64_t last_step, StepRecord& rec) override;
  const AlgorithmConfig& config() const { return cfg_; }

 protected:
  // fwd.emb and fwd.mlp.
  void forward(const Batch& batch, StepRecord& rec);
  // dp.norm (ghost norms), then clip factors min(1, C / norm_i).
  std::vector<float> ghost_clip_factors(const Batch& batch, StepRecord& rec);
  std::vector<float> clip_factors(const std::vector<double>& norm2) const;
  // dp.clip (weight gradients from reweighted deltas) and bwd.emb (reweighted coalescing).
  void reweighted_gradients(const Batch& batch, const std::vector<float>& factors, StepRecord& rec);
  float step_scale(int64_t t, const Batch& batch) const;
  void record_clipping(const std::vector<float>& factors, StepRecord& rec) const;

  DlrmModel& model_;
  AlgorithmConfig cfg_;
  NoiseGenerator noise_;
  PassBuffers buf_;
  MlpGrads grads_;
  std::vector<SparseRows> emb_grads_;
};

using TrainerFactory = std::function<std::unique_ptr<Trainer>(DlrmModel&, const AlgorithmConfig&)>;
std::unique_ptr<Trainer> make_trainer(DlrmModel& model, const AlgorithmConfig& cfg);

// Bytes an algorithm needs beyond the model for a batch of B (per-example gradients for dpsgd-b/r).
int64_t trainer_working_bytes(const Workload& w, AlgorithmKind kind, int64_t batch);

}  // namespace privrec::cpu
