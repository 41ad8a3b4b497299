#include "sim/simulation.hpp"

#include <array>
#include <future>

#include <fmt/format.h>

#include "models/config_error.hpp"
#include "models/kernel_work/framework_work.hpp"
#include "sim/analytic_model.hpp"
#include "sim/row_traffic.hpp"
#include "sim/work_model.hpp"
#include "traces/step_walk.hpp"

namespace privrec::sim {


namespace {
// Work per step, summed over the counted steps that ran each stage, then averaged.
struct Accumulator {
  StepRecord total;
  std::array<int64_t, kStages> counted{};
  void add(const StepRecord& sw) {
    for (size_t s = 0; s < kStages; ++s)
      if (sw.ran[s]) total.ran[s] = true, total.work[s] += sw.work[s], ++counted[s];
  }
};

// The split of a stage's row traffic over the memory levels, from the trace or the analytic model.
using SplitOf = std::function<LevelSplit(Stage, const WorkCounters&)>;

void add_once(const StepRecord& rec, bool before, const HardwareProfile& h, uint64_t table_bytes, const SplitOf& split,
              SimReport& r) {
  for (size_t s = 0; s < kStages; ++s) {
    if (!rec.ran[s]) continue;
    SimStage x{static_cast<Stage>(s), rec.work[s], 0, {}, before};
    const LevelSplit ls = split(x.stage, x.work);
    x.time = stage_time(x.stage, x.work, 0, h, table_bytes, &ls);
    r.once.push_back(x);
  }
}

SimReport build_report(const Workload& w, const HardwareProfile& h, int64_t steps, const Accumulator& acc,
                       const StepRecord& setup, const StepRecord& fin, const SplitOf& split) {
  SimReport r;
  r.batch_size = w.batch_size;
  r.steps = steps;
  r.table_GB = static_cast<double>(w.table_bytes()) / 1e9;
  const uint64_t table_bytes = static_cast<uint64_t>(w.table_bytes());
  for (size_t s = 0; s < kStages; ++s) {
    if (!acc.total.ran[s]) continue;
    const Stage st = static_cast<Stage>(s);
    SimStage x{st, acc.total.work[s].divided_by(static_cast<uint64_t>(acc.counted[s])),
               link_bytes(st, w, w.batch_size, h), {}};
    const LevelSplit ls = split(st, x.work);
    x.time = stage_time(st, x.work, x.link_bytes, h, table_bytes, &ls);
    r.step_ms += x.time.ms;
    r.stages.push_back(x);
  }
  add_once(setup, true, h, table_bytes, split, r);
  add_once(fin, false, h, table_bytes, split, r);
  r.throughput_examples_per_s = r.step_ms > 0 ? 1e3 * static_cast<double>(w.batch_size) / r.step_ms : 0;
  return r;
}

// The kernels' per-row state and the implementation's noise beside the tables count against the
// memory that holds them.
void account_memory(SimReport& r, const Workload& w, const AlgorithmConfig& cfg, const HardwareProfile& h) {
  const BesideTables b = beside_tables(w, cfg, h);
  r.row_state_GB = b.row_state_GB, r.noise_GB = b.noise_GB;
  r.tables_fit = r.table_GB + r.row_state_GB + r.noise_GB <= h.table_capacity_GB();
}

}  // namespace

BesideTables beside_tables(const Workload& w, const AlgorithmConfig& cfg, const HardwareProfile& h) {
  BesideTables b;
  b.row_state_GB = static_cast<double>(kernel_work(h.kernels).row_state_bytes(cfg.kind)) *
                   static_cast<double>(w.table_rows()) / 1e9;
  if (h.materialized_noise)
    b.noise_GB = static_cast<double>(framework_work::materialized_noise_bytes(plan_of(cfg.kind), w.table_bytes())) / 1e9;
  return b;
}

std::string misfit_note(const SimReport& r, const HardwareProfile& h) {
  if (r.tables_fit) return "";
  std::string beside;
  if (r.row_state_GB > 0) beside += fmt::format("their per-row state ({:.4g} GB, {} kernels)", r.row_state_GB, h.kernels);
  if (r.noise_GB > 0)
    beside += fmt::format("{}their materialized noise ({:.4g} GB, the {} implementation)", beside.empty() ? "" : " and ",
                          r.noise_GB, h.implementation);
  const std::string what =
      beside.empty() ? fmt::format("{:.4g} GB of tables", r.table_GB)
                     : fmt::format("{:.4g} GB of tables with {}, {:.4g} GB in all,", r.table_GB, beside,
                                   r.table_GB + r.row_state_GB + r.noise_GB);
  const double whole = h.table_memory().memory_GB, usable = h.table_capacity_GB();
  const std::string room = usable < whole ? fmt::format("{:.4g} GB usable of {}'s {:.4g} GB of {}", usable, h.name,
                                                        whole, h.table_memory_name())
                                          : fmt::format("{}'s {:.4g} GB of {}", h.name, whole, h.table_memory_name());
  return fmt::format("{} exceed {}; the prediction assumes it were large enough", what, room);
}

namespace {
void check_steps(int64_t steps) {
  if (steps < 1) throw InputError(fmt::format("--steps {}: expected at least 1", steps));
}
}  // namespace

SimReport simulate(const Workload& w, const AlgorithmConfig& cfg, const TraceSource& trace, const HardwareProfile& h,
                   int64_t steps, const std::function<void(int64_t)>& progress, int64_t first_counted_step,
                   double sample_rate) {
  check_steps(steps);
  if (first_counted_step > steps) first_counted_step = 1;  // as train: with only warm-up steps, count them all
  WorkModel model(w, cfg, kernel_work(h.kernels));
  const Plan& plan = plan_of(cfg.kind);
  double lookups = 0;
  for (const TableSpec& t : w.tables) lookups += static_cast<double>(t.pooling);
  RowTrafficModel rows(w, plan, table_row_levels(h), 2.0 * lookups * static_cast<double>(w.batch_size * steps),
                       sample_rate, cfg.seed);
  Accumulator acc;
  const StepRecord setup = model.setup(trace, steps);
  rows.setup();
  // The working data between the rows: the expected step's until the first step's own counters
  // are known, then those (steps are alike; the first step is most often a warm-up).
  rows.set_working_bytes(
      working_bytes_by_stage(plan, model.work_of(AnalyticModel(w, cfg).step(1, steps > 1), steps > 1), h));
  bool measured_working = false;
  walk_steps(trace, steps, [&](int64_t t, const Batch& batch, const Batch* next) {
    // The reuse analysis and the work model read the same batches and share nothing else: the
    // analysis runs beside the work model (two cores do both in the time of the slower).
    auto reuse = std::async(std::launch::async, [&] { rows.step(batch, next, t >= first_counted_step); });
    const StepRecord sw = model.step(t, batch, next);
    reuse.get();
    if (!measured_working) rows.set_working_bytes(working_bytes_by_stage(plan, sw, h)), measured_working = true;
    if (t >= first_counted_step) acc.add(sw);
    if (progress) progress(t);
  });
  rows.finish();
  SimReport r = build_report(w, h, steps, acc, setup, model.finish(steps),
                             [&](Stage s, const WorkCounters& work) { return rows.split(s, work); });
  r.row_traffic = rows.to_json();
  account_memory(r, w, cfg, h);
  return r;
}

SimReport simulate_analytic(const Workload& w, const AlgorithmConfig& cfg, const HardwareProfile& h, int64_t steps,
                            int64_t first_counted_step) {
  check_steps(steps);
  if (first_counted_step > steps) first_counted_step = 1;
  const WorkModel model(w, cfg, kernel_work(h.kernels));
  const AnalyticModel expected(w, cfg);
  Accumulator acc;
  for (int64_t t = first_counted_step; t <= steps; ++t) acc.add(model.work_of(expected.step(t, t < steps), t < steps));
  const std::vector<MemoryLevel> levels = table_row_levels(h);
  const Plan& plan = plan_of(cfg.kind);
  const StageBytes working =
      working_bytes_by_stage(plan, model.work_of(expected.step(first_counted_step, first_counted_step < steps),
                                                 first_counted_step < steps), h);
  SimReport r = build_report(w, h, steps, acc, model.work_of_setup(expected.setup(steps)),
                             model.work_of_finish(expected.flush(steps)), [&](Stage s, const WorkCounters& work) {
                               return analytic_split(w, plan, levels, s, work, working);
                             });
  account_memory(r, w, cfg, h);
  return r;
}

}  // namespace privrec::sim
