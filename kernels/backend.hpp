#pragma once
// A backend as the command line uses it: whether it can run here, how a run fits its memory,
// training, the rates calibrate fits with, and its default case lists and profiles. Backends are
// registered by name (find_backend), so tools/ asks the backend instead of testing its name;
// adding one is its own file and one line in the registry (kernels/backend.cpp).
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/training_run.hpp"
#include "models/algorithm.hpp"
#include "models/workload.hpp"
#include "traces/trace_source.hpp"

namespace privrec {

// A backend's rates in the performance model's terms (kernels/ cannot name sim's profile; tools/
// copies these into one).
struct BackendRates {
  std::string processor;  // "this machine's CPU (2 threads)", "NVIDIA H100 80GB HBM3 (CUDA)"
  std::string method;     // how they were measured, for a profile's provenance
  double memory_GB = 0;
  double stream_GBps = 0;
  double random_GBps = 0;                                       // 128 B rows
  std::vector<std::pair<double, double>> random_GBps_by_row_B;  // row bytes -> GB/s
  double gemm_GFLOPps = 0, vector_GFLOPps = 0;
  double rng_normals_per_s = 0, sort_ops_per_s = 0;
  double launch_overhead_us = 0;
  double first_touch_GBps = 0;  // fresh memory faulted in (CPU, full rates only); 0: not measured
  // The link the batch comes up over each step, where the backend sends one (0: none): bandwidth
  // and latency as the backend's own upload sees them.
  double link_GBps = 0, link_latency_us = 0;
  // The working set random_GBps_by_row_B was gathered from (1 GiB on the CPU), 0 where unknown: a
  // cache-aware model compares it with the levels' share at this footprint, not with memory alone.
  double random_footprint_MB = 0;
  // A cache in front of memory as the backend detected it, nearest first (capacity: what serves
  // rows every thread reads; one instance of a per-core cache); stream_GBps measured well inside
  // it (full rates only).
  struct Cache {
    std::string name;
    double capacity_MB = 0;
    double stream_GBps = 0;
    std::string detected;  // where the size came from, with its instances
  };
  std::vector<Cache> caches;
  // Row-random gathers by working set, for fitting the caches' row-random bandwidths: the full
  // rates sweep footprints from within the nearest cache to random_footprint_MB at every row size;
  // a probe measures 128 B rows at a quarter of each cache's capacity (footprints the full sweep
  // has too). Empty where not measured.
  struct FootprintRate {
    double footprint_MB = 0, row_B = 0, GBps = 0;
  };
  std::vector<FootprintRate> footprint_curve;
  // What a miss to memory costs over the all-miss figure when misses are a fraction of the lookups
  // among cache hits (sim::CostCurve), per row size and fraction: full CPU rates only.
  struct CostPoint {
    double row_B = 0, fraction = 0, factor = 0;
  };
  std::vector<CostPoint> miss_cost_curve;
  // What rows visited in ascending order cost over streaming the same bytes, per row size and
  // density (the share of the rows visited; sim::ProcessorProfile::sorted_visit_cost): full CPU
  // rates only.
  std::vector<CostPoint> sorted_visit_curve;
};

// The figure measured at `row_bytes` (std::logic_error if that row size was not measured).
double random_GBps_at(const std::vector<std::pair<double, double>>& by_row_B, double row_bytes);

struct Backend {
  std::string name;         // what --backend takes
  std::string description;  // one line, for --help
  std::string title;        // in messages: "the CUDA backend"
  std::string processor;    // in messages: "the GPU profile"
  std::string kernel_family;  // the per-kernel work formulas its counters follow
  // Defaults of calibrate and validate (configs/validation/) and of compare's model.
  std::string calibration_cases, validation_cases;
  std::string model_profile;     // the profile compare models with unless --hardware says otherwise
  std::string measured_profile;  // validate's default; empty: none ships, --hardware is required
  // Runs on this machine's own cores: the commands that do not take a device yet run on it.
  bool runs_on_host = false;
  // plan_memory may answer a smaller dpsgd-b/r batch (with a note) where the asked one does not
  // fit; otherwise it refuses.
  bool shrinks_batch = false;
  // Its processor is shared (a VM's cores): rates drift between cases, so calibrate and validate
  // probe them before each case (probe_rates) and validate checks streaming around the cases.
  bool shared_processor = false;

  virtual ~Backend() = default;
  // What it runs on (a device's name), or InputError "--backend NAME: ..." when it cannot run here.
  virtual std::string require_available() const = 0;
  // The batch a run of `kind` on `w` gets, before anything is allocated; InputError if it cannot fit.
  virtual MemoryPlan plan_memory(const Workload& w, AlgorithmKind kind) const = 0;
  virtual TrainReport train(const Workload& w, const AlgorithmConfig& cfg, const TraceSource& trace,
                            const TrainOptions& opt) const = 0;
  // The full microbenchmarks; `say` gets a line per benchmark.
  virtual BackendRates measure_rates(const std::function<void(const std::string&)>& say) const = 0;
  // The same in about half a second (128 B rows only); only where shared_processor.
  virtual BackendRates probe_rates() const;
  // Streaming read+write bandwidth now; only where shared_processor.
  virtual double stream_GBps_now() const;
  // What a measured profile's provenance adds to the host's description (e.g. the GPU).
  virtual nlohmann::json device_json() const { return nlohmann::json::object(); }
};

// The backend registered as `name`, or InputError "--backend NAME: expected one of cpu, cuda".
const Backend& find_backend(const std::string& name);
// Every registered name, in registration order.
std::vector<std::string> backend_names();

}  // namespace privrec
