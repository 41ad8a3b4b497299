// Throughput of the reuse-distance analysis (traces/reuse_distance.hpp) on one core, in accesses per
// second, exact and sampled, for uniform and zipf(1.05) keys over 10^6 and 10^8 rows of 128 B with
// two capacities (2 MB, 32 MB); and the cost of Che's approximation for a 10^10-row population.
// Keys come from a precomputed stream of 2^24 accesses (read cyclically) so that drawing them is not
// timed. The analyzer lives across iterations: the state grows as a real run's would.
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <random>

#include "traces/che_approximation.hpp"
#include "traces/reuse_distance.hpp"
#include "traces/zipf_sampler.hpp"

using namespace privrec;

namespace {

constexpr size_t kStream = size_t{1} << 24, kBlock = size_t{1} << 16;

const std::vector<uint64_t>& key_stream(int64_t rows, bool zipf) {
  static std::map<std::pair<int64_t, bool>, std::vector<uint64_t>> streams;
  std::vector<uint64_t>& keys = streams[{rows, zipf}];
  if (!keys.empty()) return keys;
  keys.resize(kStream);
  std::mt19937_64 gen(rows * 2 + zipf);
  ZipfSampler z(rows, 1.05);
  for (uint64_t& k : keys) {
    if (!zipf) {
      k = static_cast<uint64_t>((static_cast<unsigned __int128>(gen()) * static_cast<uint64_t>(rows)) >> 64);
      continue;
    }
    int64_t rank = 0;
    while (rank == 0) rank = z.try_sample((static_cast<double>(gen() >> 11) + 0.5) * 0x1p-53);
    k = static_cast<uint64_t>(rank - 1);
  }
  return keys;
}

}  // namespace

// Arguments: rows, zipf (0/1), sample rate in units of 1e-4 (10000 = exact).
static void BM_ReuseAnalyzer(benchmark::State& state) {
  const std::vector<uint64_t>& keys = key_stream(state.range(0), state.range(1) != 0);
  ReuseOptions o;
  o.sample_rate = static_cast<double>(state.range(2)) * 1e-4;
  o.capacities_bytes = {2000000, 32000000};
  ReuseAnalyzer a(o);
  size_t at = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < kBlock; ++i) a.access(keys[at + i], 128);
    at = (at + kBlock) & (kStream - 1);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBlock));
  state.counters["tracked_rows"] = static_cast<double>(a.sampled_rows());
  state.counters["bytes_per_tracked_row"] =
      a.sampled_rows() ? static_cast<double>(a.memory_bytes()) / static_cast<double>(a.sampled_rows()) : 0.0;
  state.counters["hit_rate_32MB"] = a.lru_hit_rate(32000000, 0);
}
BENCHMARK(BM_ReuseAnalyzer)
    ->ArgNames({"rows", "zipf", "rate_e4"})
    ->ArgsProduct({{1000000, 100000000}, {0, 1}, {10000, 500, 100, 10}})
    ->Unit(benchmark::kMillisecond);

// Che for two tables of 10^10 rows (zipf 1.05 and uniform) at capacities from 1 MB to 1 TB: building
// the population (once per population), and solving one capacity on a built one.
static const std::vector<PopularityGroup> kHugeTables = {{10000000000, 0.6, 128, 1.05}, {10000000000, 0.4, 256, 0.0}};

static void BM_ChePopulation(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(ChePopulation(kHugeTables));
}
BENCHMARK(BM_ChePopulation)->Unit(benchmark::kMicrosecond);

static void BM_CheLru(benchmark::State& state) {
  const ChePopulation pop(kHugeTables);
  double cap = 1e6;
  for (auto _ : state) {
    benchmark::DoNotOptimize(pop.lru(cap));
    cap = cap < 1e12 ? cap * 1.7 : 1e6;
  }
}
BENCHMARK(BM_CheLru)->Unit(benchmark::kMicrosecond);
