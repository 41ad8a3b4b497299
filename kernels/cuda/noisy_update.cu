#include "kernels/cuda/noisy_update.hpp"

#include "kernels/cuda/cuda_check.hpp"
#include "kernels/cuda/device_memory.hpp"
#include "kernels/cuda/launch.cuh"
#include "models/kernel_work/cuda_table_group.hpp"
#include "models/rng/gaussian.hpp"

namespace privrec::cuda {

namespace {

// A 32-bit value the compiler cannot trace back to the 64-bit one it was cut from (no instruction).
// Left traceable, NVVM folds the truncation of row, step and seed into Philox's products and
// xors and emits them as 64-bit operations on masked operands (mul.lo.s64, xor.b64 in the PTX),
// which ptxas only partly narrows back: about 24 more SASS instructions per Philox block.
__device__ inline uint32_t as_u32(uint32_t x) {
  asm("" : "+r"(x));
  return x;
}

// The four normals of one Philox block: columns 4 q .. 4 q + 3 of a row.
__device__ inline void block_normals(uint64_t seed, RngDomain domain, uint64_t step, uint32_t table, uint64_t row,
                                     uint32_t q, DeviceNoise noise, float z[4]) {
  if (noise == DeviceNoise::gaussian) {
    const NoiseCounter n = noise_counter(domain, step, table, row);
    normals_from_block(philox4x32_10(q, as_u32(n.c1), as_u32(n.c2), as_u32(n.c3), as_u32(static_cast<uint32_t>(seed)),
                                     as_u32(static_cast<uint32_t>(seed >> 32))),
                       z);
  } else {
    const float v = noise == DeviceNoise::ones ? 1.0f : 0.0f;
    z[0] = z[1] = z[2] = z[3] = v;
  }
}

// The dense update and lazydp's settle cover a table in tiles of whole rows: a block of
// (bx, by) threads takes by * kRowsPerThread consecutive rows (or listed rows) a pass, thread x the
// column blocks x, x + bx, ... of rows y, y + by, ... of the tile. bx is the row's column-block
// count (split in equal passes above 256), so the hardware's thread indices give (row, column
// block) with no division, and consecutive threads touch consecutive 16-byte blocks of the tile.
constexpr int kRowsPerThread = 2;      // independent rows in flight per thread: loads overlap the noise
constexpr int64_t kMaxTiles = 1 << 20;  // grid cap; a grid-stride loop over tiles beyond it

struct RowTiling {
  dim3 block;
  int64_t tile_rows;
};

RowTiling row_tiling(int64_t dim) {
  const int64_t qpr = dim > 0 ? (dim + 3) / 4 : 1;  // dim 0: lazydp still keeps the history
  const int64_t passes = (qpr + kThreads - 1) / kThreads;
  const int bx = static_cast<int>((qpr + passes - 1) / passes);
  const int by = kThreads / bx;
  return {dim3(static_cast<unsigned>(bx), static_cast<unsigned>(by)), int64_t{by} * kRowsPerThread};
}

int tile_grid(int64_t rows, int64_t tile_rows) {
  const int64_t tiles = (rows + tile_rows - 1) / tile_rows;
  return static_cast<int>(tiles < kMaxTiles ? tiles : kMaxTiles);
}

// 16-byte accesses need every row to start on a 16-byte boundary: dim % 4 == 0 and aligned bases.
bool rows_are_16_byte_aligned(int64_t dim, const void* a, const void* b = nullptr) {
  return dim % 4 == 0 && (reinterpret_cast<uintptr_t>(a) | reinterpret_cast<uintptr_t>(b)) % 16 == 0;
}

// Up to kGroup tables a launch (cuda_table_group.hpp), passed by value (__grid_constant__: read from
// the parameter space, no per-thread copy), structure of arrays so no field pads another: about
// 3.3 KB for the largest (UpdateGroup and SettleGroup alike), within the 4 KB every architecture takes.
constexpr int kGroup = static_cast<int>(cuda_work::kTablesPerLaunch);

struct TileStarts {
  int64_t first[kGroup + 1];  // table k's tiles: first[k] .. first[k + 1] - 1
  int n;
};

// The group's tile `tile`: its table and its first row (or list entry) in that table.
struct TileOf {
  int k;
  int64_t base;
};

__device__ __forceinline__ TileOf tile_of(const TileStarts& t, int64_t tile, int64_t tile_rows) {
  const int k = cuda_work::table_of_tile(t.first, t.n, tile);
  return {k, (tile - t.first[k]) * tile_rows};
}

// Calls f(group, vec) for each group of at most kGroup tables that has a tile: the group's tile
// starts for tiles of tile_rows rows (list entries) of each table's count, each table's fields set
// by Group::set(k, table), and vec: whether every table's rows (and gradient rows) are 16-byte
// aligned for the float4 path.
template <class Group, class F>
void for_each_group(const UpdateTable* tables, int64_t n, int64_t dim, int64_t tile_rows, F&& f) {
  for (int64_t g0 = 0; g0 < n; g0 += kGroup) {
    const int m = static_cast<int>(n - g0 < kGroup ? n - g0 : kGroup);
    Group g{};
    g.tiles.n = m;
    g.tiles.first[0] = 0;
    bool vec = true;
    for (int k = 0; k < m; ++k) {
      const UpdateTable& u = tables[g0 + k];
      g.tiles.first[k + 1] = g.tiles.first[k] + cuda_work::tiles_for(u.count, tile_rows);
      g.set(k, u);
      vec = vec && rows_are_16_byte_aligned(dim, u.table, u.grads);
    }
    if (g.tiles.first[m] > 0) f(g, vec);  // else no rows in any of the group's tables
  }
}

int group_grid(const TileStarts& t) {
  const int64_t tiles = t.first[t.n];
  return static_cast<int>(tiles < kMaxTiles ? tiles : kMaxTiles);
}

// Columns 4 q .. 4 q + n - 1 of a row (n < 4 only in the last block of a row whose dim is not a
// multiple of 4): one float4 access when rows are 16-byte aligned, else n scalar ones.
template <bool Vec>
__device__ inline void load_block(const float* p, int n, float v[4]) {
  if constexpr (Vec) {
    const float4 t = *reinterpret_cast<const float4*>(p);
    v[0] = t.x, v[1] = t.y, v[2] = t.z, v[3] = t.w;
  } else {
    for (int k = 0; k < 4; ++k) v[k] = k < n ? p[k] : 0.0f;
  }
}

template <bool Vec>
__device__ inline void store_block(float* p, int n, const float v[4]) {
  if constexpr (Vec) {
    *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
  } else {
    for (int k = 0; k < n; ++k) p[k] = v[k];
  }
}

// One column block of kRowsPerThread rows of a tile: every load is issued before the noise is
// computed, then the update in the CPU backend's order: w - scale * (g + stddev * z), or
// w - scale * (stddev * z) without a gradient (not g = 0: 0 + (-0) would round to +0).
template <bool Vec>
__device__ __forceinline__ void dense_block(float* __restrict__ table, int64_t rows, int64_t dim, uint32_t table_id,
                                   const int32_t* __restrict__ slots, const float* __restrict__ grads, float scale,
                                   float stddev, uint64_t seed, DeviceNoise noise, uint64_t step, int64_t r0,
                                   uint32_t q) {
  const int64_t c0 = 4 * int64_t{q};
  const int n = dim - c0 < 4 ? static_cast<int>(dim - c0) : 4;
  float w[kRowsPerThread][4], g[kRowsPerThread][4];
  bool has_g[kRowsPerThread];
#pragma unroll
  for (int k = 0; k < kRowsPerThread; ++k) {
    const int64_t r = r0 + int64_t{k} * blockDim.y;
    has_g[k] = false;
    if (r >= rows) continue;
    const int32_t slot = slots ? slots[r] : -1;
    load_block<Vec>(table + r * dim + c0, n, w[k]);
    has_g[k] = slot >= 0;
    if (has_g[k]) load_block<Vec>(grads + int64_t{slot} * dim + c0, n, g[k]);
  }
#pragma unroll
  for (int k = 0; k < kRowsPerThread; ++k) {
    const int64_t r = r0 + int64_t{k} * blockDim.y;
    if (r >= rows) continue;
    float z[4];
    block_normals(seed, RngDomain::table_noise, step, table_id, static_cast<uint64_t>(r), q, noise, z);
    if (has_g[k]) {
      for (int c = 0; c < 4; ++c) w[k][c] = __fsub_rn(w[k][c], __fmul_rn(scale, __fadd_rn(g[k][c], __fmul_rn(stddev, z[c]))));
    } else {
      for (int c = 0; c < 4; ++c) w[k][c] = __fsub_rn(w[k][c], __fmul_rn(scale, __fmul_rn(stddev, z[c])));
    }
    store_block<Vec>(table + r * dim + c0, n, w[k]);
  }
}

// The dense update's and the sparse updates' tables: count is the table's rows (dense, with its
// slots) or its listed rows (sparse).
struct UpdateGroup {
  TileStarts tiles;
  float* table[kGroup];
  const int64_t* rows[kGroup];
  const int32_t* slots[kGroup];
  const float* grads[kGroup];
  int64_t count[kGroup];
  uint32_t table_id[kGroup];
  void set(int k, const UpdateTable& u) {
    table[k] = u.table, rows[k] = u.rows, slots[k] = u.slots, grads[k] = u.grads, count[k] = u.count;
    table_id[k] = u.table_id;
  }
};

// The group's tiles of rows (see RowTiling, TileStarts); the noise of each column block in registers.
template <bool Vec>
__global__ void __launch_bounds__(kThreads)
    dense_noisy_update_kernel(const __grid_constant__ UpdateGroup g, int64_t dim, float scale, float stddev,
                              uint64_t seed, DeviceNoise noise, uint64_t step) {
  const uint32_t qpr = static_cast<uint32_t>((dim + 3) / 4);
  const int64_t tile = int64_t{blockDim.y} * kRowsPerThread, tiles = g.tiles.first[g.tiles.n];
  for (int64_t gt = blockIdx.x; gt < tiles; gt += gridDim.x) {
    const TileOf t = tile_of(g.tiles, gt, tile);
    for (uint32_t q = threadIdx.x; q < qpr; q += blockDim.x)
      dense_block<Vec>(g.table[t.k], g.count[t.k], dim, g.table_id[t.k], g.slots[t.k], g.grads[t.k], scale, stddev,
                       seed, noise, step, t.base + threadIdx.y, q);
  }
}

// The row-wise updates of listed rows (distinct), tiled as the dense update (see RowTiling) over
// the list: thread (x, y) takes column blocks x, x + bx, ... of list entries y, y + by, ... of a
// tile, so the list index and column come with no division.
//   sgd:      w[rows[u]] -= scale * grads[u]
//   eana:     w[rows[u]] -= scale * (grads[u] + stddev z)
//   selected: adafest's selected rows, w[r] -= scale * (grads[slots[r]] + stddev z) where the row
//             has a gradient (slots[r] >= 0), else scale * (stddev z)
enum class Sparse { sgd, eana, selected };

struct SparseParams {
  float scale, stddev;
  uint64_t seed, step;
  DeviceNoise noise;
};

// One column block of kRowsPerThread listed rows u0, u0 + by, ...: every load issued first, then
// the update in the CPU backend's order: w - scale * g (sgd), w - scale * (g + stddev * z) (the
// row's noise keyed as in the dense update), or without a gradient w - scale * (stddev * z).
template <bool Vec, Sparse Kind>
__device__ __forceinline__ void sparse_block(float* __restrict__ table, int64_t dim, const int64_t* __restrict__ rows,
                                             const int32_t* __restrict__ slots, const float* __restrict__ grads,
                                             int64_t count, uint32_t table_id, const SparseParams& p, int64_t u0,
                                             uint32_t q) {
  const int64_t c0 = 4 * int64_t{q};
  const int n = dim - c0 < 4 ? static_cast<int>(dim - c0) : 4;
  float w[kRowsPerThread][4], g[kRowsPerThread][4];
  int64_t r[kRowsPerThread];
  bool has_g[kRowsPerThread];
#pragma unroll
  for (int k = 0; k < kRowsPerThread; ++k) {
    const int64_t u = u0 + int64_t{k} * blockDim.y;
    r[k] = -1, has_g[k] = false;
    if (u >= count) continue;
    r[k] = rows[u];
    load_block<Vec>(table + r[k] * dim + c0, n, w[k]);
    int64_t from = u;
    if constexpr (Kind == Sparse::selected) from = slots[r[k]];
    has_g[k] = from >= 0;
    if (has_g[k]) load_block<Vec>(grads + from * dim + c0, n, g[k]);
  }
#pragma unroll
  for (int k = 0; k < kRowsPerThread; ++k) {
    if (u0 + int64_t{k} * blockDim.y >= count) continue;
    if constexpr (Kind != Sparse::sgd) {
      float z[4];
      block_normals(p.seed, RngDomain::table_noise, p.step, table_id, static_cast<uint64_t>(r[k]), q, p.noise, z);
      if (has_g[k]) {
        for (int c = 0; c < 4; ++c)
          w[k][c] = __fsub_rn(w[k][c], __fmul_rn(p.scale, __fadd_rn(g[k][c], __fmul_rn(p.stddev, z[c]))));
      } else {
        for (int c = 0; c < 4; ++c) w[k][c] = __fsub_rn(w[k][c], __fmul_rn(p.scale, __fmul_rn(p.stddev, z[c])));
      }
    } else {
      for (int c = 0; c < 4; ++c) w[k][c] = __fsub_rn(w[k][c], __fmul_rn(p.scale, g[k][c]));
    }
    store_block<Vec>(table + r[k] * dim + c0, n, w[k]);
  }
}

template <bool Vec, Sparse Kind>
__global__ void __launch_bounds__(kThreads)
    sparse_update_kernel(const __grid_constant__ UpdateGroup g, int64_t dim, SparseParams p) {
  const uint32_t qpr = static_cast<uint32_t>((dim + 3) / 4);
  const int64_t tile = int64_t{blockDim.y} * kRowsPerThread, tiles = g.tiles.first[g.tiles.n];
  for (int64_t gt = blockIdx.x; gt < tiles; gt += gridDim.x) {
    const TileOf t = tile_of(g.tiles, gt, tile);
    for (uint32_t q = threadIdx.x; q < qpr; q += blockDim.x)
      sparse_block<Vec, Kind>(g.table[t.k], dim, g.rows[t.k], g.slots[t.k], g.grads[t.k], g.count[t.k],
                              g.table_id[t.k], p, t.base + threadIdx.y, q);
  }
}

template <Sparse Kind>
void launch_sparse(const UpdateTable* tables, int64_t n, int64_t dim, const SparseParams& p) {
  if (dim == 0) return;
  const RowTiling t = row_tiling(dim);
  for_each_group<UpdateGroup>(tables, n, dim, t.tile_rows, [&](const UpdateGroup& g, bool vec) {
    if (vec) {
      sparse_update_kernel<true, Kind><<<group_grid(g.tiles), t.block>>>(g, dim, p);
    } else {
      sparse_update_kernel<false, Kind><<<group_grid(g.tiles), t.block>>>(g, dim, p);
    }
    PRIVREC_CUDA_CHECK_LAUNCH(sparse_update_kernel);
  });
}

// lazydp's settle: a row that owes noise, as its tile's bookkeeping pass leaves it for the threads
// that apply the noise (its history h is below now).
struct PendingRow {
  int64_t r;
  uint32_t h;
  float a;  // aggregated: the single draw's factor
};

struct SettleParams {
  uint32_t now;
  float stddev;
  bool exact, draws;  // draws: the noise changes the table (not `zero`, stddev != 0)
  DeviceNoise noise;
  uint64_t seed;
  const double *scale, *cum, *cum_sq;
};

// Bookkeeping of the tile's rows base .. base + tile - 1 (one thread each): reads the history,
// marks owing rows current, counts them and their pending steps in the thread's counters, and
// computes the aggregated factor in the CPU backend's order (double difference and sqrt, one
// rounding to float, one float product). Where the noise changes the table, each owing row is
// appended to out at a slot taken from *appended (shared memory): the tile's owing rows end up
// packed at its front, in no particular order (a row's noise depends on the row alone), so the
// threads that apply the noise find no rows that owe nothing among theirs.
__device__ inline void settle_bookkeeping(const int64_t* __restrict__ rows, int64_t n, uint32_t* __restrict__ history,
                                          const SettleParams& p, int64_t base, int64_t tile, PendingRow* out,
                                          uint32_t* appended, unsigned long long& owed, unsigned long long& steps) {
  const uint32_t tid = threadIdx.y * blockDim.x + threadIdx.x, nthreads = blockDim.x * blockDim.y;
  for (uint32_t j = tid; j < tile; j += nthreads) {
    const int64_t k = base + j;
    if (k >= n) continue;
    const int64_t r = rows ? rows[k] : k;
    const uint32_t h = history[r];
    if (h >= p.now) continue;
    history[r] = p.now;  // only this thread reads row r's history
    ++owed, steps += p.now - h;
    if (!p.draws) continue;
    PendingRow e{r, h, 0.0f};
    if (!p.exact) {
      const double s = p.noise == DeviceNoise::ones ? __dsub_rn(p.cum[p.now], p.cum[h])
                                                    : __dsqrt_rn(__dsub_rn(p.cum_sq[p.now], p.cum_sq[h]));
      e.a = __fmul_rn(static_cast<float>(s), p.stddev);
    }
    out[atomicAdd(appended, 1u)] = e;
  }
}

// One column block of an owing row: loaded once, every pending draw applied in step order (each
// rounded to float as on the CPU), stored once.
template <bool Vec>
__device__ __forceinline__ void settle_block(float* __restrict__ table, int64_t dim, uint32_t table_id,
                                             const PendingRow& e, uint32_t q, const SettleParams& p) {
  const int64_t c0 = 4 * int64_t{q};
  const int n = dim - c0 < 4 ? static_cast<int>(dim - c0) : 4;
  float* w = table + e.r * dim + c0;
  float v[4], z[4];
  load_block<Vec>(w, n, v);
  if (p.exact) {
    for (uint32_t s = e.h; s != p.now;) {  // steps h+1 .. now, with no wrap at 2^32 - 1
      ++s;
      const float a = __fmul_rn(static_cast<float>(p.scale[s]), p.stddev);
      block_normals(p.seed, RngDomain::table_noise, s, table_id, static_cast<uint64_t>(e.r), q, p.noise, z);
      for (int c = 0; c < 4; ++c) v[c] = __fsub_rn(v[c], __fmul_rn(a, z[c]));
    }
  } else {
    block_normals(p.seed, RngDomain::table_noise, p.now, table_id, static_cast<uint64_t>(e.r), q, p.noise, z);
    for (int c = 0; c < 4; ++c) v[c] = __fsub_rn(v[c], __fmul_rn(e.a, z[c]));
  }
  store_block<Vec>(w, n, v);
}

// Adds the counters of every thread of the warp to out[0] and out[1] with one atomic each. A
// block of bx * by threads may end in a partial warp: only its existing lanes take part.
__device__ inline void add_counters_per_warp(unsigned long long owed, unsigned long long steps,
                                             unsigned long long* out) {
  const uint32_t tid = threadIdx.y * blockDim.x + threadIdx.x, nthreads = blockDim.x * blockDim.y;
  const uint32_t lane = tid & 31u, width = min(32u, nthreads - (tid - lane));
  const uint32_t mask = width == 32 ? 0xFFFFFFFFu : (1u << width) - 1u;
  for (uint32_t off = 16; off > 0; off >>= 1) {
    const unsigned long long o = __shfl_down_sync(mask, owed, off), s = __shfl_down_sync(mask, steps, off);
    if (lane + off < width) owed += o, steps += s;
  }
  if (lane == 0 && owed != 0) {
    atomicAdd(&out[0], owed);
    atomicAdd(&out[1], steps);
  }
}

struct SettleGroup {
  TileStarts tiles;
  float* table[kGroup];
  const int64_t* rows[kGroup];
  uint32_t* history[kGroup];
  unsigned long long* owed[kGroup];
  int64_t count[kGroup];
  uint32_t table_id[kGroup];
  void set(int k, const UpdateTable& u) {
    table[k] = u.table, rows[k] = u.rows, history[k] = u.history, owed[k] = u.owed_steps, count[k] = u.count;
    table_id[k] = u.table_id;
  }
};

// The group's tiles of listed rows (see RowTiling, TileStarts): a bookkeeping pass that packs the
// tile's owing rows, one barrier, then (row, column block) threads apply the pending noise to the
// packed rows. The packed list is double-buffered in shared memory, so the next tile's bookkeeping
// cannot overwrite entries a slower thread is still reading. Its length has three counters in
// turn: the one tile t + 2 will append to is zeroed after tile t's barrier, which every thread
// passes only once it has read that counter for tile t - 1, and which comes before tile t + 1's
// barrier, the last any thread passes before appending for tile t + 2. A block's counters go to a
// table's when its next tile is another table's (the same in all its threads) and at the end.
template <bool Vec>
__global__ void __launch_bounds__(kThreads)
    lazy_settle_kernel(const __grid_constant__ SettleGroup g, int64_t dim, SettleParams p) {
  __shared__ PendingRow pending[2][kThreads * kRowsPerThread];
  __shared__ uint32_t packed[3];
  const uint32_t tid = threadIdx.y * blockDim.x + threadIdx.x;
  if (tid < 3) packed[tid] = 0;
  __syncthreads();
  const uint32_t qpr = static_cast<uint32_t>((dim + 3) / 4);
  const int64_t tile = int64_t{blockDim.y} * kRowsPerThread, tiles = g.tiles.first[g.tiles.n];
  unsigned long long owed = 0, steps = 0;
  int counted = -1;  // the table owed and steps count for
  uint32_t pass = 0;
  for (int64_t gt = blockIdx.x; gt < tiles; gt += gridDim.x, ++pass) {
    const TileOf t = tile_of(g.tiles, gt, tile);
    if (t.k != counted) {
      if (counted >= 0) add_counters_per_warp(owed, steps, g.owed[counted]);
      owed = 0, steps = 0, counted = t.k;
    }
    const int buf = static_cast<int>(pass & 1u);
    uint32_t* count = &packed[pass % 3];
    settle_bookkeeping(g.rows[t.k], g.count[t.k], g.history[t.k], p, t.base, tile, pending[buf], count, owed, steps);
    if (!p.draws) continue;  // uniform: the history and the counters are all there is to do
    __syncthreads();
    if (tid == 0) packed[(pass + 2) % 3] = 0;
    const uint32_t m = *count;  // at most the tile's rows, by * kRowsPerThread
#pragma unroll
    for (int k = 0; k < kRowsPerThread; ++k) {
      const uint32_t j = threadIdx.y + k * blockDim.y;
      if (j >= m) break;
      const PendingRow e = pending[buf][j];
      for (uint32_t q = threadIdx.x; q < qpr; q += blockDim.x) settle_block<Vec>(g.table[t.k], dim, g.table_id[t.k], e, q, p);
    }
  }
  if (counted >= 0) add_counters_per_warp(owed, steps, g.owed[counted]);
}

struct SlotGroup {
  int32_t* slots[kGroup];
  const int64_t* rows[kGroup];
  int64_t count[kGroup];
};

// blockIdx.y the table.
__global__ void set_slots_kernel(const __grid_constant__ SlotGroup g, bool set) {
  int32_t* __restrict__ slots = g.slots[blockIdx.y];
  const int64_t* __restrict__ rows = g.rows[blockIdx.y];
  const int64_t count = g.count[blockIdx.y];
#pragma unroll 1  // unrolled, the loop's trip count costs a 64-bit division per thread
  PRIVREC_GRID_STRIDE(u, count) slots[rows[u]] = set ? static_cast<int32_t>(u) : -1;
}

// out[j * n + c]: tiles of listed rows (see RowTiling), thread (x, y) the column blocks x, x + bx,
// ... of entries y, y + by, ... of a tile; 16-byte stores when n % 4 == 0.
template <bool Vec>
__global__ void __launch_bounds__(kThreads)
    normal_rows_kernel(uint64_t seed, RngDomain domain, uint64_t step, uint32_t table,
                       const int64_t* __restrict__ rows, int64_t nrows, int64_t n, float* __restrict__ out) {
  const uint32_t qpr = static_cast<uint32_t>((n + 3) / 4);
  const int64_t tile = int64_t{blockDim.y} * kRowsPerThread;
  for (int64_t base = blockIdx.x * tile; base < nrows; base += int64_t{gridDim.x} * tile)
#pragma unroll
    for (int k = 0; k < kRowsPerThread; ++k) {
      const int64_t j = base + threadIdx.y + int64_t{k} * blockDim.y;
      if (j >= nrows) break;
      const uint64_t r = static_cast<uint64_t>(rows[j]);
      for (uint32_t q = threadIdx.x; q < qpr; q += blockDim.x) {
        const int64_t c0 = 4 * int64_t{q};
        float z[4];
        block_normals(seed, domain, step, table, r, q, DeviceNoise::gaussian, z);
        store_block<Vec>(out + j * n + c0, n - c0 < 4 ? static_cast<int>(n - c0) : 4, z);
      }
    }
}
}  // namespace

void launch_dense_noisy_update(const UpdateTable* tables, int64_t n, int64_t dim, float scale, float stddev,
                               uint64_t seed, DeviceNoise noise, uint64_t step) {
  if (dim == 0) return;
  const RowTiling t = row_tiling(dim);
  for_each_group<UpdateGroup>(tables, n, dim, t.tile_rows, [&](const UpdateGroup& g, bool vec) {
    if (vec) {
      dense_noisy_update_kernel<true><<<group_grid(g.tiles), t.block>>>(g, dim, scale, stddev, seed, noise, step);
    } else {
      dense_noisy_update_kernel<false><<<group_grid(g.tiles), t.block>>>(g, dim, scale, stddev, seed, noise, step);
    }
    PRIVREC_CUDA_CHECK_LAUNCH(dense_noisy_update_kernel);
  });
}

void launch_sparse_update(const UpdateTable* tables, int64_t n, int64_t dim, float scale) {
  launch_sparse<Sparse::sgd>(tables, n, dim, {scale, 0.0f, 0, 0, DeviceNoise::zero});
}

void launch_sparse_noisy_update(const UpdateTable* tables, int64_t n, int64_t dim, float scale, float stddev,
                                uint64_t seed, DeviceNoise noise, uint64_t step) {
  launch_sparse<Sparse::eana>(tables, n, dim, {scale, stddev, seed, step, noise});
}

void launch_selected_noisy_update(const UpdateTable* tables, int64_t n, int64_t dim, float scale, float stddev,
                                  uint64_t seed, DeviceNoise noise, uint64_t step) {
  launch_sparse<Sparse::selected>(tables, n, dim, {scale, stddev, seed, step, noise});
}

void launch_lazy_settle(const UpdateTable* tables, int64_t n, int64_t dim, uint32_t now, float stddev, bool exact,
                        DeviceNoise noise, uint64_t seed, const double* scale, const double* cum,
                        const double* cum_sq, int max_blocks) {
  const SettleParams p{now, stddev, exact, noise != DeviceNoise::zero && stddev != 0.0f, noise, seed, scale, cum, cum_sq};
  const RowTiling t = row_tiling(dim);
  for_each_group<SettleGroup>(tables, n, dim, t.tile_rows, [&](const SettleGroup& g, bool vec) {
    const int tiles = group_grid(g.tiles);
    const int grid = max_blocks > 0 && max_blocks < tiles ? max_blocks : tiles;
    if (vec) {
      lazy_settle_kernel<true><<<grid, t.block>>>(g, dim, p);
    } else {
      lazy_settle_kernel<false><<<grid, t.block>>>(g, dim, p);
    }
    PRIVREC_CUDA_CHECK_LAUNCH(lazy_settle_kernel);
  });
}

void launch_set_slots(const UpdateTable* tables, int64_t n, bool set) {
  for (int64_t g0 = 0; g0 < n; g0 += kGroup) {
    const int m = static_cast<int>(n - g0 < kGroup ? n - g0 : kGroup);
    SlotGroup g{};
    int64_t most = 0;
    for (int k = 0; k < m; ++k) {
      const UpdateTable& u = tables[g0 + k];
      g.slots[k] = u.slots, g.rows[k] = u.rows, g.count[k] = u.count;
      most = u.count > most ? u.count : most;
    }
    if (most == 0) continue;
    set_slots_kernel<<<dim3(static_cast<unsigned>(grid_for(most)), static_cast<unsigned>(m)), kThreads>>>(g, set);
    PRIVREC_CUDA_CHECK_LAUNCH(set_slots_kernel);
  }
}

void launch_dense_noisy_update(float* table, int64_t rows, int64_t dim, uint32_t table_id, int32_t* slots,
                               const float* grads, float scale, float stddev, uint64_t seed, DeviceNoise noise,
                               uint64_t step) {
  UpdateTable u;
  u.table = table, u.table_id = table_id, u.count = rows, u.grads = grads, u.slots = slots;
  launch_dense_noisy_update(&u, 1, dim, scale, stddev, seed, noise, step);
}

void launch_sparse_update(float* table, int64_t dim, const int64_t* rows, const float* grads, int64_t count,
                          float scale) {
  UpdateTable u;
  u.table = table, u.count = count, u.rows = rows, u.grads = grads;
  launch_sparse_update(&u, 1, dim, scale);
}

void launch_sparse_noisy_update(float* table, int64_t dim, uint32_t table_id, const int64_t* rows, const float* grads,
                                int64_t count, float scale, float stddev, uint64_t seed, DeviceNoise noise,
                                uint64_t step) {
  UpdateTable u;
  u.table = table, u.table_id = table_id, u.count = count, u.rows = rows, u.grads = grads;
  launch_sparse_noisy_update(&u, 1, dim, scale, stddev, seed, noise, step);
}

void launch_lazy_settle(float* table, int64_t dim, uint32_t table_id, const int64_t* rows, int64_t n,
                        uint32_t* history, uint32_t now, float stddev, bool exact, DeviceNoise noise, uint64_t seed,
                        const double* scale, const double* cum, const double* cum_sq,
                        unsigned long long* owed_steps, int max_blocks) {
  UpdateTable u;
  u.table = table, u.table_id = table_id, u.count = n, u.rows = rows, u.history = history, u.owed_steps = owed_steps;
  launch_lazy_settle(&u, 1, dim, now, stddev, exact, noise, seed, scale, cum, cum_sq, max_blocks);
}

void launch_set_slots(int32_t* slots, const int64_t* grad_rows, int64_t count, bool set) {
  UpdateTable u;
  u.slots = slots, u.rows = grad_rows, u.count = count;
  launch_set_slots(&u, 1, set);
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
  const RowTiling t = row_tiling(n);
  const int grid = tile_grid(nrows, t.tile_rows);
  if (rows_are_16_byte_aligned(n, o.data())) {
    normal_rows_kernel<true><<<grid, t.block>>>(seed, domain, step, table, r.data(), nrows, n, o.data());
  } else {
    normal_rows_kernel<false><<<grid, t.block>>>(seed, domain, step, table, r.data(), nrows, n, o.data());
  }
  PRIVREC_CUDA_CHECK_LAUNCH(normal_rows_kernel);
  synchronize();
  out = o.download();
}

}  // namespace privrec::cuda
