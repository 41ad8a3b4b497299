#include "kernels/cuda/adafest_selection.hpp"

#include <algorithm>
#include <cmath>

#include <cub/cub.cuh>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/transform_iterator.h>

#include "kernels/cuda/cuda_check.hpp"
#include "kernels/cuda/false_positive_plan.hpp"
#include "kernels/cuda/launch.cuh"
#include "models/rng/gaussian.hpp"

namespace privrec::cuda {

namespace {

// The selection's counters on the device, read back once per false-positive chunk: the touched
// rows selected, the walk's draws (0 until the draw that ends it is found), the last chunk's last
// position (the next chunk's carry), and the false positives of the last chunk.
enum : int { kSelectedCounter, kDrawsCounter, kLastCounter, kChunkCounter, kCounters };

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

namespace fpp = false_positives;

// The scan's input i, computed as the scan loads it: the gaps never go through memory.
struct ScanInput {
  fpp::GapStream g;
  int64_t first_draw, carry;
  __device__ int64_t operator()(int64_t i) const { return fpp::scan_input(g, first_draw, i, carry); }
};

struct SaturatingAdd {
  __device__ int64_t operator()(int64_t a, int64_t b) const { return fpp::saturating_add(a, b); }
};

// A trial that passes on a row of the table that the batch did not touch (a touched row was
// decided by its count, so the CPU backend drops the trial).
struct KeepTrial {
  const int64_t* touched;
  int64_t n_touched, rows;
  __device__ bool operator()(int64_t pos) const { return pos < rows && !contains(touched, n_touched, pos); }
};

// After a chunk's scan: the draw that ends the walk, if it is in this chunk, writes the walk's draw
// count (it counts, as on the CPU); the chunk's last position is the next chunk's carry.
__global__ void chunk_end_kernel(const int64_t* pos, int64_t n, int64_t rows, int64_t carry, int64_t first_draw,
                                 int64_t* counters) {
  PRIVREC_GRID_STRIDE(i, n) {
    if (fpp::ends_walk(i == 0 ? carry : pos[i - 1], pos[i], rows)) counters[kDrawsCounter] = first_draw + i + 1;
    if (i == n - 1) counters[kLastCounter] = pos[i];
  }
}

// Grows `a` to at least `bytes`, doubling at least, and keeps its first `keep` bytes (the false
// positives of earlier chunks).
int64_t* reserve_keeping(DeviceArray<char>& a, size_t bytes, size_t keep) {
  if (bytes > a.size()) {
    DeviceArray<char> b(std::max(bytes, 2 * a.size()));
    if (keep) copy_on_device(b.data(), a.data(), keep);
    a = std::move(b);
  }
  return reinterpret_cast<int64_t*>(a.data());
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
  auto* counters = scratch<int64_t>(counters_, kCounters * sizeof(int64_t));
  PRIVREC_CUDA_CHECK(cudaMemset(counters, 0, kCounters * sizeof(int64_t)));
  if (U > 0) {
    count_and_flag<<<grid_for(U), kThreads>>>(s.keys, s.starts, s.example, s.rows, s.lookups, U, s.shift, factor, table,
                                          sigma1, tau, seed, noise, step, flags);
    PRIVREC_CUDA_CHECK_LAUNCH(count_and_flag);
    size_t need = 0;
    PRIVREC_CUDA_CHECK(cub::DeviceSelect::Flagged(nullptr, need, s.rows, flags, chosen, counters + kSelectedCounter, U));
    PRIVREC_CUDA_CHECK(cub::DeviceSelect::Flagged(scratch<char>(temp_, need), need, s.rows, flags, chosen,
                                                  counters + kSelectedCounter, U));
  }
  int64_t host[kCounters] = {};
  if (p > 0) {
    // log1p(-p) from the host, as the CPU backend's: CUDA's log1p may differ in the last bit, and
    // so may one gap and every position after it.
    out.false_positives = draw_false_positives(s.rows, U, table_rows, {seed, step, table, std::log1p(-p)}, p,
                                               counters, host);
  } else {
    copy_to_host(host, counters, sizeof host);
  }
  out.draws = host[kDrawsCounter];
  out.selected_touched = host[kSelectedCounter];
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

// Chunk by chunk: the chunk's positions are one inclusive scan of the advances (each gap drawn as
// the scan loads it), the draw that ends the walk is found in parallel, and the trials on untouched
// rows are compacted in order after the earlier chunks'. One read-back per chunk says whether the
// walk ended there and, if not, where the next chunk starts from; the chunk size makes one chunk
// nearly always enough.
int64_t AdafestSelector::draw_false_positives(const int64_t* touched, int64_t n_touched, int64_t rows,
                                              const false_positives::GapStream& g, double p, int64_t* counters,
                                              int64_t* host) {
  if (rows >= fpp::kMaxRows) throw CudaError("adafest: false positives match the CPU backend only below 2^53 rows");
  const int64_t chunk = fpp::chunk_draws(rows, p, max_chunk_);
  auto* pos = scratch<int64_t>(pos_, static_cast<size_t>(chunk) * sizeof(int64_t));
  const KeepTrial keep{touched, n_touched, rows};
  int64_t found = 0, carry = -1;
  for (int64_t first = 0;; first += chunk) {
    const int64_t n = fpp::chunk_items(rows, chunk, first);
    if (n == 0) throw CudaError("adafest: the false-positive walk passed rows + 1 draws without ending");
    int64_t* out = reserve_keeping(fp_, static_cast<size_t>(found + n) * sizeof(int64_t),
                                   static_cast<size_t>(found) * sizeof(int64_t)) +
                   found;
    const auto in = thrust::make_transform_iterator(thrust::counting_iterator<int64_t>(0), ScanInput{g, first, carry});
    size_t scan_need = 0, select_need = 0;
    PRIVREC_CUDA_CHECK(cub::DeviceScan::InclusiveScan(nullptr, scan_need, in, pos, SaturatingAdd{}, n));
    PRIVREC_CUDA_CHECK(cub::DeviceSelect::If(nullptr, select_need, pos, out, counters + kChunkCounter, n, keep));
    char* temp = scratch<char>(temp_, std::max(scan_need, select_need));
    PRIVREC_CUDA_CHECK(cub::DeviceScan::InclusiveScan(temp, scan_need, in, pos, SaturatingAdd{}, n));
    chunk_end_kernel<<<grid_for(n), kThreads>>>(pos, n, rows, carry, first, counters);
    PRIVREC_CUDA_CHECK_LAUNCH(chunk_end_kernel);
    PRIVREC_CUDA_CHECK(cub::DeviceSelect::If(temp, select_need, pos, out, counters + kChunkCounter, n, keep));
    copy_to_host(host, counters, kCounters * sizeof(int64_t));
    found += host[kChunkCounter];
    if (host[kDrawsCounter] != 0) return found;
    carry = host[kLastCounter];
  }
}

}  // namespace privrec::cuda
