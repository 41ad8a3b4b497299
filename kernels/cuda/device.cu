#include "kernels/cuda/device.hpp"

#include <cuda_runtime.h>

#include <string>

namespace privrec::cuda {

DeviceInfo query_device() {
  DeviceInfo d;
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    // cudaErrorInsufficientDriver also means "no driver at all" (the driver version reads 0): say
    // which, since a machine without a GPU is the common case and "insufficient" misleads.
    int driver = 0, runtime = 0;
    cudaDriverGetVersion(&driver);
    cudaRuntimeGetVersion(&runtime);
    if (e == cudaErrorInsufficientDriver && driver == 0)
      d.reason = "no NVIDIA driver is installed (this machine has no GPU to use; the CUDA backend runs elsewhere)";
    else if (e == cudaErrorInsufficientDriver)
      d.reason = "the NVIDIA driver supports CUDA " + std::to_string(driver / 1000) + "." + std::to_string(driver % 1000 / 10) +
                 ", older than this build's CUDA " + std::to_string(runtime / 1000) + "." + std::to_string(runtime % 1000 / 10) +
                 " runtime: update the driver";
    else if (e != cudaSuccess)
      d.reason = std::string("cudaGetDeviceCount: ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
    else
      d.reason = "the driver finds no CUDA device";
    cudaGetLastError();  // clear the sticky error, if any
    return d;
  }
  cudaDeviceProp p{};
  if (const cudaError_t pe = cudaGetDeviceProperties(&p, 0); pe != cudaSuccess) {
    d.reason = std::string("cudaGetDeviceProperties: ") + cudaGetErrorString(pe);
    return d;
  }
  d.available = true;
  d.name = p.name;
  d.compute_major = p.major;
  d.compute_minor = p.minor;
  d.sm_count = p.multiProcessorCount;
  d.memory_GB = static_cast<double>(p.totalGlobalMem) / 1e9;
  d.l2_bytes = p.l2CacheSize;
  cudaDriverGetVersion(&d.driver_version);
  cudaRuntimeGetVersion(&d.runtime_version);
  return d;
}

}  // namespace privrec::cuda
