#include "kernels/cpu/machine_bench.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <utility>

#include <fmt/format.h>

#include "kernels/cpu/dlrm_model.hpp"
#include "kernels/cpu/gemm.hpp"
#include "kernels/noise_rows.hpp"
#include "models/sample_stats.hpp"
#include "traces/row_sort.hpp"

namespace privrec::cpu {

namespace {
// Median seconds of `reps` timed runs after one warm-up run (the statistic is the shared one).
template <class F>
double median_seconds(F&& f, int reps = 5) {
  f();
  std::vector<double> s;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return median(std::move(s));
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

using Say = std::function<void(const std::string&)>;

// Each helper below runs one microbenchmark (timed with the effort's repetitions), reports its
// line through `say` and returns the rate; `measure` calls them in a fixed order so the progress
// lines and the figures come out as they always have.

// Seconds for one gather of `idx.size()` rows of `row_bytes` from `x`, summed as an embedding bag
// does, with the bag kernel's prefetch distance (16 lookups ahead) so the rate is the kernel's.
double random_gather_seconds(FloatArray& x, const std::vector<int64_t>& idx, int64_t row_bytes, int reps) {
  const int64_t lookups = static_cast<int64_t>(idx.size());
  const int64_t d = row_bytes / 4;
  return median_seconds(
      [&] {
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
      },
      reps);
}

// Row gathers from the stream buffer at uniformly random rows, one rate per row size. One
// fixed-seed generator runs through all sizes, so the rows drawn are the same from run to run.
std::vector<std::pair<double, double>> measure_random_gathers(const Say& say, const Effort& e, FloatArray& x) {
  std::vector<std::pair<double, double>> rates;
  const int64_t n = x.size();
  const int64_t lookups = e.lookups;
  std::vector<int64_t> idx(lookups);
  std::mt19937_64 gen(1);
  for (int64_t row_bytes : e.row_sizes) {
    const int64_t d = row_bytes / 4, rows = n / d;
    for (auto& r : idx) r = static_cast<int64_t>(gen() % static_cast<uint64_t>(rows));
    const double t = random_gather_seconds(x, idx, row_bytes, e.reps);
    const double gbps = static_cast<double>(lookups * row_bytes) / t / 1e9;
    rates.emplace_back(static_cast<double>(row_bytes), gbps);
    say(fmt::format("random row gather, {} B rows: {:.1f} GB/s", row_bytes, gbps));
  }
  return rates;
}

// GEMM at an MLP shape, with the project's own sgemm so the rate is what the MLP layers get.
double measure_gemm_GFLOPps(const Say& say, const Effort& e) {
  const int64_t M = 2048, N = 512, K = 512;
  std::vector<float> A(M * K, 0.5f), B(K * N, 0.25f), C(M * N);
  const double s =
      median_seconds([&] { sgemm_nn(M, N, K, A.data(), K, B.data(), N, C.data(), N, false); }, e.reps);
  const double rate = 2.0 * M * N * K / s / 1e9;
  say(fmt::format("GEMM 2048x512x512: {:.1f} GFLOP/s", rate));
  return rate;
}

// Element-wise multiply-add on arrays that stay in each core's cache: compute, not memory, bound.
double measure_vector_GFLOPps(const Say& say, const Effort& e, int threads) {
  const int64_t n = 8192, reps = e.vector_reps;
  const double s = median_seconds(
      [&] {
#pragma omp parallel
        {
          std::vector<float> x(n, 1.0f), y(n, 0.0f);
          for (int64_t r = 0; r < reps; ++r) {
            for (int64_t i = 0; i < n; ++i) y[i] = 0.999f * x[i] + y[i];
            g_sink = y[r % n];
          }
        }
      },
      e.reps);
  const double rate = 2.0 * n * reps * threads / s / 1e9;
  say(fmt::format("vector multiply-add: {:.1f} GFLOP/s", rate));
  return rate;
}

// Normals, dim-32 rows, as the dense noisy update draws them (the project's noise generator).
double measure_rng_normals_per_s(const Say& say, const Effort& e) {
  const int64_t rows = e.rng_rows, d = 32;
  const double s = median_seconds(
      [&] {
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
      },
      e.reps);
  const double rate = static_cast<double>(rows * d) / s;
  say(fmt::format("normals: {:.0f} M/s", rate / 1e6));
  return rate;
}

// Sorting as the kernels sort: a radix sort of a table's row ids per batch (160k keys, 18-bit
// rows) and each of 2048 bags of 80 ids on its own; one table or bag set per thread. The model
// takes one sort rate, so the two are averaged.
double measure_sort_ops_per_s(const Say& say, const Effort& e, int threads) {
  const int64_t n = 163840, bags = 2048, bag = 80;
  std::vector<std::vector<uint64_t>> src(threads);
  std::mt19937_64 gen(2);
  for (auto& v : src) {
    v.resize(n);
    for (auto& k : v) k = gen() % 187500;
  }
  const double radix_s = median_seconds(
      [&] {
#pragma omp parallel
        {
          std::vector<uint64_t> keys = src[omp_get_thread_num()];
          radix_sort_bits(keys, 0, bits_for(187499));
          g_sink = static_cast<float>(keys[7]);
        }
      },
      e.reps);
  const double radix_rate = threads * static_cast<double>(radix_sort_ops(n, bits_for(187499))) / radix_s;
  const double bag_s = median_seconds(
      [&] {
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
      },
      e.reps);
  const double bag_rate = threads * static_cast<double>(bags * comparison_sort_ops(bag)) / bag_s;
  say(fmt::format("sorting: radix {:.0f} M, bag sorts {:.0f} M key-steps/s", radix_rate / 1e6, bag_rate / 1e6));
  return 0.5 * (radix_rate + bag_rate);
}

// One empty parallel loop: what every parallel region costs, amortised over many launches.
double measure_launch_overhead_us(const Say& say, const Effort& e) {
  const int64_t reps = e.launch_reps;
  const double s = median_seconds(
      [&] {
        for (int64_t r = 0; r < reps; ++r) {
#pragma omp parallel for schedule(static)
          for (int i = 0; i < 64; ++i) g_sink = static_cast<float>(i);
        }
      },
      e.reps);
  const double us = s / static_cast<double>(reps) * 1e6;
  say(fmt::format("parallel region: {:.2f} us", us));
  return us;
}

// All the rates, in the order the progress lines have always come out: stream, gathers, GEMM,
// vector, RNG, sort, launch (callers and logs read them in this order).
MachineRates measure(const Say& say, const Effort& e, FloatArray& x) {
  MachineRates m;
  m.threads = omp_get_max_threads();
  m.memory_GB = static_cast<double>(available_memory_bytes()) / 1e9;

  m.stream_GBps = stream_GBps_on(x, e.reps);
  say(fmt::format("stream read+write: {:.1f} GB/s", m.stream_GBps));
  m.random_GBps_by_row_B = measure_random_gathers(say, e, x);
  m.gemm_GFLOPps = measure_gemm_GFLOPps(say, e);
  m.vector_GFLOPps = measure_vector_GFLOPps(say, e, m.threads);
  m.rng_normals_per_s = measure_rng_normals_per_s(say, e);
  m.sort_ops_per_s = measure_sort_ops_per_s(say, e, m.threads);
  m.launch_overhead_us = measure_launch_overhead_us(say, e);
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
