// privrec calibrate: measures this machine's rates with microbenchmarks, runs the calibration
// cases for real, fits each stage's efficiency, and writes a measured hardware profile.
#include <chrono>
#include <cstdio>
#include <ctime>

#include <fmt/format.h>

#include "kernels/backend.hpp"
#include "models/config_error.hpp"
#include "models/sample_stats.hpp"
#include "sim/calibration.hpp"
#include "tools/case_list.hpp"
#include "tools/cli_common.hpp"
#include "tools/compare_run.hpp"
#include "traces/synthetic_trace.hpp"

namespace privrec::cli {

int cmd_calibrate(int argc, char** argv) {
  po::options_description opts("privrec calibrate options");
  std::string backend = kDefaultBackend, out_path, name, cases_path = find_backend(backend).calibration_cases;
  uint64_t seed = 1;
  const std::string cases_help = "calibration cases (never the validation cases; default: the backend's, " +
                                 backend_defaults([](const Backend& b) { return b.calibration_cases; }) + ")";
  opts.add_options()("help,h", "show this help")
    ("backend", po::value(&backend)->default_value(backend), backend_help().c_str())
    ("out", po::value(&out_path), "where to write the profile (required), e.g. configs/hardware/NAME.json")
    ("name", po::value(&name), "the profile's name (default: the output file's name)")
    ("cases", po::value(&cases_path)->default_value(cases_path), cases_help.c_str())
    ("seed", po::value(&seed)->default_value(seed), "seed of the cases' models and traces")
    ("force", "overwrite an existing profile")
    ("quiet,q", "no progress on stderr");
  po::variables_map vm;
  if (!parse(argc, argv, opts, vm,
             "usage: privrec calibrate --backend cpu|cuda --out configs/hardware/NAME.json [--cases FILE]\n"
             "Microbenchmarks this machine (streaming and random-row bandwidth, GEMM and vector rates, normals per\n"
             "second, parallel-region overhead), runs the calibration cases, fits per-stage efficiencies and writes a\n"
             "measured hardware profile."))
    return 0;
  const bool quiet = vm.count("quiet") > 0;
  const Backend& b = find_backend(backend);
  if (vm["cases"].defaulted()) cases_path = b.calibration_cases;
  b.require_available();  // first of all: can it run here (is there a device)?
  if (out_path.empty()) throw InputError("--out: required (the profile file to write)");
  check_output(out_path, vm.count("force") > 0);
  if (name.empty()) name = std::filesystem::path(out_path).stem().string();
  const std::vector<Case> cases = load_cases(cases_path);
  auto say = [&](const std::string& s) {
    if (!quiet) std::fprintf(stderr, "[privrec] %s\n", s.c_str());
  };
  const auto t0 = std::chrono::steady_clock::now();

  sim::HardwareProfile h;
  h.name = name;
  h.tables_in = "device";
  h.kernels = b.kernel_family;  // the profile models the kernels of the backend it was measured on
  const BackendRates r = b.measure_rates(say);
  h.description = r.processor + ", measured by privrec calibrate";
  h.device.memory_GB = r.memory_GB;
  h.device.stream_GBps = r.stream_GBps;
  h.device.random_GBps = r.random_GBps;  // 128 B rows
  h.device.random_GBps_by_row_B = r.random_GBps_by_row_B;
  h.device.gemm_GFLOPps = r.gemm_GFLOPps;
  h.device.vector_GFLOPps = r.vector_GFLOPps;
  h.device.rng_normals_per_s = r.rng_normals_per_s;
  h.device.sort_ops_per_s = r.sort_ops_per_s;
  h.device.launch_overhead_us = r.launch_overhead_us;

  std::vector<sim::StageObservation> obs;
  std::vector<sim::ProcessorProfile> probes;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const Workload w = c.workload();
    const AlgorithmConfig cfg = c.algorithm(seed);
    require_fits(b, w, cfg);
    SyntheticTrace trace(w, seed);
    // Modeled at the rates a probe measures right before the case: the fit sees the machine as it
    // ran the case (a shared host drifts), and validate models its cases the same way. A processor
    // that is not shared (the GPU) has its cases modeled at the rates measured above.
    const std::optional<sim::HardwareProfile> probed = with_rates_now(b, h);
    if (probed) probes.push_back(probed->device);
    const Comparison cmp = compare(b, w, cfg, trace, probed ? *probed : h, c.steps, c.warmup, false);
    for (const auto& s : cmp.stages) obs.push_back({s.stage, s.measured_ms, s.modeled});
    say(fmt::format("case {}/{} {}: measured {:.1f} ms/step, roofline {:.1f} ms", i + 1, cases.size(), c.label(),
                    cmp.measured_step_ms, cmp.modeled_step_ms));
  }
  // The profile's rates: the median of the probes taken between the cases, so they are measured
  // the way the fit saw them (a probe right after a training step reads lower than the quiet
  // full benchmark: caches, clocks). The full benchmark keeps the shape of the random-access
  // curve over row sizes, rescaled to the probes' 128 B figure, and is kept in the provenance.
  const sim::ProcessorProfile full = h.device;
  auto median_of = [&](auto field) {
    std::vector<double> v;
    for (const auto& p : probes) v.push_back(field(p));
    return median(std::move(v));
  };
  if (!probes.empty()) {
    sim::ProcessorProfile& d = h.device;
    d.stream_GBps = median_of([](const sim::ProcessorProfile& p) { return p.stream_GBps; });
    const double random_128 = median_of([](const sim::ProcessorProfile& p) { return p.random_GBps_for(128.0); });
    const double ratio = random_128 / full.random_GBps_for(128.0);
    for (auto& [bytes, gbps] : d.random_GBps_by_row_B) gbps *= ratio;
    d.random_GBps = random_128;
    d.gemm_GFLOPps = median_of([](const sim::ProcessorProfile& p) { return p.gemm_GFLOPps; });
    d.vector_GFLOPps = median_of([](const sim::ProcessorProfile& p) { return p.vector_GFLOPps; });
    d.rng_normals_per_s = median_of([](const sim::ProcessorProfile& p) { return p.rng_normals_per_s; });
    d.sort_ops_per_s = median_of([](const sim::ProcessorProfile& p) { return p.sort_ops_per_s; });
    d.launch_overhead_us = median_of([](const sim::ProcessorProfile& p) { return p.launch_overhead_us; });
  }
  const sim::StageFit fit = sim::fit_calibration(obs);
  h.device.overlap_fraction = fit.overlap_fraction;
  h.stage_efficiency = fit.efficiency;
  h.stage_fixed_ms = fit.fixed_ms;
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  std::string command = "privrec";
  for (int i = 0; i < argc; ++i) command += std::string(" ") + argv[i];
  nlohmann::json case_labels = nlohmann::json::array();
  for (const auto& c : cases) case_labels.push_back(c.label());
  const std::string rates_method =
      b.shared_processor ? "the median of the half-second probes taken right before each calibration case (random "
                           "bandwidth by row size: the full microbenchmark's curve, rescaled to the probes' 128 B "
                           "figure; the full microbenchmarks are under full_benchmark)"
                         : r.method;
  const std::string method =
      "rates: " + rates_method + "; " +
      "stage_efficiency and stage_fixed_ms: per stage, measured - modeled overheads = efficiency x combined terms (at "
      "the rates the case was modeled with) + fixed, least squares on the relative error over the calibration cases; "
      "overlap_fraction: the grid value (0 .. 1 by 0.05) whose fit has the smallest median error over those cases";
  nlohmann::json machine = machine_json();
  machine.update(b.device_json());  // the GPU, where there is one
  h.provenance = {{"source", "measured"},
                  {"machine", machine},
                  {"date", date},
                  {"command", command},
                  {"git_revision", git_revision()},
                  {"calibration_cases_file", cases_path},
                  {"calibration_cases", case_labels},
                  {"method", method},
                  {"calibration_median_abs_error_pct", fit.median_abs_error_pct},
                  {"full_benchmark", rates_json(full)}};
  write_text_file(out_path, h.to_json().dump(2) + "\n");
  std::printf("privrec calibrate: wrote %s (%.0f s)\n", out_path.c_str(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  std::printf("stream %.1f GB/s, random (128 B rows) %.1f GB/s, GEMM %.1f GFLOP/s, vector %.1f GFLOP/s, normals %.0f M/s, "
              "sorting %.0f M key-steps/s, parallel region %.2f us\n",
              h.device.stream_GBps, h.device.random_GBps, h.device.gemm_GFLOPps, h.device.vector_GFLOPps,
              h.device.rng_normals_per_s / 1e6, h.device.sort_ops_per_s / 1e6, h.device.launch_overhead_us);
  std::printf("overlap fraction %.2f (median error over the calibration stages %.1f %%)\n", fit.overlap_fraction,
              fit.median_abs_error_pct);
  for (const auto& [stage, f] : h.stage_efficiency)
    std::printf("  %-16s efficiency %.3f, fixed %.3f ms\n", stage.c_str(), f, h.stage_fixed_ms[stage]);
  return 0;
}

}  // namespace privrec::cli
