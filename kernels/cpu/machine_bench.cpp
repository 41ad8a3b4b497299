#include "kernels/cpu/machine_bench.hpp"

#include <omp.h>
#include <sys/mman.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "kernels/cpu/bag_sum.hpp"
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
  bool full_sweep;  // every footprint and row size, and the caches' streaming; else the probe's few points
};

using Say = std::function<void(const std::string&)>;

// Each helper below runs one microbenchmark (timed with the effort's repetitions), reports its
// line through `say` and returns the rate; `measure` calls them in a fixed order so the progress
// lines and the figures come out as they always have.

// Seconds for one gather of `idx.size()` rows of `row_bytes` from `x`, through the forward bag
// kernel's own loop (kernels/cpu/bag_sum.hpp: its row-width specializations, its prefetch distance,
// its split of the bags between the threads), in bags of kGatherPooling lookups (the last one
// takes what is left), so the rate is the kernel's and the per-bag cost (fitted as bag_ns) stays a
// small part of it.
constexpr int64_t kGatherPooling = 64;
struct Gather {
  const std::vector<int64_t>& idx;
  int64_t row_bytes;
  std::vector<int64_t> offsets;
  Gather(const std::vector<int64_t>& i, int64_t rb) : idx(i), row_bytes(rb) {
    const int64_t lookups = static_cast<int64_t>(idx.size());
    const int64_t bags = std::max<int64_t>(1, (lookups + kGatherPooling - 1) / kGatherPooling);
    offsets.resize(bags + 1);
    for (int64_t b = 0; b <= bags; ++b) offsets[b] = std::min(lookups, b * kGatherPooling);
  }
  void operator()(FloatArray& x) const {
    const int64_t d = std::max<int64_t>(1, row_bytes / 4), bags = static_cast<int64_t>(offsets.size()) - 1;
    float total = 0;
#pragma omp parallel reduction(+ : total)
    {
      const int64_t threads = omp_get_num_threads(), me = omp_get_thread_num();
      std::vector<float> out(d);  // every bag of the thread into one row: its writes stay in L1
      sum_bags_any(x.data(), d, idx.data(), offsets.data(), bags * me / threads, bags * (me + 1) / threads,
                   [&](int64_t) { return out.data(); });
      total += out[0];
    }
    g_sink = total;
  }
};

double random_gather_seconds(FloatArray& x, const std::vector<int64_t>& idx, int64_t row_bytes, int reps) {
  const Gather gather(idx, row_bytes);
  return median_seconds([&] { gather(x); }, reps);
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

// Fresh anonymous memory: 64 MiB mapped, one byte written per 4 KB page by all threads (the pages
// split between them as a framework's parallel fill splits a new tensor), then unmapped: what a
// framework pays each step for a tensor it allocates anew above glibc's mmap threshold.
double measure_first_touch_GBps(const Say& say, const Effort& e) {
  constexpr int64_t kBytes = int64_t{64} << 20, kPage = 4096;
  const double s = median_seconds(
      [&] {
        void* p = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw std::runtime_error("first-touch benchmark: mmap of 64 MiB failed");
        volatile char* c = static_cast<char*>(p);
#pragma omp parallel for schedule(static)
        for (int64_t off = 0; off < kBytes; off += kPage) c[off] = 1;
        munmap(p, kBytes);
      },
      e.reps);
  const double GBps = static_cast<double>(kBytes) / s / 1e9;
  say(fmt::format("first touch of fresh memory: {:.2f} GB/s ({:.2f} us per 4 KB page)", GBps,
                  s / static_cast<double>(kBytes / kPage) * 1e6));
  return GBps;
}

// --- Caches and the footprint sweep -----------------------------------------------------------

std::string first_line(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  return line;
}

// "1024K", "32M", "1G", "512" (sysfs) -> bytes; 0 when unreadable.
int64_t parse_cache_size(const std::string& s) {
  size_t end = 0;
  int64_t v = 0;
  try {
    v = std::stoll(s, &end);
  } catch (...) {
    return 0;
  }
  const char unit = end < s.size() ? s[end] : ' ';
  if (unit == 'K') return v << 10;
  if (unit == 'M') return v << 20;
  if (unit == 'G') return v << 30;
  return v;
}

// The CPUs the first `threads` OpenMP threads may run on: this process's affinity, in order.
std::vector<int> thread_cpus(int threads) {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    for (int c = 0; c < CPU_SETSIZE && static_cast<int>(cpus.size()) < threads; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
  for (int c = static_cast<int>(cpus.size()); c < threads; ++c) cpus.push_back(c);
  return cpus;
}

// Data or unified caches of level 2 and beyond, per level: the instance size and the distinct
// instances (told apart by the CPUs that share them) over `cpus`.
std::vector<DetectedCache> caches_from_sysfs(const std::vector<int>& cpus) {
  std::map<int, std::pair<int64_t, std::set<std::string>>> levels;
  for (int cpu : cpus) {
    for (int i = 0; i < 16; ++i) {
      const std::string dir = fmt::format("/sys/devices/system/cpu/cpu{}/cache/index{}/", cpu, i);
      const std::string level = first_line(dir + "level");
      if (level.empty()) break;
      const int l = std::atoi(level.c_str());
      const int64_t bytes = parse_cache_size(first_line(dir + "size"));
      if (l < 2 || first_line(dir + "type") == "Instruction" || bytes <= 0) continue;
      auto& [size, shared] = levels[l];
      size = std::max(size, bytes);
      shared.insert(first_line(dir + "shared_cpu_list"));
    }
  }
  std::vector<DetectedCache> out;
  for (const auto& [l, inst] : levels) {
    const int n = static_cast<int>(inst.second.size());
    out.push_back({fmt::format("L{}", l), inst.first * n, inst.first, n, "/sys/devices/system/cpu/cpu*/cache", 0});
  }
  return out;
}

// Where sysfs says nothing: glibc's figures, the L2 taken as private to each thread's core and the
// L3 as one shared instance (glibc's L3 figure can be wrong in a VM: 320 MiB for a 32 MiB L3 on the
// development machine, hence sysfs first).
std::vector<DetectedCache> caches_from_sysconf(int threads) {
  std::vector<DetectedCache> out;
  const int64_t l2 = sysconf(_SC_LEVEL2_CACHE_SIZE), l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  if (l2 > 0) out.push_back({"L2", l2 * threads, l2, threads, "sysconf(_SC_LEVEL2_CACHE_SIZE)", 0});
  if (l3 > 0) out.push_back({"L3", l3, l3, 1, "sysconf(_SC_LEVEL3_CACHE_SIZE)", 0});
  return out;
}

// Read once per process: the probes before each case measure the same levels.
const std::vector<DetectedCache>& detected_caches_once(int threads) {
  static const std::vector<DetectedCache> caches = detect_caches(threads);
  return caches;
}

double mib(double bytes) { return bytes / double(1 << 20); }

// Every line of the first `bytes` of `x` read by every thread: the working set is in the caches
// (as far as it fits) before the first timed gather, not fetched by it.
void touch_lines(const FloatArray& x, int64_t bytes) {
  const int64_t n = bytes / 4;
  float total = 0;
#pragma omp parallel reduction(+ : total)
  for (int64_t i = 0; i < n; i += 16) total += x[i];
  g_sink = total;
}

// In-place read+write over the first `bytes` of `x`, each thread on its own slice for many passes
// in one parallel region (a region costs microseconds, a pass over a cache-resident slice less).
double resident_stream_GBps(FloatArray& x, int64_t bytes) {
  const int64_t n = bytes / 4, passes = std::max<int64_t>(1, (int64_t{1} << 29) / bytes);
  float* p = x.data();
  const double s = median_seconds([&] {
#pragma omp parallel
    {
      const int64_t t = omp_get_thread_num(), T = omp_get_num_threads();
      const int64_t lo = n * t / T, hi = n * (t + 1) / T;
      for (int64_t r = 0; r < passes; ++r)
        for (int64_t i = lo; i < hi; ++i) p[i] = p[i] * 0.999999f;
    }
  });
  return 8.0 * static_cast<double>(n * passes) / s / 1e9;
}

void measure_cache_streams(const Say& say, std::vector<DetectedCache>& caches, FloatArray& x) {
  for (DetectedCache& c : caches) {
    // A quarter of the level: inside it even where neighbours hold part of a shared L3.
    const int64_t bytes = std::min<int64_t>(c.bytes / 4, 4 * x.size()) / 64 * 64;
    c.stream_GBps = resident_stream_GBps(x, bytes);
    say(fmt::format("{}: {:.1f} MiB ({} x {:.1f} MiB, {}), stream read+write over {:.1f} MiB: {:.1f} GB/s", c.name,
                    mib(c.bytes), c.instances, mib(c.instance_bytes), c.source, mib(bytes), c.stream_GBps));
  }
}

// Gathers of `row_bytes` rows uniformly over the first `footprint` bytes of `x` (rows drawn from
// the fixed `draws`, so every footprint sees the same sequence of random numbers).
double footprint_gather_GBps(FloatArray& x, int64_t footprint, int64_t row_bytes, const std::vector<uint64_t>& draws,
                             int reps) {
  const uint64_t rows = static_cast<uint64_t>(footprint / row_bytes);
  std::vector<int64_t> idx(draws.size());
  for (size_t k = 0; k < draws.size(); ++k) idx[k] = static_cast<int64_t>(draws[k] % rows);
  const double t = random_gather_seconds(x, idx, row_bytes, reps);
  return static_cast<double>(static_cast<int64_t>(idx.size()) * row_bytes) / t / 1e9;
}

std::vector<uint64_t> fixed_draws(int64_t n) {
  std::vector<uint64_t> d(n);
  std::mt19937_64 gen(3);
  for (auto& v : d) v = gen();
  return d;
}

// The footprints of the sweep: a fixed grid from half a MiB to 256 MiB, plus a quarter, half, once
// and twice each cache's capacity (the probe's footprints among them), below two thirds of the
// buffer, then the whole buffer; footprints within 10 % of one already there are left out.
// Multiples of 512 B (every row size).
std::vector<int64_t> sweep_footprints(const std::vector<DetectedCache>& caches, int64_t buffer) {
  std::vector<double> want = {0.5, 1, 2, 4, 8, 16, 24, 32, 48, 64, 128, 256};
  for (auto& f : want) f *= double(1 << 20);
  for (const auto& c : caches)
    for (double k : {0.25, 0.5, 1.0, 2.0}) want.push_back(k * static_cast<double>(c.bytes));
  std::sort(want.begin(), want.end());
  std::vector<int64_t> out;
  for (double f : want) {
    const int64_t b = static_cast<int64_t>(f) / 512 * 512;
    if (b < 512 * 64 || 1.5 * static_cast<double>(b) > static_cast<double>(buffer)) continue;
    if (!out.empty() && static_cast<double>(b) < 1.1 * static_cast<double>(out.back())) continue;
    out.push_back(b);
  }
  out.push_back(buffer);
  return out;
}

// Row-random gathers at every footprint and row size, ascending footprint, the whole buffer last.
// 2 M lookups per run (a tenth of a second from memory at 512 B). Two passes, ascending then
// descending, each point the higher of its two medians (the whole buffer's also of `whole`, the
// gathers measured before): on a shared machine a neighbour's burst of a few seconds slows a
// stretch of one pass, and a curve bent by it would bend the fitted levels (memory's figure is
// rescaled by the probes before each case anyway).
std::vector<FootprintGather> measure_footprint_curve(const Say& say, const std::vector<DetectedCache>& caches,
                                                     FloatArray& x, const std::vector<std::pair<double, double>>& whole) {
  const std::vector<uint64_t> draws = fixed_draws(int64_t{1} << 21);
  const std::vector<int64_t> footprints = sweep_footprints(caches, 4 * x.size());
  const std::vector<int64_t> rows = {64, 128, 256, 512};
  std::vector<std::vector<double>> best(footprints.size(), std::vector<double>(rows.size(), 0.0));
  for (const auto& [row, gbps] : whole)
    for (size_t k = 0; k < rows.size(); ++k)
      if (row == double(rows[k])) best.back()[k] = gbps;
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t n = 0; n < footprints.size(); ++n) {
      const size_t i = pass == 0 ? n : footprints.size() - 1 - n;
      touch_lines(x, footprints[i]);
      for (size_t k = 0; k < rows.size(); ++k)
        best[i][k] = std::max(best[i][k], footprint_gather_GBps(x, footprints[i], rows[k], draws, 5));
    }
  }
  std::vector<FootprintGather> curve;
  for (size_t i = 0; i < footprints.size(); ++i) {
    std::string line = fmt::format("row gathers over {:.1f} MiB (the better of two passes):", mib(footprints[i]));
    for (size_t k = 0; k < rows.size(); ++k) {
      curve.push_back({double(footprints[i]), double(rows[k]), best[i][k]});
      line += fmt::format(" {} B {:.1f}", rows[k], best[i][k]);
    }
    say(line + " GB/s");
  }
  return curve;
}

// Misses to memory mixed into gathers from a hot set (a quarter of the nearest cache's instance, at
// most 256 KiB, at the buffer's start; every thread reads all of it, as the forward's threads read
// one table; at q = 1/2 the cold rows between two reads of a hot row add as many bytes again, and
// both still fit): per row size and miss fraction q, runs of 4 M lookups where each lookup misses with
// probability q (a uniformly random row of the rest of the buffer, fixed seed) and otherwise reads
// a random hot row, each run paired with a run over the hot rows alone (drift falls on both). The
// cost of a miss is (t(q) - (1 - q) t(0)) / q per lookup, the median over five pairs; the factor
// divides it by t(1), every lookup a miss. 32 k misses at the sparsest fraction.
std::vector<CostPoint> measure_miss_cost_curve(const Say& say, const std::vector<DetectedCache>& caches,
                                               FloatArray& x, int64_t lookups) {
  const std::vector<double> fractions = {1.0 / 128, 1.0 / 64, 1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0 / 2, 1.0};
  const int64_t hot_bytes =
      std::min<int64_t>(int64_t{256} << 10, caches.empty() ? int64_t{128} << 10 : caches.front().instance_bytes / 4);
  std::vector<CostPoint> out;
  std::vector<int64_t> idx(lookups), hot_idx(lookups);
  std::vector<uint64_t> draw(lookups);
  auto seconds = [&](const Gather& g, int64_t touch) {
    touch_lines(x, touch);
    const auto start = std::chrono::steady_clock::now();
    g(x);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  for (const int64_t row_bytes : {64, 128, 256, 512}) {
    const int64_t d = row_bytes / 4, rows = x.size() / d, hot = std::max<int64_t>(1, hot_bytes / row_bytes);
    const uint64_t cold = static_cast<uint64_t>(rows - hot);
    std::mt19937_64 gen(5);
    for (auto& r : hot_idx) r = static_cast<int64_t>(gen() % static_cast<uint64_t>(hot));
    const Gather hot_gather(hot_idx, row_bytes), gather(idx, row_bytes);
    std::vector<double> cost;  // per fraction: seconds a miss costs
    for (const double q : fractions) {
      const uint64_t cut = q >= 1 ? ~uint64_t{0} : static_cast<uint64_t>(std::ldexp(q, 64));
      constexpr uint64_t kHot = uint64_t{1} << 63;  // a draw with this bit is a hot row
      for (auto& v : draw) v = q >= 1 || gen() < cut ? gen() % cold : kHot | (gen() % static_cast<uint64_t>(hot));
      std::vector<double> per_miss;
      for (int run = 0; run < 6; ++run) {
        // Each run reads other cold rows (shifted by a seventh of the buffer): rows the run before
        // left in the L3 would be hits.
        for (size_t k = 0; k < draw.size(); ++k)
          idx[k] = static_cast<int64_t>(draw[k] & kHot ? draw[k] & ~kHot : hot + (draw[k] + cold / 7 * run) % cold);
        const double t0 = q < 1 ? seconds(hot_gather, hot * row_bytes) : 0.0;
        const double t = seconds(gather, hot * row_bytes);
        if (run > 0) per_miss.push_back((t - (1 - q) * t0) / (q * static_cast<double>(lookups)));
      }
      cost.push_back(median(std::move(per_miss)));
    }
    std::string line = fmt::format("misses among hits, {} B rows, each miss's cost over its cost when all miss ({:.2f} ns):",
                                   row_bytes, 1e9 * cost.back());
    for (size_t k = 0; k < fractions.size(); ++k) {
      // Noise can leave a sparse fraction's excess near zero or below: the factor stays positive.
      const double factor = std::max(0.05, cost[k] / cost.back());
      out.push_back({double(row_bytes), fractions[k], factor});
      line += fmt::format(" 1/{:.0f} {:.2f}", 1 / fractions[k], factor);
    }
    say(line);
  }
  return out;
}

// Rows visited in ascending order, read and written in place (w = w * a + b, each row once), as the
// sparse updates visit a table's rows (kernels/cpu/embedding_bag.cpp: sparse_update, the threads
// splitting the list): per row size and density q, the rows of the 1 GiB buffer kept with
// probability q (fixed seed). Each of the six runs visits another set (the rows shifted by a
// seventh of the buffer), so the last run's rows are not in the L3. Each run is paired with a
// stream pass over the whole buffer just before it (the same loop, every row), so drift falls on
// both: a run's factor is its time over the time its bytes take at the pass's rate; the point is
// the median of the last five runs' factors, and the curve the non-increasing fit of the points.
std::vector<CostPoint> measure_sorted_visit_curve(const Say& say, FloatArray& x) {
  const std::vector<double> densities = {1.0 / 128, 1.0 / 64, 1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0 / 2, 1.0};
  std::vector<CostPoint> out;
  const int64_t all = x.size();
  auto seconds = [](auto&& f) {
    const auto start = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  for (const int64_t row_bytes : {128, 512}) {
    const int64_t d = row_bytes / 4, rows = all / d;
    std::mt19937_64 gen(9);
    std::vector<double> measured;
    for (const double q : densities) {
      std::vector<int64_t> picked;
      const uint64_t cut = q >= 1 ? ~uint64_t{0} : static_cast<uint64_t>(std::ldexp(q, 64));
      for (int64_t r = 0; r < rows; ++r)
        if (q >= 1 || gen() < cut) picked.push_back(r);
      const int64_t n = static_cast<int64_t>(picked.size());
      std::vector<int64_t> visit(picked.size());
      std::vector<double> factors;
      for (int run = 0; run < 6; ++run) {
        const int64_t shift = rows / 7 * run;  // ascending again after the rotation
        const int64_t wrap = std::lower_bound(picked.begin(), picked.end(), rows - shift) - picked.begin();
        for (int64_t k = 0; k < n; ++k) visit[k] = (picked[(k + wrap) % n] + shift) % rows;
        const double stream_s = seconds([&] {
#pragma omp parallel for schedule(static)
          for (int64_t i = 0; i < all; ++i) x[i] = x[i] * 0.999f + 1e-4f;
        });
        const double visit_s = seconds([&] {
#pragma omp parallel for schedule(static)
          for (int64_t k = 0; k < n; ++k) {
            float* w = x.data() + visit[k] * d;
            for (int64_t c = 0; c < d; ++c) w[c] = w[c] * 0.999f + 1e-4f;
          }
        });
        if (run > 0) factors.push_back(visit_s / (stream_s * static_cast<double>(n * d) / static_cast<double>(all)));
      }
      measured.push_back(std::max(0.05, median(std::move(factors))));
    }
    // A sparser visit cannot cost less a byte than a denser one: where noise makes the curve rise
    // with density, the rising runs are pooled (non_increasing_fit); both are printed.
    const std::vector<double> fit = non_increasing_fit(measured);
    std::string line = fmt::format("rows visited in order, {} B rows, time over streaming their bytes (paired; "
                                   "measured -> non-increasing):", row_bytes);
    for (size_t k = 0; k < densities.size(); ++k) {
      out.push_back({double(row_bytes), densities[k], fit[k]});
      line += fmt::format(" 1/{:.0f} {:.2f}", 1 / densities[k], measured[k]);
      if (fit[k] != measured[k]) line += fmt::format("->{:.2f}", fit[k]);
    }
    say(line);
  }
  return out;
}

// The probe's share: 128 B gathers at a quarter of each cache's capacity (well inside it even
// where neighbours hold part of a shared L3; a point of the full sweep too), to see the caches drift.
std::vector<FootprintGather> probe_cache_gathers(const std::vector<DetectedCache>& caches, FloatArray& x,
                                                 int64_t lookups) {
  static const std::vector<uint64_t> draws = fixed_draws(lookups);
  std::vector<FootprintGather> out;
  for (const auto& c : caches) {
    const int64_t f = std::min<int64_t>(c.bytes / 4, 4 * x.size()) / 512 * 512;
    touch_lines(x, f);
    out.push_back({double(f), 128.0, footprint_gather_GBps(x, f, 128, draws, 5)});
  }
  return out;
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
  m.random_footprint_bytes = 4.0 * static_cast<double>(x.size());
  m.caches = detected_caches_once(m.threads);
  if (e.full_sweep) {
    m.first_touch_GBps = measure_first_touch_GBps(say, e);
    measure_cache_streams(say, m.caches, x);
    m.footprint_curve = measure_footprint_curve(say, m.caches, x, m.random_GBps_by_row_B);
    m.miss_cost_curve = measure_miss_cost_curve(say, m.caches, x, e.lookups);
    m.sorted_visit_curve = measure_sorted_visit_curve(say, x);
  } else {
    m.footprint_curve = probe_cache_gathers(m.caches, x, e.lookups);
  }
  return m;
}
}  // namespace

constexpr int64_t kBenchFloats = int64_t{1} << 28;  // 1 GB

std::vector<DetectedCache> detect_caches(int threads) {
  std::vector<DetectedCache> found = caches_from_sysfs(thread_cpus(threads));
  if (found.empty()) found = caches_from_sysconf(threads);
  std::vector<DetectedCache> out;
  // A level counts when one instance is larger than the nearer level's one instance (a profile
  // lists capacities per instance, cpu_backend.cpp): summed, many cores' private L2s can outgrow
  // the shared L3 and hide it.
  for (auto& c : found)
    if (out.empty() || c.instance_bytes > out.back().instance_bytes) out.push_back(std::move(c));
  return out;
}

MachineRates measure_cpu_rates(const std::function<void(const std::string&)>& say) {
  FloatArray x = filled(kBenchFloats);
  return measure(say, {int64_t{1} << 22, {64, 128, 256, 512}, 5, 2000, 1 << 16, 2000, true}, x);
}

MachineRates probe_cpu_rates() {
  static FloatArray x = filled(kBenchFloats);
  return measure([](const std::string&) {}, {int64_t{1} << 21, {128}, 5, 400, 1 << 15, 400, false}, x);
}

}  // namespace privrec::cpu
