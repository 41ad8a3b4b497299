#pragma once
// The CUDA device as the rest of privrec sees it (plain C++: no CUDA headers here).
#include <cstdint>
#include <string>

namespace privrec::cuda {

struct DeviceInfo {
  bool available = false;
  std::string reason;  // why not, when not available
  std::string name;
  int compute_major = 0, compute_minor = 0;
  int sm_count = 0;
  double memory_GB = 0;
  int64_t l2_bytes = 0;  // cudaDeviceProp::l2CacheSize (the whole L2, both partitions on an H100)
  int driver_version = 0, runtime_version = 0;  // as CUDA encodes them (13000 = 13.0)
};

// Device 0, or why there is none (no driver, no device, or a build without CUDA). Never throws.
DeviceInfo query_device();

// Device 0, or InputError "--backend cuda: no CUDA device was found (why)".
DeviceInfo require_device();

}  // namespace privrec::cuda
