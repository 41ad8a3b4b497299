#pragma once
// Where a step's table rows are served from: the row accesses of every stage that touches table
// rows, fed in the order the step makes them into one reuse (LRU stack distance) analysis, whose
// hit rates at each memory level's capacity split the stage's row traffic over the levels
// (sim/memory_levels.hpp). The order follows the kernels: the forward bags table by table, each
// table's lookups in example order (kernels/cpu/embedding_bag.cpp), then each later stage's rows
// table by table; a whole-table pass (a dense noisy update, lazydp's flush) pushes every earlier row that much
// farther away. From a trace this is exact (or SHARDS-sampled for large traces, with the sampling
// error reported); the analytic mode uses Che's approximation instead.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/plan.hpp"
#include "models/stage.hpp"
#include "models/step_record.hpp"
#include "models/workload.hpp"
#include "sim/hardware_profile.hpp"
#include "sim/memory_levels.hpp"
#include "traces/batch.hpp"

namespace privrec {
class ReuseAnalyzer;
}

namespace privrec::sim {

// The bytes of data other than table rows that each stage brings through the caches per step, by
// stage: what it writes as it streams (pooled features, activations, deltas, coalesced gradients,
// MLP parameters) and, for the forward, the batch's ids it streams in. In the caches they stand
// between the rows the forward reads and their reuse by the step's updates and by the next step's
// forward (rmc3 x0.001 at batch 1024 writes about 110 MB between them: the updates' rows, 23 MB,
// no longer come from the 24 MB L3). Stages that write table rows (updates, catch-ups, flushes)
// count nothing here: their rows are fed to the analysis, their whole-table passes as such.
using StageBytes = std::array<double, kStages>;
// From the work counters of one step, for the processor that runs the table stages on `h`: with
// the tables in host memory and no device cache, only the table stages' (the MLPs run on the
// device); with a device cache of host tables, none (a software cache holds rows alone; the
// device's L2 in front of it does see the working data, a simplification).
StageBytes working_bytes_by_stage(const Plan& plan, const StepRecord& step, const HardwareProfile& h);

// Per stage that touches rows: the share of its row accesses each level serves, and the sampling
// error of those shares (absolute, one standard error).
struct StageHits {
  Stage stage;
  double accesses_per_step = 0;          // row accesses the analysis saw (fed), per counted step
  std::vector<double> cumulative_hit;    // per level but the last: share hit at that capacity or nearer
  std::vector<double> cumulative_stderr;
  // ReuseAnalyzer's TagHits::miss_window_share: how sparse the last level's accesses were where
  // they happened.
  std::vector<double> miss_window_share;
};

class RowTrafficModel {
 public:
  // `expected_accesses`: about how many row accesses the run will feed (chooses the sample rate);
  // `sample_rate` > 0 forces one (1 = exact).
  // `cold_start`: a row's first access in the trace is a miss (a run of exactly these steps from an
  // empty cache); otherwise (the default) the steady state of a long run, where a first access is
  // a reuse whose distance exceeds what the trace touched so far (Kaplan-Meier over the censored
  // distances, ReuseAnalyzer::steady_hit_rate).
  RowTrafficModel(const Workload& w, const Plan& plan, std::vector<MemoryLevel> levels, double expected_accesses,
                  double sample_rate = 0, uint64_t seed = 0, bool cold_start = false);
  ~RowTrafficModel();

  // Each stage's working bytes (working_bytes_by_stage) enter the analysis after the stage's own
  // row accesses, every step; none unless set (before the first step).
  void set_working_bytes(const StageBytes& bytes) { working_ = bytes; }

  void setup();  // the plan's once-before stages
  // Step `t`'s accesses, stage by stage; counted when `counting` (train's warm-up steps are not).
  void step(const Batch& batch, const Batch* next, bool counting);
  void finish();  // the plan's once-after stages (lazydp's flush)

  // The split of stage `s`'s row traffic, whose counters say it touched `rows` rows per step (rows
  // the analysis did not see, such as adafest's false positives, are served by the last level).
  LevelSplit split(Stage s, const WorkCounters& work) const;
  // Computed once after the last feed (the LFU rate sorts every tracked row), then kept.
  const std::vector<StageHits>& hits() const;
  double sample_rate() const;
  // Bytes of distinct rows the trace touched: steady-state hit rates of larger levels are lower
  // bounds (the trace is too short to see their reuse).
  double bytes_touched() const;
  // The levels (but the last) larger than what the trace touched, by name.
  std::vector<std::string> levels_beyond_trace() const;
  nlohmann::json to_json() const;

 private:
  void feed_lookups(const Batch& batch, Stage tag);
  void feed_unique(const Batch& batch, Stage tag);
  void feed_op(const Op& op, Stage tag, const Batch& batch, const Batch* next);
  void feed_working(Stage s);
  double dense_pass_bytes(Stage s) const;

  Workload w_;
  const Plan& plan_;
  std::vector<MemoryLevel> levels_;
  std::vector<uint64_t> capacities_;  // every level but the last, bytes
  std::unique_ptr<ReuseAnalyzer> reuse_;
  std::vector<uint32_t> row_bytes_;   // per table
  std::array<int64_t, kStages> counted_steps_{};
  bool counting_ = true;
  bool cold_start_ = false;
  std::vector<uint64_t> scratch_;
  StageBytes working_{};
  mutable std::optional<std::vector<StageHits>> hits_;  // reset by every feed
};

// Che's approximation of the same split for the analytic model: independent references with each
// table's access law (uniform or zipf), a table's share of references by its pooling; `working`:
// the step's working bytes by stage, as the trace-driven model is given them.
LevelSplit analytic_split(const Workload& w, const Plan& plan, const std::vector<MemoryLevel>& levels, Stage s,
                          const WorkCounters& work, const StageBytes& working = {});

}  // namespace privrec::sim
