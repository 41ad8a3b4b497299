#include "kernels/cuda/dense_ops.hpp"

#include <cmath>
#include <string>

#include "kernels/cuda/cublas_loader.hpp"
#include "kernels/cuda/cuda_check.hpp"
#include "kernels/cuda/device_memory.hpp"
#include "kernels/cuda/launch.cuh"
#include "models/rng/gaussian.hpp"

namespace privrec::cuda {

namespace {
#define GRID_STRIDE PRIVREC_GRID_STRIDE

// The project's SGEMM (the fallback where cuBLAS cannot load): 128 x 128 tiles of C, 256 threads
// each computing 8 x 8 as four 4 x 4 quadrants 64 rows and columns apart (so a warp's shared-memory
// reads are 16-byte and conflict-free), K in slices of 8 through shared memory. Each slice of an
// operand is 1024 values, four per thread: one 16-byte load where the operand's contiguous
// direction allows it (row stride and base multiples of 16 bytes, the four values inside the
// matrix), else four checked scalar loads.
constexpr int kTile = static_cast<int>(GemmGrid::kTile), kSlice = static_cast<int>(GemmGrid::kSlice);
constexpr int kGemmThreads = 256;
// A slice's rows in shared memory, padded by 4 floats: the two threads that store one row's
// neighbours in k (k contiguous loads) hit different banks, and every row stays 16-byte aligned.
constexpr int kSliceRow = kTile + 4;

// s[kk][m] = op(X)(first + m, k0 + kk) for kk < kSlice, m < kTile (0 outside rows < rows, k < k_end),
// op(X)(m, k) = X[m * ld + k] (k contiguous) or, when KMajor, X[k * ld + m] (m contiguous).
template <bool KMajor>
__device__ __forceinline__ void load_slice(const float* __restrict__ X, int64_t ld, bool vec, int64_t rows,
                                           int64_t first, int64_t k0, int64_t k_end, float (*s)[kSliceRow]) {
  const int t = threadIdx.x;
  if constexpr (!KMajor) {  // four consecutive k of one row
    const int m = t >> 1, kq = (t & 1) * 4;
    const int64_t r = first + m, k = k0 + kq;
    if (vec && r < rows && k + 3 < k_end) {
      const float4 v = *reinterpret_cast<const float4*>(X + r * ld + k);
      s[kq][m] = v.x, s[kq + 1][m] = v.y, s[kq + 2][m] = v.z, s[kq + 3][m] = v.w;
    } else {
      for (int j = 0; j < 4; ++j) s[kq + j][m] = (r < rows && k + j < k_end) ? X[r * ld + k + j] : 0.0f;
    }
  } else {  // four consecutive rows at one k
    const int kk = t >> 5, mq = (t & 31) * 4;
    const int64_t r = first + mq, k = k0 + kk;
    if (vec && k < k_end && r + 3 < rows) {
      *reinterpret_cast<float4*>(&s[kk][mq]) = *reinterpret_cast<const float4*>(X + k * ld + r);
    } else {
      for (int j = 0; j < 4; ++j) s[kk][mq + j] = (k < k_end && r + j < rows) ? X[k * ld + r + j] : 0.0f;
    }
  }
}

struct GemmArgs {
  int64_t M, N, K;
  const float* A;
  int64_t lda;
  const float* B;
  int64_t ldb;
  float* C;  // C itself, or the split workspace (partials[s] is M x N, row stride N)
  int64_t ldc;
  bool acc, a_vec, b_vec, to_workspace;
};

// Block b takes work items b, b + gridDim.x, ...: the loop's bounds depend on blockIdx alone, so
// the whole block takes every iteration together and the barriers stay uniform; the barrier that
// ends each slice also keeps the next slice's (or item's) fill from overwriting one still read.
// op(A) = A (M x K, k contiguous) or A^T (A is K x M: TA); op(B) = B (K x N: n contiguous) or B^T
// (B is N x K: TB), loaded as op(B)^T's rows, so B's "KMajor" is !TB.
template <bool TA, bool TB>
__global__ void __launch_bounds__(kGemmThreads, 2) gemm_kernel(const GemmArgs g, const GemmGrid grid) {
  __shared__ __align__(16) float As[kSlice][kSliceRow];
  __shared__ __align__(16) float Bs[kSlice][kSliceRow];
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  for (int64_t w = blockIdx.x; w < grid.items(); w += gridDim.x) {
    const int64_t t = grid.tile(w), row0 = grid.row0(t), col0 = grid.col0(t);
    const int64_t kb = grid.k_begin(w, g.K), ke = grid.k_end(w, g.K);
    float c[8][8] = {};
    for (int64_t k0 = kb; k0 < ke; k0 += kSlice) {
      load_slice<TA>(g.A, g.lda, g.a_vec, g.M, row0, k0, ke, As);
      load_slice<!TB>(g.B, g.ldb, g.b_vec, g.N, col0, k0, ke, Bs);
      __syncthreads();
#pragma unroll
      for (int kk = 0; kk < kSlice; ++kk) {
        const float4 a0 = *reinterpret_cast<const float4*>(&As[kk][ty * 4]);
        const float4 a1 = *reinterpret_cast<const float4*>(&As[kk][64 + ty * 4]);
        const float4 b0 = *reinterpret_cast<const float4*>(&Bs[kk][tx * 4]);
        const float4 b1 = *reinterpret_cast<const float4*>(&Bs[kk][64 + tx * 4]);
        const float a[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
        const float b[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
        for (int x = 0; x < 8; ++x)
#pragma unroll
          for (int y = 0; y < 8; ++y) c[x][y] += a[x] * b[y];
      }
      __syncthreads();
    }
    float* out = g.C;
    int64_t ld = g.ldc;
    if (g.to_workspace) out = g.C + w / grid.tiles() * g.M * g.N, ld = g.N;
#pragma unroll
    for (int x = 0; x < 8; ++x) {
      const int64_t r = row0 + (x < 4 ? ty * 4 + x : 64 + ty * 4 + x - 4);
      if (r >= g.M) continue;
#pragma unroll
      for (int y = 0; y < 8; ++y) {
        const int64_t col = col0 + (y < 4 ? tx * 4 + y : 64 + tx * 4 + y - 4);
        if (col >= g.N) continue;
        float* p = out + r * ld + col;
        *p = (g.acc && !g.to_workspace) ? *p + c[x][y] : c[x][y];
      }
    }
  }
}

// C = (C when acc) + partials[0] + partials[1] + ..., in split order.
__global__ void split_k_sum_kernel(const float* __restrict__ partials, int64_t splits, int64_t M, int64_t N,
                                   float* __restrict__ C, int64_t ldc, bool acc) {
  GRID_STRIDE(e, M * N) {
    const int64_t r = e / N, col = e - r * N;
    float v = acc ? C[r * ldc + col] + partials[e] : partials[e];
    for (int64_t s = 1; s < splits; ++s) v += partials[s * M * N + e];
    C[r * ldc + col] = v;
  }
}

// Sum of v over the block's threads in a fixed tree order (blockDim.x == kThreads, a power of two);
// every thread gets the result.
__device__ double block_sum(double v, double* part) {
  part[threadIdx.x] = v;
  __syncthreads();
  for (unsigned w = blockDim.x / 2; w > 0; w /= 2) {
    if (threadIdx.x < w) part[threadIdx.x] += part[threadIdx.x + w];
    __syncthreads();
  }
  const double total = part[0];
  __syncthreads();  // part may be reused by the caller's next block_sum
  return total;
}

__global__ void add_bias_act_kernel(float* Y, const float* bias, int64_t B, int64_t out, bool relu) {
  GRID_STRIDE(k, B * out) {
    const float v = Y[k] + bias[k % out];
    Y[k] = relu ? fmaxf(v, 0.0f) : v;
  }
}

__global__ void feature_delta_kernel(const float* dfeat, const float* x, int64_t B, int64_t F, int64_t d, int64_t slot,
                                     float* out) {
  GRID_STRIDE(t, B * d) {
    const int64_t i = t / d, k = t - i * d;
    out[t] = x[t] > 0.0f ? dfeat[(i * F + slot) * d + k] : 0.0f;
  }
}

__global__ void relu_mask_kernel(float* dX, const float* X, int64_t n) {
  GRID_STRIDE(k, n) if (!(X[k] > 0.0f)) dX[k] = 0.0f;
}

// One thread per (example, output slot): slot < d copies x; slot d + p is pair p = (a, b), a > b.
__global__ void interaction_forward_kernel(const float* x, float* feat, int64_t B, int64_t F, int64_t d, float* z,
                                           int64_t width) {
  GRID_STRIDE(t, B * width) {
    const int64_t i = t / width, s = t - i * width;
    const float* fi = feat + i * F * d;
    if (s < d) {
      z[t] = x[i * d + s];
    } else {
      int64_t p = s - d, a = 1;
      while (p >= a) p -= a, ++a;  // pair p of row a: b = p
      const float* fa = a == 0 ? x + i * d : fi + a * d;
      const float* fb = p == 0 ? x + i * d : fi + p * d;
      float acc = 0;
      for (int64_t k = 0; k < d; ++k) acc += fa[k] * fb[k];
      z[t] = acc;
    }
  }
}

__global__ void copy_bottom_kernel(const float* x, float* feat, int64_t B, int64_t F, int64_t d) {
  GRID_STRIDE(t, B * d) {
    const int64_t i = t / d, k = t - i * d;
    feat[i * F * d + k] = x[t];
  }
}

// One thread per (example, feature a, column k): the pairs (a, b) and (b, a) that contain a.
__global__ void interaction_backward_kernel(const float* feat, const float* dz, int64_t B, int64_t F, int64_t d,
                                            int64_t width, float* dfeat) {
  GRID_STRIDE(t, B * F * d) {
    const int64_t i = t / (F * d), r = t - i * F * d, a = r / d, k = r - a * d;
    const float* fi = feat + i * F * d;
    const float* dzi = dz + i * width;
    float acc = a == 0 ? dzi[k] : 0.0f;
    for (int64_t b = 0; b < F; ++b) {
      if (b == a) continue;
      const int64_t hi = a > b ? a : b, lo = a > b ? b : a;
      acc += dzi[d + hi * (hi - 1) / 2 + lo] * fi[b * d + k];
    }
    dfeat[t] = acc;
  }
}

// Pass one of the loss: each thread adds its grid-stride examples in index order, the block folds
// its threads in a fixed tree, block b writes partial[b]. No atomics, so the sum's order, and its
// bits, depend on B alone.
__global__ void bce_kernel(const float* logits, const float* labels, int64_t B, float* dlogit, double* partial) {
  __shared__ double part[kThreads];
  double s = 0;
  GRID_STRIDE(i, B) {
    const double x = logits[i], y = labels[i];
    s += fmax(x, 0.0) - x * y + log1p(exp(-fabs(x)));
    dlogit[i] = static_cast<float>(1.0 / (1.0 + exp(-x))) - static_cast<float>(y);
  }
  const double total = block_sum(s, part);
  if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

// Pass two, one block: the n partials in the same fixed order.
__global__ void sum_partials_kernel(const double* partial, int64_t n, double* out) {
  __shared__ double part[kThreads];
  double s = 0;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) s += partial[j];
  const double total = block_sum(s, part);
  if (threadIdx.x == 0) *out = total;
}

// Column sums of a B x out matrix (rows scaled by scale[i] when given): a block of 32 x 32 threads
// takes 32 columns, thread (x, y) the rows y, y + 32, ... of column x (coalesced across x), and
// the 32 partial sums of a column are added in y order through shared memory: deterministic.
constexpr int kSumCols = 32, kSumRows = 32;
__global__ void __launch_bounds__(kSumCols * kSumRows)
    column_sums_kernel(const float* delta, const float* scale, int64_t B, int64_t out, float* sums) {
  __shared__ float part[kSumRows][kSumCols + 1];
  for (int64_t o0 = int64_t{blockIdx.x} * kSumCols; o0 < out; o0 += int64_t{gridDim.x} * kSumCols) {
    const int64_t o = o0 + threadIdx.x;
    float s = 0;
    if (o < out)
      for (int64_t i = threadIdx.y; i < B; i += kSumRows) s += (scale ? scale[i] : 1.0f) * delta[i * out + o];
    part[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && o < out) {
      float t = 0;
      for (int y = 0; y < kSumRows; ++y) t += part[y][threadIdx.x];
      sums[o] = t;
    }
    __syncthreads();
  }
}

__global__ void scale_rows_kernel(const float* src, const float* scale, int64_t B, int64_t cols, float* dst) {
  GRID_STRIDE(k, B * cols) dst[k] = scale[k / cols] * src[k];
}

// The lane and the warp's index in the grid, and the grid's warp count: the kernels below give a
// warp to each example (or bag) and let its lanes share the example's loads.
struct WarpSlot {
  int lane;
  int64_t first, stride;
};
__device__ inline WarpSlot warp_slot() {
  return {static_cast<int>(threadIdx.x % 32), (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) / 32,
          static_cast<int64_t>(gridDim.x) * (blockDim.x / 32)};
}
constexpr unsigned kFullWarp = 0xffffffffu;
template <class T>
__device__ inline T warp_sum(T v) {
  for (int o = 16; o > 0; o /= 2) v += __shfl_down_sync(kFullWarp, v, o);
  return v;  // the total in lane 0
}
int grid_for_warps(int64_t warps) { return grid_for(warps * 32); }

// One warp per example: |a_i|^2 |d_i|^2 + |d_i|^2 with the lanes striding over a and d.
__global__ void ghost_layer_kernel(const float* A, int64_t in, const float* D, int64_t out, int64_t B, double* norm2) {
  const WarpSlot w = warp_slot();
  for (int64_t i = w.first; i < B; i += w.stride) {
    double a2 = 0, d2 = 0;
    for (int64_t k = w.lane; k < in; k += 32) a2 += static_cast<double>(A[i * in + k]) * A[i * in + k];
    for (int64_t o = w.lane; o < out; o += 32) d2 += static_cast<double>(D[i * out + o]) * D[i * out + o];
    a2 = warp_sum(a2), d2 = warp_sum(d2);
    if (w.lane == 0) norm2[i] += a2 * d2 + d2;
  }
}

// How many of the bag's ids [k0, k1) equal `mine`, and whether none before position k does: the
// warp walks the bag's ids 32 at a time, each lane loading one and the warp broadcasting it.
struct BagCount {
  uint32_t count;
  bool first;
};
__device__ inline BagCount count_in_bag(const int64_t* indices, int64_t k0, int64_t k1, int64_t k, long long mine,
                                        int lane) {
  BagCount c{0, true};
  for (int64_t jb = k0; jb < k1; jb += 32) {
    const long long other = jb + lane < k1 ? indices[jb + lane] : 0;
    const int m = k1 - jb < 32 ? static_cast<int>(k1 - jb) : 32;  // warp-uniform
    for (int q = 0; q < m; ++q) {
      const bool same = __shfl_sync(kFullWarp, other, q) == mine;
      c.count += same;
      c.first = c.first && !(same && jb + q < k);
    }
  }
  return c;
}

// Sum over distinct rows of count^2 equals the sum over lookups of that lookup's row count. One
// warp per bag, lane j taking lookups j, j + 32, ...; the sum is of integers, exact in any order.
__device__ __forceinline__ void bag_count_squares_table(const int64_t* __restrict__ offsets,
                                                        const int64_t* __restrict__ indices, int64_t B, int64_t t,
                                                        int64_t T, const WarpSlot& w, float* __restrict__ cs) {
  for (int64_t i = w.first; i < B; i += w.stride) {
    const int64_t k0 = offsets[i], k1 = offsets[i + 1];
    unsigned long long s = 0;
    for (int64_t kb = k0; kb < k1; kb += 32) {
      const int64_t k = kb + w.lane;
      const long long mine = k < k1 ? indices[k] : 0;
      const BagCount c = count_in_bag(indices, k0, k1, k, mine, w.lane);
      if (k < k1) s += c.count;
    }
    s = warp_sum(s);
    if (w.lane == 0) cs[i * T + t] = static_cast<float>(static_cast<double>(s));
  }
}

// Every table in one launch: blockIdx.y the table (a stride of gridDim.y beyond 65535 tables), its
// offsets and indices from the batch's device arrays of per-table pointers.
__global__ void bag_count_squares_kernel(const int64_t* const* all_offsets, const int64_t* const* all_indices,
                                         int64_t B, int64_t T, float* cs) {
  const WarpSlot w = warp_slot();
  for (int64_t t = blockIdx.y; t < T; t += gridDim.y)
    bag_count_squares_table(all_offsets[t], all_indices[t], B, t, T, w, cs);
}

// One warp per example; the lanes split the columns of each table's pooled gradient.
__global__ void ghost_embedding_kernel(const float* dfeat, const float* cs, int64_t B, int64_t T, int64_t d,
                                       double* norm2) {
  const WarpSlot w = warp_slot();
  for (int64_t i = w.first; i < B; i += w.stride) {
    double s = 0;
    for (int64_t t = 0; t < T; ++t) {
      const float* g = dfeat + (i * (T + 1) + 1 + t) * d;
      float g2 = 0;
      for (int64_t c = w.lane; c < d; c += 32) g2 += g[c] * g[c];
      g2 = warp_sum(g2);
      s += static_cast<double>(g2) * cs[i * T + t];  // lane 0's is the one kept
    }
    if (w.lane == 0) norm2[i] += s;
  }
}

// One block per example: the block writes the example's P values and reduces their squares.
__global__ void materialize_layer_kernel(const float* A, int64_t in, const float* D, int64_t out, int64_t B, float* dst,
                                         int64_t stride, double* norm2) {
  __shared__ double part[kThreads];
  for (int64_t i = blockIdx.x; i < B; i += gridDim.x) {
    const float* a = A + i * in;
    const float* dl = D + i * out;
    float* g = dst + i * stride;
    double s = 0;
    for (int64_t p = threadIdx.x; p < out * in + out; p += blockDim.x) {
      const float v = p < out * in ? dl[p / in] * a[p % in] : dl[p - out * in];
      g[p] = v;
      s += static_cast<double>(v) * v;
    }
    part[threadIdx.x] = s;
    __syncthreads();
    for (int w = blockDim.x / 2; w > 0; w /= 2) {
      if (threadIdx.x < w) part[threadIdx.x] += part[threadIdx.x + w];
      __syncthreads();
    }
    if (threadIdx.x == 0) norm2[i] += part[0];
    __syncthreads();
  }
}

// One warp per bag: lane j takes lookups j, j + 32, ... and writes count x the bag's gradient to the
// rows of the lookups that come first for their id; the squares are summed per row in column
// order and over rows in lookup order (lane 0 takes them from the lanes in turn), as one thread did.
__global__ void materialize_embedding_kernel(const float* dfeat, int64_t B, int64_t F, int64_t d, int64_t t,
                                             const int64_t* offsets, const int64_t* indices, float* dst,
                                             double* norm2) {
  const WarpSlot w = warp_slot();
  for (int64_t i = w.first; i < B; i += w.stride) {
    const float* g = dfeat + (i * F + 1 + t) * d;
    const int64_t k0 = offsets[i], k1 = offsets[i + 1];
    double s = 0;
    for (int64_t kb = k0; kb < k1; kb += 32) {
      const int64_t k = kb + w.lane;
      const long long mine = k < k1 ? indices[k] : 0;
      const BagCount c = count_in_bag(indices, k0, k1, k, mine, w.lane);
      float r2 = 0;
      const bool writes = k < k1 && c.first;
      if (writes)
        for (int64_t col = 0; col < d; ++col) {
          const float v = static_cast<float>(c.count) * g[col];
          dst[k * d + col] = v;
          r2 += v * v;
        }
      const int m = k1 - kb < 32 ? static_cast<int>(k1 - kb) : 32;
      for (int q = 0; q < m; ++q) {
        const float r = __shfl_sync(kFullWarp, r2, q);
        if (__shfl_sync(kFullWarp, static_cast<int>(writes), q)) s += r;
      }
    }
    if (w.lane == 0) norm2[i] += s;
  }
}

__global__ void clipped_sum_kernel(const float* src, int64_t stride, const float* c, int64_t B, int64_t P, float* out) {
  GRID_STRIDE(p, P) {
    float s = 0;
    for (int64_t i = 0; i < B; ++i) s += c[i] * src[i * stride + p];
    out[p] = s;
  }
}

__global__ void clip_kernel(const double* norm2, int64_t B, double clip, float* c) {
  GRID_STRIDE(i, B) {
    const double n = sqrt(norm2[i]);
    c[i] = (isinf(clip) || !(n > clip)) ? 1.0f : static_cast<float>(clip / n);
  }
}

__global__ void mlp_update_kernel(float* w, const float* g, int64_t rows, int64_t cols, float scale, float stddev,
                                  uint64_t seed, DeviceNoise noise, bool with_noise, uint64_t step, uint32_t table) {
  GRID_STRIDE(t, rows * cols) {
    const int64_t o = t / cols, k = t - o * cols;
    float z = 0.0f;
    if (with_noise) {
      if (noise == DeviceNoise::gaussian)
        z = noise_normal(seed, RngDomain::mlp_noise, step, table, static_cast<uint64_t>(o), static_cast<uint32_t>(k));
      else
        z = noise == DeviceNoise::ones ? 1.0f : 0.0f;
    }
    w[t] = __fsub_rn(w[t], __fmul_rn(scale, __fadd_rn(g[t], __fmul_rn(stddev, z))));
  }
}
}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
          int64_t ldb, float* C, int64_t ldc, bool accumulate) {
  if (M == 0 || N == 0) return;
  const CublasSession& s = cublas_session();
  const CublasGemmArgs g = cublas_gemm_args(trans_a, trans_b, M, N, K, lda, ldb, ldc);
  if (s.handle == nullptr || !g.fits) {
    gemm_privrec(trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
    return;
  }
  // The handle's stream is the legacy default stream, the one every kernel here runs on: ordered.
  const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  const CublasStatus st =
      s.api.sgemm(s.handle, g.op_first, g.op_second, g.m, g.n, g.k, &alpha, B, g.ld_first, A, g.ld_second, &beta, C, g.ldc);
  if (st != kCublasSuccess)
    throw CudaError("cublasSgemm_v2 failed with status " + std::to_string(st) + " (M " + std::to_string(M) + ", N " +
                    std::to_string(N) + ", K " + std::to_string(K) + ")");
}

const char* gemm_backend_name() { return cublas_session().handle != nullptr ? "cublas" : "privrec"; }

void gemm_privrec(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float* C, int64_t ldc, bool accumulate) {
  if (M == 0 || N == 0) return;
  // Two resident blocks per SM (the kernel's launch bounds): the items a split aims for.
  static const int64_t resident = [] {
    int device = 0, sms = 0;
    PRIVREC_CUDA_CHECK(cudaGetDevice(&device));
    PRIVREC_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    return int64_t{2} * sms;
  }();
  const GemmGrid grid = gemm_grid(M, N, K, resident);
  auto aligned = [](const float* p, int64_t ld) { return ld % 4 == 0 && reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  GemmArgs g{M, N, K, A, lda, B, ldb, C, ldc, accumulate, aligned(A, lda), aligned(B, ldb), grid.splits > 1};
  if (g.to_workspace) {
    // Grown as needed and kept for the process (never freed: no destructor runs after the
    // context is gone); every launch is on the default stream, so reuse is ordered.
    static DeviceArray<float>* workspace = new DeviceArray<float>();
    const size_t need = static_cast<size_t>(grid.splits * M * N);
    if (workspace->size() < need) workspace->resize(need);
    g.C = workspace->data();
  }
  const unsigned blocks = static_cast<unsigned>(grid.blocks());
  if (!trans_a && !trans_b) gemm_kernel<false, false><<<blocks, kGemmThreads>>>(g, grid);
  if (!trans_a && trans_b) gemm_kernel<false, true><<<blocks, kGemmThreads>>>(g, grid);
  if (trans_a && !trans_b) gemm_kernel<true, false><<<blocks, kGemmThreads>>>(g, grid);
  if (trans_a && trans_b) gemm_kernel<true, true><<<blocks, kGemmThreads>>>(g, grid);
  PRIVREC_CUDA_CHECK_LAUNCH(gemm_kernel);
  if (g.to_workspace) {
    split_k_sum_kernel<<<grid_for(M * N), kThreads>>>(g.C, grid.splits, M, N, C, ldc, accumulate);
    PRIVREC_CUDA_CHECK_LAUNCH(split_k_sum_kernel);
  }
}

void add_bias_act(float* Y, const float* bias, int64_t B, int64_t out, bool relu) {
  add_bias_act_kernel<<<grid_for(B * out), kThreads>>>(Y, bias, B, out, relu);
  PRIVREC_CUDA_CHECK_LAUNCH(add_bias_act_kernel);
}

void feature_delta(const float* dfeat, const float* x, int64_t B, int64_t F, int64_t d, int64_t slot, float* out) {
  feature_delta_kernel<<<grid_for(B * d), kThreads>>>(dfeat, x, B, F, d, slot, out);
  PRIVREC_CUDA_CHECK_LAUNCH(feature_delta_kernel);
}

void relu_mask(float* dX, const float* X, int64_t n) {
  relu_mask_kernel<<<grid_for(n), kThreads>>>(dX, X, n);
  PRIVREC_CUDA_CHECK_LAUNCH(relu_mask_kernel);
}

void interaction_forward(const float* x, float* feat, int64_t B, int64_t F, int64_t d, float* z, int64_t width) {
  copy_bottom_kernel<<<grid_for(B * d), kThreads>>>(x, feat, B, F, d);
  PRIVREC_CUDA_CHECK_LAUNCH(copy_bottom_kernel);
  interaction_forward_kernel<<<grid_for(B * width), kThreads>>>(x, feat, B, F, d, z, width);
  PRIVREC_CUDA_CHECK_LAUNCH(interaction_forward_kernel);
}

void interaction_backward(const float* feat, const float* dz, int64_t B, int64_t F, int64_t d, int64_t width,
                          float* dfeat) {
  interaction_backward_kernel<<<grid_for(B * F * d), kThreads>>>(feat, dz, B, F, d, width, dfeat);
  PRIVREC_CUDA_CHECK_LAUNCH(interaction_backward_kernel);
}

double bce_loss(const float* logits, const float* labels, int64_t B, float* dlogit, double* loss_scratch) {
  const int64_t blocks = bce_loss_blocks(B, kThreads);
  double* partial = loss_scratch + 1;
  bce_kernel<<<static_cast<unsigned>(blocks), kThreads>>>(logits, labels, B, dlogit, partial);
  PRIVREC_CUDA_CHECK_LAUNCH(bce_kernel);
  sum_partials_kernel<<<1, kThreads>>>(partial, blocks, loss_scratch);
  PRIVREC_CUDA_CHECK_LAUNCH(sum_partials_kernel);
  double loss = 0;
  PRIVREC_CUDA_CHECK(cudaMemcpy(&loss, loss_scratch, sizeof(double), cudaMemcpyDeviceToHost));
  return loss / static_cast<double>(B);
}

void column_sums(const float* delta, const float* scale, int64_t B, int64_t out, float* sums) {
  if (out == 0) return;
  const int64_t blocks = (out + kSumCols - 1) / kSumCols;
  column_sums_kernel<<<static_cast<unsigned>(blocks < 65535 ? blocks : 65535), dim3(kSumCols, kSumRows)>>>(delta, scale,
                                                                                                          B, out, sums);
  PRIVREC_CUDA_CHECK_LAUNCH(column_sums_kernel);
}

void scale_rows(const float* src, const float* scale, int64_t B, int64_t cols, float* dst) {
  scale_rows_kernel<<<grid_for(B * cols), kThreads>>>(src, scale, B, cols, dst);
  PRIVREC_CUDA_CHECK_LAUNCH(scale_rows_kernel);
}

void ghost_norms_layer(const float* A, int64_t in, const float* D, int64_t out, int64_t B, double* norm2) {
  ghost_layer_kernel<<<grid_for_warps(B), kThreads>>>(A, in, D, out, B, norm2);
  PRIVREC_CUDA_CHECK_LAUNCH(ghost_layer_kernel);
}

void bag_count_squares(const int64_t* const* offsets, const int64_t* const* indices, int64_t B, int64_t T, float* cs) {
  if (B == 0 || T == 0) return;
  const dim3 grid(static_cast<unsigned>(grid_for_warps(B)), static_cast<unsigned>(T < 65535 ? T : 65535));
  bag_count_squares_kernel<<<grid, kThreads>>>(offsets, indices, B, T, cs);
  PRIVREC_CUDA_CHECK_LAUNCH(bag_count_squares_kernel);
}

void ghost_norms_embedding(const float* dfeat, const float* cs, int64_t B, int64_t T, int64_t d, double* norm2) {
  ghost_embedding_kernel<<<grid_for_warps(B), kThreads>>>(dfeat, cs, B, T, d, norm2);
  PRIVREC_CUDA_CHECK_LAUNCH(ghost_embedding_kernel);
}

void materialize_layer(const float* A, int64_t in, const float* D, int64_t out, int64_t B, float* dst, int64_t stride,
                       double* norm2) {
  if (B == 0) return;
  materialize_layer_kernel<<<static_cast<int>(B < 65535 ? B : 65535), kThreads>>>(A, in, D, out, B, dst, stride, norm2);
  PRIVREC_CUDA_CHECK_LAUNCH(materialize_layer_kernel);
}

void materialize_embedding(const float* dfeat, int64_t B, int64_t F, int64_t d, int64_t t, const int64_t* offsets,
                           const int64_t* indices, float* dst, double* norm2) {
  materialize_embedding_kernel<<<grid_for_warps(B), kThreads>>>(dfeat, B, F, d, t, offsets, indices, dst, norm2);
  PRIVREC_CUDA_CHECK_LAUNCH(materialize_embedding_kernel);
}

void clipped_sum(const float* src, int64_t stride, const float* c, int64_t B, int64_t P, float* out) {
  clipped_sum_kernel<<<grid_for(P), kThreads>>>(src, stride, c, B, P, out);
  PRIVREC_CUDA_CHECK_LAUNCH(clipped_sum_kernel);
}

void clip_factors(const double* norm2, int64_t B, double clip, float* c) {
  clip_kernel<<<grid_for(B), kThreads>>>(norm2, B, clip, c);
  PRIVREC_CUDA_CHECK_LAUNCH(clip_kernel);
}

void noisy_mlp_update(float* w, const float* g, int64_t rows, int64_t cols, float scale, float stddev, uint64_t seed,
                      DeviceNoise noise, bool with_noise, uint64_t step, uint32_t noise_table) {
  mlp_update_kernel<<<grid_for(rows * cols), kThreads>>>(w, g, rows, cols, scale, stddev, seed, noise, with_noise, step,
                                                     noise_table);
  PRIVREC_CUDA_CHECK_LAUNCH(mlp_update_kernel);
}

}  // namespace privrec::cuda
