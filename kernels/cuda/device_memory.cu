#include "kernels/cuda/device_memory.hpp"

#include "kernels/cuda/cuda_check.hpp"

namespace privrec::cuda {

void* device_alloc(size_t bytes) {
  void* p = nullptr;
  if (bytes) PRIVREC_CUDA_CHECK(cudaMalloc(&p, bytes));
  return p;
}
void device_free(void* p) {
  if (p) cudaFree(p);
}
void copy_to_device(void* dst, const void* src, size_t bytes) {
  PRIVREC_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}
void copy_to_host(void* dst, const void* src, size_t bytes) {
  PRIVREC_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}
void copy_on_device(void* dst, const void* src, size_t bytes) {
  PRIVREC_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));
}
void fill_bytes(void* p, int value, size_t bytes) { PRIVREC_CUDA_CHECK(cudaMemset(p, value, bytes)); }
void synchronize() { PRIVREC_CUDA_CHECK(cudaDeviceSynchronize()); }
void synchronize_quietly() noexcept { cudaDeviceSynchronize(); }

EventTimer::EventTimer() {
  cudaEvent_t a, b;
  PRIVREC_CUDA_CHECK(cudaEventCreate(&a));
  PRIVREC_CUDA_CHECK(cudaEventCreate(&b));
  start_ = a, stop_ = b;
}
EventTimer::~EventTimer() {
  cudaEventDestroy(static_cast<cudaEvent_t>(start_));
  cudaEventDestroy(static_cast<cudaEvent_t>(stop_));
}
void EventTimer::start() { PRIVREC_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(start_))); }
double EventTimer::stop_ms() {
  PRIVREC_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(stop_)));
  PRIVREC_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(stop_)));
  float ms = 0;
  PRIVREC_CUDA_CHECK(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start_), static_cast<cudaEvent_t>(stop_)));
  return ms;
}

}  // namespace privrec::cuda
