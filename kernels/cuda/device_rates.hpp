#pragma once
// This GPU's rates in the performance model's terms, from the CUDA microbenchmarks (each a
// warm-up and a timed run with CUDA events, the median of five): what `privrec calibrate --backend
// cuda` writes into a measured profile before fitting the stage efficiencies.
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace privrec::cuda {

struct DeviceRates {
  std::string name;
  double memory_GB = 0;
  double stream_GBps = 0;                                     // device-to-device copy, read + write, 4 GB
  std::vector<std::pair<double, double>> random_GBps_by_row_B;  // embedding-bag forward gathers, 64..512 B rows
  double gemm_GFLOPps = 0;                                    // the project's SGEMM at 2048 x 1024 x 1024
  double rng_normals_per_s = 0;                               // Philox + Box-Muller normals written, 1 G of them
  double sort_ops_per_s = 0;                                  // CUB radix sort of (row, lookup) keys
  double launch_overhead_us = 0;                              // back-to-back empty launches
  // The batch's way up, as the training step sends it: pageable memory gathered into page-locked
  // memory by the host's threads, then one asynchronous copy (wall clock until it landed).
  double upload_GBps = 0;        // 64 MiB, its latency taken out
  double upload_latency_us = 0;  // 8 bytes
  // The L2 in front of memory and gathers by table size, for the cache fit of privrec calibrate.
  int64_t l2_bytes = 0;
  double l2_stream_GBps = 0;  // device copy within a quarter of the L2 each way (read + write)
  struct Footprint {
    double footprint_bytes = 0, row_bytes = 0, GBps = 0;
  };
  std::vector<Footprint> footprint_curve;  // embedding-bag forward gathers, uniform rows, 8 MiB .. 4 GiB tables
};

// Throws InputError when there is no device; `say` gets a line per benchmark.
DeviceRates measure_device_rates(const std::function<void(const std::string&)>& say);

}  // namespace privrec::cuda
