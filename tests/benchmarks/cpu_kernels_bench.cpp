// CPU kernel microbenchmarks: the RNG against std::mt19937 + std::normal_distribution (one core,
// and Philox on two threads), and the dense and sparse noisy updates against this machine's
// streaming read+write bandwidth and, on a table in the L2, against the generator alone.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cstring>
#include <random>

#include "kernels/cpu/noisy_update.hpp"
#include "kernels/host_allocator.hpp"

using namespace privrec;

static void BM_Normals_mt19937(benchmark::State& state) {
  std::mt19937 gen(1);
  std::normal_distribution<float> dist;
  std::vector<float> out(4096);
  for (auto _ : state) {
    for (auto& x : out) x = dist(gen);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * out.size());
}
BENCHMARK(BM_Normals_mt19937);

static void BM_Normals_Philox(benchmark::State& state) {
  std::vector<float> out(4096);
  uint64_t row = 0;
  for (auto _ : state) {
    normal_row(1, RngDomain::table_noise, 1, 0, row++, static_cast<int64_t>(out.size()), out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * out.size());
}
BENCHMARK(BM_Normals_Philox)->Threads(1)->Threads(2)->UseRealTime();

// The same 4096 normals as rows of `dim` columns, as the embedding updates draw them (one core).
static void BM_Normals_PhiloxRows(benchmark::State& state) {
  const int64_t dim = state.range(0), nrows = 4096 / dim;
  std::vector<float> out(4096);
  std::vector<int64_t> rows(nrows);
  int64_t next = 0;
  for (auto _ : state) {
    for (auto& r : rows) r = next++;
    normal_rows(1, RngDomain::table_noise, 1, 0, rows.data(), nrows, dim, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * out.size());
}
BENCHMARK(BM_Normals_PhiloxRows)->Arg(32)->Arg(128);

// Streaming read + write of the same array (what a dense update must move): y = a * x in place.
static void BM_StreamReadWrite(benchmark::State& state) {
  const int64_t n = state.range(0) / 4;
  cpu::FloatArray x(n);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) x[i] = 1.0f;
  for (auto _ : state) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) x[i] = x[i] * 0.999999f;
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * n * 8);
  state.counters["threads"] = omp_get_max_threads();
}
BENCHMARK(BM_StreamReadWrite)->Arg(512 << 20)->UseRealTime()->Unit(benchmark::kMillisecond);

// A zeroed table of `bytes` in rows of `dim` floats, its pages touched by the threads that update it.
static cpu::EmbeddingTable zero_table(int64_t bytes, int64_t dim) {
  cpu::EmbeddingTable t;
  t.rows = bytes / 4 / dim, t.dim = dim, t.weights = cpu::FloatArray(t.rows * dim);
  const int64_t n = t.rows * dim;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) t.weights[i] = 0.0f;
  return t;
}

// Rows of a table of `rows` rows picked with probability percent / 100, ascending, each with a
// gradient of 0.5s: a batch's coalesced gradient.
static cpu::SparseRows gradient_on(int64_t rows, int64_t dim, int percent) {
  cpu::SparseRows grad;
  std::mt19937_64 pick(7);
  for (int64_t r = 0; r < rows; ++r)
    if (static_cast<int>(pick() % 100) < percent) grad.rows.push_back(r);
  grad.grads.assign(grad.rows.size() * dim, 0.5f);
  return grad;
}

// dpsgd's update of a whole table: noise on every row, and the gradient on the rows of a batch
// (third argument: their share in percent; rmc2 x0.01 at batch 2048 touches 58 %).
static void BM_DenseNoisyUpdate(benchmark::State& state) {
  const int64_t dim = state.range(1);
  cpu::EmbeddingTable t = zero_table(state.range(0), dim);
  const int64_t rows = t.rows;
  const cpu::SparseRows grad = gradient_on(rows, dim, static_cast<int>(state.range(2)));
  NoiseGenerator noise(1, NoiseSource::gaussian);
  uint64_t step = 1;
  for (auto _ : state) {
    WorkCounters w;
    cpu::dense_noisy_update(t, 0, grad, 1e-3f, 1.0f, noise, step++, w);
  }
  state.SetBytesProcessed(state.iterations() * (rows * dim * 8 + static_cast<int64_t>(grad.grads.size()) * 4));
  state.SetItemsProcessed(state.iterations() * rows * dim);
}
BENCHMARK(BM_DenseNoisyUpdate)
    ->Args({512 << 20, 32, 0})
    ->Args({512 << 20, 32, 58})
    ->Args({512 << 20, 128, 0})
    ->Args({2 << 20, 32, 0})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// eana's update: noise and gradient on the rows a batch touched, here 58 % of a table (rmc2 x0.01
// at batch 2048), each with its gradient; the same table held in the L2 (2 MB) gives the cost
// without memory traffic.
static void BM_SparseNoisyUpdate(benchmark::State& state) {
  const int64_t dim = state.range(1);
  cpu::EmbeddingTable t = zero_table(state.range(0), dim);
  const int64_t rows = t.rows;
  const cpu::SparseRows grad = gradient_on(rows, dim, 58);
  NoiseGenerator noise(1, NoiseSource::gaussian);
  uint64_t step = 1;
  for (auto _ : state) {
    WorkCounters w;
    cpu::sparse_noisy_update(t, 0, grad.rows, grad, 1e-3f, 1.0f, noise, step++, w);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(grad.rows.size()) * dim);
}
BENCHMARK(BM_SparseNoisyUpdate)->Args({512 << 20, 32})->Args({2 << 20, 32})->UseRealTime()->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
  configure_host_allocator();  // as privrec itself runs
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
