#include "kernels/cuda/fest_selection.hpp"

#include <algorithm>

#include <cub/cub.cuh>

#include "kernels/cuda/cuda_check.hpp"
#include "kernels/cuda/launch.cuh"
#include "models/rng/gaussian.hpp"

namespace privrec::cuda {

namespace {

// A score as an unsigned key that sorts ascending for descending scores: the IEEE bits made
// order-preserving (negatives: every bit flipped; the rest: the sign bit set), then inverted.
__device__ uint64_t descending_key(double score) {
  uint64_t b = static_cast<uint64_t>(__double_as_longlong(score));
  if ((b << 1) == 0) b = 0;  // -0 and +0 are one score to the CPU's comparison: one key
  const uint64_t ascending = (b >> 63) ? ~b : (b | (uint64_t{1} << 63));
  return ~ascending;
}

// One thread per row: the noisy count in the CPU's order and roundings ((count * 2^-32) +
// (sigma * z), each rounded once: the host builds with -ffp-contract=off), turned into its sort
// key in place of the count; ids[r] = r, ascending, so the stable sort keeps ties lower row first.
__global__ void score_keys_kernel(uint64_t* counts_then_keys, int64_t* ids, int64_t rows, uint32_t table, double sigma,
                                  uint64_t seed, DeviceNoise noise) {
  PRIVREC_GRID_STRIDE(r, rows) {
    float z = 0.0f;  // the CPU's NoiseGenerator::fill_rows: a float, then widened
    if (noise == DeviceNoise::gaussian)
      z = noise_normal(seed, RngDomain::fest_noise, 0, table, static_cast<uint64_t>(r), 0);
    else if (noise == DeviceNoise::ones)
      z = 1.0f;
    const double count = __dmul_rn(static_cast<double>(counts_then_keys[r]), 0x1p-32);
    counts_then_keys[r] = descending_key(__dadd_rn(count, __dmul_rn(sigma, static_cast<double>(z))));
    ids[r] = r;
  }
}

__global__ void iota_kernel(int64_t* out, int64_t n) {
  PRIVREC_GRID_STRIDE(i, n) out[i] = i;
}

}  // namespace

int64_t choose_fixed_rows_on_device(const std::vector<std::pair<int64_t, uint64_t>>& counts, int64_t rows, int64_t k,
                                    uint32_t table, double sigma, uint64_t seed, DeviceNoise noise,
                                    DeviceArray<int64_t>& out) {
  const int64_t n = std::min(std::max<int64_t>(k, 0), rows);
  out.resize(static_cast<size_t>(std::max<int64_t>(n, 1)));  // a valid pointer even when empty
  if (n == 0) return 0;
  if (n == rows) {
    iota_kernel<<<grid_for(n), kThreads>>>(out.data(), n);
    PRIVREC_CUDA_CHECK_LAUNCH(iota_kernel);
    return n;
  }
  // Rows never seen have count 0: the dense array the kernel reads, one entry per row.
  std::vector<uint64_t> dense(static_cast<size_t>(rows), 0);
  for (const auto& rc : counts) dense[static_cast<size_t>(rc.first)] = rc.second;
  DeviceArray<uint64_t> keys, keys_sorted(static_cast<size_t>(rows));
  DeviceArray<int64_t> ids(static_cast<size_t>(rows)), ids_sorted(static_cast<size_t>(rows));
  DeviceArray<char> temp;
  keys.upload(dense);
  score_keys_kernel<<<grid_for(rows), kThreads>>>(keys.data(), ids.data(), rows, table, sigma, seed, noise);
  PRIVREC_CUDA_CHECK_LAUNCH(score_keys_kernel);
  // CUB's radix sort is stable: equal keys keep their (ascending) row order.
  auto temp_of = [&](size_t need) { return scratch<char>(temp, std::max<size_t>(need, 1)); };
  size_t need = 0;
  PRIVREC_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, need, keys.data(), keys_sorted.data(), ids.data(),
                                                     ids_sorted.data(), rows));
  PRIVREC_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp_of(need), need, keys.data(), keys_sorted.data(), ids.data(),
                                                     ids_sorted.data(), rows));
  // The first n are the chosen rows, by score; the update wants them ascending.
  need = 0;
  PRIVREC_CUDA_CHECK(cub::DeviceRadixSort::SortKeys(nullptr, need, ids_sorted.data(), out.data(), n));
  PRIVREC_CUDA_CHECK(cub::DeviceRadixSort::SortKeys(temp_of(need), need, ids_sorted.data(), out.data(), n));
  return n;
}

}  // namespace privrec::cuda
