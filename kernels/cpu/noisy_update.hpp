#pragma once
// Applying updates with Gaussian noise. The noise of coordinate (step, table, row, column) is
// generated in the same pass that applies it and never stored: a dense pass moves each table
// once in and once out.
#include <vector>

#include "kernels/cpu/dlrm_model.hpp"
#include "kernels/cpu/dlrm_pass.hpp"
#include "kernels/cpu/embedding_bag.hpp"
#include "kernels/noise_rows.hpp"

namespace privrec::cpu {

// Every row r of table `t`: w[r] -= scale * (g[r] + stddev * z(step, t, r)), g[r] = 0 off the gradient.
void dense_noisy_update(EmbeddingTable& table, uint32_t t, const SparseRows& grad, float scale, float stddev,
                        const NoiseGenerator& noise, uint64_t step, WorkCounters& work);

// The same for the sorted rows `rows` only; rows absent from `grad` get noise alone.
void sparse_noisy_update(EmbeddingTable& table, uint32_t t, const std::vector<int64_t>& rows, const SparseRows& grad,
                         float scale, float stddev, const NoiseGenerator& noise, uint64_t step, WorkCounters& work);

// Every MLP parameter: p -= scale * (g + stddev * z(step, tensor, row, column)); noise == nullptr: no noise.
// Tensor ids: 2 * layer for weights (row = output unit), 2 * layer + 1 for biases (row 0).
void mlp_update(DlrmModel& m, const MlpGrads& grads, float scale, float stddev, const NoiseGenerator* noise,
                uint64_t step, WorkCounters& work);

}  // namespace privrec::cpu
