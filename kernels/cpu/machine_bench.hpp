#pragma once
// Microbenchmarks of this machine for `privrec calibrate`: the rates the performance model's
// hardware profile asks for, measured with the project's own kernels where one exists (the noise
// generator, the GEMM) and plain loops otherwise. Each is warmed up once, then timed five times;
// the median counts.
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace privrec::cpu {

// A cache level of this machine as the threads see it: its capacity is the sum over the distinct
// instances serving the CPUs the OpenMP threads may run on (L2: one per core; L3: one per CCX or
// socket), read from /sys/devices/system/cpu/cpuN/cache (sysconf when that is missing).
struct DetectedCache {
  std::string name;            // "L2", "L3"
  int64_t bytes = 0;           // instance_bytes x instances
  int64_t instance_bytes = 0;
  int instances = 0;
  std::string source;          // where the size was read
  double stream_GBps = 0;      // in-place read+write over a quarter of the level (full measurement)
};

// Row-random gathers (the bag kernel's access: uniformly random rows, all threads) of `row_bytes`
// rows from a working set of `footprint_bytes`.
struct FootprintGather {
  double footprint_bytes = 0, row_bytes = 0, GBps = 0;
};

// A point of a cost curve (sim::CostCurve) by row size and a fraction:
// - a miss to memory among cache hits: gathers through the forward kernel's loop where a fraction
//   of the lookups read a random row of the 1 GiB buffer and the rest a hot set in the nearest
//   cache; `factor` is what each miss costs over what it costs when every lookup misses:
//   (t(q) - (1 - q) t(0)) / (q t(1)) per lookup times t;
// - sorted visits: a fraction (the density) of the 1 GiB buffer's rows, read and written in
//   ascending order as the sparse updates visit a table's rows; `factor` is their time over the
//   time the same bytes take streamed (at stream_GBps).
struct CostPoint {
  double row_bytes = 0, fraction = 0, factor = 0;
};

struct MachineRates {
  double memory_GB = 0;
  double stream_GBps = 0;                                    // in-place read+write over 1 GB
  std::vector<std::pair<double, double>> random_GBps_by_row_B;  // gathered rows of 64..512 B from 1 GB
  double random_footprint_bytes = 0;                         // the buffer those gathers read (1 GiB)
  double gemm_GFLOPps = 0;                                   // sgemm_nn 2048 x 512 x 512
  double vector_GFLOPps = 0;                                 // y = a x + y over cache-resident arrays
  double rng_normals_per_s = 0;                              // normal_rows, all threads
  double sort_ops_per_s = 0;  // mean of the radix sort's and the bag sorts' rates, all threads
  double launch_overhead_us = 0;                             // an empty OpenMP parallel for
  double first_touch_GBps = 0;  // fresh 64 MiB mapped, faulted in by all threads, unmapped (full only)
  int threads = 0;
  std::vector<DetectedCache> caches;  // nearest first; empty where none could be read
  // Full measurement: every footprint (a quarter of the L2 .. 1 GiB) x row size (64..512 B),
  // ascending footprint, each point the better of two passes (the 1 GiB points also of
  // random_GBps_by_row_B). Probe: 128 B rows at a quarter of each cache's capacity only (the
  // caches' drift between cases; the sweep has the same footprints).
  std::vector<FootprintGather> footprint_curve;
  // Full measurement: per row size (64..512 B), misses at fractions 1/128 .. 1 of the lookups.
  std::vector<CostPoint> miss_cost_curve;
  // Full measurement: per row size (128, 512 B), sorted visits at densities 1/128 .. 1.
  std::vector<CostPoint> sorted_visit_curve;
};

// Streaming read+write bandwidth of `bytes` in place, median of five after a warm-up: also the
// quick check of how this machine runs now against a profile measured earlier.
double measure_stream_GBps(int64_t bytes = int64_t{1} << 30);

// The caches in front of memory that serve the first `threads` CPUs this process may run on (L2
// and beyond; L1 is not modeled), sizes only. Levels whose capacity does not exceed the level
// before are left out (the profile lists strictly growing capacities).
std::vector<DetectedCache> detect_caches(int threads);

// `say` gets a line per benchmark as it finishes (progress). The full measurement takes about
// 25 s: 15 s as it always did, then the caches' streaming and the footprint sweep.
MachineRates measure_cpu_rates(const std::function<void(const std::string&)>& say);

// The same rates in about half a second (smaller buffers, fewer repetitions, 128 B rows only:
// the other row sizes are left out): what calibrate and validate take right before each case, so
// a shared machine's drift between cases is measured, not guessed.
MachineRates probe_cpu_rates();

}  // namespace privrec::cpu
