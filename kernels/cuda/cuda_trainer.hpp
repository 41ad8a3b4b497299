#pragma once
// Training on the CUDA backend: an algorithm's plan run by the step driver (kernels/step_driver.hpp)
// on the CUDA operations (cuda_step_ops.hpp), with the model and every stage on the device,
// per-stage times from CUDA events, and the same stage vocabulary, counters and report as the CPU
// backend, for every algorithm (lazydp in both noise modes).
#include "kernels/cpu/dlrm_model.hpp"
#include "kernels/training_run.hpp"

namespace privrec::cuda {

// Throws InputError when no device is present.
void require_cuda_algorithm(AlgorithmKind kind);

// Trains `steps` steps of `trace` on the device from the CPU backend's initial model (seed
// model_seed) and returns the trained model on the host, after lazydp's flush: for comparisons.
cpu::DlrmModel train_model_on_cuda(const Workload& w, const AlgorithmConfig& cfg, const TraceSource& trace,
                                   int64_t steps, uint64_t model_seed);

TrainReport run_cuda_training(const Workload& w, const AlgorithmConfig& cfg, const TraceSource& trace,
                              const TrainOptions& opt);

}  // namespace privrec::cuda
