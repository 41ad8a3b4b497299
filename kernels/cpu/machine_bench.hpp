#pragma once
// Microbenchmarks of this machine for `privrec calibrate`: the rates the performance model's
// hardware profile asks for, measured with the project's own kernels where one exists (the noise
// generator, the GEMM) and plain loops otherwise. Each is warmed up once, then timed five times;
// the median counts.
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace privrec::cpu {

struct MachineRates {
  double memory_GB = 0;
  double stream_GBps = 0;                                    // in-place read+write over 1 GB
  std::vector<std::pair<double, double>> random_GBps_by_row_B;  // gathered rows of 64..512 B from 1 GB
  double gemm_GFLOPps = 0;                                   // sgemm_nn 2048 x 512 x 512
  double vector_GFLOPps = 0;                                 // y = a x + y over cache-resident arrays
  double rng_normals_per_s = 0;                              // normal_rows, all threads
  double sort_ops_per_s = 0;  // mean of the radix sort's and the bag sorts' rates, all threads
  double launch_overhead_us = 0;                             // an empty OpenMP parallel for
  int threads = 0;
};

// Streaming read+write bandwidth of `bytes` in place, median of five after a warm-up: also the
// quick check of how this machine runs now against a profile measured earlier.
double measure_stream_GBps(int64_t bytes = int64_t{1} << 30);

// `say` gets a line per benchmark as it finishes (progress). The full measurement takes about 15 s.
MachineRates measure_cpu_rates(const std::function<void(const std::string&)>& say);

// The same rates in about half a second (smaller buffers, fewer repetitions, 128 B rows only:
// the other row sizes are left out): what calibrate and validate take right before each case, so
// a shared machine's drift between cases is measured, not guessed.
MachineRates probe_cpu_rates();

}  // namespace privrec::cpu
