// A build without nvcc: the CUDA backend is absent, and says so.
#include "kernels/cuda/cuda_trainer.hpp"
#include "kernels/cuda/device.hpp"
#include "kernels/cuda/device_rates.hpp"
#include "models/config_error.hpp"

namespace privrec::cuda {

namespace {
const char* kWhy = "this privrec was built without CUDA (nvcc was not found when it was configured)";
}

DeviceInfo query_device() {
  DeviceInfo d;
  d.reason = kWhy;
  return d;
}

void require_cuda_algorithm(AlgorithmKind) { throw InputError(std::string("--backend cuda: ") + kWhy); }

cpu::DlrmModel train_model_on_cuda(const Workload&, const AlgorithmConfig&, const TraceSource&, int64_t, uint64_t) {
  throw InputError(std::string("--backend cuda: ") + kWhy);
}

DeviceRates measure_device_rates(const std::function<void(const std::string&)>&) {
  throw InputError(std::string("--backend cuda: ") + kWhy);
}

TrainReport run_cuda_training(const Workload&, const AlgorithmConfig&, const TraceSource&, const TrainOptions&) {
  throw InputError(std::string("--backend cuda: ") + kWhy);
}

}  // namespace privrec::cuda
