#pragma once
// Runs training on a backend: plans memory, builds the model, runs the steps with warm-up, and
// summarises every stage (median time with its spread, work per step) and the throughput.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/algorithm.hpp"
#include "models/stage.hpp"
#include "models/work_counters.hpp"
#include "models/workload.hpp"
#include "traces/trace_source.hpp"

namespace privrec {

struct TrainOptions {
  int64_t steps = 5;
  int64_t warmup = 1;  // steps run before measurement begins (included in training, excluded from timing)
  bool progress = true;
  std::string save_model;
  nlohmann::json save_info;
};

struct StageSummary {
  Stage stage;
  double median_ms = 0, min_ms = 0, max_ms = 0;
  WorkCounters work;  // per step (mean over measured steps)
};

// Stages a plan runs once per run: before the first step (setup) or after the last (finish).
struct OnceStage {
  StageSummary summary;
  bool before_training = false;
};

struct TrainReport {
  std::vector<StageSummary> stages;  // per-step stages, in vocabulary order
  std::vector<OnceStage> once;       // once-per-run work (dp-fest's fixed rows, lazydp.flush)
  double step_ms_median = 0, step_ms_min = 0, step_ms_max = 0;
  double throughput_examples_per_s = 0;
  int64_t batch_size = 0;
  int64_t measured_steps = 0;
  double setup_s = 0;
  std::vector<double> losses;
  nlohmann::json last_extras;
  std::string gemm;  // the CUDA backend's GEMM: "cublas" or "privrec" (empty for the CPU backend)
  // A sharded run (kernels/mpi/): the report is rank 0's; every rank's per-stage medians (ms, in
  // stage order, negative where the rank did not run the stage) and step medians come with it.
  int64_t ranks = 1;
  std::string sharding;  // "table_wise", "row_wise"; empty for one process
  std::string layout;    // what each rank holds
  std::vector<std::vector<double>> rank_stage_ms;
  std::vector<double> rank_step_ms;
};

// The batch dpsgd-b/r can run in the memory available, and why (empty if the batch fits as asked).
struct MemoryPlan {
  int64_t batch;
  std::string note;
};
// A progress line every 2 s while a backend builds its model (bytes of tables initialised of all;
// first touch of the memory is most of it), and the time it took if that was over 2 s. Nothing
// unless `enabled` (TrainOptions::progress).
std::function<void(int64_t done, int64_t total)> model_init_progress(bool enabled);

class PlanRunner;
// The training loop every backend shares: the plan's setup, the steps with warm-up and progress,
// its finish (lazydp's flush), and the per-stage summary. `save` (if set) runs after the finish,
// for --save-model.
TrainReport run_training_loop(PlanRunner& runner, const TraceSource& trace, const TrainOptions& opt,
                              const std::function<void()>& save);

}  // namespace privrec
