#include "kernels/training_run.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include <fmt/format.h>

#include "kernels/cpu/trainer.hpp"
#include "kernels/step_driver.hpp"
#include "kernels/model_io.hpp"
#include "models/config_error.hpp"
#include "models/sample_stats.hpp"
#include "traces/step_walk.hpp"

namespace privrec {

namespace {
std::string gb(int64_t bytes) { return fmt::format("{:.2f} GB", static_cast<double>(bytes) / 1e9); }
}  // namespace

MemoryPlan plan_cpu_memory(const Workload& w, AlgorithmKind kind, int64_t available) {
  const int64_t model = cpu::model_parameter_bytes(w);
  // lazydp's history table: 4 bytes per row.
  const int64_t extra = plan_of(kind).has(OpKind::lazy_catchup) ? w.table_rows() * 4 : 0;
  if (available > 0 && model + extra > available * 9 / 10)
    throw InputError(fmt::format("workload '{}' needs {} for its parameters{} but only {} of memory is available; "
                                 "use a smaller --table-scale",
                                 w.name, gb(model), extra ? fmt::format(" and {} for lazydp's history", gb(extra)) : "",
                                 gb(available)));
  const int64_t budget = available > 0 ? available * 9 / 10 - model - extra : INT64_MAX;
  int64_t batch = w.batch_size;
  const int64_t need = cpu::trainer_working_bytes(w, kind, batch);
  if (need <= budget) return {batch, ""};
  const int64_t per_example = cpu::trainer_working_bytes(w, kind, 1);
  batch = budget / std::max<int64_t>(per_example, 1);
  if (batch < 1)
    throw InputError(fmt::format("{}: one example's per-example gradients need {} and only {} is left after the model",
                                 algorithm_info(kind).name, gb(per_example), gb(budget)));
  return {batch, fmt::format("{} at batch {} needs {} of working memory (per-example gradients) and {} is available "
                             "after the model; running batch {} instead",
                             algorithm_info(kind).name, w.batch_size, gb(need), gb(budget), batch)};
}

TrainReport run_cpu_training(const Workload& w, const AlgorithmConfig& cfg, const TraceSource& trace,
                             const TrainOptions& opt) {
  const auto t_setup = std::chrono::steady_clock::now();
  cpu::DlrmModel model = cpu::DlrmModel::create(w, cfg.seed);
  cpu::Trainer trainer(model, cfg);
  const double setup_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_setup).count();
  TrainReport rep = run_training_loop(trainer.runner(), trace, opt, [&] {
    if (!opt.save_model.empty()) save_model(opt.save_model, model, opt.save_info);
  });
  rep.setup_s = setup_s;
  return rep;
}

namespace {
// The stages a once-per-run phase (setup or finish) ran, each as its own summary.
void add_once(const StepRecord& rec, bool before, TrainReport& rep) {
  for (size_t s = 0; s < kStages; ++s) {
    if (!rec.ran[s]) continue;
    const double ms = rec.seconds[s] * 1e3;
    rep.once.push_back({{static_cast<Stage>(s), ms, ms, ms, rec.work[s]}, before});
  }
  for (auto& [k, v] : rec.extras.items()) rep.last_extras[k] = v;
}

// Per stage over the measured steps: the median time with its spread, and the work per step.
void summarize_stages(const std::vector<StepRecord>& records, TrainReport& rep) {
  for (size_t s = 0; s < kStages; ++s) {
    std::vector<double> ms;
    WorkCounters total;
    for (const auto& r : records) {
      if (!r.ran[s]) continue;
      ms.push_back(r.seconds[s] * 1e3);
      total += r.work[s];
    }
    if (ms.empty()) continue;
    // The last step skips lazydp's catch-up: average the counters over the steps that ran the stage.
    const WorkCounters avg = total.divided_by(ms.size());
    const SampleStats st = summarize(ms);
    rep.stages.push_back({static_cast<Stage>(s), st.median, st.min, st.max, avg});
  }
}

void print_progress(int64_t t, int64_t steps, double secs, double loss, double elapsed) {
  std::fprintf(stderr, "[privrec] step %lld/%lld, %.3f s/step, loss %.4f, %.0f s elapsed\n", static_cast<long long>(t),
               static_cast<long long>(steps), secs, loss, elapsed);
}
}  // namespace

TrainReport run_training_loop(PlanRunner& runner, const TraceSource& trace, const TrainOptions& opt,
                              const std::function<void()>& save) {
  using clock = std::chrono::steady_clock;
  TrainReport rep;
  std::vector<StepRecord> records;
  std::vector<double> step_ms;
  StepRecord setup;
  runner.setup(trace, opt.steps, setup);
  auto last_print = clock::now();
  const auto t_run = clock::now();
  walk_steps(trace, opt.steps, [&](int64_t t, const Batch& batch, const Batch* next) {
    StepRecord rec;
    const auto t0 = clock::now();
    runner.step(t, batch, next, rec);
    const double secs = std::chrono::duration<double>(clock::now() - t0).count();
    rep.losses.push_back(rec.loss);
    rep.last_extras = rec.extras;
    rep.batch_size = batch.size;
    if (t > opt.warmup || opt.steps <= opt.warmup) {
      records.push_back(std::move(rec));
      step_ms.push_back(secs * 1e3);
    }
    if (opt.progress && std::chrono::duration<double>(clock::now() - last_print).count() > 2.0) {
      print_progress(t, opt.steps, secs, rep.losses.back(), std::chrono::duration<double>(clock::now() - t_run).count());
      last_print = clock::now();
    }
  });
  StepRecord fin;
  runner.finish(opt.steps, fin);
  add_once(setup, true, rep);  // after the steps, whose extras replace each other's
  add_once(fin, false, rep);
  rep.measured_steps = static_cast<int64_t>(records.size());
  summarize_stages(records, rep);
  const SampleStats st = summarize(step_ms);
  rep.step_ms_median = st.median, rep.step_ms_min = st.min, rep.step_ms_max = st.max;
  rep.throughput_examples_per_s = rep.step_ms_median > 0 ? rep.batch_size / (rep.step_ms_median * 1e-3) : 0;
  if (save) save();
  return rep;
}

}  // namespace privrec
