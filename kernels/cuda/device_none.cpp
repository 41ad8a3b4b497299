// A build without nvcc: the CUDA backend is absent, and says so.
#include "kernels/cuda/device.hpp"

namespace privrec::cuda {

DeviceInfo query_device() {
  DeviceInfo d;
  d.reason = "this privrec was built without CUDA (nvcc was not found when it was configured)";
  return d;
}

}  // namespace privrec::cuda
