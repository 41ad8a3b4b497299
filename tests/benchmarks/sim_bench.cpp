// The trace-driven model's speed: the reuse analysis plus the work model over batches already in
// memory (trace generation is not timed), in row lookups per second, on rmc2 x0.1 (7.5 M rows of
// 128 B, 40 tables) at batch 4096: 13.1 M lookups per step. The goal is >= 20 M lookups/s on this
// 2-core machine. Counters: lookups/s, the reuse analysis' memory and the process' peak RSS.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <string>
#include <vector>

#include "models/algorithm.hpp"
#include "models/workload.hpp"
#include "sim/simulation.hpp"
#include "traces/synthetic_trace.hpp"

namespace {
using namespace privrec;

// Batches drawn once and served from memory, so the benchmark times the model, not the generator.
class BatchesInMemory final : public TraceSource {
 public:
  BatchesInMemory(const TraceSource& from, int64_t n) {
    for (int64_t i = 0; i < n; ++i) batches_.push_back(from.batch(i));
    tables_ = from.num_tables(), dense_ = from.num_dense();
  }
  int64_t num_batches() const override { return static_cast<int64_t>(batches_.size()); }
  Batch batch(int64_t index) const override { return batches_[static_cast<size_t>(index) % batches_.size()]; }
  int64_t num_tables() const override { return tables_; }
  int64_t num_dense() const override { return dense_; }
  std::string describe() const override { return "batches in memory"; }

 private:
  std::vector<Batch> batches_;
  int64_t tables_ = 0, dense_ = 0;
};

void BM_TraceDrivenModel(benchmark::State& state) {
  const AlgorithmKind kinds[] = {AlgorithmKind::sgd, AlgorithmKind::dpsgd_f, AlgorithmKind::lazydp, AlgorithmKind::adafest};
  Workload w = load_workload("rmc2");
  w.scale_tables(0.1);
  w.batch_size = 4096;
  AlgorithmConfig cfg;
  cfg.kind = kinds[state.range(0)];
  const int64_t steps = 3;
  const BatchesInMemory trace(SyntheticTrace(w, 1), steps);
  const sim::HardwareProfile h = sim::load_hardware_profile("cpu-epyc-2c");
  double lookups = 0, analysis_bytes = 0;
  for (auto _ : state) {
    const sim::SimReport r = sim::simulate(w, cfg, trace, h, steps);
    benchmark::DoNotOptimize(r.step_ms);
    lookups += static_cast<double>(steps * w.batch_size) * 80 * 40;
    analysis_bytes = r.row_traffic.value("analysis_memory_bytes", 0.0);
  }
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  state.SetLabel(algorithm_info(cfg.kind).name);
  state.counters["lookups_per_s"] = benchmark::Counter(lookups, benchmark::Counter::kIsRate);
  state.counters["analysis_MB"] = analysis_bytes / 1e6;
  state.counters["peak_rss_MB"] = static_cast<double>(u.ru_maxrss) / 1e3;
}
BENCHMARK(BM_TraceDrivenModel)->DenseRange(0, 3)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(2);
}  // namespace
