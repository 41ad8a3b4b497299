// The CPU backend as the command line uses it: this machine's cores, host memory, the OpenMP
// trainers and the machine microbenchmarks.
#include <fmt/format.h>

#include "kernels/cpu/cpu_training.hpp"
#include "kernels/backend.hpp"
#include "kernels/cpu/dlrm_model.hpp"
#include "kernels/cpu/machine_bench.hpp"

namespace privrec::cpu {

namespace {
BackendRates rates_of(const MachineRates& m) {
  BackendRates r;
  r.processor = fmt::format("this machine's CPU ({} threads)", m.threads);
  r.method = "the machine microbenchmarks (median of five after a warm-up)";
  r.memory_GB = m.memory_GB;
  r.stream_GBps = m.stream_GBps;
  r.random_GBps_by_row_B = m.random_GBps_by_row_B;
  r.random_GBps = random_GBps_at(m.random_GBps_by_row_B, 128.0);
  r.gemm_GFLOPps = m.gemm_GFLOPps;
  r.vector_GFLOPps = m.vector_GFLOPps;
  r.rng_normals_per_s = m.rng_normals_per_s;
  r.sort_ops_per_s = m.sort_ops_per_s;
  r.launch_overhead_us = m.launch_overhead_us;
  r.first_touch_GBps = m.first_touch_GBps;
  r.random_footprint_MB = m.random_footprint_bytes / 1e6;  // a profile's MB are 1e6 bytes
  // A private cache (one per core) counts one instance: every thread reads rows from the whole
  // table (the forward splits a table's examples, the gathers their lookups, never the rows), so
  // each core's cache holds its own copy of the rows it reads, and the capacity serving them is
  // one instance's. Summed, two 1 MiB L2s looked like one 2 MB level holding 80 % of a 2.4 MB
  // table (rmc2 x0.001); fwd.emb was modeled 34 % fast. Stages that give each thread its own
  // tables (coalescing, the sparse updates) could use the sum; one capacity per level serves all
  // stages, and the forward, every algorithm's largest table stage, decides it.
  for (const DetectedCache& c : m.caches)
    r.caches.push_back({c.name, static_cast<double>(c.instance_bytes) / 1e6, c.stream_GBps,
                        fmt::format("{} x {} KiB, {}", c.instances, c.instance_bytes >> 10, c.source)});
  for (const FootprintGather& g : m.footprint_curve) r.footprint_curve.push_back({g.footprint_bytes / 1e6, g.row_bytes, g.GBps});
  for (const CostPoint& p : m.miss_cost_curve) r.miss_cost_curve.push_back({p.row_bytes, p.fraction, p.factor});
  for (const CostPoint& p : m.sorted_visit_curve) r.sorted_visit_curve.push_back({p.row_bytes, p.fraction, p.factor});
  return r;
}

struct CpuBackend final : Backend {
  CpuBackend() {
    name = "cpu";
    description = "this machine's cores, OpenMP";
    title = "CPU";
    processor = "CPU";
    kernel_family = "cpu";
    calibration_cases = "configs/validation/cpu_calibration_cases.json";
    validation_cases = "configs/validation/cpu_validation_cases.json";
    // The measured profile of the development machine: compare and validate model with it.
    model_profile = measured_profile = "cpu-epyc-2c";
    runs_on_host = true;
    shrinks_batch = true;
    shared_processor = true;  // the development machine is a VM whose cores others share
  }
  std::string require_available() const override { return "this machine's CPU"; }
  MemoryPlan plan_memory(const Workload& w, AlgorithmKind kind) const override {
    return plan_cpu_memory(w, kind, available_memory_bytes());
  }
  TrainReport train(const Workload& w, const AlgorithmConfig& cfg, const TraceSource& trace,
                    const TrainOptions& opt) const override {
    return run_cpu_training(w, cfg, trace, opt);
  }
  BackendRates measure_rates(const std::function<void(const std::string&)>& say) const override {
    return rates_of(measure_cpu_rates(say));
  }
  BackendRates probe_rates() const override { return rates_of(probe_cpu_rates()); }
  // Half a gigabyte: well past the caches, and quick enough to run before and after validate.
  double stream_GBps_now() const override { return measure_stream_GBps(int64_t{1} << 29); }
};
}  // namespace

const Backend& backend() {
  static const CpuBackend b;
  return b;
}

}  // namespace privrec::cpu
