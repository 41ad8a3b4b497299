#pragma once
// What the subcommands share: workload and algorithm flags, output files, machine description.
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "models/algorithm.hpp"
#include "models/human_bytes.hpp"
#include "kernels/mpi/shard_layout.hpp"
#include "sim/cluster.hpp"
#include "sim/hardware_profile.hpp"
#include "sim/implementation_profile.hpp"
#include "models/privacy/privacy_budget.hpp"
#include "models/workload.hpp"
#include "traces/trace_source.hpp"

namespace privrec {
struct Backend;
}

namespace privrec::cli {

namespace po = boost::program_options;

// Parses argv for one subcommand; --help prints `usage` and the options. Returns false after --help.
bool parse(int argc, char** argv, const po::options_description& opts, po::variables_map& vm, const std::string& usage,
           const po::positional_options_description* positional = nullptr);

struct WorkloadFlags {
  std::string model = "rmc2";
  double table_scale = 0;  // 0: not given (see resolve)
  int64_t batch = 0, pooling = 0;
  std::string dist;
  void add_to(po::options_description& o);
  // After parsing: the default workload is rmc2 at table scale 0.001 (seconds to run); a named
  // --model runs at scale 1 unless --table-scale says otherwise.
  void finish(const po::variables_map& vm);
  Workload resolve() const;  // throws InputError
};

// What --backend is when not given (calibrate and validate too).
inline constexpr const char* kDefaultBackend = "cpu";

// --backend, --steps, --warmup, --seed, --trace: what every command that runs real steps takes.
struct RunFlags {
  std::string backend = kDefaultBackend, trace;
  int64_t steps = 5, warmup = 1;
  uint64_t seed = 1;
  void add_to(po::options_description& o);
  bool warmup_given = false;  // --warmup on the command line (set by finish)
  // After parsing: --warmup not given and --steps 1 runs no warm-up step (the default, 1, would
  // leave nothing to measure); a --warmup given must leave a step to measure.
  void finish(const po::variables_map& vm);
  // The --backend named, if it is registered and the command runs on it (on every backend where
  // `every_backend`, else only on those that run on the host); 1 <= steps <= max_steps, warmup >= 0
  // and below steps when given (InputError naming the flag).
  const Backend& check(int64_t max_steps, bool every_backend = false) const;
};

// What --backend says in --help: every registered backend and what it runs on.
std::string backend_help();
// A per-backend default in --help: "cpu: X, cuda: Y" ("none" where a backend has none).
std::string backend_defaults(const std::function<std::string(const Backend&)>& field);

// --json, --csv, --force, --quiet: what every reporting command offers.
struct OutputFlags {
  std::string json, csv;
  void add_to(po::options_description& o);
};

// --tables-in, --device-cache, --cache-policy: where the model puts the tables (simulate, sweep).
struct PlacementFlags {
  std::string tables_in, policy;
  double cache_GB = std::numeric_limits<double>::quiet_NaN();  // NaN: the profile's
  void add_to(po::options_description& o);
  void apply(sim::HardwareProfile& h) const;  // InputError naming the flag
};

// --implementation: how the algorithms are implemented on the modeled hardware (simulate, compare):
// fused (privrec's kernels, the default) or framework (the framework way), a preset or a file.
struct ImplementationFlags {
  std::string implementation = "fused";
  void add_to(po::options_description& o);
  // The profile for a model on the hardware profile named `hardware` (its variant fitted there, if
  // one ships); InputError naming the flag.
  sim::ImplementationProfile resolve(const std::string& hardware) const;
};

// The scale-out model prices privrec's kernels only: InputError for an implementation with its own
// work formulas or footprint (simulate and sweep with --cluster).
void refuse_on_cluster(const sim::ImplementationProfile& impl);

// --cluster, --nodes, --sharding, --price-per-device-hour: the scale-out model (simulate, sweep).
struct ClusterFlags {
  std::string cluster, sharding = "auto";
  int64_t nodes = 0;                 // 0: the cluster's
  double price = 0;
  void add_to(po::options_description& o);
  // The cluster with --nodes applied, or none without --cluster (then --nodes and --sharding are
  // refused: InputError).
  std::optional<sim::ClusterProfile> resolve(const po::variables_map& vm) const;
  // The price per device-hour: --price-per-device-hour, else the cluster's (0: none).
  double price_of(const po::variables_map& vm, const sim::ClusterProfile* c) const;
};

struct AlgorithmFlags {
  std::string algo = "dpsgd-f", noise = "gaussian", lazydp_noise = "aggregated", clip = "0.4";
  AlgorithmConfig cfg;
  void add_to(po::options_description& o);
  AlgorithmConfig resolve(uint64_t seed) const;  // throws InputError
  // The performance model prices a step, not what it learns: --lr and --lr-decay given to a
  // command that only models (simulate, sweep) are refused, naming the command.
  static void refuse_learning_rate(const po::variables_map& vm, const char* command);
};

// --delta, --sampling-rate, --dataset-size, --epochs, --train-steps, --target-epsilon,
// --adafest-selection-budget: how train, simulate and sweep account privacy.
struct PrivacyFlags {
  privacy::PrivacySettings settings;
  void add_to(po::options_description& o);
  void finish(const po::variables_map& vm);  // InputError for conflicting flags
};

// Reads a trace file for `w` (checked against its tables; the trace fixes the batch size, so
// --dist, --pooling and --batch are refused alongside it).
std::unique_ptr<TraceSource> load_trace_file(const std::string& path, const po::variables_map& vm, Workload& w);

// Refuses (InputError) a real run on `backend` whose model and working memory cannot fit, before
// allocating; dpsgd-b/r at a batch that does not fit are told to use a smaller --batch.
void require_fits(const Backend& backend, const Workload& w, const AlgorithmConfig& cfg);

// Refuses (InputError) a run that would keep `count` batches of `w` in memory when they do not fit
// in 80 % of the available memory; `what` says what keeps them and what to do instead.
void require_batches_fit(const Workload& w, int count, const std::string& what);

// Refuses to replace an existing file unless --force was given.
void check_output(const std::string& path, bool force);
void write_text_file(const std::string& path, const std::string& text);
nlohmann::json machine_json();
// This host's processor as /proc/cpuinfo names it ("model name"), or "unknown".
std::string host_cpu_name();
// The processor's family, model and stepping (/proc/cpuinfo), or "unknown".
std::string host_cpu_id();
// The profiles compare (model_profile_of) and validate and calibrate (measured_profile_of) use for
// backend b unless --hardware says otherwise. On a backend that runs on this host (the CPU), a
// committed measured profile of this very processor wins over the backend's default, so the
// development VMs of either vendor model themselves (sim::measured_profile_for_cpu picks it).
std::string model_profile_of(const Backend& b);
// Whether h describes this host as b runs on it: b's kernels, measured on a processor of this model
// name and thread count (so a probe of this machine's rates speaks for it).
bool measured_on_this_host(const sim::HardwareProfile& h, const Backend& b);
std::string measured_profile_of(const Backend& b);
// Now, as provenance writes dates: "2026-11-29T23:05:05Z".
std::string utc_now();
using privrec::human_bytes;  // "12.3 MB" (models/human_bytes.hpp)

// --sharding of train and compare: it needs the ranks mpirun starts, and the ranks need it (else
// each would run the whole model and write the same files). The scheme, or nothing for one process;
// InputError naming the flag otherwise (no mpirun, no Open MPI, not the cpu backend).
std::optional<mpi::Sharding> sharding_of(const std::string& flag, const std::string& backend, const std::string& command);

}  // namespace privrec::cli
