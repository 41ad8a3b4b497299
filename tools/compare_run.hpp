#pragma once
// One comparison: the real training step on a backend and the performance model on the same
// workload, trace and steps; per stage and end to end, measured against modeled.
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/backend.hpp"
#include "kernels/mpi/shard_layout.hpp"
#include "sim/cluster.hpp"
#include "models/algorithm.hpp"
#include "models/workload.hpp"
#include "sim/hardware_profile.hpp"
#include "sim/time_model.hpp"
#include "traces/trace_source.hpp"

namespace privrec::cli {

inline constexpr double kNoRange = std::numeric_limits<double>::quiet_NaN();
// Whether a run gave the fastest and slowest of its measured steps (kNoRange where it did not).
inline bool has_range(double min_ms, double max_ms) { return std::isfinite(min_ms) && std::isfinite(max_ms); }

// A measured time: the median over the measured steps, and the fastest and slowest of them where
// the run gives them (kNoRange where it does not: a sharded run's slowest rank, validate's medians).
struct MeasuredMs {
  double median = 0, min = kNoRange, max = kNoRange;
};

struct MeasuredStage {
  Stage stage;
  MeasuredMs ms;
};

struct StageComparison {
  Stage stage;
  double measured_ms = 0, modeled_ms = 0, error_pct = 0;
  double measured_min_ms = kNoRange, measured_max_ms = kNoRange;  // see MeasuredMs
  sim::StageTime modeled;
};

struct Comparison {
  std::vector<StageComparison> stages;
  double measured_step_ms = 0, modeled_step_ms = 0, error_pct = 0;
  double measured_step_min_ms = kNoRange, measured_step_max_ms = kNoRange;  // see MeasuredMs
  double measured_throughput = 0, modeled_throughput = 0;
  nlohmann::json to_json() const;
};

// Trains `steps` steps on `backend` (the first `warmup` untimed) and models the same on `h`.
Comparison compare(const Backend& backend, const Workload& w, const AlgorithmConfig& cfg, const TraceSource& trace,
                   const sim::HardwareProfile& h, int64_t steps, int64_t warmup, bool progress);

// What the peer runs (sgd, dpsgd-f, eana, lazydp with Gaussian noise, a finite clip, ...): InputError
// naming the flag otherwise.
void check_peer_settings(const AlgorithmConfig& cfg);
// What a framework run (compare, validate and calibrate with --implementation framework) needs,
// checked before anything is measured, InputError naming the flag. Once per run: the CPU backend,
// a hardware profile of this CPU alone (the peer runs here: no GPU, no host tables), and a `python`
// that imports torch (a second or two, so not per case). Per case: the peer's settings (above) and,
// for lazydp, a counted step before the last (the peer runs the catch-up every step, the model on
// the steps that have a next batch).
void check_framework_hardware(const Backend& backend, const sim::HardwareProfile& hw);
void check_framework_python(const std::string& python);
void check_framework_case(const AlgorithmConfig& cfg, int64_t steps, int64_t warmup);
// The framework's own costs as the peer measures them after its steps: a framework call that does
// nothing (us), torch.randn's normals per second and torch.mm's GFLOP/s at the shapes of privrec's
// rate probes; 0 where the peer's JSON lacks one.
struct PeerCosts {
  double dispatch_us = 0, rng_normals_per_s = 0, gemm_GFLOPps = 0;
};
// The framework way measured instead of privrec's kernels: the PyTorch peer
// (tools/peers/torch_cpu_peer.py, run by `python`) trains the same workload and algorithm on the
// CPU, timed per stage in the same vocabulary; `h` (with the framework implementation applied)
// models it. InputError when the peer refuses the case (it draws uniform ids only); the checks
// above come first. `costs`, when given, gets what the peer measured of the framework's own costs.
Comparison compare_framework_peer(const std::string& python, const Workload& w, const AlgorithmConfig& cfg,
                                  const TraceSource& trace, const sim::HardwareProfile& h, int64_t steps,
                                  int64_t warmup, bool progress, PeerCosts* costs = nullptr);

// A sharded run under mpirun (every rank calls it): the kernels' run over the ranks against the
// scale-out model on cluster `c` with the same layout, each stage's slowest rank against the
// model's slowest device. Every rank gets the comparison.
Comparison compare_sharded(const Workload& w, const AlgorithmConfig& cfg, const TraceSource& trace,
                           const sim::ClusterProfile& c, mpi::Sharding scheme, int64_t steps, int64_t warmup,
                           bool progress, const std::string& fingerprint);

// The same comparison timed again on another profile (no new measurement): for calibration.
Comparison remodel(const Comparison& measured, const Workload& w, const AlgorithmConfig& cfg,
                   const TraceSource& trace, const sim::HardwareProfile& h, int64_t steps, int64_t warmup);

// The table (with each stage's spread over the measured steps where known), end to end, and
// whether the modeled step lies within the measured steps' range: an error the run's own step to
// step variation covers says little about the model.
void print_comparison(const Comparison& c);

// The profile with its device rates replaced by a probe of the backend's processor now (calibrated
// efficiencies, fixed costs and overlap kept; random bandwidth by row size rescaled by the probe's
// 128 B figure). What calibrate and validate model each case with, so drift between cases on a
// shared machine is measured rather than folded into the model's error. Nothing where the
// backend's processor is not shared (its cases are modeled at the profile's rates).
std::optional<sim::HardwareProfile> with_rates_now(const Backend& backend, const sim::HardwareProfile& h);
// The same with rates the caller probed (backend.probe_rates()).
sim::HardwareProfile with_rates(const BackendRates& r, const sim::HardwareProfile& h);
// Its rates as JSON (for the report).
nlohmann::json rates_json(const sim::ProcessorProfile& p);

}  // namespace privrec::cli
