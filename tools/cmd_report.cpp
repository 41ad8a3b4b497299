// privrec report: the characterization a DP-training performance study opens with. Runs the sweeps
// and simulations the figures need (through the sweep and simulate commands themselves, so the
// data files are exactly what those commands write), then renders every figure that has data and
// writes DIR/index.html and DIR/report.md (tools/report/render_report.py, matplotlib).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "models/config_error.hpp"
#include "models/privacy/privacy_budget.hpp"
#include "models/privacy/rdp_accountant.hpp"
#include "sim/cluster.hpp"
#include "sim/hardware_profile.hpp"
#include "tools/interrupt.hpp"
#include "tools/cli_common.hpp"

namespace privrec::cli {

int cmd_sweep(int argc, char** argv);
int cmd_simulate(int argc, char** argv);

namespace {
namespace fs = std::filesystem;

// The scale-out figure: mlperf-dlrm at 1 TB and 10 TB of tables (table scales 10.4 and 104) on
// DGX H100 nodes, 8 to 256 GPUs, at a batch large enough to spread, every algorithm at one epsilon.
const char* const kScaleOutModel = "mlperf-dlrm";
const char* const kScaleOutCluster = "dgx-h100";
const char* const kScaleOutScales = "10.4,104";
const char* const kScaleOutNodes = "1,2,4,8,16,32";
const char* const kScaleOutBatch = "65536";
constexpr int64_t kScaleOutBatchSize = 65536;
// The batch-size axis of the lazydp/dpsgd-f heatmap.
const char* const kBatchAxis = "256,512,1024,2048,4096,8192";
const std::vector<int64_t> kBatchAxisSizes = {256, 512, 1024, 2048, 4096, 8192};
// dp-fest's one-shot histogram must leave most of the budget to the steps: by default its noise
// (--fest-sigma) is the smallest, rounded up to two significant digits, at which the histogram
// alone spends at most this share of the target epsilon at delta.
constexpr double kFestHistogramShare = 0.25;

// The device-cache figure's capacities (GB of device memory caching host tables) and the skew
// figure's zipf exponents (0: uniform).
const std::vector<double> kCacheGB = {1, 2, 4, 8, 16, 32, 48, 70};
const char* const kZipf = "0,0.6,0.8,1,1.05,1.2";
// The skew figure's device cache where the tables do not fit in device memory but a host can hold them.
constexpr double kSkewCacheGB = 16;
// A cache leaves at least this share of device memory to the MLPs, activations and buffers.
constexpr double kCacheShareOfDevice = 0.9;

// --preset lazydp-paper: the LazyDP paper's characterization on its system (REFERENCE.md sections 2,
// 3 and 8): the V100 + Xeon E5-2698 v4 profile (tables in the host's 256 GB, MLPs on the GPU), every
// case with the framework implementation (as the paper's PyTorch code runs) and with privrec's fused
// kernels beside it, at the paper's privacy (epsilon 50 at delta 1e-5 unless given).
const char* const kPaperPreset = "lazydp-paper";
const char* const kPaperHardware = "v100-xeon-e5-2698v4";
const char* const kPaperImplementations = "implementation=framework,fused";
const char* const kPaperScales = "table-scale=0.001,0.01,0.1,1";  // 96 MB .. 96 GB
const char* const kPaperModels = "model=rmc1,rmc2,rmc3,mlperf-dlrm";
const char* const kPaperBatches = "batch=1024,2048,4096";
const std::vector<int64_t> kPaperBatchSizes = {1024, 2048, 4096};
const char* const kPaperPooling = "pooling=10,20,30";
const char* const kPaperSizes = "table-scale=0.25,0.5,1,2";  // 24 .. 192 GB: the framework's noise stops fitting
constexpr double kPaperEpsilon = 50, kPaperDelta = 1e-5;

// Runs a subcommand in-process with the given arguments, its stdout silenced (it writes files).
int run_quietly(int (*cmd)(int, char**), std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::fflush(stdout);
  const int saved = dup(1), devnull = open("/dev/null", O_WRONLY);
  dup2(devnull, 1);
  close(devnull);
  int rc = 0;
  try {
    rc = cmd(static_cast<int>(argv.size()), argv.data());
  } catch (...) {
    std::fflush(stdout);
    dup2(saved, 1);
    close(saved);
    throw;
  }
  std::fflush(stdout);
  dup2(saved, 1);
  close(saved);
  return rc;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  for (size_t p = 0, e; p <= s.size(); p = e + 1) {
    e = s.find(',', p);
    if (e == std::string::npos) e = s.size();
    out.push_back(s.substr(p, e - p));
  }
  return out;
}

// What every sweep and simulation of the report shares: where the data goes, the workload, the
// profiles and the algorithms.
struct ReportRun {
  fs::path data;
  std::string model;
  std::vector<std::string> hardware;
  std::string all_algos;                    // every algorithm that meets the target (or is no DP at all)
  std::vector<std::string> privacy_flags;   // --target-epsilon, --delta, --dataset-size, --epochs, --fest-sigma
  std::string preset;                       // "" or kPaperPreset
  bool quiet = false;

  // The algorithms of `wanted` ("a,b,c") that run in this report (those that cannot meet the target
  // epsilon are left out, with the reason in config.json).
  std::string algos(const std::string& wanted) const {
    std::vector<std::string> kept;
    const std::vector<std::string> all = split(all_algos);
    for (const auto& a : split(wanted))
      if (std::find(all.begin(), all.end(), a) != all.end()) kept.push_back(a);
    std::string out;
    for (const auto& a : kept) out += (out.empty() ? "" : ",") + a;
    return out;
  }
  static std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    for (size_t p = 0, e; p < s.size(); p = e + 1) {
      e = s.find(',', p);
      if (e == std::string::npos) e = s.size();
      out.push_back(s.substr(p, e - p));
    }
    return out;
  }

  void say(const std::string& s) const {
    if (!quiet) std::fprintf(stderr, "[privrec] report: %s\n", s.c_str());
  }
  // privrec sweep --analytic into data/FILE over the axes, with any further flags (--tables-in).
  void sweep(const std::string& file, const std::vector<std::string>& axes,
             const std::vector<std::string>& flags = {}) const {
    std::vector<std::string> args = {"sweep", "--model", model, "--analytic", "-q", "--force",
                                     "--csv", (data / file).string()};
    for (const auto& a : axes) args.push_back("--axis"), args.push_back(a);
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), privacy_flags.begin(), privacy_flags.end());
    if (run_quietly(cmd_sweep, args) != 0) throw std::runtime_error("sweep for " + file + " failed");
  }
};

// The figures' sweeps over the profiles' own placements. A sweep that compares algorithms of which
// one was left out (it cannot meet the target epsilon) is not run: its figure says why it is missing.
void run_sweeps(const ReportRun& r, const std::string& scales) {
  const std::string hws = "hardware=" + join(r.hardware), algos = "algo=" + r.all_algos;
  r.say("table-size sweep: every algorithm on " + join(r.hardware));
  r.sweep("sizes.csv", {hws, "table-scale=" + scales, algos});
  const bool pair = r.algos("dpsgd-f,lazydp") == "dpsgd-f,lazydp";
  if (pair) {
    r.say("batch x table size for lazydp and dpsgd-f");
    r.sweep("batch_size.csv", {hws, "table-scale=" + scales, std::string("batch=") + kBatchAxis, "algo=dpsgd-f,lazydp"});
  }
  if (!r.algos("adafest").empty()) {
    r.say("adafest's threshold tau");
    r.sweep("adafest_tau.csv", {hws, "table-scale=1", "adafest-tau=0.5,1,1.5,2,2.5,3,3.5,4,5",
                                "algo=" + r.algos("adafest,dpsgd-f,lazydp")});
  }
  r.say("sensitivity to pooling and access skew");
  if (pair) r.sweep("pooling.csv", {hws, "table-scale=1", "pooling=1,2,5,10,20,40,80", "algo=dpsgd-f,lazydp"});
  r.sweep("skew.csv", {hws, "table-scale=1", std::string("zipf=") + kZipf, algos});
}

// Tables in host memory with a device cache of hot rows, on every profile that describes a host
// and link (the others are skipped): one sweep per profile over the capacities its device memory
// holds and the tables can use (none at all, 0, for reference: the host runs the table stages),
// uniform and zipf 1.05 access. And the skew sweep again with a fixed cache, on the profiles whose
// device memory the tables overflow, so the skew figure shows the placement one would use.
void run_cache_sweeps(const ReportRun& r) {
  const double table_GB = static_cast<double>(load_workload(r.model).table_bytes()) / 1e9;
  // A previous report in the same folder (--force) may have swept other profiles: its files would be drawn.
  for (const auto& e : fs::directory_iterator(r.data))
    if (e.path().filename().string().rfind("device_cache_", 0) == 0 || e.path().filename() == "skew_device_cache.csv")
      fs::remove(e.path());
  std::vector<std::string> overflow;
  for (const auto& name : r.hardware) {
    const sim::HardwareProfile h = sim::load_hardware_profile(name);
    if (!h.host) continue;
    const double most = kCacheShareOfDevice * h.device.memory_GB;
    std::vector<std::string> caches = {"0"};
    for (const double c : kCacheGB)
      if (c <= most && c < table_GB) caches.push_back(fmt::format("{}", c));
    if (caches.size() > 1) {
      r.say("tables in host memory with a device cache on " + name);
      r.sweep("device_cache_" + name + ".csv", {"table-scale=1", "zipf=0,1.05", "device-cache=" + join(caches),
                                                "algo=" + r.all_algos},
              {"--hardware", name, "--tables-in", "host"});
    }
    if (h.tables_in == "device" && table_GB > h.device.memory_GB && kSkewCacheGB <= most) overflow.push_back(name);
  }
  if (overflow.empty()) return;
  r.say(fmt::format("access skew with a {:g} GB device cache on {}", kSkewCacheGB, join(overflow)));
  r.sweep("skew_device_cache.csv", {"hardware=" + join(overflow), "table-scale=1", std::string("zipf=") + kZipf,
                                    fmt::format("device-cache={:g}", kSkewCacheGB), "algo=" + r.all_algos},
          {"--tables-in", "host"});
}

// The scale-out figure's sweeps: every case with tables in device memory, and every case again with
// tables in each node's host memory (shared by its GPUs); the renderer takes the device placement
// where a sharding fits, else the host's (all cases twice: the sweep costs seconds). Every case runs
// at the report's privacy (target epsilon, delta, dataset size, epochs), so a step count and a time
// per epoch come with every case. Drawn for mlperf-dlrm
// only (its 1 TB and 10 TB are the sizes that need a cluster).
void run_scale_out_sweeps(const ReportRun& r) {
  for (const char* f : {"scale_out_device.csv", "scale_out_host.csv"}) fs::remove(r.data / f);  // a previous report's
  if (r.model != kScaleOutModel) {
    r.say(fmt::format("scale-out figure left out: it is drawn for --model {} only", kScaleOutModel));
    return;
  }
  const std::vector<std::string> axes = {std::string("nodes=") + kScaleOutNodes,
                                         std::string("table-scale=") + kScaleOutScales, "algo=" + r.all_algos};
  const std::vector<std::string> flags = {"--cluster", kScaleOutCluster, "--batch", kScaleOutBatch};
  for (const std::string where : {"device", "host"}) {
    r.say(fmt::format("scale-out on {} x {{{}}} nodes, tables in {} memory", kScaleOutCluster, kScaleOutNodes, where));
    std::vector<std::string> f = flags;
    f.insert(f.end(), {"--tables-in", where});
    r.sweep("scale_out_" + where + ".csv", axes, f);
  }
}

// The paper preset's sweeps: the step breakdown against table size (sgd, dpsgd-b/r/f, and eana and
// lazydp beside them), lazydp against dpsgd-f and eana at 96 GB for every DLRM preset and batch, and
// the pooling and table-size sensitivities (a case whose tables and materialized noise exceed the
// host's memory is a row with fits=false).
void run_paper_sweeps(const ReportRun& r) {
  const std::string hws = "hardware=" + join(r.hardware);
  r.say("paper preset: step breakdown versus table size, framework and fused");
  r.sweep("paper_breakdown.csv", {hws, kPaperImplementations, kPaperScales,
                                  "algo=" + r.algos("sgd,dpsgd-b,dpsgd-r,dpsgd-f,eana,lazydp")});
  const std::string trio = r.algos("dpsgd-f,eana,lazydp"), four = r.algos("sgd,dpsgd-f,eana,lazydp");
  if (r.algos("dpsgd-f,lazydp") == "dpsgd-f,lazydp") {  // else figure P2 says which was left out
    r.say("paper preset: lazydp against dpsgd-f and eana at 96 GB, batch 1024, 2048 and 4096");
    r.sweep("paper_lazydp.csv", {hws, kPaperImplementations, kPaperModels, "table-scale=1", kPaperBatches, "algo=" + trio});
  }
  r.say("paper preset: pooling and table-size sensitivity");
  r.sweep("paper_pooling.csv", {hws, kPaperImplementations, "table-scale=1", kPaperPooling, "algo=" + four});
  r.sweep("paper_table_size.csv", {hws, kPaperImplementations, kPaperSizes, "algo=" + four});
}

// Per-stage work and terms for the roofline and update-split figures (simulate --json).
void run_simulations(const ReportRun& r, const std::string& scales) {
  r.say("per-stage work and terms (simulate --json)");
  for (const auto& h : r.hardware)
    for (const auto& algo : ReportRun::split(r.algos("sgd,dpsgd-f,lazydp,adafest")))
      for (const auto& sc : split_commas(scales)) {
        const std::string file = fmt::format("sim_{}_{}_{}.json", h, algo, sc);
        std::vector<std::string> args = {"simulate", "--hardware", h,    "--model", r.model, "--table-scale", sc, "--algo",
                                         algo,       "--analytic", "-q", "--force", "--json", (r.data / file).string()};
        args.insert(args.end(), r.privacy_flags.begin(), r.privacy_flags.end());
        if (run_quietly(cmd_simulate, args) != 0) throw std::runtime_error("simulate for " + file + " failed");
      }
}

// The work (flops, bytes, normals, sort operations) of every stage of every case of a --measured
// validate report, from the work formulas (simulate --analytic of the case as validate ran it:
// its model, table scale, batch and algorithm at the default noise), for the roofline's measured
// points: work from the counts, time from the measurement. A report whose profile is not a preset
// or file this build can load gets no measured points (said on stderr and in the figure's caption).
void run_measured_work(const ReportRun& r, const std::vector<std::string>& measured) {
  for (size_t i = 0; i < measured.size(); ++i) {
    std::ifstream in(measured[i]);
    const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.contains("cases") || !j.contains("hardware"))
      throw InputError("--measured " + measured[i] + ": not a validate report (privrec validate --json)");
    const std::string hw = j["hardware"].value("name", "");
    try {
      sim::load_hardware_profile(hw);
    } catch (const InputError&) {
      r.say(fmt::format("no measured roofline points from {}: its profile {} is not a preset", measured[i], hw));
      continue;
    }
    for (size_t k = 0; k < j["cases"].size(); ++k) {
      const nlohmann::json& c = j["cases"][k]["case"];
      const std::string file = fmt::format("measured_{}_work_{}.json", i, k);
      std::vector<std::string> args = {
          "simulate", "--hardware", hw, "--model", c.value("model", ""), "--table-scale",
          fmt::format("{}", c.value("table_scale", 1.0)), "--batch", fmt::format("{}", c.value("batch", 0)), "--algo",
          c.value("algo", ""), "--analytic", "-q", "--force", "--json", (r.data / file).string()};
      if (run_quietly(cmd_simulate, args) != 0) throw std::runtime_error("simulate for " + file + " failed");
    }
  }
}

// The privacy every DP algorithm of the report runs at (issue 18: algorithms compared at equal
// epsilon): the target, delta, the data set's size and the training length, dp-fest's histogram
// noise, and the algorithms that cannot meet the target (left out, with the reason).
struct ReportPrivacy {
  double target_epsilon = 1;
  double delta = 0;
  bool delta_given = false;
  int64_t dataset_examples = 0;
  bool dataset_given = false;
  double epochs = 1;
  double fest_sigma = 0;
  bool fest_sigma_given = false;
  double fest_histogram_epsilon = 0;
  std::map<std::string, std::string> left_out;

  std::vector<std::string> flags() const {
    return {"--target-epsilon", fmt::format("{}", target_epsilon), "--delta",  fmt::format("{}", delta),
            "--dataset-size",   fmt::format("{}", dataset_examples), "--epochs", fmt::format("{}", epochs),
            "--fest-sigma",     fmt::format("{}", fest_sigma)};
  }
  privacy::PrivacySettings settings() const {
    privacy::PrivacySettings s;
    s.delta = delta;
    s.dataset_examples = dataset_examples;
    s.epochs = epochs;
    s.target_epsilon = target_epsilon;
    return s;
  }
};

// The default delta: the largest power of ten not above 1 / (examples in the data set).
double default_delta(int64_t examples) {
  double d = std::pow(10.0, std::floor(-std::log10(static_cast<double>(examples))));
  while (d * static_cast<double>(examples) > 1.0 * (1 + 1e-12)) d /= 10;
  return d;
}

// Epsilon of dp-fest's one-shot histogram alone (a Gaussian mechanism of noise multiplier m, fest-c1 1).
double histogram_epsilon(double m, double delta) {
  return privacy::epsilon_from_rdp(privacy::default_orders(), privacy::gaussian_rdp(m), delta).epsilon;
}

// The smallest histogram noise, rounded up to two significant digits, whose epsilon alone is at most
// kFestHistogramShare of the target (bisection in log m: epsilon falls as m grows).
double default_fest_sigma(double target, double delta) {
  double lo = 1e-3, hi = 1e7;
  for (int i = 0; i < 200 && hi / lo > 1 + 1e-9; ++i) {
    const double mid = std::sqrt(lo * hi);
    (histogram_epsilon(mid, delta) <= kFestHistogramShare * target ? hi : lo) = mid;
  }
  const double unit = std::pow(10.0, std::floor(std::log10(hi)) - 1);
  return std::stod(fmt::format("{:.2g}", std::ceil(hi / unit - 1e-9) * unit));  // 24, not 24.000000000000004
}

// The batches the report's sweeps run (the accountant's sampling rate is batch / dataset size).
std::vector<int64_t> report_batches(const Workload& w, const std::string& model, bool paper) {
  std::vector<int64_t> b = paper ? kPaperBatchSizes : kBatchAxisSizes;
  b.push_back(w.batch_size);
  if (model == kScaleOutModel && !paper) b.push_back(kScaleOutBatchSize);
  return b;
}

// Checks the privacy flags (InputError naming the flag and value) and fills in the defaults.
void resolve_privacy(const po::variables_map& vm, const Workload& w, const std::string& model, bool paper,
                     ReportPrivacy& p) {
  if (!(p.target_epsilon > 0) || !std::isfinite(p.target_epsilon))
    throw InputError(fmt::format("--target-epsilon {}: expected a positive finite number", p.target_epsilon));
  if (!(p.epochs > 0) || !std::isfinite(p.epochs))
    throw InputError(fmt::format("--epochs {}: expected a positive number", p.epochs));
  p.dataset_given = vm.count("dataset-size") > 0;
  if (p.dataset_given && p.dataset_examples < 1)
    throw InputError(fmt::format("--dataset-size {}: expected a positive number of examples", p.dataset_examples));
  if (!p.dataset_given) p.dataset_examples = w.dataset_examples;
  if (p.dataset_examples < 1)
    throw InputError(fmt::format("--dataset-size: {} has no dataset size (dataset_examples), so no DP algorithm can be "
                                 "run at a target epsilon; give --dataset-size N, the examples in one epoch",
                                 w.name));
  const std::vector<int64_t> batches = report_batches(w, model, paper);
  const int64_t largest = *std::max_element(batches.begin(), batches.end());
  if (p.dataset_examples < largest)
    throw InputError(fmt::format("--dataset-size {}: smaller than the batch of {} examples the report's sweeps run",
                                 p.dataset_examples, largest));
  p.delta_given = vm.count("delta") > 0;
  if (!p.delta_given) p.delta = paper ? kPaperDelta : default_delta(p.dataset_examples);
  if (!(p.delta > 0 && p.delta < 1)) throw InputError(fmt::format("--delta {}: expected a number in (0, 1)", p.delta));
  p.fest_sigma_given = vm.count("fest-sigma") > 0;
  if (p.fest_sigma_given && !(p.fest_sigma > 0 && std::isfinite(p.fest_sigma)))
    throw InputError(fmt::format("--fest-sigma {}: expected a positive number", p.fest_sigma));
  if (!p.fest_sigma_given) p.fest_sigma = default_fest_sigma(p.target_epsilon, p.delta);
  p.fest_histogram_epsilon = histogram_epsilon(p.fest_sigma, p.delta);
}

// Every DP algorithm must reach the target at every batch the report runs; one that cannot (a target
// below what the accountant's orders express, dp-fest's histogram spending it all) is left out of
// every sweep, with the accountant's reason.
void check_targets(const Workload& w, const std::string& model, bool paper, ReportPrivacy& p) {
  for (const auto& a : algorithm_registry()) {
    if (!a.differentially_private) continue;  // sgd and eana: no guarantee to meet
    for (const int64_t b : report_batches(w, model, paper)) {
      AlgorithmConfig cfg;
      cfg.kind = a.kind;
      cfg.fest.sigma = p.fest_sigma;
      try {
        privacy::account(p.settings(), w, b, cfg);
      } catch (const InputError& e) {
        p.left_out[a.name] = fmt::format("cannot reach epsilon {:g} at batch {}: {}", p.target_epsilon, b, e.what());
        break;
      }
    }
  }
}

// DIR/data/config.json: what the configuration section of the report states.
nlohmann::json report_config(const ReportRun& r, const ReportPrivacy& p, const Workload& w, const std::string& cmd) {
  const AlgorithmConfig defaults;
  nlohmann::json j = {{"command", cmd}, {"preset", r.preset}, {"privrec", fmt::format("privrec 0.1 ({})", git_revision())},
                      {"git_revision", git_revision()}, {"machine", machine_json()}, {"model", r.model},
                      {"batch", w.batch_size}, {"batch_axis", kBatchAxisSizes}, {"algorithms", ReportRun::split(r.all_algos)}};
  j["privacy"] = {{"target_epsilon", p.target_epsilon}, {"delta", p.delta},
                  {"delta_rule", p.delta_given                ? "--delta"
                                 : r.preset == kPaperPreset ? "the LazyDP paper's (REFERENCE.md section 3)"
                                                            : "the largest power of ten not above 1 / dataset size"},
                  {"dataset_examples", p.dataset_examples},
                  {"dataset_source", std::string(p.dataset_given ? "--dataset-size" : "the workload's dataset_examples") +
                                         (r.preset == kPaperPreset ? ", for every DLRM preset of figure P2 alike" : "")},
                  {"epochs", p.epochs}, {"accountant", "RDP of the Poisson-subsampled Gaussian, tight conversion"},
                  {"adafest_selection_budget", privacy::PrivacySettings{}.adafest_selection_budget},
                  {"fest_sigma", p.fest_sigma}, {"fest_c1", defaults.fest.c1},
                  {"fest_sigma_rule", p.fest_sigma_given ? std::string("--fest-sigma")
                                                         : fmt::format("the smallest (two significant digits) whose "
                                                                       "histogram alone spends at most {:g} % of the target",
                                                                       100 * kFestHistogramShare)},
                  {"fest_histogram_epsilon", p.fest_histogram_epsilon}, {"left_out", p.left_out}};
  j["clip"] = {{"C", defaults.clip}, {"adafest_C1", defaults.adafest.c1}, {"fest_C1", defaults.fest.c1}};
  for (const auto& name : r.hardware) {
    const sim::HardwareProfile h = sim::load_hardware_profile(name);
    j["hardware"].push_back({{"name", h.name}, {"description", h.description}, {"provenance", h.provenance}});
  }
  if (r.model == kScaleOutModel && r.preset.empty()) {  // the scale-out figure's cluster
    const sim::ClusterProfile c = sim::load_cluster_profile(kScaleOutCluster);
    j["cluster"] = {{"name", c.name}, {"description", c.description}, {"provenance", c.provenance},
                    {"batch", kScaleOutBatchSize}};
  }
  return j;
}

// The report folder, made (or, with --force, emptied of what an earlier report wrote there: its
// data folder, figures, index.html and report.md; anything else is left alone) before any work.
void prepare_folder(const std::string& out_dir, const fs::path& data) {
  std::error_code ec;
  if (fs::is_directory(out_dir)) {
    fs::remove_all(data, ec);
    for (const auto& e : fs::directory_iterator(out_dir, ec)) {
      const std::string n = e.path().filename().string();
      const bool figure = n.rfind("fig", 0) == 0 && (e.path().extension() == ".png" || e.path().extension() == ".svg");
      if (figure || n == "index.html" || n == "report.md") fs::remove(e.path(), ec);
    }
  } else if (fs::exists(out_dir)) {
    throw InputError("--out " + out_dir + ": is a file, not a folder");
  }
  fs::create_directories(data, ec);
  if (ec || !fs::is_directory(data))
    throw InputError(fmt::format("--out {}: cannot create the folder {} ({})", out_dir, data.string(), ec.message()));
}

}  // namespace

namespace {
// The report's options; `p` and `run` receive the values.
void add_report_options(po::options_description& opts, ReportRun& run, ReportPrivacy& p, std::vector<std::string>& measured,
                        std::string& out_dir, std::string& python, std::string& scales) {
  opts.add_options()("help,h", "show this help")
    ("preset", po::value(&run.preset),
     "lazydp-paper: the LazyDP paper's characterization on its system (v100-xeon-e5-2698v4, the framework "
     "implementation with the fused one beside it, epsilon 50 at delta 1e-5 unless given) instead of the default figures")
    ("hardware", po::value(&run.hardware)->multitoken(), "hardware profiles (repeatable; default h100-sxm and v100-xeon-e5-2698v4; "
     "with --preset lazydp-paper: v100-xeon-e5-2698v4)")
    ("model", po::value(&run.model)->default_value(run.model), "workload preset or JSON file")
    ("table-scales", po::value(&scales)->default_value(scales), "table scales of the size sweeps (mlperf-dlrm: 104 is 10 TB)")
    ("target-epsilon", po::value(&p.target_epsilon)->default_value(p.target_epsilon),
     "privacy: the epsilon every DP algorithm is run at (its noise derived from it)")
    ("delta", po::value(&p.delta), "privacy: delta (default: the largest power of ten not above 1 / dataset size)")
    ("dataset-size", po::value(&p.dataset_examples),
     "privacy: examples in the data set (default: the workload's; required for a workload without one)")
    ("epochs", po::value(&p.epochs)->default_value(p.epochs), "privacy: training length in epochs")
    ("fest-sigma", po::value(&p.fest_sigma),
     "dp-fest: the histogram's noise (default: the smallest, two significant digits, that spends at most a quarter "
     "of the target alone)")
    ("measured", po::value(&measured)->multitoken(), "validate JSON reports (privrec validate --json) for the measured-vs-modeled figure and the roofline's measured points")
    ("out", po::value(&out_dir), "the report folder (required)")
    ("python", po::value(&python)->default_value(python), "the Python interpreter that has matplotlib")
    ("png-only", "no SVG copies of the figures (smaller, for committing an example)")
    ("force", "write into an existing report folder")
    ("quiet,q", "no progress on stderr");
}

// Checks everything the report needs before any work: the folder, the profiles, the workload and
// its privacy, the measurements, the renderer and its matplotlib. Returns the workload.
Workload check_report_inputs(const po::variables_map& vm, ReportRun& run, ReportPrivacy& p,
                             const std::vector<std::string>& measured, const std::string& out_dir,
                             const std::string& python, const fs::path& script) {
  if (out_dir.empty()) throw InputError("--out: required (the report folder)");
  const bool paper = run.preset == kPaperPreset;
  if (!run.preset.empty() && !paper)
    throw InputError(fmt::format("--preset {}: unknown (the one preset is {})", run.preset, kPaperPreset));
  if (paper && !measured.empty())
    throw InputError("--measured: the lazydp-paper preset draws no measured-versus-modeled figure; leave --measured out");
  if (paper && !vm["table-scales"].defaulted())
    throw InputError("--table-scales: the lazydp-paper preset sweeps the paper's table sizes (96 MB to 96 GB, and 24 to "
                     "192 GB); leave --table-scales out");
  if (paper && run.hardware.empty()) run.hardware = {kPaperHardware};
  if (paper && vm["target-epsilon"].defaulted()) p.target_epsilon = kPaperEpsilon;
  if (fs::exists(out_dir) && !vm.count("force"))
    throw InputError("--out " + out_dir + ": exists; pass --force to write into it");
  if (run.hardware.empty()) run.hardware = {"h100-sxm", "v100-xeon-e5-2698v4"};
  for (const auto& h : run.hardware) sim::load_hardware_profile(h);  // fail early, naming the profile
  const Workload w = load_workload(run.model);
  for (const auto& m : measured)
    if (!fs::is_regular_file(m)) throw InputError("--measured " + m + ": no such file");
  resolve_privacy(vm, w, run.model, paper, p);
  if (!fs::is_regular_file(script)) throw InputError("the renderer " + script.string() + " is missing");
  if (run_child(python + " -c 'import matplotlib' > /dev/null 2>&1") != 0)
    throw InputError("--python " + python + ": cannot import matplotlib (apt-get install python3-matplotlib)");
  return w;
}

// Says which privacy the report runs at, and which algorithms it leaves out.
void say_privacy(const ReportRun& run, const ReportPrivacy& p) {
  run.say(fmt::format("every DP algorithm at epsilon {:g}, delta {:g}{}, {} examples, {:g} epoch(s); dp-fest's histogram "
                      "at --fest-sigma {:g} (epsilon {:.3g} alone)",
                      p.target_epsilon, p.delta, p.delta_given ? "" : run.preset == kPaperPreset ? " (the LazyDP paper's)" : " (the largest power of ten not above 1/N)",
                      p.dataset_examples, p.epochs, p.fest_sigma, p.fest_histogram_epsilon));
  for (const auto& [algo, why] : p.left_out) run.say("left out " + algo + ": " + why);
}
}  // namespace

int cmd_report(int argc, char** argv) {
  po::options_description opts("privrec report options");
  ReportRun run;
  ReportPrivacy privacy;
  std::vector<std::string> measured;
  std::string out_dir, python = "/usr/bin/python3";
  std::string scales = "0.001,0.01,0.1,1,10,104";
  run.model = "mlperf-dlrm";
  add_report_options(opts, run, privacy, measured, out_dir, python, scales);
  po::variables_map vm;
  if (!parse(argc, argv, opts, vm,
             "usage: privrec report --out DIR [--hardware H ...] [--model M] [--target-epsilon E] [--delta D]\n"
             "                      [--dataset-size N] [--epochs E] [--measured VALIDATE.json ...]\n"
             "       privrec report --preset lazydp-paper --out DIR   (the LazyDP paper's system and characterization)\n"
             "Sweeps the performance model with every DP algorithm at the same epsilon, renders the\n"
             "characterization figures (PNG and SVG) and writes DIR/index.html and DIR/report.md with the\n"
             "findings in numbers and the configuration they were made with."))
    return 0;
  run.quiet = vm.count("quiet") > 0;
  const fs::path script = fs::path(PRIVREC_SOURCE_DIR) / "tools/report/render_report.py";
  const Workload w = check_report_inputs(vm, run, privacy, measured, out_dir, python, script);
  check_targets(w, run.model, run.preset == kPaperPreset, privacy);
  size_t dp_algorithms = 0;
  for (const auto& a : algorithm_registry()) dp_algorithms += a.differentially_private;
  if (privacy.left_out.size() == dp_algorithms)  // nothing private left to compare
    throw InputError(fmt::format("--target-epsilon {:g}: no DP algorithm can reach it (dpsgd-f {})", privacy.target_epsilon,
                                 privacy.left_out.count("dpsgd-f") ? privacy.left_out.at("dpsgd-f") : ""));
  for (const auto& a : algorithm_registry())
    if (!privacy.left_out.count(a.name)) run.all_algos += (run.all_algos.empty() ? "" : ",") + std::string(a.name);
  run.privacy_flags = privacy.flags();
  say_privacy(run, privacy);

  run.data = fs::path(out_dir) / "data";
  prepare_folder(out_dir, run.data);
  std::string cmd = "privrec report";
  for (int i = 1; i < argc; ++i) cmd += std::string(" ") + argv[i];
  write_text_file((run.data / "config.json").string(), report_config(run, privacy, w, cmd).dump(1) + "\n");
  if (run.preset == kPaperPreset) {
    run_paper_sweeps(run);
  } else {
    run_sweeps(run, scales);
    run_cache_sweeps(run);
    run_scale_out_sweeps(run);
    run_simulations(run, scales);
  }
  for (size_t i = 0; i < measured.size(); ++i)
    fs::copy_file(measured[i], run.data / fmt::format("measured_{}.json", i), fs::copy_options::overwrite_existing);
  run_measured_work(run, measured);
  run.say("rendering figures and the report");
  const std::string render =
      fmt::format("'{}' '{}' '{}'{}", python, script.string(), out_dir, vm.count("png-only") ? " --png-only" : "");
  // Ctrl-C reaches the renderer as it reaches privrec (run_child throws Interrupted after it); a
  // renderer ended by a signal privrec did not get passes its end on, having said so in its line.
  const int code = run_child(render);
  if (code == 130 || code == 143) return code;
  if (code != 0) throw std::runtime_error("the renderer failed: " + render);
  std::printf("privrec report: wrote %s/index.html and %s/report.md\n", out_dir.c_str(), out_dir.c_str());
  return 0;
}

}  // namespace privrec::cli
