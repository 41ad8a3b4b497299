#pragma once
// Every CUDA runtime call and kernel launch is checked: a failure throws CudaError naming the call,
// the file and line, and CUDA's own reason, instead of crashing later on bad data.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace privrec::cuda {

struct CudaError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void throw_cuda_error(cudaError_t e, const char* call, const char* file, int line) {
  throw CudaError(std::string(call) + " failed at " + file + ":" + std::to_string(line) + ": " + cudaGetErrorName(e) +
                  " (" + cudaGetErrorString(e) + ")");
}

}  // namespace privrec::cuda

#define PRIVREC_CUDA_CHECK(call)                                                                \
  do {                                                                                           \
    const cudaError_t privrec_e_ = (call);                                                       \
    if (privrec_e_ != cudaSuccess) ::privrec::cuda::throw_cuda_error(privrec_e_, #call, __FILE__, __LINE__); \
  } while (0)

// After a <<<...>>> launch: configuration errors surface at once, execution errors at the next sync.
#define PRIVREC_CUDA_CHECK_LAUNCH(kernel_name) PRIVREC_CUDA_CHECK(cudaGetLastError())
