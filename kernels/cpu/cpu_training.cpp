#include "kernels/cpu/cpu_training.hpp"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "kernels/cpu/trainer.hpp"
#include "kernels/model_io.hpp"
#include "models/config_error.hpp"
#include "models/kernel_work/cpu_work.hpp"
#include "models/kernel_work/working_memory.hpp"

namespace privrec {

namespace {
std::string gb(int64_t bytes) { return fmt::format("{:.2f} GB", static_cast<double>(bytes) / 1e9); }

// dpsgd-b and dpsgd-r keep every example's gradients, the others a few vectors per example.
bool per_example_gradients(AlgorithmKind kind) {
  for (const PlanStage& s : plan_of(kind).step)
    for (const Op& op : s.ops)
      if (op.kind == OpKind::clip_norms && op.norms != Norms::ghost) return true;
  return false;
}
}  // namespace

MemoryPlan plan_cpu_memory(const Workload& w, AlgorithmKind kind, int64_t available) {
  const int64_t model = cpu::model_parameter_bytes(w);
  const int64_t extra = static_cast<int64_t>(cpu_work::cpu_kernel_work().row_state_bytes(kind)) * w.table_rows();
  if (available > 0 && model + extra > available * 9 / 10)
    throw InputError(fmt::format("workload '{}' needs {} for its parameters{} but only {} of memory is available; "
                                 "use a smaller --table-scale",
                                 w.name, gb(model), extra ? fmt::format(" and {} for lazydp's history", gb(extra)) : "",
                                 gb(available)));
  const int64_t budget = available > 0 ? available * 9 / 10 - model - extra : INT64_MAX;
  int64_t batch = w.batch_size;
  const int64_t need = working_bytes(w, kind, batch);
  if (need <= budget) return {batch, ""};
  const int64_t per_example = working_bytes(w, kind, 1);
  batch = budget / std::max<int64_t>(per_example, 1);
  int64_t lookups = 0;
  for (const auto& t : w.tables) lookups += t.pooling;
  if (batch < 1)
    throw InputError(fmt::format("{}: one example's working memory (activations, the gradients of its {} lookups{}) "
                                 "needs {} and only {} is left after the model",
                                 algorithm_info(kind).name, lookups,
                                 per_example_gradients(kind) ? ", its per-example gradients" : "", gb(per_example), gb(budget)));
  return {batch, fmt::format("{} at batch {} needs {} of working memory{} and {} is available after the model; the "
                             "largest batch that fits is {}",
                             algorithm_info(kind).name, w.batch_size, gb(need),
                             per_example_gradients(kind) ? " (per-example gradients)" : "", gb(budget), batch)};
}

TrainReport run_cpu_training(const Workload& w, const AlgorithmConfig& cfg, const TraceSource& trace,
                             const TrainOptions& opt) {
  const auto t_setup = std::chrono::steady_clock::now();
  cpu::DlrmModel model = cpu::DlrmModel::create(w, cfg.seed, model_init_progress(opt.progress));
  cpu::Trainer trainer(model, cfg);
  const double setup_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_setup).count();
  TrainReport rep = run_training_loop(trainer.runner(), trace, opt, [&] {
    if (!opt.save_model.empty()) save_model(opt.save_model, model, opt.save_info);
  });
  rep.setup_s = setup_s;
  return rep;
}

}  // namespace privrec
