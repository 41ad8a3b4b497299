#include "kernels/cpu/machine_bench.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <random>

#include <fmt/format.h>

#include "kernels/cpu/dlrm_model.hpp"
#include "kernels/cpu/gemm.hpp"
#include "kernels/noise_rows.hpp"
#include "traces/row_sort.hpp"

namespace privrec::cpu {

namespace {
// Median seconds of `reps` timed runs after one warm-up run.
template <class F>
double median_seconds(F&& f, int reps = 5) {
  f();
  std::vector<double> s;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(s.begin(), s.end());
  return s[s.size() / 2];
}

volatile float g_sink;
}  // namespace

namespace {
FloatArray filled(int64_t n) {
  FloatArray x(n);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) x[i] = 1.0f;
  return x;
}

double stream_GBps_on(FloatArray& x, int reps) {
  const int64_t n = x.size();
  const double s = median_seconds(
      [&] {
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; ++i) x[i] = x[i] * 0.999999f;
      },
      reps);
  return 8.0 * static_cast<double>(n) / s / 1e9;
}
}  // namespace

double measure_stream_GBps(int64_t bytes) {
  FloatArray x = filled(bytes / 4);
  return stream_GBps_on(x, 5);
}

namespace {
// How much each benchmark does: the full measurement, or the quick probe. Both stream over and
// gather from 1 GB (random-row bandwidth depends on the footprint through the TLB), so their
// figures are comparable; the probe keeps its buffer between calls.
struct Effort {
  int64_t lookups;
  std::vector<int64_t> row_sizes;
  int reps;
  int64_t vector_reps, rng_rows, launch_reps;
};

MachineRates measure(const std::function<void(const std::string&)>& say, const Effort& e, FloatArray& x) {
  MachineRates m;
  m.threads = omp_get_max_threads();
  m.memory_GB = static_cast<double>(available_memory_bytes()) / 1e9;
  auto median_seconds = [&](auto&& f) { return ::privrec::cpu::median_seconds(f, e.reps); };

  m.stream_GBps = stream_GBps_on(x, e.reps);
  say(fmt::format("stream read+write: {:.1f} GB/s", m.stream_GBps));
  {
    const int64_t n = x.size();
    // Row gathers from the same buffer at uniformly random rows, summed as an embedding bag does,
    // with the bag kernel's prefetch distance.
    const int64_t lookups = e.lookups;
    std::vector<int64_t> idx(lookups);
    std::mt19937_64 gen(1);
    for (int64_t row_bytes : e.row_sizes) {
      const int64_t d = row_bytes / 4, rows = n / d;
      for (auto& r : idx) r = static_cast<int64_t>(gen() % static_cast<uint64_t>(rows));
      const double t = median_seconds([&] {
        float total = 0;
#pragma omp parallel reduction(+ : total)
        {
          float acc[128] = {};
#pragma omp for schedule(static)
          for (int64_t k = 0; k < lookups; ++k) {
            if (k + 16 < lookups) {
              const char* ahead = reinterpret_cast<const char*>(x.data() + idx[k + 16] * d);
              for (int64_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(ahead + b);
            }
            const float* row = x.data() + idx[k] * d;
            for (int64_t c = 0; c < d; ++c) acc[c] += row[c];
          }
          for (int64_t c = 0; c < d; ++c) total += acc[c];
        }
        g_sink = total;
      });
      const double gbps = static_cast<double>(lookups * row_bytes) / t / 1e9;
      m.random_GBps_by_row_B.emplace_back(static_cast<double>(row_bytes), gbps);
      say(fmt::format("random row gather, {} B rows: {:.1f} GB/s", row_bytes, gbps));
    }
  }
  {  // GEMM at an MLP shape.
    const int64_t M = 2048, N = 512, K = 512;
    std::vector<float> A(M * K, 0.5f), B(K * N, 0.25f), C(M * N);
    const double s = median_seconds([&] { sgemm_nn(M, N, K, A.data(), K, B.data(), N, C.data(), N, false); });
    m.gemm_GFLOPps = 2.0 * M * N * K / s / 1e9;
    say(fmt::format("GEMM 2048x512x512: {:.1f} GFLOP/s", m.gemm_GFLOPps));
  }
  {  // Element-wise multiply-add on arrays that stay in each core's cache.
    const int64_t n = 8192, reps = e.vector_reps;
    const double s = median_seconds([&] {
#pragma omp parallel
      {
        std::vector<float> x(n, 1.0f), y(n, 0.0f);
        for (int64_t r = 0; r < reps; ++r) {
          for (int64_t i = 0; i < n; ++i) y[i] = 0.999f * x[i] + y[i];
          g_sink = y[r % n];
        }
      }
    });
    m.vector_GFLOPps = 2.0 * n * reps * m.threads / s / 1e9;
    say(fmt::format("vector multiply-add: {:.1f} GFLOP/s", m.vector_GFLOPps));
  }
  {  // Normals, dim-32 rows, as the dense noisy update draws them.
    const int64_t rows = e.rng_rows, d = 32;
    const double s = median_seconds([&] {
#pragma omp parallel
      {
        std::vector<int64_t> ids(32);
        std::vector<float> z(32 * d);
#pragma omp for schedule(static)
        for (int64_t r0 = 0; r0 < rows; r0 += 32) {
          for (int64_t j = 0; j < 32; ++j) ids[j] = r0 + j;
          normal_rows(1, RngDomain::table_noise, 1, 0, ids.data(), 32, d, z.data());
          g_sink = z[5];
        }
      }
    });
    m.rng_normals_per_s = static_cast<double>(rows * d) / s;
    say(fmt::format("normals: {:.0f} M/s", m.rng_normals_per_s / 1e6));
  }
  {  // Sorting as the kernels sort: a radix sort of a table's row ids per batch (160k keys, 18-bit
     // rows) and each of 2048 bags of 80 ids on its own; one table or bag set per thread.
    const int64_t n = 163840, bags = 2048, bag = 80;
    std::vector<std::vector<uint64_t>> src(m.threads);
    std::mt19937_64 gen(2);
    for (auto& v : src) {
      v.resize(n);
      for (auto& k : v) k = gen() % 187500;
    }
    const double radix_s = median_seconds([&] {
#pragma omp parallel
      {
        std::vector<uint64_t> keys = src[omp_get_thread_num()];
        radix_sort_bits(keys, 0, bits_for(187499));
        g_sink = static_cast<float>(keys[7]);
      }
    });
    const double radix_rate = m.threads * static_cast<double>(radix_sort_ops(n, bits_for(187499))) / radix_s;
    const double bag_s = median_seconds([&] {
#pragma omp parallel
      {
        const auto& v = src[omp_get_thread_num()];
        std::vector<uint64_t> b;
        for (int64_t i = 0; i < bags; ++i) {
          b.assign(v.begin() + i * bag, v.begin() + (i + 1) * bag);
          std::sort(b.begin(), b.end());
          g_sink = static_cast<float>(b[3]);
        }
      }
    });
    const double bag_rate = m.threads * static_cast<double>(bags * comparison_sort_ops(bag)) / bag_s;
    m.sort_ops_per_s = 0.5 * (radix_rate + bag_rate);
    say(fmt::format("sorting: radix {:.0f} M, bag sorts {:.0f} M key-steps/s", radix_rate / 1e6, bag_rate / 1e6));
  }
  {  // One empty parallel loop: what every parallel region costs.
    const int64_t reps = e.launch_reps;
    const double s = median_seconds([&] {
      for (int64_t r = 0; r < reps; ++r) {
#pragma omp parallel for schedule(static)
        for (int i = 0; i < 64; ++i) g_sink = static_cast<float>(i);
      }
    });
    m.launch_overhead_us = s / static_cast<double>(reps) * 1e6;
    say(fmt::format("parallel region: {:.2f} us", m.launch_overhead_us));
  }
  return m;
}
}  // namespace

constexpr int64_t kBenchFloats = int64_t{1} << 28;  // 1 GB

MachineRates measure_cpu_rates(const std::function<void(const std::string&)>& say) {
  FloatArray x = filled(kBenchFloats);
  return measure(say, {int64_t{1} << 22, {64, 128, 256, 512}, 5, 2000, 1 << 16, 2000}, x);
}

MachineRates probe_cpu_rates() {
  static FloatArray x = filled(kBenchFloats);
  return measure([](const std::string&) {}, {int64_t{1} << 21, {128}, 5, 400, 1 << 15, 400}, x);
}

}  // namespace privrec::cpu
