#include "kernels/cuda/device_rates.hpp"

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "kernels/cuda/device.hpp"
#include "kernels/cuda/device_memory.hpp"
#include "kernels/cuda/host_copy.hpp"
#include "kernels/cuda/kernel_bench.hpp"
#include "models/config_error.hpp"
#include "models/sample_stats.hpp"

namespace privrec::cuda {

namespace {
// Median of five runs of `f`, each returning its own CUDA-event time in ms (KernelBench does the
// warm-up); the statistic is the shared one.
template <class F>
double median_ms(F&& f) {
  std::vector<double> v;
  for (int r = 0; r < 5; ++r) v.push_back(f());
  return median(std::move(v));
}

// The L2 (its size from the device, its streaming rate from a copy that fits in it) and the same
// gathers as above from tables of 8 MiB (inside the L2) to 1 GiB; the 4 GiB points are the gathers
// above. About 40 runs of a millisecond or less.
void measure_l2(KernelBench& b, const DeviceInfo& d, DeviceRates& r, const std::function<void(const std::string&)>& say) {
  r.l2_bytes = d.l2_bytes;
  if (r.l2_bytes <= 0) return;
  const int64_t copy = r.l2_bytes / 4;  // source and destination together: half the L2
  r.l2_stream_GBps = 2.0 * static_cast<double>(copy) / (median_ms([&] { return b.copy_ms(copy); }) * 1e6);
  say(fmt::format("L2 {:.0f} MB: copy within it {:.0f} GB/s", r.l2_bytes / 1e6, r.l2_stream_GBps));
  for (int64_t mib : {8, 16, 32, 48, 64, 96, 128, 256, 1024}) {
    std::string line = fmt::format("row gathers over {} MiB:", mib);
    for (int64_t dim : {16, 32, 64, 128}) {
      const int64_t bytes = mib << 20, rows = bytes / 4 / dim, batch = 2048 * 26, pooling = 20;
      const double ms = median_ms([&] { return b.embedding_forward_ms(rows, dim, batch, pooling, 0.0); });
      r.footprint_curve.push_back({double(bytes), 4.0 * dim, static_cast<double>(batch * pooling * dim * 4) / (ms * 1e6)});
      line += fmt::format(" {} B {:.0f}", 4 * dim, r.footprint_curve.back().GBps);
    }
    say(line + " GB/s");
  }
  for (const auto& [row, gbps] : r.random_GBps_by_row_B) r.footprint_curve.push_back({double(int64_t{4} << 30), row, gbps});
}
// `bytes` of pageable memory up to the device the way a training step sends its batch
// (CudaStepOps::stage_batch): wall-clock ms from the first byte gathered to the copy's end.
double upload_ms(size_t bytes) {
  std::vector<char> src(bytes, 1);
  PinnedBuffer staging;
  DeviceArray<char> dst(bytes);
  auto once = [&] {
    const auto t0 = std::chrono::steady_clock::now();
    copy_pieces({{src.data(), bytes, 0}}, staging.claim(bytes));
    staging.send(dst.data(), bytes);
    synchronize();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  };
  once();  // the page-locked memory allocated and touched
  return median_ms(once);
}

void measure_upload(DeviceRates& r, const std::function<void(const std::string&)>& say) {
  const size_t big = size_t{64} << 20;
  const double small_ms = upload_ms(8), big_ms = upload_ms(big);
  r.upload_latency_us = 1e3 * small_ms;
  r.upload_GBps = static_cast<double>(big - 8) / (std::max(big_ms - small_ms, 1e-6) * 1e6);
  say(fmt::format("batch upload (gather into page-locked memory, copy to the device): {:.1f} GB/s, {:.1f} us latency",
                  r.upload_GBps, r.upload_latency_us));
}
}  // namespace

DeviceRates measure_device_rates(const std::function<void(const std::string&)>& say) {
  const DeviceInfo d = require_device();
  DeviceRates r;
  r.name = d.name;
  r.memory_GB = d.memory_GB;
  KernelBench b;
  constexpr int64_t kBytes = int64_t{4} << 30;
  r.stream_GBps = 2.0 * kBytes / (median_ms([&] { return b.copy_ms(kBytes); }) * 1e6);
  say(fmt::format("device copy (read + write): {:.0f} GB/s", r.stream_GBps));
  for (int64_t dim : {16, 32, 64, 128}) {
    const int64_t rows = kBytes / 4 / dim, batch = 2048 * 26, pooling = 20;
    const double ms = median_ms([&] { return b.embedding_forward_ms(rows, dim, batch, pooling, 0.0); });
    r.random_GBps_by_row_B.emplace_back(4.0 * dim, static_cast<double>(batch * pooling * dim * 4) / (ms * 1e6));
    say(fmt::format("row gathers, {} B rows: {:.0f} GB/s", 4 * dim, r.random_GBps_by_row_B.back().second));
  }
  measure_l2(b, d, r, say);
  const double gemm = median_ms([&] { return b.gemm_ms(2048, 1024, 1024); });
  r.gemm_GFLOPps = 2.0 * 2048 * 1024 * 1024 / (gemm * 1e6);
  say(fmt::format("SGEMM 2048x1024x1024: {:.0f} GFLOP/s", r.gemm_GFLOPps));
  const int64_t n_rows = int64_t{1} << 23, n_dim = 128;
  r.rng_normals_per_s = static_cast<double>(n_rows * n_dim) / (median_ms([&] { return b.normals_ms(n_rows, n_dim); }) * 1e-3);
  say(fmt::format("normals: {:.0f} G/s", r.rng_normals_per_s / 1e9));
  const int64_t batch = 2048 * 26, pooling = 20, keys = batch * pooling;
  // The counters count a sort of n keys as 2 n 8 key-steps (eight 8-bit passes, keys and copies).
  r.sort_ops_per_s = 16.0 * static_cast<double>(keys) /
                     (median_ms([&] { return b.sort_ms(int64_t{1} << 25, batch, pooling); }) * 1e-3);
  say(fmt::format("sorting: {:.0f} G key-steps/s", r.sort_ops_per_s / 1e9));
  r.launch_overhead_us = median_ms([&] { return b.launches_ms(1000); }) * 1e3 / 1000.0;
  say(fmt::format("kernel launch: {:.2f} us", r.launch_overhead_us));
  measure_upload(r, say);
  return r;
}

}  // namespace privrec::cuda
