#include "kernels/cuda/embedding_bag.hpp"

#include <algorithm>
#include <cstdint>

#include <cub/cub.cuh>

#include "kernels/cuda/cuda_check.hpp"
#include "kernels/cuda/launch.cuh"
#include "models/kernel_work/cuda_forward_group.hpp"

namespace privrec::cuda {

namespace {

int bits_for(uint64_t v) {
  int b = 0;
  while (b < 64 && (v >> b) != 0) ++b;
  return b;
}

// Up to kForwardTablesPerLaunch tables per launch, blockIdx.y the table: each one's rows, batch
// and output passed by value (__grid_constant__: read from the parameter space where the threads
// index it, with no per-thread copy).
constexpr int kGroup = static_cast<int>(cuda_work::kForwardTablesPerLaunch);
struct ForwardGroup {
  const float* rows[kGroup];
  const int64_t* offsets[kGroup];
  const int64_t* indices[kGroup];
  float* out[kGroup];
};

// One table's bags. Lane `c4` of a bag's group owns columns 4 c4 .. 4 c4 + 3; four lookups are
// loaded before any is added (memory parallelism), the adds stay in lookup order (bit-identical to
// the CPU backend). Inlined into the kernels below with its pointers' __restrict__ intact (on the
// kernels' locals the compiler would drop it, and the read-only loads with it).
__device__ __forceinline__ void forward_vec4_table(const float* __restrict__ table, int64_t dim,
                                                   const int64_t* __restrict__ offsets,
                                                   const int64_t* __restrict__ indices, int64_t bags,
                                                   float* __restrict__ out, int64_t out_stride) {
  const int64_t lanes = dim / 4, total = bags * lanes;
  for (int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i = t / lanes, c4 = t - i * lanes;
    float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
    const int64_t k0 = offsets[i], k1 = offsets[i + 1];
    int64_t k = k0;
    for (; k + 4 <= k1; k += 4) {
      float4 v[4];
      for (int j = 0; j < 4; ++j) v[j] = reinterpret_cast<const float4*>(table + indices[k + j] * dim)[c4];
      for (int j = 0; j < 4; ++j) {
        acc.x = __fadd_rn(acc.x, v[j].x);
        acc.y = __fadd_rn(acc.y, v[j].y);
        acc.z = __fadd_rn(acc.z, v[j].z);
        acc.w = __fadd_rn(acc.w, v[j].w);
      }
    }
    for (; k < k1; ++k) {
      const float4 v = reinterpret_cast<const float4*>(table + indices[k] * dim)[c4];
      acc.x = __fadd_rn(acc.x, v.x);
      acc.y = __fadd_rn(acc.y, v.y);
      acc.z = __fadd_rn(acc.z, v.z);
      acc.w = __fadd_rn(acc.w, v.w);
    }
    reinterpret_cast<float4*>(out + i * out_stride)[c4] = acc;
  }
}

// One lane per column (dim % 4 != 0, or rows or outputs not 16-byte aligned).
__device__ __forceinline__ void forward_scalar_table(const float* __restrict__ table, int64_t dim,
                                                     const int64_t* __restrict__ offsets,
                                                     const int64_t* __restrict__ indices, int64_t bags,
                                                     float* __restrict__ out, int64_t out_stride) {
  const int64_t total = bags * dim;
  for (int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i = t / dim, c = t - i * dim;
    float acc = 0.f;
    for (int64_t k = offsets[i]; k < offsets[i + 1]; ++k) acc = __fadd_rn(acc, table[indices[k] * dim + c]);
    out[i * out_stride + c] = acc;
  }
}

__global__ void forward_vec4(const __grid_constant__ ForwardGroup g, int64_t dim, int64_t bags, int64_t out_stride) {
  const int y = blockIdx.y;
  forward_vec4_table(g.rows[y], dim, g.offsets[y], g.indices[y], bags, g.out[y], out_stride);
}

__global__ void forward_scalar(const __grid_constant__ ForwardGroup g, int64_t dim, int64_t bags, int64_t out_stride) {
  const int y = blockIdx.y;
  forward_scalar_table(g.rows[y], dim, g.offsets[y], g.indices[y], bags, g.out[y], out_stride);
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// key = row << shift | lookup; example[k] = the bag of lookup k.
__global__ void make_keys(const int64_t* offsets, const int64_t* indices, int64_t bags, int shift, uint64_t* keys,
                          int32_t* example) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < bags;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    for (int64_t k = offsets[i]; k < offsets[i + 1]; ++k) {
      keys[k] = (static_cast<uint64_t>(indices[k]) << shift) | static_cast<uint64_t>(k);
      example[k] = static_cast<int32_t>(i);
    }
}

// flags[k] = 1 where sorted position k begins a new row, else 0.
__global__ void mark_row_starts(const uint64_t* sorted, int64_t n, int shift, int64_t* flags) {
  for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < n;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x)
    flags[k] = k == 0 || (sorted[k - 1] >> shift) != (sorted[k] >> shift);
}

// With pos the exclusive prefix sum of the flags, the row beginning at k is distinct row pos[k]:
// starts and rows come out ascending (no atomics, no second sort); *count = distinct rows.
__global__ void number_rows(const uint64_t* sorted, const int64_t* flags, const int64_t* pos, int64_t n, int shift,
                            int64_t* starts, int64_t* rows, unsigned long long* count) {
  for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < n;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    if (flags[k]) starts[pos[k]] = k, rows[pos[k]] = static_cast<int64_t>(sorted[k] >> shift);
    if (k == n - 1) *count = static_cast<unsigned long long>(pos[k] + flags[k]);
  }
}

constexpr int kChunk = 32;

// Adds lookups 0 .. m-1 of a chunk (lane j holds lookup j's example ex and scale sc) to acc in
// order; `first`: lookup 0 is the row's first (acc = s g, no add). A full chunk issues its 32 loads
// before the first add; a short one (a short segment, or a long one's tail) four at a time.
__device__ __forceinline__ float sum_chunk(const float* g, int64_t grad_stride, int32_t ex, float sc, int m, bool live,
                                           bool first, float acc) {
  if (m == kChunk) {
    float v[kChunk];
#pragma unroll
    for (int j = 0; j < kChunk; ++j) {
      const int32_t i = __shfl_sync(0xffffffffu, ex, j);
      v[j] = live ? g[static_cast<int64_t>(i) * grad_stride] : 0.f;
    }
#pragma unroll
    for (int j = 0; j < kChunk; ++j) {
      const float p = __fmul_rn(__shfl_sync(0xffffffffu, sc, j), v[j]);
      acc = first && j == 0 ? p : __fadd_rn(acc, p);
    }
    return acc;
  }
  for (int j0 = 0; j0 < m; j0 += 4) {  // m is warp-uniform: every lane takes the same path
    float v[4];
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int32_t i = __shfl_sync(0xffffffffu, ex, (j0 + j) & (kChunk - 1));
      v[j] = live && j0 + j < m ? g[static_cast<int64_t>(i) * grad_stride] : 0.f;
    }
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const float p = __fmul_rn(__shfl_sync(0xffffffffu, sc, (j0 + j) & (kChunk - 1)), v[j]);
      if (j0 + j < m) acc = first && j0 + j == 0 ? p : __fadd_rn(acc, p);
    }
  }
  return acc;
}

// One warp per (distinct row, 32-column slice), lane = column: the gradient loads of a lookup are
// one coalesced 128-byte line, and a hot row's slices run on different warps (SMs). The lookups are
// taken in chunks of 32: lane j fetches lookup j's example and scale (key -> example -> scale, one
// load of each per lane, pipelined: the key two chunks ahead and the example one ahead are in flight
// while this chunk is summed), the warp broadcasts them with shuffles and sum_chunk adds them
// strictly in lookup order: acc = s g (first lookup), then acc += s g, each correctly rounded (the
// CPU backend's order and rounding). Short segments cost one warp pass per slice.
__global__ void sum_segments(const uint64_t* __restrict__ sorted, int64_t n, int shift,
                             const int64_t* __restrict__ starts, int64_t count, const int32_t* __restrict__ example,
                             const float* __restrict__ grad, int64_t grad_stride, int64_t dim,
                             const float* __restrict__ scale, float* __restrict__ out) {
  const uint64_t mask = (uint64_t{1} << shift) - 1;
  const int lane = static_cast<int>(threadIdx.x % 32);
  const int64_t slices = (dim + 31) / 32, tasks = count * slices;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x / 32);
  for (int64_t w = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) / 32; w < tasks; w += warps) {
    const int64_t u = w / slices, c = (w - u * slices) * 32 + lane;  // u is warp-uniform
    const int64_t k0 = starts[u], k1 = u + 1 < count ? starts[u + 1] : n;
    const bool live = c < dim;
    const float* g = grad + (live ? c : 0);
    int32_t ex = 0;  // (example, scale) of lookup k + lane
    float sc = 1.0f;
    if (k0 + lane < k1) {
      ex = example[sorted[k0 + lane] & mask];
      if (scale) sc = scale[ex];
    }
    uint64_t key = k0 + kChunk + lane < k1 ? sorted[k0 + kChunk + lane] : 0;  // of lookup k + 32 + lane
    float acc = 0.f;
    for (int64_t k = k0; k < k1; k += kChunk) {
      const int m = k1 - k < kChunk ? static_cast<int>(k1 - k) : kChunk;  // warp-uniform
      const int64_t kn = k + kChunk + lane;
      const int32_t ex_next = kn < k1 ? example[key & mask] : 0;  // key arrived during the last chunk
      key = kn + kChunk < k1 ? sorted[kn + kChunk] : 0;
      acc = sum_chunk(g, grad_stride, ex, sc, m, live, k == k0, acc);
      ex = ex_next;
      sc = scale && kn < k1 ? scale[ex] : 1.0f;  // needed only after the next chunk's loads
    }
    if (live) out[u * dim + c] = acc;
  }
}

}  // namespace

void launch_embedding_forward(const ForwardTable* tables, int64_t count, int64_t dim, int64_t bags,
                              int64_t out_stride) {
  if (bags == 0 || dim == 0) return;
  for (int64_t first = 0; first < count; first += kGroup) {
    const int n = static_cast<int>(count - first < kGroup ? count - first : kGroup);
    ForwardGroup g{};
    bool vec = dim % 4 == 0 && out_stride % 4 == 0;
    for (int j = 0; j < n; ++j) {
      const ForwardTable& t = tables[first + j];
      g.rows[j] = t.rows, g.offsets[j] = t.offsets, g.indices[j] = t.indices, g.out[j] = t.out;
      vec = vec && aligned16(t.rows) && aligned16(t.out);
    }
    // Blocks along x for one table's (bag, lane) pairs, within 2^20 blocks in all.
    const int64_t work = vec ? bags * (dim / 4) : bags * dim;
    const int x = std::max(1, std::min(grid_for(work), (1 << 20) / n));
    const dim3 grid(static_cast<unsigned>(x), static_cast<unsigned>(n));
    if (vec) {
      forward_vec4<<<grid, kThreads>>>(g, dim, bags, out_stride);
      PRIVREC_CUDA_CHECK_LAUNCH(forward_vec4);
    } else {
      forward_scalar<<<grid, kThreads>>>(g, dim, bags, out_stride);
      PRIVREC_CUDA_CHECK_LAUNCH(forward_scalar);
    }
  }
}

CoalesceWorkspace::~CoalesceWorkspace() {
  // No throwing here: a count copy still landing in host_count_ is waited for first.
  if (counted_) cudaEventSynchronize(static_cast<cudaEvent_t>(counted_));
  if (counted_) cudaEventDestroy(static_cast<cudaEvent_t>(counted_));
  if (host_count_) cudaFreeHost(host_count_);
}

void CoalesceWorkspace::begin(const int64_t* offsets, const int64_t* indices, int64_t bags, int64_t lookups,
                              int64_t max_row) {
  // An empty table: no row touched. The previous call's sort must not survive in last_sort(),
  // which adafest's selection reads next (it would select that table's rows again).
  last_ = {};
  pending_ = false;  // set once the work and the count's copy are queued: a throw leaves none
  if (lookups == 0) return;
  const int shift = bits_for(static_cast<uint64_t>(lookups));
  const int end_bit = shift + bits_for(static_cast<uint64_t>(max_row));
  if (end_bit > 64) throw CudaError("coalesce: row and lookup ids need more than 64 key bits");
  if (!host_count_) {
    void* p = nullptr;
    PRIVREC_CUDA_CHECK(cudaMallocHost(&p, sizeof(unsigned long long)));
    host_count_ = static_cast<unsigned long long*>(p);
    cudaEvent_t e;
    PRIVREC_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    counted_ = e;
  }
  const size_t n = static_cast<size_t>(lookups);
  auto* keys_in = scratch<uint64_t>(keys_in_, n * sizeof(uint64_t));
  auto* keys_out = scratch<uint64_t>(keys_out_, n * sizeof(uint64_t));
  auto* example = scratch<int32_t>(example_, n * sizeof(int32_t));
  auto* flags = scratch<int64_t>(flags_, n * sizeof(int64_t));
  auto* pos = scratch<int64_t>(pos_, n * sizeof(int64_t));
  auto* starts = scratch<int64_t>(starts_, n * sizeof(int64_t));
  auto* rows = scratch<int64_t>(rows_, n * sizeof(int64_t));
  auto* count = scratch<unsigned long long>(count_, sizeof(unsigned long long));

  make_keys<<<grid_for(bags), kThreads>>>(offsets, indices, bags, shift, keys_in, example);
  PRIVREC_CUDA_CHECK_LAUNCH(make_keys);
  // Stable radix sort on the row bits only: the lookups of one row stay in lookup (example) order.
  size_t need = 0;
  PRIVREC_CUDA_CHECK(cub::DeviceRadixSort::SortKeys(nullptr, need, keys_in, keys_out, lookups, shift, end_bit));
  PRIVREC_CUDA_CHECK(
      cub::DeviceRadixSort::SortKeys(scratch<char>(temp_, need), need, keys_in, keys_out, lookups, shift, end_bit));
  mark_row_starts<<<grid_for(lookups), kThreads>>>(keys_out, lookups, shift, flags);
  PRIVREC_CUDA_CHECK_LAUNCH(mark_row_starts);
  need = 0;
  PRIVREC_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(nullptr, need, flags, pos, lookups));
  PRIVREC_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(scratch<char>(temp_, need), need, flags, pos, lookups));
  number_rows<<<grid_for(lookups), kThreads>>>(keys_out, flags, pos, lookups, shift, starts, rows, count);
  PRIVREC_CUDA_CHECK_LAUNCH(number_rows);
  // The count goes to page-locked memory without stopping the host: finish() waits for it.
  PRIVREC_CUDA_CHECK(cudaMemcpyAsync(host_count_, count, sizeof(unsigned long long), cudaMemcpyDeviceToHost, nullptr));
  PRIVREC_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(counted_), nullptr));
  last_ = {keys_out, starts, example, rows, lookups, 0, shift};  // distinct: set by finish()
  pending_ = true;
}

DeviceSparseRows CoalesceWorkspace::finish(const float* grad, int64_t grad_stride, int64_t dim, const float* scale) {
  DeviceSparseRows out;
  if (!pending_) return out;
  pending_ = false;
  PRIVREC_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(counted_)));
  const int64_t U = static_cast<int64_t>(*host_count_);
  last_.distinct = U;
  auto* grads = scratch<float>(grads_, static_cast<size_t>(U * dim) * sizeof(float));
  if (dim > 0) {
    // One warp per (distinct row, 32-column slice).
    sum_segments<<<grid_for(U * ((dim + 31) / 32) * 32), kThreads>>>(last_.keys, last_.lookups, last_.shift,
                                                                      last_.starts, U, last_.example, grad,
                                                                      grad_stride, dim, scale, grads);
    PRIVREC_CUDA_CHECK_LAUNCH(sum_segments);
  }
  out.count = U;
  out.rows = const_cast<int64_t*>(last_.rows);
  out.grads = grads;
  return out;
}

DeviceSparseRows CoalesceWorkspace::coalesce(const int64_t* offsets, const int64_t* indices, int64_t bags,
                                             int64_t lookups, int64_t max_row, const float* grad,
                                             int64_t grad_stride, int64_t dim, const float* scale) {
  begin(offsets, indices, bags, lookups, max_row);
  return finish(grad, grad_stride, dim, scale);
}

std::vector<float> embedding_forward_on_device(const std::vector<std::vector<float>>& tables, int64_t dim,
                                               const std::vector<std::vector<int64_t>>& offsets,
                                               const std::vector<std::vector<int64_t>>& indices) {
  const int64_t T = static_cast<int64_t>(tables.size());
  if (T == 0) return {};
  const int64_t bags = static_cast<int64_t>(offsets[0].size()) - 1;
  std::vector<DeviceArray<float>> t(static_cast<size_t>(T));
  std::vector<DeviceArray<int64_t>> off(static_cast<size_t>(T)), idx(static_cast<size_t>(T));
  DeviceArray<float> o(static_cast<size_t>(bags * T * dim));
  std::vector<ForwardTable> group(static_cast<size_t>(T));
  for (int64_t k = 0; k < T; ++k) {
    t[k].upload(tables[k]), off[k].upload(offsets[k]), idx[k].upload(indices[k]);
    group[k] = {t[k].data(), off[k].data(), idx[k].data(), o.data() + k * dim};
  }
  launch_embedding_forward(group.data(), T, dim, bags, T * dim);
  synchronize();
  return o.download();
}

void coalesce_on_device(const std::vector<int64_t>& offsets, const std::vector<int64_t>& indices, int64_t max_row,
                        const std::vector<float>& grad, int64_t dim, const std::vector<float>* scale,
                        std::vector<int64_t>& rows, std::vector<float>& grads) {
  const int64_t bags = static_cast<int64_t>(offsets.size()) - 1;
  DeviceArray<int64_t> off, idx;
  DeviceArray<float> g, s;
  off.upload(offsets), idx.upload(indices), g.upload(grad);
  if (scale) s.upload(*scale);
  CoalesceWorkspace ws;
  const DeviceSparseRows d = ws.coalesce(off.data(), idx.data(), bags, static_cast<int64_t>(indices.size()), max_row,
                                         g.data(), dim, dim, scale ? s.data() : nullptr);
  synchronize();
  rows.resize(static_cast<size_t>(d.count));
  grads.resize(static_cast<size_t>(d.count * dim));
  if (d.count) {
    PRIVREC_CUDA_CHECK(cudaMemcpy(rows.data(), d.rows, rows.size() * sizeof(int64_t), cudaMemcpyDeviceToHost));
    PRIVREC_CUDA_CHECK(cudaMemcpy(grads.data(), d.grads, grads.size() * sizeof(float), cudaMemcpyDeviceToHost));
  }
}

}  // namespace privrec::cuda
