// The CUDA kernels against the CPU backend (label gpu). Without a device every test is reported
// as skipped, never as passed.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "kernels/cpu/noisy_update.hpp"
#include "kernels/cuda/device.hpp"
#include "kernels/cuda/noisy_update.hpp"
#include "kernels/noise_rows.hpp"

namespace privrec {
namespace {

#define REQUIRE_GPU()                                                          \
  do {                                                                         \
    const cuda::DeviceInfo d_ = cuda::query_device();                          \
    if (!d_.available) GTEST_SKIP() << "no CUDA device: " << d_.reason;        \
  } while (0)

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

TEST(CudaKernels, NoiseIsBitIdenticalToTheCpuBackend) {
  REQUIRE_GPU();
  const std::vector<int64_t> rows = {0, 1, 7, 1000003, (int64_t{1} << 40) + 5};
  for (int64_t n : {1, 3, 32, 37, 128}) {
    std::vector<float> gpu, cpu(rows.size() * n);
    cuda::normal_rows_on_device(42, RngDomain::table_noise, 9, 3, rows, n, gpu);
    normal_rows(42, RngDomain::table_noise, 9, 3, rows.data(), static_cast<int64_t>(rows.size()), n, cpu.data());
    for (size_t k = 0; k < cpu.size(); ++k) ASSERT_TRUE(same_bits(gpu[k], cpu[k])) << "n " << n << " index " << k;
  }
}

TEST(CudaKernels, DenseNoisyUpdateIsBitIdenticalToTheCpuBackend) {
  REQUIRE_GPU();
  for (int64_t dim : {32, 13}) {
    const int64_t rows = 1000;
    cpu::EmbeddingTable table;
    table.rows = rows;
    table.dim = dim;
    table.weights = cpu::FloatArray(rows * dim);
    for (int64_t k = 0; k < rows * dim; ++k) table.weights[k] = 0.001f * static_cast<float>(k % 977) - 0.3f;
    cpu::SparseRows grad;
    grad.rows = {2, 17, 500, 999};
    grad.grads.resize(grad.rows.size() * dim);
    for (size_t k = 0; k < grad.grads.size(); ++k) grad.grads[k] = 0.01f * static_cast<float>(k % 13) - 0.05f;
    std::vector<float> on_gpu(table.weights.data(), table.weights.data() + rows * dim);
    cuda::dense_noisy_update_on_device(on_gpu, rows, dim, 4, grad.rows, grad.grads, 0.05f, 0.4f, 7,
                                       cuda::DeviceNoise::gaussian, 3);
    WorkCounters w;
    cpu::dense_noisy_update(table, 4, grad, 0.05f, 0.4f, NoiseGenerator(7, NoiseSource::gaussian), 3, w);
    for (int64_t k = 0; k < rows * dim; ++k)
      ASSERT_TRUE(same_bits(on_gpu[k], table.weights[k])) << "dim " << dim << " index " << k;
  }
}

}  // namespace
}  // namespace privrec
