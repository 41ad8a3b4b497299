// CPU kernel microbenchmarks: the RNG against std::mt19937 + std::normal_distribution (one core),
// and the dense noisy update against this machine's streaming read+write bandwidth.
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
BENCHMARK(BM_Normals_Philox);

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

static void BM_DenseNoisyUpdate(benchmark::State& state) {
  const int64_t dim = state.range(1), rows = state.range(0) / 4 / dim;
  cpu::EmbeddingTable t;
  t.rows = rows, t.dim = dim, t.weights = cpu::FloatArray(rows * dim);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < rows * dim; ++i) t.weights[i] = 0.0f;
  cpu::SparseRows none;
  NoiseGenerator noise(1, NoiseSource::gaussian);
  uint64_t step = 1;
  for (auto _ : state) {
    WorkCounters w;
    cpu::dense_noisy_update(t, 0, none, 1e-3f, 1.0f, noise, step++, w);
  }
  state.SetBytesProcessed(state.iterations() * rows * dim * 8);
  state.SetItemsProcessed(state.iterations() * rows * dim);
}
BENCHMARK(BM_DenseNoisyUpdate)->Args({512 << 20, 32})->Args({512 << 20, 128})->UseRealTime()->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
  configure_host_allocator();  // as privrec itself runs
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
