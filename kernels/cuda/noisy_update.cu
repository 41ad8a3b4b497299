#include "kernels/cuda/noisy_update.hpp"

#include "kernels/cuda/cuda_check.hpp"
#include "kernels/cuda/device_memory.hpp"
#include "kernels/cuda/launch.cuh"
#include "models/rng/gaussian.hpp"

namespace privrec::cuda {

namespace {

// The four normals of one Philox block: columns 4 q .. 4 q + 3 of a row.
__device__ inline void block_normals(uint64_t seed, RngDomain domain, uint64_t step, uint32_t table, uint64_t row,
                                     uint32_t q, DeviceNoise noise, float z[4]) {
  if (noise == DeviceNoise::gaussian) {
    const NoiseCounter n = noise_counter(domain, step, table, row);
    normals_from_block(philox4x32_10(q, n.c1, n.c2, n.c3, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)), z);
  } else {
    const float v = noise == DeviceNoise::ones ? 1.0f : 0.0f;
    z[0] = z[1] = z[2] = z[3] = v;
  }
}

// One thread per (row, column block of 4): the block's noise in registers, the update in the CPU
// backend's order: w - scale * (g + stddev * z), or w - scale * (stddev * z) without a gradient.
__global__ void dense_noisy_update_kernel(float* __restrict__ table, int64_t rows, int64_t dim,
                                          uint32_t table_id, const int32_t* __restrict__ slots,
                                          const float* __restrict__ grads, float scale, float stddev, uint64_t seed,
                                          DeviceNoise noise, uint64_t step) {
  const int64_t qpr = (dim + 3) / 4, total = rows * qpr;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / qpr, q = i - r * qpr, c0 = 4 * q;
    float z[4];
    block_normals(seed, RngDomain::table_noise, step, table_id, static_cast<uint64_t>(r), static_cast<uint32_t>(q),
                  noise, z);
    const int32_t slot = slots ? slots[r] : -1;
    float* w = table + r * dim + c0;
    const float* g = slot >= 0 ? grads + static_cast<int64_t>(slot) * dim + c0 : nullptr;
    if (dim % 4 == 0) {  // 16-byte loads and stores
      float4 v = *reinterpret_cast<float4*>(w);
      float* vv = reinterpret_cast<float*>(&v);
      if (g) {
        const float4 gv = *reinterpret_cast<const float4*>(g);
        const float* gg = reinterpret_cast<const float*>(&gv);
        for (int k = 0; k < 4; ++k) vv[k] = __fsub_rn(vv[k], __fmul_rn(scale, __fadd_rn(gg[k], __fmul_rn(stddev, z[k]))));
      } else {
        for (int k = 0; k < 4; ++k) vv[k] = __fsub_rn(vv[k], __fmul_rn(scale, __fmul_rn(stddev, z[k])));
      }
      *reinterpret_cast<float4*>(w) = v;
    } else {
      const int64_t n = dim - c0 < 4 ? dim - c0 : 4;
      for (int64_t k = 0; k < n; ++k) {
        const float t = g ? __fadd_rn(g[k], __fmul_rn(stddev, z[k])) : __fmul_rn(stddev, z[k]);
        w[k] = __fsub_rn(w[k], __fmul_rn(scale, t));
      }
    }
  }
}

__global__ void sparse_update_kernel(float* __restrict__ table, int64_t dim, const int64_t* __restrict__ rows,
                                     const float* __restrict__ grads, int64_t count, float scale) {
  const int64_t total = count * dim;
  for (int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t u = t / dim, c = t - u * dim;
    float* w = table + rows[u] * dim + c;
    *w = __fsub_rn(*w, __fmul_rn(scale, grads[t]));
  }
}

__global__ void sparse_noisy_update_kernel(float* __restrict__ table, int64_t dim, uint32_t table_id,
                                           const int64_t* __restrict__ rows, const float* __restrict__ grads,
                                           int64_t count, float scale, float stddev, uint64_t seed, DeviceNoise noise,
                                           uint64_t step) {
  const int64_t qpr = (dim + 3) / 4, total = count * qpr;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t u = i / qpr, q = i - u * qpr, c0 = 4 * q, r = rows[u];
    float z[4];
    block_normals(seed, RngDomain::table_noise, step, table_id, static_cast<uint64_t>(r), static_cast<uint32_t>(q),
                  noise, z);
    for (int64_t k = 0; k < 4 && c0 + k < dim; ++k) {
      float* w = table + r * dim + c0 + k;
      *w = __fsub_rn(*w, __fmul_rn(scale, __fadd_rn(grads[u * dim + c0 + k], __fmul_rn(stddev, z[k]))));
    }
  }
}

// One thread per row: the row's pending noise, column block by column block.
__global__ void lazy_settle_kernel(float* __restrict__ table, int64_t dim, uint32_t table_id,
                                   const int64_t* __restrict__ rows, int64_t n, uint32_t* __restrict__ history,
                                   uint32_t now, float stddev, bool exact, DeviceNoise noise, uint64_t seed,
                                   const double* scale, const double* cum, const double* cum_sq,
                                   unsigned long long* owed_steps) {
  for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < n;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = rows ? rows[k] : k;
    const uint32_t h = history[r];
    if (h >= now) continue;
    history[r] = now;
    atomicAdd(&owed_steps[0], 1ull);
    atomicAdd(&owed_steps[1], static_cast<unsigned long long>(now - h));
    if (noise == DeviceNoise::zero || stddev == 0.0f) continue;
    float* w = table + r * dim;
    const int64_t qpr = (dim + 3) / 4;
    if (exact) {
      for (uint32_t s = h + 1; s <= now; ++s) {
        const float a = __fmul_rn(static_cast<float>(scale[s]), stddev);
        for (int64_t q = 0; q < qpr; ++q) {
          float z[4];
          block_normals(seed, RngDomain::table_noise, s, table_id, static_cast<uint64_t>(r), static_cast<uint32_t>(q),
                        noise, z);
          for (int64_t c = 0; c < 4 && 4 * q + c < dim; ++c) w[4 * q + c] = __fsub_rn(w[4 * q + c], __fmul_rn(a, z[c]));
        }
      }
    } else {
      const float a = noise == DeviceNoise::ones ? __fmul_rn(static_cast<float>(cum[now] - cum[h]), stddev)
                                                 : __fmul_rn(static_cast<float>(sqrt(cum_sq[now] - cum_sq[h])), stddev);
      for (int64_t q = 0; q < qpr; ++q) {
        float z[4];
        block_normals(seed, RngDomain::table_noise, now, table_id, static_cast<uint64_t>(r), static_cast<uint32_t>(q),
                      noise, z);
        for (int64_t c = 0; c < 4 && 4 * q + c < dim; ++c) w[4 * q + c] = __fsub_rn(w[4 * q + c], __fmul_rn(a, z[c]));
      }
    }
  }
}

__global__ void set_slots_kernel(int32_t* slots, const int64_t* grad_rows, int64_t count, bool set) {
  for (int64_t u = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; u < count;
       u += static_cast<int64_t>(gridDim.x) * blockDim.x)
    slots[grad_rows[u]] = set ? static_cast<int32_t>(u) : -1;
}

__global__ void normal_rows_kernel(uint64_t seed, RngDomain domain, uint64_t step, uint32_t table, const int64_t* rows,
                                   int64_t nrows, int64_t n, float* out) {
  const int64_t qpr = (n + 3) / 4, total = nrows * qpr;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t j = i / qpr, q = i - j * qpr;
    float z[4];
    block_normals(seed, domain, step, table, static_cast<uint64_t>(rows[j]), static_cast<uint32_t>(q),
                  DeviceNoise::gaussian, z);
    for (int64_t k = 0; k < 4 && 4 * q + k < n; ++k) out[j * n + 4 * q + k] = z[k];
  }
}
}  // namespace

void launch_dense_noisy_update(float* table, int64_t rows, int64_t dim, uint32_t table_id, const int32_t* slots,
                               const float* grads, float scale, float stddev, uint64_t seed, DeviceNoise noise,
                               uint64_t step) {
  const int64_t work = rows * ((dim + 3) / 4);
  if (work == 0) return;
  dense_noisy_update_kernel<<<grid_for(work), kThreads>>>(table, rows, dim, table_id, slots, grads, scale, stddev, seed,
                                                            noise, step);
  PRIVREC_CUDA_CHECK_LAUNCH(dense_noisy_update_kernel);
}

void launch_sparse_update(float* table, int64_t dim, const int64_t* rows, const float* grads, int64_t count,
                          float scale) {
  if (count == 0) return;
  sparse_update_kernel<<<grid_for(count * dim), kThreads>>>(table, dim, rows, grads, count, scale);
  PRIVREC_CUDA_CHECK_LAUNCH(sparse_update_kernel);
}

void launch_sparse_noisy_update(float* table, int64_t dim, uint32_t table_id, const int64_t* rows, const float* grads,
                                int64_t count, float scale, float stddev, uint64_t seed, DeviceNoise noise,
                                uint64_t step) {
  if (count == 0) return;
  sparse_noisy_update_kernel<<<grid_for(count * ((dim + 3) / 4)), kThreads>>>(table, dim, table_id, rows, grads, count,
                                                                                scale, stddev, seed, noise, step);
  PRIVREC_CUDA_CHECK_LAUNCH(sparse_noisy_update_kernel);
}

void launch_lazy_settle(float* table, int64_t dim, uint32_t table_id, const int64_t* rows, int64_t n,
                        uint32_t* history, uint32_t now, float stddev, bool exact, DeviceNoise noise, uint64_t seed,
                        const double* scale, const double* cum, const double* cum_sq,
                        unsigned long long* owed_steps) {
  if (n == 0) return;
  lazy_settle_kernel<<<grid_for(n), kThreads>>>(table, dim, table_id, rows, n, history, now, stddev, exact, noise, seed,
                                                  scale, cum, cum_sq, owed_steps);
  PRIVREC_CUDA_CHECK_LAUNCH(lazy_settle_kernel);
}

void launch_set_slots(int32_t* slots, const int64_t* grad_rows, int64_t count, bool set) {
  if (count == 0) return;
  set_slots_kernel<<<grid_for(count), kThreads>>>(slots, grad_rows, count, set);
  PRIVREC_CUDA_CHECK_LAUNCH(set_slots_kernel);
}

void dense_noisy_update_on_device(std::vector<float>& table, int64_t rows, int64_t dim, uint32_t table_id,
                                  const std::vector<int64_t>& grad_rows, const std::vector<float>& grads, float scale,
                                  float stddev, uint64_t seed, DeviceNoise noise, uint64_t step) {
  const int64_t U = static_cast<int64_t>(grad_rows.size());
  DeviceArray<float> t, g;
  DeviceArray<int64_t> gr;
  DeviceArray<int32_t> slots(static_cast<size_t>(rows));
  t.upload(table), g.upload(grads), gr.upload(grad_rows);
  fill_bytes(slots.data(), 0xFF, static_cast<size_t>(rows) * sizeof(int32_t));  // all -1
  launch_set_slots(slots.data(), gr.data(), U, true);
  launch_dense_noisy_update(t.data(), rows, dim, table_id, slots.data(), g.data(), scale, stddev, seed, noise, step);
  launch_set_slots(slots.data(), gr.data(), U, false);
  synchronize();
  table = t.download();
}

void normal_rows_on_device(uint64_t seed, RngDomain domain, uint64_t step, uint32_t table,
                           const std::vector<int64_t>& rows, int64_t n, std::vector<float>& out) {
  const int64_t nrows = static_cast<int64_t>(rows.size());
  out.assign(static_cast<size_t>(nrows * n), 0.0f);
  if (out.empty()) return;
  DeviceArray<int64_t> r;
  DeviceArray<float> o(out.size());
  r.upload(rows);
  normal_rows_kernel<<<grid_for(nrows * ((n + 3) / 4)), kThreads>>>(seed, domain, step, table, r.data(), nrows, n, o.data());
  PRIVREC_CUDA_CHECK_LAUNCH(normal_rows_kernel);
  synchronize();
  out = o.download();
}

}  // namespace privrec::cuda
