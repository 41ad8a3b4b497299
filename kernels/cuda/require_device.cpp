#include "kernels/cuda/device.hpp"
#include "models/config_error.hpp"

namespace privrec::cuda {

DeviceInfo require_device() {
  DeviceInfo d = query_device();
  if (!d.available) throw InputError("--backend cuda: no CUDA device was found (" + d.reason + ")");
  return d;
}

}  // namespace privrec::cuda
