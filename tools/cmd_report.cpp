// privrec report: the characterization a DP-training performance study opens with. Runs the sweeps
// and simulations the figures need (through the sweep and simulate commands themselves, so the
// data files are exactly what those commands write), then renders every figure that has data and
// writes DIR/index.html and DIR/report.md (tools/report/render_report.py, matplotlib).
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
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
}  // namespace

int cmd_report(int argc, char** argv) {
  po::options_description opts("privrec report options");
  std::vector<std::string> hardware, measured;
  std::string model = "mlperf-dlrm", out_dir, python = "/usr/bin/python3";
  std::string scales = "0.001,0.01,0.1,1,10,104";
  opts.add_options()("help,h", "show this help")
    ("hardware", po::value(&hardware)->multitoken(), "hardware profiles (repeatable; default h100-sxm and v100-xeon-e5-2698v4)")
    ("model", po::value(&model)->default_value(model), "workload preset or JSON file")
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
  const bool quiet = vm.count("quiet") > 0;
  if (out_dir.empty()) throw InputError("--out: required (the report folder)");
  if (fs::exists(out_dir) && !vm.count("force"))
    throw InputError("--out " + out_dir + ": exists; pass --force to write into it");
  if (hardware.empty()) hardware = {"h100-sxm", "v100-xeon-e5-2698v4"};
  for (const auto& h : hardware) sim::load_hardware_profile(h);  // fail early, naming the profile
  load_workload(model);
  for (const auto& m : measured)
    if (!fs::is_regular_file(m)) throw InputError("--measured " + m + ": no such file");
  const fs::path script = fs::path(PRIVREC_SOURCE_DIR) / "tools/report/render_report.py";
  if (!fs::is_regular_file(script)) throw InputError("the renderer " + script.string() + " is missing");
  if (std::system((python + " -c 'import matplotlib' > /dev/null 2>&1").c_str()) != 0)
    throw InputError("--python " + python + ": cannot import matplotlib (apt-get install python3-matplotlib)");

  const fs::path data = fs::path(out_dir) / "data";
  fs::create_directories(data);
  auto say = [&](const std::string& s) {
    if (!quiet) std::fprintf(stderr, "[privrec] report: %s\n", s.c_str());
  };
  std::string all_algos;
  for (const auto& a : algorithm_registry()) all_algos += (all_algos.empty() ? "" : ",") + std::string(a.name);
  auto sweep = [&](const std::string& file, std::vector<std::string> axes) {
    std::vector<std::string> args = {"sweep", "--model", model, "--analytic", "-q", "--force",
                                     "--csv", (data / file).string()};
    for (auto& a : axes) args.push_back("--axis"), args.push_back(a);
    if (run_quietly(cmd_sweep, args) != 0) throw std::runtime_error("sweep for " + file + " failed");
  };
  const std::string hws = join(hardware);
  say("table-size sweep: every algorithm on " + hws);
  sweep("sizes.csv", {"hardware=" + hws, "table-scale=" + scales, "algo=" + all_algos});
  say("batch x table size for lazydp and dpsgd-f");
  sweep("batch_size.csv", {"hardware=" + hws, "table-scale=" + scales, "batch=256,512,1024,2048,4096,8192",
                           "algo=dpsgd-f,lazydp"});
  say("adafest's threshold tau");
  sweep("adafest_tau.csv", {"hardware=" + hws, "table-scale=1", "adafest-tau=0.5,1,1.5,2,2.5,3,3.5,4,5",
                            "algo=adafest,dpsgd-f,lazydp"});
  say("sensitivity to pooling and access skew");
  sweep("pooling.csv", {"hardware=" + hws, "table-scale=1", "pooling=1,2,5,10,20,40,80", "algo=dpsgd-f,lazydp"});
  sweep("skew.csv", {"hardware=" + hws, "table-scale=1", "dist=uniform,zipf:0.6,zipf:0.8,zipf:1.0,zipf:1.05,zipf:1.2",
                     "algo=dpsgd-f,lazydp"});
  say("per-stage work and terms (simulate --json)");
  std::vector<std::string> scale_list;
  for (size_t p = 0, e; p <= scales.size(); p = e + 1) {
    e = scales.find(',', p);
    if (e == std::string::npos) e = scales.size();
    scale_list.push_back(scales.substr(p, e - p));
  }
  for (const auto& h : hardware)
    for (const std::string algo : {"sgd", "dpsgd-f", "lazydp", "adafest"})
      for (const auto& sc : scale_list) {
        const std::string file = fmt::format("sim_{}_{}_{}.json", h, algo, sc);
        if (run_quietly(cmd_simulate, {"simulate", "--hardware", h, "--model", model, "--table-scale", sc, "--algo", algo,
                                       "--analytic", "-q", "--force", "--json", (data / file).string()}) != 0)
          throw std::runtime_error("simulate for " + file + " failed");
      }
  for (size_t i = 0; i < measured.size(); ++i)
    fs::copy_file(measured[i], data / fmt::format("measured_{}.json", i), fs::copy_options::overwrite_existing);
  say("rendering figures and the report");
  const std::string cmd =
      fmt::format("'{}' '{}' '{}'{}", python, script.string(), out_dir, vm.count("png-only") ? " --png-only" : "");
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("the renderer failed: " + cmd);
  std::printf("privrec report: wrote %s/index.html and %s/report.md\n", out_dir.c_str(), out_dir.c_str());
  return 0;
}

}  // namespace privrec::cli
