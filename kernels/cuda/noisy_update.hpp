#pragma once
// CUDA kernels of the noisy embedding update (plain C++ interface; kernels in noisy_update.cu).
//
// The dense update generates each coordinate's noise in registers (Philox4x32-10 keyed by seed,
// step, table, row and column block, then Box-Muller with the project's IEEE-exact functions, see
// kernels/gaussian.hpp) and applies w -= scale * (g + stddev * z) in the CPU backend's operation
// order with non-fusing intrinsics: the noise, and the updated table, are bit-identical to the CPU
// backend's. The table moves through memory once in and once out; rows with a gradient find it
// through a per-row slot map (4 bytes a row, built and cleared around the pass).
#include <cstdint>
#include <vector>

#include "kernels/philox.hpp"

namespace privrec::cuda {

enum class DeviceNoise { gaussian, ones, zero };  // as NoiseSource

// Device-side launch. `table` is rows x dim floats on the device; `slots` has one int32 per row
// (-1: no gradient, else the row's index into `grads`, grads being slots-indexed rows x dim).
void launch_dense_noisy_update(float* table, int64_t rows, int64_t dim, uint32_t table_id, const int32_t* slots,
                               const float* grads, float scale, float stddev, uint64_t seed, DeviceNoise noise,
                               uint64_t step);
// w[rows[u]] -= scale * grads[u] for u < count (rows distinct): sgd's row-wise update, in the CPU
// backend's order (one rounding for the product, one for the difference).
void launch_sparse_update(float* table, int64_t dim, const int64_t* rows, const float* grads, int64_t count,
                          float scale);

// slots[grad_rows[u]] = u for u < count (set) or -1 (clear).
void launch_set_slots(int32_t* slots, const int64_t* grad_rows, int64_t count, bool set);

// Host conveniences (copy in, run, copy back) for tests and benchmarks.
void dense_noisy_update_on_device(std::vector<float>& table, int64_t rows, int64_t dim, uint32_t table_id,
                                  const std::vector<int64_t>& grad_rows, const std::vector<float>& grads, float scale,
                                  float stddev, uint64_t seed, DeviceNoise noise, uint64_t step);
// out[j * n + c] = noise_normal(seed, domain, step, table, rows[j], c), computed on the device.
void normal_rows_on_device(uint64_t seed, RngDomain domain, uint64_t step, uint32_t table,
                           const std::vector<int64_t>& rows, int64_t n, std::vector<float>& out);

}  // namespace privrec::cuda
