#include "kernels/cuda/cuda_trainer.hpp"

#include <chrono>

#include "kernels/cuda/cuda_step_ops.hpp"
#include "kernels/cuda/dense_ops.hpp"
#include "kernels/cuda/device.hpp"
#include "kernels/cuda/device_memory.hpp"
#include "kernels/model_io.hpp"
#include "kernels/step_driver.hpp"
#include "traces/step_walk.hpp"

namespace privrec::cuda {

void require_cuda_algorithm(AlgorithmKind kind) {
  (void)kind;  // every algorithm runs on this backend
  require_device();
}

cpu::DlrmModel train_model_on_cuda(const Workload& w, const AlgorithmConfig& cfg, const TraceSource& trace,
                                   int64_t steps, uint64_t model_seed) {
  require_cuda_algorithm(cfg.kind);
  cpu::DlrmModel host = cpu::DlrmModel::create(w, model_seed);
  CudaStepOps ops(host, cfg);
  PlanRunner runner(cfg, ops);
  StepRecord setup;
  runner.setup(trace, steps, setup);
  walk_steps(trace, steps, [&](int64_t t, const Batch& batch, const Batch* next) {
    StepRecord rec;
    runner.step(t, batch, next, rec);
  });
  StepRecord fin;
  runner.finish(steps, fin);
  ops.download(host);
  return host;
}

TrainReport run_cuda_training(const Workload& w, const AlgorithmConfig& cfg, const TraceSource& trace,
                              const TrainOptions& opt) {
  require_cuda_algorithm(cfg.kind);
  const auto t_setup = std::chrono::steady_clock::now();
  cpu::DlrmModel host = cpu::DlrmModel::create(w, cfg.seed, model_init_progress(opt.progress));  // the same initial model as the CPU backend
  CudaStepOps ops(host, cfg);
  PlanRunner runner(cfg, ops);
  const double setup_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_setup).count();
  TrainReport rep = run_training_loop(runner, trace, opt, [&] {
    synchronize();  // any error of the last stage, checked
    if (opt.save_model.empty()) return;
    ops.download(host);
    save_model(opt.save_model, host, opt.save_info);
  });
  rep.setup_s = setup_s;
  rep.gemm = gemm_backend_name();
  return rep;
}

}  // namespace privrec::cuda
