#pragma once
// CUDA kernels of the noisy embedding update (plain C++ interface; kernels in noisy_update.cu).
//
// The dense update generates each coordinate's noise in registers (Philox4x32-10 keyed by seed,
// step, table, row and column block, then Box-Muller with the project's IEEE-exact functions, see
// models/rng/gaussian.hpp) and applies w -= scale * (g + stddev * z) in the CPU backend's operation
// order with non-fusing intrinsics: the noise, and the updated table, are bit-identical to the CPU
// backend's. The table moves through memory once in and once out; rows with a gradient find it
// through a per-row slot map (4 bytes a row, built and cleared around the pass). The dense update,
// the sparse updates, lazydp's settle and normal_rows_on_device give each thread a 4-column block
// (16-byte accesses when dim % 4 == 0 and the rows are aligned) of two rows of a tile of
// consecutive (or listed) rows: no index division anywhere.
#include <cstdint>
#include <vector>

#include "models/rng/philox.hpp"

namespace privrec::cuda {

enum class DeviceNoise { gaussian, ones, zero };  // as NoiseSource

// One table's part of a grouped launch (device pointers). The launches below take any number of
// tables, cuda_work::kTablesPerLaunch at a time (models/kernel_work/cuda_table_group.hpp: each
// table's rows cut in tiles, the group's tiles laid end to end in one grid), so a step's update
// is one launch for up to 64 tables, not one a table.
struct UpdateTable {
  float* table = nullptr;         // rows x dim
  uint32_t table_id = 0;          // the noise's table coordinate
  int64_t count = 0;              // rows covered: the table's rows (dense), the listed rows, or every row (settle)
  const int64_t* rows = nullptr;  // the listed rows (sparse updates, settle; distinct); settle only: nullptr, 0 .. count - 1
  const float* grads = nullptr;   // sparse: listed row u's gradient at grads[u * dim]; dense, selected: grads[slot * dim]
  int32_t* slots = nullptr;       // dense, selected: one per row, -1 (no gradient) or the row's index into grads
  uint32_t* history = nullptr;    // settle: per row, the last step whose noise the row has
  unsigned long long* owed_steps = nullptr;  // settle: [0] += rows that owed noise, [1] += their pending steps
};

// The dense noisy update of each table's every row (count rows; slots, grads).
void launch_dense_noisy_update(const UpdateTable* tables, int64_t n, int64_t dim, float scale, float stddev,
                               uint64_t seed, DeviceNoise noise, uint64_t step);
// w[rows[u]] -= scale * grads[u] for u < count (rows distinct): sgd's row-wise update, in the CPU
// backend's order (one rounding for the product, one for the difference).
void launch_sparse_update(const UpdateTable* tables, int64_t n, int64_t dim, float scale);

// eana: w[rows[u]] -= scale * (grads[u] + stddev z) for the batch's coalesced rows only, with the
// row's noise keyed as in the dense update (the CPU backend's sparse_noisy_update).
void launch_sparse_noisy_update(const UpdateTable* tables, int64_t n, int64_t dim, float scale, float stddev,
                                uint64_t seed, DeviceNoise noise, uint64_t step);

// adafest: w[r] -= scale * (g + stddev z) for each table's selected rows r (rows, count), g the
// row's gradient where it has one (slots[r] >= 0: grads[slots[r] * dim]), else w[r] -= scale *
// (stddev z): the CPU backend's sparse_noisy_update of the selection.
void launch_selected_noisy_update(const UpdateTable* tables, int64_t n, int64_t dim, float scale, float stddev,
                                  uint64_t seed, DeviceNoise noise, uint64_t step);

// lazydp: brings each table's rows[0 .. count) (rows == nullptr: every row 0 .. count) up to step
// `now`: a row whose history h < now receives the pending noise of steps h+1 .. now and h becomes
// now. aggregated: one draw of step `now` scaled by stddev sqrt(sum of scale_s^2) (with ones:
// stddev sum scale_s); exact: each skipped step's own draw with its own scale. cum and cum_sq are
// the schedule's prefix sums of scale_s and scale_s^2 (index = step), scale the scales. Adds the
// rows that owed noise and the pending steps applied to the table's owed_steps[0] and [1] (device;
// one atomic per warp each, per table a block met). max_blocks > 0 caps the grid below its one
// block a tile (up to 2^20), so that each block walks several tiles, across tables (the tests' way
// to reach that path with small tables).
void launch_lazy_settle(const UpdateTable* tables, int64_t n, int64_t dim, uint32_t now, float stddev, bool exact,
                        DeviceNoise noise, uint64_t seed, const double* scale, const double* cum,
                        const double* cum_sq, int max_blocks = 0);

// slots[rows[u]] = u for u < count (set) or -1 (clear), each table's own slots and rows.
void launch_set_slots(const UpdateTable* tables, int64_t n, bool set);

// One table (as the tests and the microbenchmarks call them).
void launch_dense_noisy_update(float* table, int64_t rows, int64_t dim, uint32_t table_id, int32_t* slots,
                               const float* grads, float scale, float stddev, uint64_t seed, DeviceNoise noise,
                               uint64_t step);
void launch_sparse_update(float* table, int64_t dim, const int64_t* rows, const float* grads, int64_t count,
                          float scale);
void launch_sparse_noisy_update(float* table, int64_t dim, uint32_t table_id, const int64_t* rows, const float* grads,
                                int64_t count, float scale, float stddev, uint64_t seed, DeviceNoise noise,
                                uint64_t step);
void launch_lazy_settle(float* table, int64_t dim, uint32_t table_id, const int64_t* rows, int64_t n,
                        uint32_t* history, uint32_t now, float stddev, bool exact, DeviceNoise noise, uint64_t seed,
                        const double* scale, const double* cum, const double* cum_sq,
                        unsigned long long* owed_steps, int max_blocks = 0);
void launch_set_slots(int32_t* slots, const int64_t* grad_rows, int64_t count, bool set);

// Host conveniences (copy in, run, copy back) for tests and benchmarks.
void dense_noisy_update_on_device(std::vector<float>& table, int64_t rows, int64_t dim, uint32_t table_id,
                                  const std::vector<int64_t>& grad_rows, const std::vector<float>& grads, float scale,
                                  float stddev, uint64_t seed, DeviceNoise noise, uint64_t step);
// out[j * n + c] = noise_normal(seed, domain, step, table, rows[j], c), computed on the device.
void normal_rows_on_device(uint64_t seed, RngDomain domain, uint64_t step, uint32_t table,
                           const std::vector<int64_t>& rows, int64_t n, std::vector<float>& out);

}  // namespace privrec::cuda
