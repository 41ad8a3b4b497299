#include "kernels/cuda/embedding_bag.hpp"

#include <cub/cub.cuh>

#include "kernels/cuda/cuda_check.hpp"
#include "kernels/cuda/launch.cuh"

namespace privrec::cuda {

namespace {

int bits_for(uint64_t v) {
  int b = 0;
  while (b < 64 && (v >> b) != 0) ++b;
  return b;
}

// Lane `c4` of a bag's group owns columns 4 c4 .. 4 c4 + 3; four lookups are loaded before any is
// added (memory parallelism), the adds stay in lookup order (bit-identical to the CPU backend).
__global__ void forward_vec4(const float* __restrict__ table, int64_t dim, const int64_t* __restrict__ offsets,
                             const int64_t* __restrict__ indices, int64_t bags, float* __restrict__ out,
                             int64_t out_stride) {
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

__global__ void forward_scalar(const float* __restrict__ table, int64_t dim, const int64_t* __restrict__ offsets,
                               const int64_t* __restrict__ indices, int64_t bags, float* __restrict__ out,
                               int64_t out_stride) {
  const int64_t total = bags * dim;
  for (int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i = t / dim, c = t - i * dim;
    float acc = 0.f;
    for (int64_t k = offsets[i]; k < offsets[i + 1]; ++k) acc = __fadd_rn(acc, table[indices[k] * dim + c]);
    out[i * out_stride + c] = acc;
  }
}

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

// starts[u] = a sorted position where a new row begins (in any order: sorted afterwards);
// *count = distinct rows.
__global__ void mark_starts(const uint64_t* sorted, int64_t n, int shift, int64_t* starts, unsigned long long* count) {
  for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < n;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x)
    if (k == 0 || (sorted[k - 1] >> shift) != (sorted[k] >> shift)) starts[atomicAdd(count, 1ull)] = k;
}

__global__ void rows_of_starts(const uint64_t* sorted, const int64_t* starts, int64_t count, int shift, int64_t* rows) {
  for (int64_t u = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; u < count;
       u += static_cast<int64_t>(gridDim.x) * blockDim.x)
    rows[u] = static_cast<int64_t>(sorted[starts[u]] >> shift);
}

// One thread per (distinct row, column): acc = s g (first lookup), then += s g in sorted order.
__global__ void sum_segments(const uint64_t* sorted, int64_t n, int shift, const int64_t* starts, int64_t count,
                             const int32_t* example, const float* grad, int64_t grad_stride, int64_t dim,
                             const float* scale, float* out) {
  const uint64_t mask = (uint64_t{1} << shift) - 1;
  const int64_t total = count * dim;
  for (int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t u = t / dim, c = t - u * dim;
    const int64_t k0 = starts[u], k1 = u + 1 < count ? starts[u + 1] : n;
    float acc = 0.f;
    for (int64_t k = k0; k < k1; ++k) {
      const int32_t i = example[sorted[k] & mask];
      const float s = scale ? scale[i] : 1.0f;
      const float v = __fmul_rn(s, grad[static_cast<int64_t>(i) * grad_stride + c]);
      acc = k == k0 ? v : __fadd_rn(acc, v);
    }
    out[u * dim + c] = acc;
  }
}

}  // namespace

void launch_embedding_forward(const float* table, int64_t dim, const int64_t* offsets, const int64_t* indices,
                              int64_t bags, float* out, int64_t out_stride) {
  if (bags == 0) return;
  if (dim % 4 == 0 && out_stride % 4 == 0) {
    forward_vec4<<<grid_for(bags * (dim / 4)), kThreads>>>(table, dim, offsets, indices, bags, out, out_stride);
    PRIVREC_CUDA_CHECK_LAUNCH(forward_vec4);
  } else {
    forward_scalar<<<grid_for(bags * dim), kThreads>>>(table, dim, offsets, indices, bags, out, out_stride);
    PRIVREC_CUDA_CHECK_LAUNCH(forward_scalar);
  }
}


DeviceSparseRows CoalesceWorkspace::coalesce(const int64_t* offsets, const int64_t* indices, int64_t bags,
                                             int64_t lookups, int64_t max_row, const float* grad,
                                             int64_t grad_stride, int64_t dim, const float* scale) {
  DeviceSparseRows out;
  if (lookups == 0) {
    // An empty table: no row touched. The previous call's sort must not survive in last_sort(),
    // which adafest's selection reads next (it would select that table's rows again).
    last_ = {};
    return out;
  }
  const int shift = bits_for(static_cast<uint64_t>(lookups));
  const int end_bit = shift + bits_for(static_cast<uint64_t>(max_row));
  if (end_bit > 64) throw CudaError("coalesce: row and lookup ids need more than 64 key bits");
  const size_t n = static_cast<size_t>(lookups);
  auto* keys_in = scratch<uint64_t>(keys_in_, n * sizeof(uint64_t));
  auto* keys_out = scratch<uint64_t>(keys_out_, n * sizeof(uint64_t));
  auto* example = scratch<int32_t>(example_, n * sizeof(int32_t));
  auto* starts = scratch<int64_t>(starts_, n * sizeof(int64_t));
  auto* starts_sorted = scratch<int64_t>(starts_sorted_, n * sizeof(int64_t));
  auto* rows = scratch<int64_t>(rows_, n * sizeof(int64_t));
  auto* count = scratch<unsigned long long>(count_, sizeof(unsigned long long));

  make_keys<<<grid_for(bags), kThreads>>>(offsets, indices, bags, shift, keys_in, example);
  PRIVREC_CUDA_CHECK_LAUNCH(make_keys);
  // Stable radix sort on the row bits only: the lookups of one row stay in lookup (example) order.
  size_t temp_need = 0;
  PRIVREC_CUDA_CHECK(cub::DeviceRadixSort::SortKeys(nullptr, temp_need, keys_in, keys_out, lookups, shift, end_bit));
  PRIVREC_CUDA_CHECK(
      cub::DeviceRadixSort::SortKeys(scratch<char>(temp_, temp_need), temp_need, keys_in, keys_out, lookups, shift, end_bit));
  PRIVREC_CUDA_CHECK(cudaMemset(count, 0, sizeof(unsigned long long)));
  mark_starts<<<grid_for(lookups), kThreads>>>(keys_out, lookups, shift, starts, count);
  PRIVREC_CUDA_CHECK_LAUNCH(mark_starts);
  unsigned long long distinct = 0;
  PRIVREC_CUDA_CHECK(cudaMemcpy(&distinct, count, sizeof(distinct), cudaMemcpyDeviceToHost));
  const int64_t U = static_cast<int64_t>(distinct);
  // The atomics hand out slots in any order: sort the starts (ascending starts are ascending rows).
  size_t need = 0;
  PRIVREC_CUDA_CHECK(cub::DeviceRadixSort::SortKeys(nullptr, need, starts, starts_sorted, U));
  PRIVREC_CUDA_CHECK(cub::DeviceRadixSort::SortKeys(scratch<char>(temp_, need), need, starts, starts_sorted, U));
  rows_of_starts<<<grid_for(U), kThreads>>>(keys_out, starts_sorted, U, shift, rows);
  PRIVREC_CUDA_CHECK_LAUNCH(rows_of_starts);
  auto* grads = scratch<float>(grads_, static_cast<size_t>(U * dim) * sizeof(float));
  sum_segments<<<grid_for(U * dim), kThreads>>>(keys_out, lookups, shift, starts_sorted, U, example, grad, grad_stride,
                                                dim, scale, grads);
  PRIVREC_CUDA_CHECK_LAUNCH(sum_segments);
  out.count = U;
  out.rows = rows;
  out.grads = grads;
  last_ = {keys_out, starts_sorted, example, rows, lookups, U, shift};
  return out;
}

std::vector<float> embedding_forward_on_device(const std::vector<float>& table, int64_t dim,
                                               const std::vector<int64_t>& offsets, const std::vector<int64_t>& indices) {
  const int64_t bags = static_cast<int64_t>(offsets.size()) - 1;
  DeviceArray<float> t, o(static_cast<size_t>(bags * dim));
  DeviceArray<int64_t> off, idx;
  t.upload(table), off.upload(offsets), idx.upload(indices);
  launch_embedding_forward(t.data(), dim, off.data(), idx.data(), bags, o.data(), dim);
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
