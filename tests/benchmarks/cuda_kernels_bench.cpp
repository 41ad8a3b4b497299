// CUDA kernel microbenchmarks (label: run on the GPU machine by tools/gpu-run.sh). Each iteration
// is one kernel run timed with CUDA events (manual time); bytes are what the kernel must move.
// Without a device every benchmark stops with an error saying so.
#include <benchmark/benchmark.h>

#include <cmath>
#include <memory>

#include "kernels/cuda/dense_ops.hpp"
#include "kernels/cuda/device.hpp"
#include "kernels/cuda/kernel_bench.hpp"

using namespace privrec;

namespace {
cuda::KernelBench* bench(benchmark::State& state) {
  static const cuda::DeviceInfo d = cuda::query_device();
  if (!d.available) {
    state.SkipWithError(("no CUDA device: " + d.reason).c_str());
    return nullptr;
  }
  static std::unique_ptr<cuda::KernelBench> b = std::make_unique<cuda::KernelBench>();
  return b.get();
}

constexpr int64_t kTableBytes = int64_t{4} << 30;  // 4 GB: far beyond the 50 MB L2
}  // namespace

// The ceiling: device-to-device copy, read + write.
static void BM_CudaCopy(benchmark::State& state) {
  auto* b = bench(state);
  if (!b) return;
  for (auto _ : state) state.SetIterationTime(b->copy_ms(kTableBytes) / 1e3);
  state.SetBytesProcessed(state.iterations() * 2 * kTableBytes);
}
BENCHMARK(BM_CudaCopy)->UseManualTime()->Unit(benchmark::kMillisecond);

static void BM_CudaFusedDenseNoisyUpdate(benchmark::State& state) {
  auto* b = bench(state);
  if (!b) return;
  const int64_t dim = state.range(0), rows = kTableBytes / 4 / dim;
  for (auto _ : state) state.SetIterationTime(b->fused_dense_update_ms(rows, dim) / 1e3);
  state.SetBytesProcessed(state.iterations() * (2 * kTableBytes + rows * 4));  // table in and out, slot map
  state.SetItemsProcessed(state.iterations() * rows * dim);                      // normals
}
BENCHMARK(BM_CudaFusedDenseNoisyUpdate)->Arg(32)->Arg(128)->UseManualTime()->Unit(benchmark::kMillisecond);

// The peer: noise written to memory, then added (4 x table of traffic).
static void BM_CudaGenerateThenAdd(benchmark::State& state) {
  auto* b = bench(state);
  if (!b) return;
  const int64_t dim = state.range(0), rows = kTableBytes / 4 / dim;
  for (auto _ : state) state.SetIterationTime(b->generate_then_add_ms(rows, dim) / 1e3);
  state.SetBytesProcessed(state.iterations() * 4 * kTableBytes);
  state.SetItemsProcessed(state.iterations() * rows * dim);
}
BENCHMARK(BM_CudaGenerateThenAdd)->Arg(32)->Arg(128)->UseManualTime()->Unit(benchmark::kMillisecond);

// args: dim, zipf exponent x 100 (0: uniform); batch 2048 x pooling 80 lookups from a 4 GB table.
static void BM_CudaEmbeddingForward(benchmark::State& state) {
  auto* b = bench(state);
  if (!b) return;
  const int64_t dim = state.range(0), rows = kTableBytes / 4 / dim, batch = 2048 * 26, pooling = 20;
  const double s = static_cast<double>(state.range(1)) / 100.0;
  for (auto _ : state) state.SetIterationTime(b->embedding_forward_ms(rows, dim, batch, pooling, s) / 1e3);
  state.SetBytesProcessed(state.iterations() * batch * pooling * dim * 4);
}
BENCHMARK(BM_CudaEmbeddingForward)
    ->ArgsProduct({{32, 64, 128, 256}, {0, 105}})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// The same uniform gathers from a table that fits well inside the L2 (50 MB on the H100, 60 MB on
// the H200; 16 MB stays inside even one of its two partitions): the rate the model gives a cache
// hit, next to the 4 GB table's (memory). The bags' ids and outputs stream through the L2 as in the
// real kernel; the table, reread about 30 times per run, stays resident after the warm-up run.
// args: dim; batch 2048 x 26 bags of 20 lookups, as above.
constexpr int64_t kL2TableBytes = int64_t{16} << 20;
static void BM_CudaEmbeddingForwardL2Resident(benchmark::State& state) {
  auto* b = bench(state);
  if (!b) return;
  const int64_t dim = state.range(0), rows = kL2TableBytes / 4 / dim, batch = 2048 * 26, pooling = 20;
  for (auto _ : state) state.SetIterationTime(b->embedding_forward_ms(rows, dim, batch, pooling, 0.0) / 1e3);
  state.SetBytesProcessed(state.iterations() * batch * pooling * dim * 4);
  state.counters["footprint_MB"] = static_cast<double>(kL2TableBytes) / 1e6;
}
BENCHMARK(BM_CudaEmbeddingForwardL2Resident)->Arg(32)->Arg(128)->UseManualTime()->Unit(benchmark::kMillisecond);

static void BM_CudaEmbeddingBackwardUpdate(benchmark::State& state) {
  auto* b = bench(state);
  if (!b) return;
  const int64_t dim = state.range(0), rows = kTableBytes / 4 / dim, batch = 2048 * 26, pooling = 20;
  const double s = static_cast<double>(state.range(1)) / 100.0;
  for (auto _ : state)
    state.SetIterationTime(b->embedding_backward_update_ms(rows, dim, batch, pooling, s) / 1e3);
  // The rows' gradients read once, the touched rows read and written (at most one per lookup).
  state.SetBytesProcessed(state.iterations() * batch * pooling * dim * 4);
}
BENCHMARK(BM_CudaEmbeddingBackwardUpdate)
    ->ArgsProduct({{32, 128}, {0, 105}})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// lazydp catch-up of one 4 GB table (dim 128): the batch's distinct rows, 10 pending steps each.
static void BM_CudaLazydpCatchup(benchmark::State& state) {
  auto* b = bench(state);
  if (!b) return;
  const int64_t dim = 128, rows = kTableBytes / 4 / dim, batch = 2048, pooling = state.range(0);
  for (auto _ : state) state.SetIterationTime(b->lazydp_catchup_ms(rows, dim, batch, pooling, 0.0, 10) / 1e3);
  state.SetBytesProcessed(state.iterations() * batch * pooling * dim * 4 * 2);  // touched rows in and out (at most)
}
BENCHMARK(BM_CudaLazydpCatchup)->Arg(1)->Arg(80)->UseManualTime()->Unit(benchmark::kMillisecond);

// adafest selection of one 32M-row table: false-positive probability Q(3) (sigma1 1, tau 3) by default.
static void BM_CudaAdafestSelect(benchmark::State& state) {
  auto* b = bench(state);
  if (!b) return;
  const int64_t rows = int64_t{1} << 25, batch = 2048, pooling = state.range(0);
  const double p = 0.5 * std::erfc(3.0 / std::sqrt(2.0));
  for (auto _ : state) state.SetIterationTime(b->adafest_select_ms(rows, batch, pooling, 1.05, p) / 1e3);
  state.SetItemsProcessed(state.iterations() * batch * pooling);
}
BENCHMARK(BM_CudaAdafestSelect)->Arg(1)->Arg(80)->UseManualTime()->Unit(benchmark::kMillisecond);

// An MLP layer of 1024 x 1024 at batch 8192: args (product, own). Product 0 is the forward's
// (M = batch, K = the layer's input), 1 the weight gradient's (M x N = the layer, K = the batch:
// the project's SGEMM splits K). own 0: gemm (cuBLAS where it loaded; the label says which), 1: the
// project's SGEMM, the fallback.
static void BM_CudaGemm(benchmark::State& state) {
  auto* b = bench(state);
  if (!b) return;
  const bool weight_grad = state.range(0) == 1, own = state.range(1) == 1;
  const int64_t batch = 8192, width = 1024;
  const int64_t M = weight_grad ? width : batch, K = weight_grad ? batch : width;
  for (auto _ : state) state.SetIterationTime(b->gemm_ms(M, width, K, weight_grad, own) / 1e3);
  state.SetLabel(own ? "privrec" : cuda::gemm_backend_name());
  state.SetItemsProcessed(state.iterations() * 2 * M * width * K);                   // flops
  state.SetBytesProcessed(state.iterations() * 4 * (M * K + K * width + M * width));  // the operands once
}
BENCHMARK(BM_CudaGemm)->Args({0, 0})->Args({0, 1})->Args({1, 0})->Args({1, 1})->UseManualTime()->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
