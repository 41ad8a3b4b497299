// privrec validate: compare over a held-out case list; how far the model is, per stage and end to end.
#include <cstdio>
#include <map>

#include <fmt/format.h>

#include "kernels/cpu/machine_bench.hpp"
#include "models/config_error.hpp"
#include "sim/error_metrics.hpp"
#include "tools/case_list.hpp"
#include "tools/cli_common.hpp"
#include "tools/compare_run.hpp"
#include "traces/synthetic_trace.hpp"

namespace privrec::cli {

int cmd_validate(int argc, char** argv) {
  po::options_description opts("privrec validate options");
  std::string backend = "cpu", hardware = kDefaultCpuProfile, cases_path = "configs/validation/cpu_validation_cases.json";
  uint64_t seed = 1;
  opts.add_options()("help,h", "show this help")
    ("backend", po::value(&backend)->default_value(backend), "cpu (cuda: not implemented yet)")
    ("hardware", po::value(&hardware)->default_value(hardware), "the profile to validate: a preset or a JSON file")
    ("cases", po::value(&cases_path)->default_value(cases_path), "held-out cases (none may be a calibration case)")
    ("seed", po::value(&seed)->default_value(seed), "seed of the cases' models and traces");
  OutputFlags out;
  out.add_to(opts);
  po::variables_map vm;
  if (!parse(argc, argv, opts, vm,
             "usage: privrec validate --backend cpu --hardware PROFILE --cases FILE [--json FILE]\n"
             "Runs compare on every case; reports per-stage and end-to-end median and worst absolute error, Pearson\n"
             "correlation and the share of cases within 10 %."))
    return 0;
  const bool quiet = vm.count("quiet") > 0;
  require_cpu_backend(backend);
  for (const std::string* p : {&out.json, &out.csv}) check_output(*p, vm.count("force") > 0);
  const sim::HardwareProfile hw = sim::load_hardware_profile(hardware);
  const std::vector<Case> cases = load_cases(cases_path);
  // Calibration and validation stay apart: a case the profile was fitted on cannot validate it.
  if (hw.provenance.contains("calibration_cases"))
    for (const auto& c : cases)
      for (const auto& used : hw.provenance["calibration_cases"])
        if (used == c.label())
          throw InputError(fmt::format("{}: case '{}' was used to calibrate {}; validate on held-out cases", cases_path,
                                       c.label(), hw.name));
  for (const auto& c : cases) require_fits_in_memory(c.workload(), c.algorithm(seed));

  // This machine's bandwidth now and after the cases, against the profile's: on a shared host it
  // drifts, and every measured time drifts with it.
  const double stream_before = cpu::measure_stream_GBps(int64_t{1} << 29);
  std::vector<double> st_meas, st_model, e2e_meas, e2e_model;
  std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> by_stage;
  nlohmann::json jcases = nlohmann::json::array();
  std::string csv = "case,stage,measured_ms,modeled_ms,error_pct\n";
  std::printf("privrec validate: %s on %zu held-out cases from %s\n", hw.name.c_str(), cases.size(), cases_path.c_str());
  std::printf("%-44s %12s %12s %9s\n", "case (end to end)", "measured ms", "modeled ms", "error");
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const Workload w = c.workload();
    const AlgorithmConfig cfg = c.algorithm(seed);
    SyntheticTrace trace(w, seed);
    const Comparison cmp = compare_cpu(w, cfg, trace, hw, c.steps, c.warmup, false);
    std::printf("%-44s %12.2f %12.2f %8.1f%%\n", c.label().c_str(), cmp.measured_step_ms, cmp.modeled_step_ms,
                cmp.error_pct);
    std::fflush(stdout);
    if (!quiet) std::fprintf(stderr, "[privrec] case %zu/%zu done\n", i + 1, cases.size());
    e2e_meas.push_back(cmp.measured_step_ms), e2e_model.push_back(cmp.modeled_step_ms);
    for (const auto& s : cmp.stages) {
      st_meas.push_back(s.measured_ms), st_model.push_back(s.modeled_ms);
      by_stage[stage_name(s.stage)].first.push_back(s.measured_ms);
      by_stage[stage_name(s.stage)].second.push_back(s.modeled_ms);
      csv += fmt::format("{},{},{},{},{}\n", c.label(), stage_name(s.stage), s.measured_ms, s.modeled_ms, s.error_pct);
    }
    csv += fmt::format("{},end_to_end,{},{},{}\n", c.label(), cmp.measured_step_ms, cmp.modeled_step_ms, cmp.error_pct);
    nlohmann::json jc = cmp.to_json();
    jc["case"] = c.to_json();
    jc["label"] = c.label();
    jcases.push_back(jc);
  }
  const double stream_after = cpu::measure_stream_GBps(int64_t{1} << 29);
  const sim::ErrorSummary per_stage = sim::summarize_errors(st_meas, st_model);
  const sim::ErrorSummary e2e = sim::summarize_errors(e2e_meas, e2e_model);
  std::printf("\n%-16s %6s %12s %12s %9s %10s\n", "stage", "pairs", "median |err|", "worst |err|", "pearson", "within 10%");
  nlohmann::json jstages = nlohmann::json::object();
  for (const auto& [name, mm] : by_stage) {
    const auto s = sim::summarize_errors(mm.first, mm.second);
    std::printf("%-16s %6lld %11.1f%% %11.1f%% %9.3f %9.0f%%\n", name.c_str(), static_cast<long long>(s.pairs),
                s.median_abs_pct, s.worst_abs_pct, s.pearson, 100 * s.share_within_10pct);
    jstages[name] = s.to_json();
  }
  std::printf("%-16s %6lld %11.1f%% %11.1f%% %9.3f %9.0f%%\n", "all stages", static_cast<long long>(per_stage.pairs),
              per_stage.median_abs_pct, per_stage.worst_abs_pct, per_stage.pearson, 100 * per_stage.share_within_10pct);
  std::printf("%-16s %6lld %11.1f%% %11.1f%% %9.3f %9.0f%%\n", "end to end", static_cast<long long>(e2e.pairs),
              e2e.median_abs_pct, e2e.worst_abs_pct, e2e.pearson, 100 * e2e.share_within_10pct);
  std::printf("machine check: streaming read+write %.1f GB/s before the cases, %.1f GB/s after; the profile says %.1f GB/s\n",
              stream_before, stream_after, hw.device.stream_GBps);
  if (!out.json.empty())
    write_text_file(out.json, nlohmann::json({{"command", "validate"},
                                              {"stream_GBps_now", {{"before", stream_before}, {"after", stream_after},
                                                                   {"profile", hw.device.stream_GBps}}}, {"hardware", hw.to_json()}, {"cases_file", cases_path},
                                              {"seed", seed}, {"per_stage", per_stage.to_json()}, {"by_stage", jstages},
                                              {"end_to_end", e2e.to_json()}, {"cases", jcases},
                                              {"machine", machine_json()}})
                                      .dump(2) + "\n");
  if (!out.csv.empty()) write_text_file(out.csv, csv);
  return 0;
}

}  // namespace privrec::cli
