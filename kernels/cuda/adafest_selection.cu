#include "kernels/cuda/adafest_selection.hpp"

#include <cmath>

#include <cub/cub.cuh>

#include "kernels/cuda/cuda_check.hpp"
#include "kernels/cuda/launch.cuh"
#include "models/rng/gaussian.hpp"
#include "models/rng/geometric_gap.hpp"

namespace privrec::cuda {

namespace {

__global__ void example_factors_kernel(const int64_t* const* offsets, const int64_t* const* indices, int64_t T,
                                       int64_t B, double c1, float* factor) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < B;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t distinct = 0;
    for (int64_t t = 0; t < T; ++t) {
      const int64_t* idx = indices[t];
      const int64_t k0 = offsets[t][i], k1 = offsets[t][i + 1];
      for (int64_t k = k0; k < k1; ++k) {
        bool first = true;
        for (int64_t j = k0; j < k && first; ++j) first = idx[j] != idx[k];
        distinct += first;
      }
    }
    // Correctly rounded sqrt and division, as the host's (contribution_clip_factors).
    factor[i] = distinct == 0 ? 1.0f
                              : static_cast<float>(fmin(1.0, __ddiv_rn(c1, __dsqrt_rn(static_cast<double>(distinct)))));
  }
}

// One thread per touched row: its count over distinct examples (consecutive in sorted order),
// plus the selection noise; flag 1 if it passes the threshold.
__global__ void count_and_flag(const uint64_t* keys, const int64_t* starts, const int32_t* example, const int64_t* rows,
                               int64_t lookups, int64_t distinct, int shift, const float* factor, uint32_t table,
                               double sigma1, double tau, uint64_t seed, DeviceNoise noise, uint64_t step,
                               uint8_t* flags) {
  const uint64_t mask = (uint64_t{1} << shift) - 1;
  for (int64_t u = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; u < distinct;
       u += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t k0 = starts[u], k1 = u + 1 < distinct ? starts[u + 1] : lookups;
    double count = 0;
    int32_t last = -1;
    for (int64_t k = k0; k < k1; ++k) {
      const int32_t i = example[keys[k] & mask];
      if (i == last) continue;  // one count per (row, example)
      last = i;
      count = __dadd_rn(count, static_cast<double>(factor[i]));
    }
    double z = 0;
    if (noise == DeviceNoise::gaussian)
      z = noise_normal(seed, RngDomain::select_noise, step, table, static_cast<uint64_t>(rows[u]), 0);
    else if (noise == DeviceNoise::ones)
      z = 1.0;
    // The host rounds the product, then the sum (-ffp-contract=off): no fused multiply-add here,
    // or rows near tau would be chosen differently.
    flags[u] = __dadd_rn(count, __dmul_rn(sigma1, z)) >= tau ? 1 : 0;
  }
}

__device__ bool contains(const int64_t* sorted, int64_t n, int64_t v) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    const int64_t mid = (lo + hi) / 2;
    if (sorted[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo < n && sorted[lo] == v;
}

// One thread: every row is a Bernoulli(p) trial; positions come from geometric gaps, trials on
// touched rows are dropped. counters[0] = false positives written (capped at cap), [1] = draws.
// log1m_p = log1p(-p) comes from the host, as the CPU backend's: CUDA's log1p may differ in the
// last bit, and so may one gap and every position after it.
__global__ void false_positives_kernel(const int64_t* touched, int64_t n_touched, int64_t table_rows, uint32_t table,
                                       double log1m_p, uint64_t seed, uint64_t step, int64_t* out, int64_t cap,
                                       unsigned long long* counters) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  const double n = static_cast<double>(table_rows);
  double pos = -1;
  unsigned long long fp = 0, draws = 0;
  for (uint64_t j = 0;; ++j) {
    pos = __dadd_rn(pos, __dadd_rn(geometric_gap(seed, step, table, j, log1m_p), 1.0));
    ++draws;
    if (pos >= n) break;
    const int64_t r = static_cast<int64_t>(pos);
    if (!contains(touched, n_touched, r)) {
      if (fp < static_cast<unsigned long long>(cap)) out[fp] = r;
      ++fp;
    }
  }
  counters[0] = fp;
  counters[1] = draws;
}

__global__ void selected_update_kernel(float* table, int64_t dim, uint32_t table_id, const int64_t* rows, int64_t count,
                                       const int32_t* slots, const float* grads, float scale, float stddev,
                                       uint64_t seed, DeviceNoise noise, uint64_t step) {
  const int64_t qpr = (dim + 3) / 4, total = count * qpr;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t u = i / qpr, q = i - u * qpr, c0 = 4 * q, r = rows[u];
    float z[4] = {0.f, 0.f, 0.f, 0.f};
    if (noise == DeviceNoise::gaussian) {
      const NoiseCounter n = noise_counter(RngDomain::table_noise, step, table_id, static_cast<uint64_t>(r));
      normals_from_block(philox4x32_10(static_cast<uint32_t>(q), n.c1, n.c2, n.c3, static_cast<uint32_t>(seed),
                                       static_cast<uint32_t>(seed >> 32)),
                         z);
    } else if (noise == DeviceNoise::ones) {
      z[0] = z[1] = z[2] = z[3] = 1.0f;
    }
    const int32_t slot = slots[r];
    for (int64_t k = 0; k < 4 && c0 + k < dim; ++k) {
      float* w = table + r * dim + c0 + k;
      const float t = slot >= 0 ? __fadd_rn(grads[static_cast<int64_t>(slot) * dim + c0 + k], __fmul_rn(stddev, z[k]))
                                : __fmul_rn(stddev, z[k]);
      *w = __fsub_rn(*w, __fmul_rn(scale, t));
    }
  }
}
}  // namespace

void adafest_example_factors(const int64_t* const* offsets, const int64_t* const* indices, int64_t T, int64_t B,
                             double c1, float* factor) {
  example_factors_kernel<<<grid_for(B), kThreads>>>(offsets, indices, T, B, c1, factor);
  PRIVREC_CUDA_CHECK_LAUNCH(example_factors_kernel);
}


TableSelection AdafestSelector::select(const SortedLookups& s, const float* factor, int64_t table_rows, uint32_t table,
                                       double sigma1, double tau, double p, uint64_t seed, DeviceNoise noise,
                                       uint64_t step) {
  TableSelection out;
  const int64_t U = s.distinct;
  out.touched = U;
  auto* flags = scratch<uint8_t>(flags_, static_cast<size_t>(U) + 1);
  auto* chosen = scratch<int64_t>(chosen_, (static_cast<size_t>(U) + 1) * sizeof(int64_t));
  auto* counters = scratch<unsigned long long>(counters_, 4 * sizeof(unsigned long long));
  PRIVREC_CUDA_CHECK(cudaMemset(counters, 0, 4 * sizeof(unsigned long long)));
  if (U > 0) {
    count_and_flag<<<grid_for(U), kThreads>>>(s.keys, s.starts, s.example, s.rows, s.lookups, U, s.shift, factor, table,
                                          sigma1, tau, seed, noise, step, flags);
    PRIVREC_CUDA_CHECK_LAUNCH(count_and_flag);
    size_t need = 0;
    PRIVREC_CUDA_CHECK(cub::DeviceSelect::Flagged(nullptr, need, s.rows, flags, chosen, counters + 2, U));
    PRIVREC_CUDA_CHECK(cub::DeviceSelect::Flagged(scratch<char>(temp_, need), need, s.rows, flags, chosen, counters + 2, U));
  }
  // False positives: capacity for the expected number and then some; rerun larger if it was short.
  int64_t cap = static_cast<int64_t>(p * static_cast<double>(table_rows) * 1.5 + 64.0 * std::sqrt(p * table_rows + 1.0) + 64);
  cap = std::min<int64_t>(cap, table_rows);
  unsigned long long host[3] = {0, 0, 0};
  if (p > 0) {
    const double log1m_p = std::log1p(-p);
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto* fp = scratch<int64_t>(fp_, (static_cast<size_t>(cap) + 1) * sizeof(int64_t));
      false_positives_kernel<<<1, 1>>>(s.rows, U, table_rows, table, log1m_p, seed, step, fp, cap, counters);
      PRIVREC_CUDA_CHECK_LAUNCH(false_positives_kernel);
      PRIVREC_CUDA_CHECK(cudaMemcpy(host, counters, 3 * sizeof(unsigned long long), cudaMemcpyDeviceToHost));
      if (host[0] <= static_cast<unsigned long long>(cap)) break;
      cap = static_cast<int64_t>(host[0]);
    }
  } else {
    PRIVREC_CUDA_CHECK(cudaMemcpy(host, counters, 3 * sizeof(unsigned long long), cudaMemcpyDeviceToHost));
  }
  out.false_positives = static_cast<int64_t>(host[0]);
  out.draws = static_cast<int64_t>(host[1]);
  out.selected_touched = static_cast<int64_t>(host[2]);
  out.count = out.selected_touched + out.false_positives;
  // The chosen rows and the false positives are both ascending and disjoint: one sort merges them.
  auto* merged = scratch<int64_t>(merged_, (static_cast<size_t>(out.count) + 1) * sizeof(int64_t));
  auto* sorted = scratch<int64_t>(sorted_, (static_cast<size_t>(out.count) + 1) * sizeof(int64_t));
  if (out.selected_touched)
    PRIVREC_CUDA_CHECK(cudaMemcpy(merged, chosen, out.selected_touched * sizeof(int64_t), cudaMemcpyDeviceToDevice));
  if (out.false_positives)
    PRIVREC_CUDA_CHECK(cudaMemcpy(merged + out.selected_touched, fp_.data(), out.false_positives * sizeof(int64_t),
                                  cudaMemcpyDeviceToDevice));
  if (out.count > 0) {
    size_t need = 0;
    PRIVREC_CUDA_CHECK(cub::DeviceRadixSort::SortKeys(nullptr, need, merged, sorted, out.count));
    PRIVREC_CUDA_CHECK(cub::DeviceRadixSort::SortKeys(scratch<char>(temp_, need), need, merged, sorted, out.count));
  }
  out.rows = sorted;
  return out;
}

void launch_selected_noisy_update(float* table, int64_t dim, uint32_t table_id, const int64_t* rows, int64_t count,
                                  const int32_t* slots, const float* grads, float scale, float stddev, uint64_t seed,
                                  DeviceNoise noise, uint64_t step) {
  if (count == 0) return;
  selected_update_kernel<<<grid_for(count * ((dim + 3) / 4)), kThreads>>>(table, dim, table_id, rows, count, slots, grads,
                                                                      scale, stddev, seed, noise, step);
  PRIVREC_CUDA_CHECK_LAUNCH(selected_update_kernel);
}

}  // namespace privrec::cuda
