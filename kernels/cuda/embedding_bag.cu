#include "kernels/cuda/embedding_bag.hpp"

#include <algorithm>
#include <cstdint>
#include <utility>

#include <cub/cub.cuh>

#include "models/kernel_work/cuda_coalesce_plan.hpp"
#include "kernels/cuda/cuda_check.hpp"
#include "kernels/cuda/launch.cuh"
#include "models/kernel_work/cuda_table_group.hpp"

namespace privrec::cuda {

namespace {

using cuda_work::CoalesceGroup;
using cuda_work::coalesce_key;
using cuda_work::key_row;
using cuda_work::key_table;

// Up to kTablesPerLaunch tables per launch, blockIdx.y the table: each one's rows, batch
// and output passed by value (__grid_constant__: read from the parameter space where the threads
// index it, with no per-thread copy).
constexpr int kGroup = static_cast<int>(cuda_work::kTablesPerLaunch);
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

// Up to kGroup tables of one sort group per launch (blockIdx.y the table), passed by value.
struct KeyGroup {
  const int64_t* offsets[kGroup];
  const int64_t* indices[kGroup];
  int64_t base[kGroup];    // the table's first lookup, numbered within the sort group
  uint64_t table[kGroup];  // the table's number within the sort group
};

// keys[base + k] = coalesce_key(table, row of lookup k, base + k) and example[base + k] = the bag
// of lookup k, for every lookup k of the block row's table.
__device__ __forceinline__ void make_table_keys(const int64_t* __restrict__ offsets, const int64_t* __restrict__ indices,
                                                int64_t base, uint64_t table, int64_t bags, int shift, int table_shift,
                                                uint64_t* __restrict__ keys, int32_t* __restrict__ example) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < bags;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    for (int64_t k = offsets[i]; k < offsets[i + 1]; ++k) {
      const uint64_t lookup = static_cast<uint64_t>(base + k);
      keys[base + k] = coalesce_key(table, static_cast<uint64_t>(indices[k]), lookup, shift, table_shift);
      example[base + k] = static_cast<int32_t>(i);
    }
}

__global__ void make_keys(const __grid_constant__ KeyGroup g, int64_t bags, int shift, int table_shift, uint64_t* keys,
                          int32_t* example) {
  const int y = blockIdx.y;
  make_table_keys(g.offsets[y], g.indices[y], g.base[y], g.table[y], bags, shift, table_shift, keys, example);
}

// flags[k] = 1 where sorted position k begins a new (table, row), else 0.
__global__ void mark_row_starts(const uint64_t* sorted, int64_t n, int shift, int64_t* flags) {
  for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < n;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x)
    flags[k] = k == 0 || (sorted[k - 1] >> shift) != (sorted[k] >> shift);
}

// With pos the exclusive prefix sum of the flags, the row beginning at k is distinct row pos[k]:
// starts and rows come out in key order, each table's ascending (no atomics, no second sort);
// *count = distinct rows.
__global__ void number_rows(const uint64_t* sorted, const int64_t* flags, const int64_t* pos, int64_t n, int shift,
                            uint64_t row_mask, int64_t* starts, int64_t* rows, unsigned long long* count) {
  for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < n;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    if (flags[k]) starts[pos[k]] = k, rows[pos[k]] = static_cast<int64_t>(key_row(sorted[k], shift, row_mask));
    if (k == n - 1) *count = static_cast<unsigned long long>(pos[k] + flags[k]);
  }
}

// firsts[t] = the first distinct row of table t (numbered within the sort group), for t in
// [0, tables]: a binary search over the distinct rows' tables, which ascend (firsts[tables] is the
// number of distinct rows; a table without lookups gets its successor's first).
__global__ void table_firsts(const uint64_t* sorted, const int64_t* starts, const unsigned long long* count,
                             int64_t tables, int table_shift, int64_t* firsts) {
  const int64_t U = static_cast<int64_t>(*count);
  for (int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; t <= tables;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t lo = 0, hi = U;
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (key_table(sorted[starts[mid]], table_shift) < static_cast<uint64_t>(t)) lo = mid + 1;
      else hi = mid;
    }
    firsts[t] = lo;
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
// The gradient of the lookup's table starts table_stride floats after the previous table's (the
// table is the key's top bits, the same for the whole segment: the warp's).
__global__ void sum_segments(const uint64_t* __restrict__ sorted, int64_t n, int shift, int table_shift,
                             const int64_t* __restrict__ starts, int64_t count, const int32_t* __restrict__ example,
                             const float* __restrict__ grad, int64_t table_stride, int64_t grad_stride, int64_t dim,
                             const float* __restrict__ scale, float* __restrict__ out) {
  const uint64_t mask = (uint64_t{1} << shift) - 1;
  const int lane = static_cast<int>(threadIdx.x % 32);
  const int64_t slices = (dim + 31) / 32, tasks = count * slices;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x / 32);
  for (int64_t w = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) / 32; w < tasks; w += warps) {
    const int64_t u = w / slices, c = (w - u * slices) * 32 + lane;  // u is warp-uniform
    const int64_t k0 = starts[u], k1 = u + 1 < count ? starts[u + 1] : n;
    const bool live = c < dim;
    const int64_t table = static_cast<int64_t>(key_table(sorted[k0], table_shift));
    const float* g = grad + table * table_stride + (live ? c : 0);
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
  // No throwing here: a copy still landing in host_firsts_ is waited for first.
  if (counted_) cudaEventSynchronize(static_cast<cudaEvent_t>(counted_));
  if (counted_) cudaEventDestroy(static_cast<cudaEvent_t>(counted_));
  if (host_firsts_) cudaFreeHost(host_firsts_);
}

// Scratch for n lookups, nfirsts table firsts and `groups` counts; the page-locked copy of the firsts.
void CoalesceWorkspace::reserve(size_t n, size_t nfirsts, size_t groups) {
  scratch<uint64_t>(keys_in_, n * sizeof(uint64_t)), scratch<uint64_t>(keys_out_, n * sizeof(uint64_t));
  scratch<int32_t>(example_, n * sizeof(int32_t)), scratch<int64_t>(flags_, n * sizeof(int64_t));
  scratch<int64_t>(pos_, n * sizeof(int64_t)), scratch<int64_t>(starts_, n * sizeof(int64_t));
  scratch<int64_t>(rows_, n * sizeof(int64_t));
  scratch<int64_t>(firsts_, nfirsts * sizeof(int64_t));
  scratch<unsigned long long>(count_, groups * sizeof(unsigned long long));
  if (nfirsts > host_firsts_size_) {
    if (host_firsts_) {
      PRIVREC_CUDA_CHECK(cudaFreeHost(host_firsts_));
      host_firsts_ = nullptr, host_firsts_size_ = 0;
    }
    void* p = nullptr;
    PRIVREC_CUDA_CHECK(cudaMallocHost(&p, nfirsts * sizeof(int64_t)));
    host_firsts_ = static_cast<int64_t*>(p), host_firsts_size_ = nfirsts;
  }
  if (!counted_) {
    cudaEvent_t e;
    PRIVREC_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    counted_ = e;
  }
}

// Group gi's keys made, sorted, their distinct rows numbered and each table's first found (at
// firsts_[first_table + gi ...], its tables + 1 entries), all queued on the device.
void CoalesceWorkspace::sort_group(const cuda_work::CoalesceGroup& g, size_t gi, const CoalesceTable* tables, int64_t bags) {
  const int64_t off = g.lookup_base, fo = g.first_table + static_cast<int64_t>(gi);
  auto* keys_in = reinterpret_cast<uint64_t*>(keys_in_.data()) + off;
  auto* keys_out = reinterpret_cast<uint64_t*>(keys_out_.data()) + off;
  auto* flags = reinterpret_cast<int64_t*>(flags_.data()) + off;
  auto* pos = reinterpret_cast<int64_t*>(pos_.data()) + off;
  auto* starts = reinterpret_cast<int64_t*>(starts_.data()) + off;
  auto* count = reinterpret_cast<unsigned long long*>(count_.data()) + gi;
  int64_t base = 0;  // the next table's first lookup within the group
  for (int64_t j0 = 0; j0 < g.tables; j0 += kGroup) {
    const int m = static_cast<int>(g.tables - j0 < kGroup ? g.tables - j0 : kGroup);
    KeyGroup kg{};
    for (int j = 0; j < m; ++j) {
      const CoalesceTable& t = tables[g.first_table + j0 + j];
      kg.offsets[j] = t.offsets, kg.indices[j] = t.indices, kg.base[j] = base;
      kg.table[j] = static_cast<uint64_t>(j0 + j);
      base += t.lookups;
    }
    const int x = std::max(1, std::min(grid_for(bags), (1 << 20) / m));
    make_keys<<<dim3(static_cast<unsigned>(x), static_cast<unsigned>(m)), kThreads>>>(
        kg, bags, g.shift, g.table_shift(), keys_in, reinterpret_cast<int32_t*>(example_.data()) + off);
    PRIVREC_CUDA_CHECK_LAUNCH(make_keys);
  }
  // Stable radix sort on the table and row bits only: a row's lookups stay in lookup order.
  size_t need = 0;
  PRIVREC_CUDA_CHECK(cub::DeviceRadixSort::SortKeys(nullptr, need, keys_in, keys_out, g.lookups, g.shift, g.end_bit()));
  PRIVREC_CUDA_CHECK(cub::DeviceRadixSort::SortKeys(scratch<char>(temp_, need), need, keys_in, keys_out, g.lookups,
                                                    g.shift, g.end_bit()));
  mark_row_starts<<<grid_for(g.lookups), kThreads>>>(keys_out, g.lookups, g.shift, flags);
  PRIVREC_CUDA_CHECK_LAUNCH(mark_row_starts);
  need = 0;
  PRIVREC_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(nullptr, need, flags, pos, g.lookups));
  PRIVREC_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(scratch<char>(temp_, need), need, flags, pos, g.lookups));
  number_rows<<<grid_for(g.lookups), kThreads>>>(keys_out, flags, pos, g.lookups, g.shift, g.row_mask(), starts,
                                                 reinterpret_cast<int64_t*>(rows_.data()) + off, count);
  PRIVREC_CUDA_CHECK_LAUNCH(number_rows);
  table_firsts<<<grid_for(g.tables + 1), kThreads>>>(keys_out, starts, count, g.tables, g.table_shift(),
                                                     reinterpret_cast<int64_t*>(firsts_.data()) + fo);
  PRIVREC_CUDA_CHECK_LAUNCH(table_firsts);
}

void CoalesceWorkspace::coalesce(const CoalesceTable* tables, int64_t count, int64_t bags, const float* grad,
                                 int64_t grad_stride, int64_t table_stride, int64_t dim, const float* scale) {
  // Nothing of the last call survives: a table without lookups now has no rows (adafest's
  // selection reads sort(k) next, and must not select the last batch's rows again).
  rows_of_.assign(static_cast<size_t>(count), DeviceSparseRows{});
  sorts_.assign(static_cast<size_t>(count), SortedLookups{});
  lookups_.resize(static_cast<size_t>(count)), max_rows_.resize(static_cast<size_t>(count));
  int64_t total = 0;
  for (int64_t k = 0; k < count; ++k)
    lookups_[k] = tables[k].lookups, max_rows_[k] = tables[k].max_row, total += tables[k].lookups;
  std::vector<CoalesceGroup> groups;
  try {
    groups = cuda_work::plan_coalesce_groups(lookups_, max_rows_);
  } catch (const std::length_error& e) {
    throw CudaError(e.what());
  }
  if (total == 0) return;
  const size_t nfirsts = static_cast<size_t>(count) + groups.size();  // each group's tables + 1
  reserve(static_cast<size_t>(total), nfirsts, groups.size());
  bool empty_group = false;  // its firsts stay unwritten: zeroed, so that no copy reads garbage
  for (size_t gi = 0; gi < groups.size(); ++gi) empty_group = empty_group || groups[gi].lookups == 0;
  if (empty_group) PRIVREC_CUDA_CHECK(cudaMemsetAsync(firsts_.data(), 0, nfirsts * sizeof(int64_t), nullptr));
  for (size_t gi = 0; gi < groups.size(); ++gi)
    if (groups[gi].lookups > 0) sort_group(groups[gi], gi, tables, bags);
  // The host waits once, for every table's first distinct row: what follows is sized by them.
  PRIVREC_CUDA_CHECK(cudaMemcpyAsync(host_firsts_, firsts_.data(), nfirsts * sizeof(int64_t), cudaMemcpyDeviceToHost,
                                     nullptr));
  PRIVREC_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(counted_), nullptr));
  PRIVREC_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(counted_)));
  packed_.assign(groups.size(), 0);  // each group's first row among all groups' gradients
  int64_t distinct = 0;
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const CoalesceGroup& g = groups[gi];
    packed_[gi] = distinct;
    if (g.lookups > 0) distinct += host_firsts_[g.first_table + static_cast<int64_t>(gi) + g.tables];
  }
  auto* grads = scratch<float>(grads_, static_cast<size_t>(distinct * dim) * sizeof(float));
  const auto* keys = reinterpret_cast<const uint64_t*>(keys_out_.data());
  const auto* starts = reinterpret_cast<const int64_t*>(starts_.data());
  const auto* example = reinterpret_cast<const int32_t*>(example_.data());
  auto* rows = reinterpret_cast<int64_t*>(rows_.data());
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const CoalesceGroup& g = groups[gi];
    if (g.lookups == 0) continue;
    const int64_t off = g.lookup_base;
    const int64_t* f = host_firsts_ + g.first_table + static_cast<int64_t>(gi);
    const int64_t U = f[g.tables];
    if (dim > 0 && U > 0) {
      // One warp per (distinct row, 32-column slice), every table of the group in one launch.
      sum_segments<<<grid_for(U * ((dim + 31) / 32) * 32), kThreads>>>(
          keys + off, g.lookups, g.shift, g.table_shift(), starts + off, U, example + off,
          grad + g.first_table * table_stride, table_stride, grad_stride, dim, scale, grads + packed_[gi] * dim);
      PRIVREC_CUDA_CHECK_LAUNCH(sum_segments);
    }
    int64_t end = 0;  // where the table's lookups end in the group's sorted keys
    for (int64_t j = 0; j < g.tables; ++j) {
      const int64_t k = g.first_table + j, u0 = f[j], u = f[j + 1] - f[j];
      end += tables[k].lookups;
      rows_of_[k] = {u, rows + off + u0, grads + (packed_[gi] + u0) * dim};
      sorts_[k] = {keys + off, starts + off + u0, example + off, rows + off + u0, end, u, g.shift};
    }
  }
}

DeviceSparseRows CoalesceWorkspace::coalesce(const int64_t* offsets, const int64_t* indices, int64_t bags,
                                             int64_t lookups, int64_t max_row, const float* grad,
                                             int64_t grad_stride, int64_t dim, const float* scale) {
  const CoalesceTable t{offsets, indices, lookups, max_row};
  coalesce(&t, 1, bags, grad, grad_stride, 0, dim, scale);
  return rows(0);
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

void coalesce_tables_on_device(const std::vector<std::vector<int64_t>>& offsets,
                               const std::vector<std::vector<int64_t>>& indices, int64_t max_row,
                               const std::vector<float>& grad, int64_t dim, const std::vector<float>* scale,
                               std::vector<std::vector<int64_t>>& rows, std::vector<std::vector<float>>& grads) {
  const int64_t T = static_cast<int64_t>(offsets.size());
  rows.assign(static_cast<size_t>(T), {}), grads.assign(static_cast<size_t>(T), {});
  if (T == 0) return;
  const int64_t bags = static_cast<int64_t>(offsets[0].size()) - 1;
  std::vector<DeviceArray<int64_t>> off(static_cast<size_t>(T)), idx(static_cast<size_t>(T));
  std::vector<CoalesceTable> group(static_cast<size_t>(T));
  for (int64_t k = 0; k < T; ++k) {
    off[k].upload(offsets[k]), idx[k].upload(indices[k]);
    group[k] = {off[k].data(), idx[k].data(), static_cast<int64_t>(indices[k].size()), max_row};
  }
  DeviceArray<float> g, s;
  g.upload(grad);
  if (scale) s.upload(*scale);
  CoalesceWorkspace ws;
  ws.coalesce(group.data(), T, bags, g.data(), T * dim, dim, dim, scale ? s.data() : nullptr);
  synchronize();
  for (int64_t k = 0; k < T; ++k) {
    const DeviceSparseRows& d = ws.rows(k);
    rows[k].resize(static_cast<size_t>(d.count));
    grads[k].resize(static_cast<size_t>(d.count * dim));
    if (d.count) {
      PRIVREC_CUDA_CHECK(cudaMemcpy(rows[k].data(), d.rows, rows[k].size() * sizeof(int64_t), cudaMemcpyDeviceToHost));
      if (dim)
        PRIVREC_CUDA_CHECK(
            cudaMemcpy(grads[k].data(), d.grads, grads[k].size() * sizeof(float), cudaMemcpyDeviceToHost));
    }
  }
}

void coalesce_on_device(const std::vector<int64_t>& offsets, const std::vector<int64_t>& indices, int64_t max_row,
                        const std::vector<float>& grad, int64_t dim, const std::vector<float>* scale,
                        std::vector<int64_t>& rows, std::vector<float>& grads) {
  std::vector<std::vector<int64_t>> r;
  std::vector<std::vector<float>> g;
  coalesce_tables_on_device({offsets}, {indices}, max_row, grad, dim, scale, r, g);
  rows = std::move(r[0]), grads = std::move(g[0]);
}

}  // namespace privrec::cuda
