#include "kernels/training_run.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include <fmt/format.h>

#include "kernels/cpu/trainer.hpp"
#include "kernels/model_io.hpp"
#include "models/config_error.hpp"

namespace privrec {

namespace {
double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
std::string gb(int64_t bytes) { return fmt::format("{:.2f} GB", static_cast<double>(bytes) / 1e9); }
}  // namespace

MemoryPlan plan_cpu_memory(const Workload& w, AlgorithmKind kind, int64_t available) {
  const int64_t model = cpu::model_parameter_bytes(w);
  // lazydp's history table: 4 bytes per row.
  const int64_t extra = kind == AlgorithmKind::lazydp ? w.table_rows() * 4 : 0;
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
  auto trainer = cpu::make_trainer(model, cfg);
  const double setup_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_setup).count();
  TrainReport rep = run_training_loop(*trainer, trace, opt, [&] {
    if (!opt.save_model.empty()) save_model(opt.save_model, model, opt.save_info);
  });
  rep.setup_s = setup_s;
  return rep;
}

TrainReport run_training_loop(cpu::StepTrainer& trainer, const TraceSource& trace, const TrainOptions& opt,
                              const std::function<void()>& save) {
  using clock = std::chrono::steady_clock;
  TrainReport rep;
  std::vector<cpu::StepRecord> records;
  std::vector<double> step_s;
  Batch current = trace.batch(0), next;
  auto last_print = clock::now();
  const auto t_run = clock::now();
  for (int64_t t = 1; t <= opt.steps; ++t) {
    const bool has_next = t < opt.steps;
    if (has_next) next = trace.batch(t);
    cpu::StepRecord rec;
    const auto t0 = clock::now();
    trainer.step(t, current, has_next ? &next : nullptr, rec);
    const double secs = std::chrono::duration<double>(clock::now() - t0).count();
    rep.losses.push_back(rec.loss);
    rep.last_extras = rec.extras;
    rep.batch_size = current.size;
    if (t > opt.warmup || opt.steps <= opt.warmup) {
      records.push_back(rec);
      step_s.push_back(secs);
    }
    if (opt.progress && std::chrono::duration<double>(clock::now() - last_print).count() > 2.0) {
      std::fprintf(stderr, "[privrec] step %lld/%lld, %.3f s/step, loss %.4f, %.0f s elapsed\n",
                   static_cast<long long>(t), static_cast<long long>(opt.steps), secs, rec.loss,
                   std::chrono::duration<double>(clock::now() - t_run).count());
      last_print = clock::now();
    }
    if (has_next) std::swap(current, next);
  }
  cpu::StepRecord fin;
  trainer.finish(opt.steps, fin);
  for (size_t s = 0; s < cpu::kStages; ++s) {
    if (!fin.ran[s]) continue;
    StageSummary sum{static_cast<Stage>(s), 0, 0, 0, {}};
    sum.median_ms = sum.min_ms = sum.max_ms = fin.seconds[s] * 1e3;
    sum.work = fin.work[s];
    rep.flush = sum;
    for (auto& [k, v] : fin.extras.items()) rep.last_extras[k] = v;
  }

  rep.measured_steps = static_cast<int64_t>(records.size());
  for (size_t s = 0; s < cpu::kStages; ++s) {
    std::vector<double> ms;
    WorkCounters total;
    bool ran = false;
    for (const auto& r : records) {
      if (!r.ran[s]) continue;
      ran = true;
      ms.push_back(r.seconds[s] * 1e3);
      total += r.work[s];
    }
    if (!ran) continue;
    // The last step skips lazydp's catch-up: average the counters over the steps that ran the stage.
    const WorkCounters avg = total.divided_by(ms.size());
    rep.stages.push_back({static_cast<Stage>(s), median(ms), *std::min_element(ms.begin(), ms.end()),
                          *std::max_element(ms.begin(), ms.end()), avg});
  }
  rep.step_ms_median = median(step_s) * 1e3;
  rep.step_ms_min = *std::min_element(step_s.begin(), step_s.end()) * 1e3;
  rep.step_ms_max = *std::max_element(step_s.begin(), step_s.end()) * 1e3;
  rep.throughput_examples_per_s = rep.step_ms_median > 0 ? rep.batch_size / (rep.step_ms_median * 1e-3) : 0;
  if (save) save();
  return rep;
}

}  // namespace privrec
