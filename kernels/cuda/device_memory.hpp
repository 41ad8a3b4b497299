#pragma once
// Device memory and CUDA-event timing behind a plain C++ interface, so host code that drives the
// kernels (the CUDA operations) compiles as ordinary C++20 without CUDA headers.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace privrec::cuda {

void* device_alloc(size_t bytes);  // throws CudaError (as std::runtime_error) on failure
void device_free(void* p);
void copy_to_device(void* dst, const void* src, size_t bytes);
void copy_to_host(void* dst, const void* src, size_t bytes);
void copy_on_device(void* dst, const void* src, size_t bytes);
// Asynchronous on the default stream (the one every kernel here runs on, so kernels launched after
// it see the data): from page-locked host memory it returns at once and the host must leave the
// source alone until the copy is done (PinnedBuffer keeps that rule).
void copy_to_device_async(void* dst, const void* src, size_t bytes);
void fill_bytes(void* p, int value, size_t bytes);
void synchronize();
// For destructors: waits for the device without throwing; an error stays pending on the device
// (CUDA errors are sticky) and surfaces at the next checked call.
void synchronize_quietly() noexcept;

template <class T>
class DeviceArray {
 public:
  DeviceArray() = default;
  explicit DeviceArray(size_t n) { resize(n); }
  ~DeviceArray() { device_free(p_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  DeviceArray(DeviceArray&& o) noexcept : p_(o.p_), n_(o.n_), cap_(o.cap_) { o.p_ = nullptr, o.n_ = o.cap_ = 0; }
  DeviceArray& operator=(DeviceArray&& o) noexcept {
    std::swap(p_, o.p_), std::swap(n_, o.n_), std::swap(cap_, o.cap_);
    return *this;
  }
  // Grows only (contents not kept); n == 0 keeps what there is.
  void resize(size_t n) {
    if (n <= cap_) {
      n_ = n;
      return;
    }
    device_free(p_);
    p_ = static_cast<T*>(device_alloc(n * sizeof(T)));
    n_ = cap_ = n;
  }
  void upload(const T* src, size_t n) {
    resize(n);
    if (n) copy_to_device(p_, src, n * sizeof(T));
  }
  template <class A>  // any allocator: host arrays may sit on huge pages (HugePageVector)
  void upload(const std::vector<T, A>& v) {
    upload(v.data(), v.size());
  }
  std::vector<T> download() const {
    std::vector<T> v(n_);
    download_to(v.data());
    return v;
  }
  // Into size() elements of host memory at dst: a model's tables go straight into the host's
  // tables, with no temporary copy of a table that may be most of the machine's memory.
  void download_to(T* dst) const {
    if (n_) copy_to_host(dst, p_, n_ * sizeof(T));
  }
  void zero() {
    if (n_) fill_bytes(p_, 0, n_ * sizeof(T));
  }
  T* data() { return p_; }
  const T* data() const { return p_; }
  size_t size() const { return n_; }
  size_t capacity() const { return cap_; }
  // Brings the device copy of a host array that only grows at its end up to date: only the
  // elements past the first `current` cross the link, unless the device array must grow (then the
  // capacity doubles and everything goes up, O(log n) times in all).
  void upload_tail(const std::vector<T>& v, size_t current) {
    if (v.size() > cap_) {
      device_free(p_);
      cap_ = std::max(v.size(), 2 * cap_);
      p_ = static_cast<T*>(device_alloc(cap_ * sizeof(T)));
      current = 0;
    }
    n_ = v.size();
    if (n_ > current) copy_to_device(p_ + current, v.data() + current, (n_ - current) * sizeof(T));
  }

 private:
  T* p_ = nullptr;
  size_t n_ = 0, cap_ = 0;
};

// Scratch memory: `a` grown to at least `bytes` (never shrunk), handed out as T*.
template <class T>
T* scratch(DeviceArray<char>& a, size_t bytes) {
  if (bytes > a.size()) a.resize(bytes);
  return reinterpret_cast<T*>(a.data());
}

// Page-locked host memory (cudaMallocHost) that the device copies from asynchronously: a
// pageable cudaMemcpy stages through a driver buffer and blocks the host, one per call; this one
// is filled by the host and sent with one cudaMemcpyAsync. Grows only. Each send() records an
// event, and claim() waits for it before handing the memory back for writing, so the host never
// overwrites bytes a copy may still be reading, whatever the caller synchronizes in between (the
// wait costs nothing when, as in a timed stage, the stage's stop event already covered the copy).
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  ~PinnedBuffer();
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  // At least `bytes` of host memory, writable now (the last send() from it has finished); the
  // contents are not kept when it grows.
  char* claim(size_t bytes);
  // data()[0, bytes) to device memory at dst, asynchronously on the default stream.
  void send(void* dst, size_t bytes);
  char* data() { return p_; }
  size_t capacity() const { return cap_; }

 private:
  void wait_sent();
  char* p_ = nullptr;
  size_t cap_ = 0;
  void* sent_ = nullptr;  // cudaEvent_t recorded after the last send(); created at the first
  bool in_flight_ = false;
};

// Elapsed device time between start() and stop() (events on the default stream; stop() waits).
class EventTimer {
 public:
  EventTimer();
  ~EventTimer();
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;
  void start();
  double stop_ms();

 private:
  void* start_ = nullptr;
  void* stop_ = nullptr;
};

}  // namespace privrec::cuda
