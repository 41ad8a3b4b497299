#pragma once
// The trace-driven model of a training run: the work model over the trace's batches, timed by a
// hardware profile. Reports the same stage names and counters as `privrec train`.
#include <functional>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/algorithm.hpp"
#include "models/workload.hpp"
#include "sim/hardware_profile.hpp"
#include "sim/time_model.hpp"
#include "traces/trace_source.hpp"

namespace privrec::sim {

struct SimStage {
  Stage stage;
  WorkCounters work;  // per step, the mean over the modeled steps
  uint64_t link_bytes = 0;
  StageTime time;
  bool before_training = false;  // a once-per-run stage of the plan's setup (not its finish)
};

struct SimReport {
  std::vector<SimStage> stages;  // in vocabulary order
  std::vector<SimStage> once;    // once per run: the plan's setup and finish (lazydp.flush)
  double step_ms = 0;
  double throughput_examples_per_s = 0;
  int64_t batch_size = 0;
  int64_t steps = 0;
  double table_GB = 0;
  bool tables_fit = true;  // tables, their per-row state and materialized noise within the table side's memory_GB
  double row_state_GB = 0;  // what the kernels keep per row beside the tables (KernelWork::row_state_bytes)
  double noise_GB = 0;      // noise the implementation keeps beside the tables (the framework way's dpsgd)
  // Where table rows are served from: the levels, the analysis' sample rate, and per stage the
  // cumulative hit rate at each level with its sampling error (null: no table stage).
  nlohmann::json row_traffic;
};

// What the table side holds beside the tables for a run of `cfg` on `h`: the kernels' per-row state
// (KernelWork::row_state_bytes) and the implementation's materialized noise, in GB.
struct BesideTables {
  double row_state_GB = 0, noise_GB = 0;
};
BesideTables beside_tables(const Workload& w, const AlgorithmConfig& cfg, const HardwareProfile& h);

// What a report whose tables (with their per-row state and the implementation's materialized noise)
// exceed the table side's memory says: the sizes, the memory, and that the prediction assumes it were large enough; ""
// when they fit.
std::string misfit_note(const SimReport& r, const HardwareProfile& h);

// Models `steps` steps on the trace (batches 0 .. steps-1) and the final flush. Memory and time
// follow the trace, not the tables: a 10 TB workload costs what its batches cost.
// Work is averaged, as `privrec train` does, over the steps from `first_counted_step` on (train's
// warm-up steps are modeled but not counted) that ran the stage.
SimReport simulate(const Workload& w, const AlgorithmConfig& cfg, const TraceSource& trace, const HardwareProfile& h,
                   int64_t steps, const std::function<void(int64_t)>& progress = {}, int64_t first_counted_step = 1,
                   double sample_rate = 0);

// The same report from the analytic model (sim/analytic_model.hpp): expectations instead of a
// trace, so its cost does not depend on the batch or the tables.
SimReport simulate_analytic(const Workload& w, const AlgorithmConfig& cfg, const HardwareProfile& h, int64_t steps,
                            int64_t first_counted_step = 1);

}  // namespace privrec::sim
