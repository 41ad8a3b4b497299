// The CUDA backend as the command line uses it: device 0, its memory, the CUDA operations and the
// CUDA microbenchmarks. Plain C++ on the CUDA headers, so a build without CUDA registers it too
// (device_none.cpp answers every call with "built without CUDA", exit 2).
#include <fmt/format.h>

#include "kernels/cpu/cpu_training.hpp"
#include "kernels/backend.hpp"
#include "kernels/cpu/dlrm_model.hpp"
#include "kernels/cpu/trainer.hpp"
#include "kernels/cuda/cuda_trainer.hpp"
#include "kernels/cuda/device.hpp"
#include "kernels/cuda/device_rates.hpp"
#include "models/kernel_work/cuda_work.hpp"
#include "models/config_error.hpp"
#include "models/human_bytes.hpp"
#include "models/kernel_work/working_memory.hpp"

namespace privrec::cuda {

namespace {

struct CudaBackend final : Backend {
  CudaBackend() {
    name = "cuda";
    description = "CUDA device 0, which must be present";
    title = "CUDA";
    processor = "GPU";
    kernel_family = "cuda";
    calibration_cases = "configs/validation/gpu_calibration_cases.json";
    validation_cases = "configs/validation/gpu_validation_cases.json";
    model_profile = "h100-sxm";  // no measured GPU profile ships: the datasheet preset
  }
  std::string require_available() const override { return require_device().name; }
  // The device holds the parameters, the working buffers (per-example gradients for dpsgd-b/r:
  // no smaller batch is chosen for it) and lazydp's history; the host holds the initial model.
  MemoryPlan plan_memory(const Workload& w, AlgorithmKind kind) const override {
    const DeviceInfo d = require_device();
    const double need = static_cast<double>(cpu::model_parameter_bytes(w)) +
                        static_cast<double>(working_bytes(w, kind, w.batch_size)) +
                        static_cast<double>(cuda_work::cuda_kernel_work().row_state_bytes(kind)) * static_cast<double>(w.table_rows());
    if (need > kUsableDeviceMemory * d.memory_GB * 1e9)
      throw InputError(fmt::format("--backend cuda: {} needs {} of device memory (parameters, working buffers and "
                                   "per-row state: lazydp's history, the updates' slot map) and "
                                   "{} has {:.1f} GB; use a smaller --table-scale or --batch",
                                   w.name, human_bytes(need), d.name, d.memory_GB));
    plan_cpu_memory(w, kind, cpu::available_memory_bytes());  // InputError if the host cannot hold the model
    return {w.batch_size, ""};
  }
  TrainReport train(const Workload& w, const AlgorithmConfig& cfg, const TraceSource& trace,
                    const TrainOptions& opt) const override {
    return run_cuda_training(w, cfg, trace, opt);
  }
  BackendRates measure_rates(const std::function<void(const std::string&)>& say) const override {
    const DeviceRates d = measure_device_rates(say);
    BackendRates r;
    r.processor = d.name + " (CUDA)";
    r.method = "the CUDA microbenchmarks (median of five, CUDA events; the vector rate is the SGEMM's)";
    r.memory_GB = d.memory_GB;
    r.stream_GBps = d.stream_GBps;
    r.random_GBps_by_row_B = d.random_GBps_by_row_B;
    r.random_GBps = random_GBps_at(d.random_GBps_by_row_B, 128.0);
    // The gathers read a 4 GiB table (device_rates.cpp), far beyond the L2: memory's figure; the
    // footprint sweep lets calibrate fit the L2's row bandwidth in front of it.
    r.random_footprint_MB = 4294.967296;
    if (d.l2_bytes > 0)
      r.caches.push_back({"L2", static_cast<double>(d.l2_bytes) / 1e6, d.l2_stream_GBps,
                          fmt::format("cudaDeviceProp::l2CacheSize, {} KiB", d.l2_bytes >> 10)});
    for (const auto& p : d.footprint_curve) r.footprint_curve.push_back({p.footprint_bytes / 1e6, p.row_bytes, p.GBps});
    r.gemm_GFLOPps = d.gemm_GFLOPps;
    // Element-wise work runs on the same FP32 pipes as the SGEMM, whose rate bounds it.
    r.vector_GFLOPps = d.gemm_GFLOPps;
    r.rng_normals_per_s = d.rng_normals_per_s;
    r.sort_ops_per_s = d.sort_ops_per_s;
    r.launch_overhead_us = d.launch_overhead_us;
    r.link_GBps = d.upload_GBps;
    r.link_latency_us = d.upload_latency_us;
    return r;
  }
  nlohmann::json device_json() const override {
    const DeviceInfo d = query_device();
    return {{"gpu",
             {{"name", d.name}, {"compute_capability", fmt::format("{}.{}", d.compute_major, d.compute_minor)},
              {"driver_version", d.driver_version}, {"runtime_version", d.runtime_version}}}};
  }
};
}  // namespace

const Backend& backend() {
  static const CudaBackend b;
  return b;
}

}  // namespace privrec::cuda
