// privrec report: the characterization a DP-training performance study opens with. Runs the sweeps
// and simulations the figures need (through the sweep and simulate commands themselves, so the
// data files are exactly what those commands write), then renders every figure that has data and
// writes DIR/index.html and DIR/report.md (tools/report/render_report.py, matplotlib).
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <sys/wait.h>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "models/config_error.hpp"
#include "sim/hardware_profile.hpp"
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
const char* const kScaleOutEpsilon = "1";
// dp-fest's one-shot histogram at the default --fest-sigma 1 alone spends more than epsilon 1:
// at 8 it leaves most of the budget to the steps (the renderer's caption says so).
const char* const kScaleOutFestSigma = "8";

// The device-cache figure's capacities (GB of device memory caching host tables) and the skew
// figure's zipf exponents (0: uniform).
const std::vector<double> kCacheGB = {1, 2, 4, 8, 16, 32, 48, 70};
const char* const kZipf = "0,0.6,0.8,1,1.05,1.2";
// The skew figure's device cache where the tables do not fit in device memory but a host can hold them.
constexpr double kSkewCacheGB = 16;
// A cache leaves at least this share of device memory to the MLPs, activations and buffers.
constexpr double kCacheShareOfDevice = 0.9;

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
  std::string all_algos;
  bool quiet = false;

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
    if (run_quietly(cmd_sweep, args) != 0) throw std::runtime_error("sweep for " + file + " failed");
  }
};

// The figures' sweeps over the profiles' own placements.
void run_sweeps(const ReportRun& r, const std::string& scales) {
  const std::string hws = "hardware=" + join(r.hardware), algos = "algo=" + r.all_algos;
  r.say("table-size sweep: every algorithm on " + join(r.hardware));
  r.sweep("sizes.csv", {hws, "table-scale=" + scales, algos});
  r.say("batch x table size for lazydp and dpsgd-f");
  r.sweep("batch_size.csv", {hws, "table-scale=" + scales, "batch=256,512,1024,2048,4096,8192", "algo=dpsgd-f,lazydp"});
  r.say("adafest's threshold tau");
  r.sweep("adafest_tau.csv",
          {hws, "table-scale=1", "adafest-tau=0.5,1,1.5,2,2.5,3,3.5,4,5", "algo=adafest,dpsgd-f,lazydp"});
  r.say("sensitivity to pooling and access skew");
  r.sweep("pooling.csv", {hws, "table-scale=1", "pooling=1,2,5,10,20,40,80", "algo=dpsgd-f,lazydp"});
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
// where a sharding fits, else the host's (all cases twice: the sweep costs seconds). The dataset size is the preset's
// (Criteo 1TB), so a step count and a time per epoch come with every case. Drawn for mlperf-dlrm
// only (its 1 TB and 10 TB are the sizes that need a cluster).
void run_scale_out_sweeps(const ReportRun& r) {
  for (const char* f : {"scale_out_device.csv", "scale_out_host.csv"}) fs::remove(r.data / f);  // a previous report's
  if (r.model != kScaleOutModel) {
    r.say(fmt::format("scale-out figure left out: it is drawn for --model {} only", kScaleOutModel));
    return;
  }
  const std::vector<std::string> axes = {std::string("nodes=") + kScaleOutNodes,
                                         std::string("table-scale=") + kScaleOutScales, "algo=" + r.all_algos};
  const std::vector<std::string> flags = {"--cluster", kScaleOutCluster, "--batch", kScaleOutBatch,
                                          "--target-epsilon", kScaleOutEpsilon, "--fest-sigma", kScaleOutFestSigma};
  for (const std::string where : {"device", "host"}) {
    r.say(fmt::format("scale-out on {} x {{{}}} nodes, tables in {} memory", kScaleOutCluster, kScaleOutNodes, where));
    std::vector<std::string> f = flags;
    f.insert(f.end(), {"--tables-in", where});
    r.sweep("scale_out_" + where + ".csv", axes, f);
  }
}

// Per-stage work and terms for the roofline and update-split figures (simulate --json).
void run_simulations(const ReportRun& r, const std::string& scales) {
  r.say("per-stage work and terms (simulate --json)");
  for (const auto& h : r.hardware)
    for (const std::string algo : {"sgd", "dpsgd-f", "lazydp", "adafest"})
      for (const auto& sc : split_commas(scales)) {
        const std::string file = fmt::format("sim_{}_{}_{}.json", h, algo, sc);
        if (run_quietly(cmd_simulate, {"simulate", "--hardware", h, "--model", r.model, "--table-scale", sc, "--algo",
                                       algo, "--analytic", "-q", "--force", "--json", (r.data / file).string()}) != 0)
          throw std::runtime_error("simulate for " + file + " failed");
      }
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

int cmd_report(int argc, char** argv) {
  po::options_description opts("privrec report options");
  ReportRun run;
  std::vector<std::string> measured;
  std::string out_dir, python = "/usr/bin/python3";
  std::string scales = "0.001,0.01,0.1,1,10,104";
  run.model = "mlperf-dlrm";
  opts.add_options()("help,h", "show this help")
    ("hardware", po::value(&run.hardware)->multitoken(), "hardware profiles (repeatable; default h100-sxm and v100-xeon-e5-2698v4)")
    ("model", po::value(&run.model)->default_value(run.model), "workload preset or JSON file")
    ("table-scales", po::value(&scales)->default_value(scales), "table scales of the size sweeps (mlperf-dlrm: 104 is 10 TB)")
    ("measured", po::value(&measured)->multitoken(), "validate JSON reports (privrec validate --json) for the measured-vs-modeled figure")
    ("out", po::value(&out_dir), "the report folder (required)")
    ("python", po::value(&python)->default_value(python), "the Python interpreter that has matplotlib")
    ("png-only", "no SVG copies of the figures (smaller, for committing an example)")
    ("force", "write into an existing report folder")
    ("quiet,q", "no progress on stderr");
  po::variables_map vm;
  if (!parse(argc, argv, opts, vm,
             "usage: privrec report --out DIR [--hardware H ...] [--model M] [--measured VALIDATE.json ...]\n"
             "Sweeps the performance model, renders the characterization figures (PNG and SVG) and writes\n"
             "DIR/index.html and DIR/report.md with the findings in numbers."))
    return 0;
  run.quiet = vm.count("quiet") > 0;
  if (out_dir.empty()) throw InputError("--out: required (the report folder)");
  if (fs::exists(out_dir) && !vm.count("force"))
    throw InputError("--out " + out_dir + ": exists; pass --force to write into it");
  if (run.hardware.empty()) run.hardware = {"h100-sxm", "v100-xeon-e5-2698v4"};
  for (const auto& h : run.hardware) sim::load_hardware_profile(h);  // fail early, naming the profile
  load_workload(run.model);
  for (const auto& m : measured)
    if (!fs::is_regular_file(m)) throw InputError("--measured " + m + ": no such file");
  const fs::path script = fs::path(PRIVREC_SOURCE_DIR) / "tools/report/render_report.py";
  if (!fs::is_regular_file(script)) throw InputError("the renderer " + script.string() + " is missing");
  if (std::system((python + " -c 'import matplotlib' > /dev/null 2>&1").c_str()) != 0)
    throw InputError("--python " + python + ": cannot import matplotlib (apt-get install python3-matplotlib)");

  run.data = fs::path(out_dir) / "data";
  prepare_folder(out_dir, run.data);
  for (const auto& a : algorithm_registry()) run.all_algos += (run.all_algos.empty() ? "" : ",") + std::string(a.name);
  run_sweeps(run, scales);
  run_cache_sweeps(run);
  run_scale_out_sweeps(run);
  run_simulations(run, scales);
  for (size_t i = 0; i < measured.size(); ++i)
    fs::copy_file(measured[i], run.data / fmt::format("measured_{}.json", i), fs::copy_options::overwrite_existing);
  run.say("rendering figures and the report");
  const std::string cmd =
      fmt::format("'{}' '{}' '{}'{}", python, script.string(), out_dir, vm.count("png-only") ? " --png-only" : "");
  const int rc = std::system(cmd.c_str());
  // Ctrl-C reaches the renderer too (system() shields this process meanwhile): pass its end on.
  const int code = WIFEXITED(rc) ? WEXITSTATUS(rc) : WIFSIGNALED(rc) ? 128 + WTERMSIG(rc) : 1;
  if (code == 130 || code == 143) return code;  // the renderer said so in its one line
  if (rc != 0) throw std::runtime_error("the renderer failed: " + cmd);
  std::printf("privrec report: wrote %s/index.html and %s/report.md\n", out_dir.c_str(), out_dir.c_str());
  return 0;
}

}  // namespace privrec::cli
