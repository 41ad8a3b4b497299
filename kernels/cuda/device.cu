#include "kernels/cuda/device.hpp"

#include <cuda_runtime.h>

#include <string>

namespace privrec::cuda {

DeviceInfo query_device() {
  DeviceInfo d;
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    d.reason = e != cudaSuccess ? std::string("cudaGetDeviceCount: ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")"
                                : std::string("cudaGetDeviceCount found 0 devices");
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
