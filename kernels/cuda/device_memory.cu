#include "kernels/cuda/device_memory.hpp"

#include <algorithm>

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
void copy_to_device_async(void* dst, const void* src, size_t bytes) {
  PRIVREC_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, nullptr));
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

PinnedBuffer::~PinnedBuffer() {
  // No throwing here: a copy still reading p_ is waited for before the memory goes back (an error
  // stays pending on the device, as in synchronize_quietly).
  if (in_flight_) cudaEventSynchronize(static_cast<cudaEvent_t>(sent_));
  if (sent_) cudaEventDestroy(static_cast<cudaEvent_t>(sent_));
  if (p_) cudaFreeHost(p_);
}

void PinnedBuffer::wait_sent() {
  if (!in_flight_) return;
  PRIVREC_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(sent_)));
  in_flight_ = false;
}

char* PinnedBuffer::claim(size_t bytes) {
  wait_sent();
  if (bytes > cap_) {
    // Doubling: a batch whose lookups vary step to step reallocates O(log n) times in all.
    const size_t n = std::max(bytes, 2 * cap_);
    if (p_) PRIVREC_CUDA_CHECK(cudaFreeHost(p_));
    p_ = nullptr, cap_ = 0;
    void* p = nullptr;
    PRIVREC_CUDA_CHECK(cudaMallocHost(&p, n));
    p_ = static_cast<char*>(p), cap_ = n;
  }
  return p_;
}

void PinnedBuffer::send(void* dst, size_t bytes) {
  if (!bytes) return;
  if (!sent_) {
    cudaEvent_t e;
    PRIVREC_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    sent_ = e;
  }
  copy_to_device_async(dst, p_, bytes);
  PRIVREC_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(sent_), nullptr));
  in_flight_ = true;
}

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
