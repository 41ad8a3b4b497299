#include "kernels/training_run.hpp"

#include <chrono>
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "kernels/step_driver.hpp"
#include "models/config_error.hpp"
#include "models/sample_stats.hpp"
#include "traces/step_walk.hpp"

namespace privrec {

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

std::function<void(int64_t, int64_t)> model_init_progress(bool enabled) {
  if (!enabled) return {};
  using clock = std::chrono::steady_clock;
  struct Times {
    clock::time_point start = clock::now(), last = start;
  };
  auto times = std::make_shared<Times>();
  return [times](int64_t done, int64_t total) {
    const auto now = clock::now();
    const double elapsed = std::chrono::duration<double>(now - times->start).count();
    if (done >= total) {
      if (elapsed > 2.0)
        std::fprintf(stderr, "[privrec] tables initialized: %.2f GB in %.1f s\n", static_cast<double>(total) / 1e9, elapsed);
    } else if (std::chrono::duration<double>(now - times->last).count() > 2.0) {
      std::fprintf(stderr, "[privrec] initializing tables: %.2f of %.2f GB, %.0f s elapsed\n",
                   static_cast<double>(done) / 1e9, static_cast<double>(total) / 1e9, elapsed);
      times->last = now;
    }
  };
}

TrainReport run_training_loop(PlanRunner& runner, const TraceSource& trace, const TrainOptions& opt,
                              const std::function<void()>& save) {
  using clock = std::chrono::steady_clock;
  TrainReport rep;
  std::vector<StepRecord> records;
  std::vector<double> step_ms;
  StepRecord setup;
  if (opt.progress)
    for (const PlanStage& st : runner.plan().setup)
      std::fprintf(stderr, "[privrec] %s: once before training, over the data of %lld steps\n", stage_name(st.stage),
                   static_cast<long long>(opt.steps));
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
