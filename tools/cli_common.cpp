#include "tools/cli_common.hpp"

#include <fcntl.h>

#include <omp.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include <fmt/format.h>

#include "kernels/backend.hpp"
#include "sim/hardware_profile.hpp"
#include "kernels/cpu/dlrm_model.hpp"
#include "kernels/mpi/mpi_library.hpp"
#include "traces/trace_file.hpp"
#include "tools/interrupt.hpp"
#include "models/config_error.hpp"
#include "models/suggest.hpp"

namespace privrec::cli {

bool parse(int argc, char** argv, const po::options_description& opts, po::variables_map& vm, const std::string& usage,
           const po::positional_options_description* positional) {
  try {
    po::command_line_parser parser(argc, argv);
    parser.options(opts);
    if (positional) parser.positional(*positional);
    po::store(parser.run(), vm);
    if (vm.count("help")) {
      std::cout << usage << "\n\n" << opts << "\n";
      return false;
    }
    po::notify(vm);
  } catch (const po::unknown_option& e) {
    std::vector<std::string> flags;
    for (const auto& o : opts.options()) flags.push_back("--" + o->long_name());
    throw InputError(std::string(e.what()) + did_you_mean(e.get_option_name(), flags) + " (see --help)");
  } catch (const po::error& e) {
    throw InputError(std::string(e.what()) + " (see --help)");
  }
  return true;
}

void WorkloadFlags::add_to(po::options_description& o) {
  o.add_options()
    ("model", po::value(&model)->default_value(model), "workload preset (mlperf-dlrm, rmc1, rmc2, rmc3, tiny) or JSON file")
    ("table-scale", po::value(&table_scale), "multiply every table's rows by X, rounded up (default: 0.001 for the default "
                                             "workload rmc2, 1 when --model is given)")
    ("batch", po::value(&batch), "batch size (default: the workload's)")
    ("pooling", po::value(&pooling), "lookups per example in every table (default: the workload's)")
    ("dist", po::value(&dist), "row access distribution for every table: uniform or zipf:S");
}

void WorkloadFlags::finish(const po::variables_map& vm) {
  if (vm.count("table-scale")) {
    if (!(table_scale > 0)) throw InputError(fmt::format("--table-scale {}: expected a positive number", table_scale));
  } else {
    table_scale = vm["model"].defaulted() ? 0.001 : 1.0;
  }
  // 0 means "not given" inside; given on the command line it is a bad value, not the default.
  if (vm.count("batch") && !(batch >= 1 && batch <= (1 << 24)))
    throw InputError(fmt::format("--batch {}: expected 1 .. 16777216", batch));
  if (vm.count("pooling") && pooling < 1) throw InputError(fmt::format("--pooling {}: expected at least 1", pooling));
}

void PrivacyFlags::add_to(po::options_description& o) {
  privacy::PrivacySettings& s = settings;
  o.add_options()
    ("delta", po::value(&s.delta)->default_value(s.delta, fmt::format("{:g}", s.delta)), "privacy: delta of (epsilon, delta)")
    ("sampling-rate", po::value(&s.sampling_rate), "privacy: Poisson sampling rate q (default: batch / dataset size)")
    ("dataset-size", po::value(&s.dataset_examples), "privacy: examples in the data set (default: the workload's; "
                                                     "mlperf-dlrm: Criteo 1TB, 4373472329)")
    ("epochs", po::value(&s.epochs)->default_value(s.epochs, fmt::format("{:g}", s.epochs)),
     "privacy: training length in epochs (steps = ceil(epochs / q))")
    ("train-steps", po::value(&s.train_steps), "privacy: training length in steps (instead of --epochs)")
    ("target-epsilon", po::value(&s.target_epsilon), "privacy: derive the noise multiplier from this epsilon at --delta "
                                                     "(replaces --sigma; adafest: sigma1 and sigma2)")
    ("adafest-selection-budget", po::value(&s.adafest_selection_budget)->default_value(s.adafest_selection_budget, "0.5"),
     "privacy: adafest's share of the budget (in sigma^-2) spent on selection");
}

void PrivacyFlags::finish(const po::variables_map& vm) {
  if (vm.count("train-steps") && !vm["epochs"].defaulted())
    throw InputError("--epochs and --train-steps both set the training length: give one");
  if (vm.count("train-steps") && settings.train_steps < 1)
    throw InputError(fmt::format("--train-steps {}: expected at least 1", settings.train_steps));
  if (vm.count("dataset-size") && settings.dataset_examples < 1)
    throw InputError(fmt::format("--dataset-size {}: expected a positive number of examples", settings.dataset_examples));
  if (vm.count("sampling-rate") && !(settings.sampling_rate > 0 && settings.sampling_rate <= 1))
    throw InputError(fmt::format("--sampling-rate {}: expected a number in (0, 1]", settings.sampling_rate));
  if (vm.count("target-epsilon") && !(settings.target_epsilon > 0))
    throw InputError(fmt::format("--target-epsilon {}: expected a positive finite number", settings.target_epsilon));
  for (const char* noise_flag : {"sigma", "adafest-sigma1"})
    if (vm.count("target-epsilon") && vm.count(noise_flag) && !vm[noise_flag].defaulted())
      throw InputError(fmt::format("--target-epsilon and --{} both set the noise: give one", noise_flag));
  settings.validate();
}

Workload WorkloadFlags::resolve() const {
  Workload w = load_workload(model);
  if (table_scale != 0) w.scale_tables(table_scale);
  if (batch != 0) {
    if (batch < 0 || batch > (1 << 24)) throw InputError(fmt::format("--batch {}: expected 1 .. 16777216", batch));
    w.batch_size = batch;
  }
  if (pooling != 0) w.set_pooling(pooling);
  if (!dist.empty()) w.set_access(AccessDistribution::parse(dist));
  return w;
}

namespace {
// "sgd, dpsgd-b, ... or adafest", from the algorithm registry.
const std::string& algorithm_help() {
  static const std::string text = [] {
    std::string names = algorithm_names();
    const size_t last = names.rfind(", ");
    return last == std::string::npos ? names : names.replace(last, 2, " or ");
  }();
  return text;
}
}  // namespace

void AlgorithmFlags::add_to(po::options_description& o) {
  o.add_options()
    ("algo", po::value(&algo)->default_value(algo), algorithm_help().c_str())
    ("lr", po::value(&cfg.lr)->default_value(cfg.lr, fmt::format("{}", cfg.lr)), "learning rate")
    ("lr-decay", po::value(&cfg.lr_decay)->default_value(cfg.lr_decay, fmt::format("{}", cfg.lr_decay)), "lr at step t is lr * decay^(t-1)")
    ("clip", po::value(&clip)->default_value(clip), "per-example clip norm C (adafest: C2); 'inf' turns clipping off")
    ("sigma", po::value(&cfg.sigma)->default_value(cfg.sigma, fmt::format("{}", cfg.sigma)), "noise multiplier (adafest: sigma2); stddev = sigma * C")
    ("noise", po::value(&noise)->default_value(noise), "noise source: gaussian, ones (every sample is 1) or zero")
    ("lazydp-noise", po::value(&lazydp_noise)->default_value(lazydp_noise),
     "lazydp: aggregated (one draw of sqrt(k) sigma C) or exact (the k skipped steps' own values)")
    ("adafest-c1", po::value(&cfg.adafest.c1)->default_value(cfg.adafest.c1, fmt::format("{}", cfg.adafest.c1)), "adafest: contribution-map clip norm C1")
    ("adafest-sigma1", po::value(&cfg.adafest.sigma1)->default_value(cfg.adafest.sigma1, fmt::format("{}", cfg.adafest.sigma1)), "adafest: selection noise sigma1")
    ("adafest-tau", po::value(&cfg.adafest.tau)->default_value(cfg.adafest.tau, fmt::format("{}", cfg.adafest.tau)), "adafest: selection threshold tau")
    ("fest-k", po::value(&cfg.fest.k)->default_value(cfg.fest.k), "dp-fest: rows kept per table (the k largest noisy counts)")
    ("fest-sigma", po::value(&cfg.fest.sigma)->default_value(cfg.fest.sigma, fmt::format("{}", cfg.fest.sigma)),
     "dp-fest: noise stddev on every row's count in the one-shot histogram")
    ("fest-c1", po::value(&cfg.fest.c1)->default_value(cfg.fest.c1, fmt::format("{}", cfg.fest.c1)),
     "dp-fest: contribution-map clip norm of the histogram");
}

void AlgorithmFlags::refuse_learning_rate(const po::variables_map& vm, const char* command) {
  for (const char* f : {"lr", "lr-decay"})
    if (vm.count(f) && !vm[f].defaulted())
      throw InputError(fmt::format("--{}: {} models the time and work of a step, which the learning rate does not change; "
                                   "it takes no --{}",
                                   f, command, f));
}

AlgorithmConfig AlgorithmFlags::resolve(uint64_t seed) const {
  AlgorithmConfig c = cfg;
  c.kind = parse_algorithm(algo);
  c.seed = seed;
  c.noise = parse_noise_source(noise);
  c.lazydp.noise = parse_lazy_noise_mode(lazydp_noise);
  if (clip == "inf") {
    c.clip = INFINITY;
  } else {
    try {
      size_t used = 0;
      c.clip = std::stod(clip, &used);
      if (used != clip.size()) throw std::invalid_argument(clip);
    } catch (const std::exception&) {
      throw InputError("--clip " + clip + ": expected a positive number or inf");
    }
  }
  c.validate();
  return c;
}

void check_output(const std::string& path, bool force) {
  if (path.empty()) return;
  if (std::filesystem::is_directory(path)) throw InputError(path + ": is a folder; give a file name");
  if (std::filesystem::exists(path) && !force)
    throw InputError(path + ": exists; pass --force to overwrite it");
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent))
    throw InputError(path + ": the folder " + parent.string() + " does not exist");
  // Before any work: the file will be written beside itself and renamed, so the folder must take a
  // new file (a read-only folder, /proc, a full quota fail here, not after the run).
  const std::string probe = fmt::format("{}.probe-privrec-{}", path, static_cast<long>(::getpid()));
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0)
    throw InputError(fmt::format("{}: cannot create a file in {} ({})", path,
                                 parent.empty() ? std::string(".") : parent.string(), std::strerror(errno)));
  ::close(fd);
  ::unlink(probe.c_str());
}

// Atomically (tools/interrupt.hpp): an interrupted or failed write never leaves a half-written file
// under the final name (DESIGN.md "Outputs").
void write_text_file(const std::string& path, const std::string& text) {
  write_atomically(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) throw InputError(path + ": cannot open for writing");
    out << text;
    out.flush();
    if (!out) throw std::runtime_error(path + ": write failed");
  });
}

std::string utc_now() {
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return date;
}

std::string host_cpu_name() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos)
      return line.substr(std::min(line.size(), line.find(':') + 2));
  return "unknown";
}

std::string host_cpu_id() {
  // The model name alone does not tell processor generations apart on a VM ("AMD EPYC" is all
  // this development VM's says), and the measured rates of two generations differ by 2x.
  std::ifstream in("/proc/cpuinfo");
  std::string family, model, stepping;
  auto value = [](const std::string& line) { return line.substr(std::min(line.size(), line.find(':') + 2)); };
  for (std::string line; std::getline(in, line) && (family.empty() || model.empty() || stepping.empty());) {
    if (line.find(':') == std::string::npos) continue;
    if (line.rfind("cpu family", 0) == 0) family = value(line);
    else if (line.rfind("model\t", 0) == 0 || line.rfind("model :", 0) == 0) model = value(line);
    else if (line.rfind("stepping", 0) == 0) stepping = value(line);
  }
  if (family.empty()) return "unknown";
  return fmt::format("family {} model {} stepping {}", family, model.empty() ? "?" : model,
                     stepping.empty() ? "?" : stepping);
}

namespace {
// The profile a host backend models with by default: the committed profile measured on this
// host's processor where one ships, else the backend's own (`field`).
std::string host_profile(const Backend& b, const std::string& field) {
  if (!b.runs_on_host || field.empty()) return field;
  static const std::vector<sim::HardwareProfile> presets = [] {
    std::vector<sim::HardwareProfile> v;
    for (const std::string& name : sim::hardware_preset_names()) v.push_back(sim::load_hardware_profile(name));
    return v;
  }();
  return sim::measured_profile_for_cpu(host_cpu_name(), host_cpu_id(), std::thread::hardware_concurrency(), b.kernel_family,
                                       presets, field);
}
}  // namespace

bool measured_on_this_host(const sim::HardwareProfile& h, const Backend& b) {
  return h.kernels == b.kernel_family && sim::measured_on(h, host_cpu_name(), host_cpu_id(), std::thread::hardware_concurrency());
}

std::string model_profile_of(const Backend& b) { return host_profile(b, b.model_profile); }
std::string measured_profile_of(const Backend& b) { return host_profile(b, b.measured_profile); }

nlohmann::json machine_json() {
  const std::string cpu = host_cpu_name();
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return {{"hostname", host},
          {"date_utc", date},
          {"cpu", cpu},
          {"cpu_id", host_cpu_id()},
          {"hardware_threads", std::thread::hardware_concurrency()},
          {"openmp_threads", omp_get_max_threads()},
          {"memory_available_bytes", cpu::available_memory_bytes()},
          {"git_revision", git_revision()}};
}

std::string backend_help() {
  std::string help;
  for (const std::string& name : backend_names())
    help += (help.empty() ? "" : "; ") + name + ": " + find_backend(name).description;
  return help;
}

std::string backend_defaults(const std::function<std::string(const Backend&)>& field) {
  std::string help;
  for (const std::string& name : backend_names()) {
    const std::string value = field(find_backend(name));
    help += (help.empty() ? "" : ", ") + name + ": " + (value.empty() ? "none" : value);
  }
  return help;
}

void RunFlags::add_to(po::options_description& o) {
  o.add_options()("backend", po::value(&backend)->default_value(backend), backend_help().c_str())
    ("steps", po::value(&steps)->default_value(steps), "training steps (measured: those after the warm-up)")
    ("warmup", po::value(&warmup)->default_value(warmup), "steps run before measurement begins (below --steps; with --steps 1 the default is 0)")
    ("seed", po::value(&seed)->default_value(seed), "seed of the model, the noise and the synthetic trace")
    ("trace", po::value(&trace), "a trace file (binary, or text if it ends in .txt) instead of synthetic data");
}

void RunFlags::finish(const po::variables_map& vm) {
  warmup_given = vm.count("warmup") && !vm["warmup"].defaulted();
  if (!warmup_given && warmup >= steps && steps >= 1) warmup = steps - 1;
}

namespace {
// Refuses a backend that does not run on the host, saying first whether it could run here at all.
void require_host_backend(const Backend& b) {
  if (b.runs_on_host) return;
  const std::string found = b.require_available();
  throw InputError(fmt::format("--backend {}: found {}, but this command does not run on the {} backend yet "
                               "(privrec train --backend {} does, for every algorithm)",
                               b.name, found, b.title, b.name));
}
}  // namespace

const Backend& RunFlags::check(int64_t max_steps, bool every_backend) const {
  const Backend& b = find_backend(backend);
  if (!every_backend) require_host_backend(b);
  if (steps < 1 || steps > max_steps) throw InputError(fmt::format("--steps {}: expected 1 .. {}", steps, max_steps));
  if (warmup < 0) throw InputError(fmt::format("--warmup {}: expected >= 0", warmup));
  if (warmup >= steps && warmup_given)
    throw InputError(fmt::format("--warmup {}: expected 0 .. {} (fewer than --steps {}: a run needs a measured step)",
                                 warmup, steps - 1, steps));
  return b;
}

void OutputFlags::add_to(po::options_description& o) {
  o.add_options()("json", po::value(&json), "write the full report as JSON to FILE")
    ("csv", po::value(&csv), "write one row per stage as CSV to FILE")
    ("force", "overwrite existing output files")
    ("quiet,q", "no progress on stderr");
}

void PlacementFlags::add_to(po::options_description& o) {
  o.add_options()("tables-in", po::value(&tables_in),
                  "where the tables live: device or host (host needs a profile with a host and link; default: the profile's)")
    ("device-cache", po::value(&cache_GB),
     "GB of device memory caching hot rows of host tables (FBGEMM's UVM cache): table stages run on the device, misses cross the link; 0: none")
    ("cache-policy", po::value(&policy), "the device cache's policy: lru or lfu (perfect LFU: the most frequent rows; default lru)");
}

void PlacementFlags::apply(sim::HardwareProfile& h) const {
  if (!std::isnan(cache_GB) && !(cache_GB >= 0 && std::isfinite(cache_GB)))
    throw InputError(fmt::format("--device-cache {}: expected a size in GB >= 0", cache_GB));
  sim::apply_placement(h, tables_in, std::isnan(cache_GB) ? -1.0 : cache_GB, policy);
}

void ImplementationFlags::add_to(po::options_description& o) {
  std::string presets;
  for (const auto& n : sim::implementation_preset_names()) presets += (presets.empty() ? "" : ", ") + n;
  o.add_options()("implementation", po::value(&implementation)->default_value(implementation),
                  ("how the algorithms are implemented: a preset (" + presets +
                   "; configs/implementations/) or a JSON file; framework: PyTorch operators as the LazyDP paper's code "
                   "calls them, with dpsgd's dense noise materialized beside the tables")
                      .c_str());
}

sim::ImplementationProfile ImplementationFlags::resolve(const std::string& hardware) const {
  return sim::load_implementation_profile(implementation, hardware);
}

void refuse_on_cluster(const sim::ImplementationProfile& impl) {
  if (!impl.kernels.empty() || impl.materialized_noise)
    throw InputError("--implementation " + impl.name + ": the scale-out model (--cluster) models privrec's kernels only");
}

void ClusterFlags::add_to(po::options_description& o) {
  std::string presets;
  for (const auto& n : sim::cluster_preset_names()) presets += (presets.empty() ? "" : ", ") + n;
  o.add_options()("cluster", po::value(&cluster),
                  ("model a cluster with sharded tables (analytic): a preset (" + presets + ") or a JSON file").c_str())
    ("nodes", po::value(&nodes), "nodes of the cluster (default: the cluster's)")
    ("sharding", po::value(&sharding)->default_value(sharding),
     "auto (the planner chooses) or a plan file {\"tables\": [{\"table\", \"scheme\", \"devices\"}]}")
    ("price-per-device-hour", po::value(&price), "USD per device-hour for the cost of training (default: the cluster's, else none)");
}

std::optional<sim::ClusterProfile> ClusterFlags::resolve(const po::variables_map& vm) const {
  if (!vm.count("cluster")) {
    for (const char* f : {"nodes", "sharding"})
      if (vm.count(f) && !vm[f].defaulted()) throw InputError(fmt::format("--{}: only with --cluster", f));
    return std::nullopt;
  }
  sim::ClusterProfile c = sim::load_cluster_profile(cluster);
  if (vm.count("nodes")) sim::set_nodes(c, nodes);
  return c;
}

double ClusterFlags::price_of(const po::variables_map& vm, const sim::ClusterProfile* c) const {
  if (vm.count("price-per-device-hour")) {
    if (!(price >= 0) || !std::isfinite(price))
      throw InputError(fmt::format("--price-per-device-hour {}: expected a price >= 0 in USD", price));
    return price;
  }
  return c ? c->price_per_device_hour : 0.0;
}

void require_batches_fit(const Workload& w, int count, const std::string& what) {
  const double need = count * batch_bytes(w), have = static_cast<double>(cpu::available_memory_bytes());
  if (need > 0.8 * have)
    throw InputError(fmt::format("{} keeps {} batches of {} each ({} in all) and {} of memory is available; {}", w.name,
                                 count, human_bytes(batch_bytes(w)), human_bytes(need), human_bytes(have), what));
}

void require_fits(const Backend& backend, const Workload& w, const AlgorithmConfig& cfg) {
  const MemoryPlan plan = backend.plan_memory(w, cfg.kind);
  if (plan.batch != w.batch_size) throw InputError(plan.note + "; pass --batch " + std::to_string(plan.batch));
}

std::unique_ptr<TraceSource> load_trace_file(const std::string& path, const po::variables_map& vm, Workload& w) {
  if (vm.count("dist") || vm.count("pooling") || vm.count("batch"))
    throw InputError("--trace " + path + ": --dist, --pooling and --batch describe synthetic data; the trace decides them");
  TraceData data = read_trace(path);
  check_trace_against(data, w, path);
  w.batch_size = data.batches.front().size;
  return std::make_unique<FileTrace>(std::move(data), path);
}


std::optional<mpi::Sharding> sharding_of(const std::string& flag, const std::string& backend, const std::string& command) {
  const int ranks = mpi::launched_ranks();
  if (flag.empty()) {
    if (ranks > 1)
      throw InputError(fmt::format("this is one of {} ranks started by mpirun: give --sharding table_wise or row_wise "
                                   "to split the model over them",
                                   ranks));
    return std::nullopt;
  }
  const mpi::Sharding s = mpi::parse_sharding(flag);
  if (backend != "cpu")
    throw InputError("--sharding runs the cpu backend's operations over MPI ranks; --backend " + backend + " is one process");
  if (!mpi::load_mpi().ok()) throw InputError("--sharding " + flag + ": " + mpi::load_mpi().why_not);
  if (ranks < 2)
    throw InputError(fmt::format("--sharding {}: start the ranks with mpirun, e.g. `mpirun -np 2 build/privrec {} "
                                 "--sharding {} ...` (this process is not one of several)",
                                 flag, command, flag));
  return s;
}

}  // namespace privrec::cli
