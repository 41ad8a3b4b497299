// privrec validate: compare over a held-out case list; how far the model is, per stage and end to end.
#include <cstdio>
#include <map>

#include <fmt/format.h>

#include "kernels/backend.hpp"
#include "models/config_error.hpp"
#include "sim/error_metrics.hpp"
#include "tools/case_list.hpp"
#include "tools/cli_common.hpp"
#include "tools/compare_run.hpp"
#include "traces/synthetic_trace.hpp"

namespace privrec::cli {

int cmd_validate(int argc, char** argv) {
  po::options_description opts("privrec validate options");
  std::string backend = kDefaultBackend;  // whose defaults --help shows
  std::string hardware = find_backend(backend).measured_profile, cases_path = find_backend(backend).validation_cases;
  uint64_t seed = 1;
  const std::string hardware_help = "the profile to validate: a preset or a JSON file (default: the backend's, " +
                                    backend_defaults([](const Backend& b) { return b.measured_profile; }) + ")";
  const std::string cases_help = "held-out cases (none may be a calibration case; default: the backend's, " +
                                 backend_defaults([](const Backend& b) { return b.validation_cases; }) + ")";
  opts.add_options()("help,h", "show this help")
    ("backend", po::value(&backend)->default_value(backend), backend_help().c_str())
    ("hardware", po::value(&hardware)->default_value(hardware), hardware_help.c_str())
    ("cases", po::value(&cases_path)->default_value(cases_path), cases_help.c_str())
    ("seed", po::value(&seed)->default_value(seed), "seed of the cases' models and traces");
  OutputFlags out;
  out.add_to(opts);
  po::variables_map vm;
  if (!parse(argc, argv, opts, vm,
             "usage: privrec validate --backend cpu|cuda --hardware PROFILE --cases FILE [--json FILE]\n"
             "Runs compare on every case; reports per-stage and end-to-end median and worst absolute error, Pearson\n"
             "correlation and the share of cases within 10 %."))
    return 0;
  const bool quiet = vm.count("quiet") > 0;
  const Backend& b = find_backend(backend);
  if (vm["cases"].defaulted()) cases_path = b.validation_cases;
  if (vm["hardware"].defaulted() && b.measured_profile.empty())
    throw InputError(fmt::format(
        "--backend {}: give --hardware, the {} profile to validate (privrec calibrate --backend {})", b.name,
        b.processor, b.name));
  if (vm["hardware"].defaulted()) hardware = b.measured_profile;
  b.require_available();  // first of all: can it run here (is there a device)?
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
  for (const auto& c : cases) require_fits(b, c.workload(), c.algorithm(seed));

  // Each case is modeled twice: with the profile's rates as written, and with the profile's rates
  // re-measured by a half-second probe right before the case (efficiencies unchanged). On a shared
  // host the machine drifts between cases; the second isolates the model's error from that drift.
  struct Tally {
    std::vector<double> st_meas, st_model, e2e_meas, e2e_model;
    std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> by_stage;
    void add(const Comparison& cmp) {
      e2e_meas.push_back(cmp.measured_step_ms), e2e_model.push_back(cmp.modeled_step_ms);
      for (const auto& s : cmp.stages) {
        st_meas.push_back(s.measured_ms), st_model.push_back(s.modeled_ms);
        by_stage[stage_name(s.stage)].first.push_back(s.measured_ms);
        by_stage[stage_name(s.stage)].second.push_back(s.modeled_ms);
      }
    }
  } profile_rates, rates_now;
  const double stream_before = b.shared_processor ? b.stream_GBps_now() : 0.0;
  nlohmann::json jcases = nlohmann::json::array();
  std::string csv = "case,stage,measured_ms,modeled_ms,error_pct,modeled_ms_rates_now,error_pct_rates_now\n";
  std::printf("privrec validate: %s on %zu held-out cases from %s, measured on the %s\n", hw.name.c_str(), cases.size(),
              cases_path.c_str(), backend.c_str());
  std::printf("%-40s %11s %11s %8s   %11s %8s\n", "", "", "profile", "", "rates now", "");
  std::printf("%-40s %11s %11s %8s   %11s %8s\n", "case (end to end)", "measured ms", "modeled ms", "error",
              "modeled ms", "error");
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const Workload w = c.workload();
    const AlgorithmConfig cfg = c.algorithm(seed);
    SyntheticTrace trace(w, seed);
    // A processor that is not shared (the GPU) has its cases modeled at the profile's rates only
    // (both columns agree).
    const std::optional<sim::HardwareProfile> probed = with_rates_now(b, hw);
    const sim::HardwareProfile& now = probed ? *probed : hw;
    const Comparison cmp_now = compare(b, w, cfg, trace, now, c.steps, c.warmup, false);
    const Comparison cmp = probed ? remodel(cmp_now, w, cfg, trace, hw, c.steps, c.warmup) : cmp_now;
    std::printf("%-40s %11.2f %11.2f %7.1f%%   %11.2f %7.1f%%\n", c.label().c_str(), cmp.measured_step_ms,
                cmp.modeled_step_ms, cmp.error_pct, cmp_now.modeled_step_ms, cmp_now.error_pct);
    std::fflush(stdout);
    if (!quiet)
      std::fprintf(stderr, "[privrec] case %zu/%zu done (rates: stream %.0f GB/s, normals %.0f M/s, GEMM %.0f GFLOP/s)\n",
                   i + 1, cases.size(), now.device.stream_GBps, now.device.rng_normals_per_s / 1e6,
                   now.device.gemm_GFLOPps);
    profile_rates.add(cmp);
    rates_now.add(cmp_now);
    for (size_t k = 0; k < cmp.stages.size(); ++k) {
      const auto &s = cmp.stages[k], &n = cmp_now.stages[k];
      csv += fmt::format("{},{},{},{},{},{},{}\n", c.label(), stage_name(s.stage), s.measured_ms, s.modeled_ms,
                         s.error_pct, n.modeled_ms, n.error_pct);
    }
    csv += fmt::format("{},end_to_end,{},{},{},{},{}\n", c.label(), cmp.measured_step_ms, cmp.modeled_step_ms,
                       cmp.error_pct, cmp_now.modeled_step_ms, cmp_now.error_pct);
    nlohmann::json jc = cmp.to_json();
    jc["case"] = c.to_json();
    jc["label"] = c.label();
    jc["rates_now"] = cmp_now.to_json();
    jc["rates_now"]["rates"] = rates_json(now.device);
    jcases.push_back(jc);
  }
  const double stream_after = b.shared_processor ? b.stream_GBps_now() : 0.0;
  auto summaries = [](const Tally& t, nlohmann::json& jstages) {
    for (const auto& [name, mm] : t.by_stage) jstages[name] = sim::summarize_errors(mm.first, mm.second).to_json();
    return std::pair{sim::summarize_errors(t.st_meas, t.st_model), sim::summarize_errors(t.e2e_meas, t.e2e_model)};
  };
  nlohmann::json jstages = nlohmann::json::object(), jstages_now = nlohmann::json::object();
  const auto [per_stage, e2e] = summaries(profile_rates, jstages);
  const auto [per_stage_now, e2e_now] = summaries(rates_now, jstages_now);
  std::printf("\n%-16s %6s | %-34s | %-34s\n", "", "", "profile rates", "rates now (probed before each case)");
  std::printf("%-16s %6s | %9s %9s %7s %6s | %9s %9s %7s %6s\n", "stage", "pairs", "median", "worst", "pearson", "<=10%",
              "median", "worst", "pearson", "<=10%");
  auto row = [](const std::string& name, const sim::ErrorSummary& a, const sim::ErrorSummary& b) {
    std::printf("%-16s %6lld | %8.1f%% %8.1f%% %7.3f %5.0f%% | %8.1f%% %8.1f%% %7.3f %5.0f%%\n", name.c_str(),
                static_cast<long long>(a.pairs), a.median_abs_pct, a.worst_abs_pct, a.pearson, 100 * a.share_within_10pct,
                b.median_abs_pct, b.worst_abs_pct, b.pearson, 100 * b.share_within_10pct);
  };
  for (const auto& [name, mm] : profile_rates.by_stage) {
    const auto& now = rates_now.by_stage.at(name);
    row(name, sim::summarize_errors(mm.first, mm.second), sim::summarize_errors(now.first, now.second));
  }
  row("all stages", per_stage, per_stage_now);
  row("end to end", e2e, e2e_now);
  if (b.shared_processor)
    std::printf("machine check: streaming read+write %.1f GB/s before the cases, %.1f GB/s after; the profile says %.1f GB/s\n",
                stream_before, stream_after, hw.device.stream_GBps);
  if (!out.json.empty())
    write_text_file(out.json, nlohmann::json({{"command", "validate"}, {"backend", backend},
                                              {"stream_GBps_now", {{"before", stream_before}, {"after", stream_after},
                                                                   {"profile", hw.device.stream_GBps}}},
                                              {"hardware", hw.to_json()}, {"cases_file", cases_path},
                                              {"seed", seed}, {"per_stage", per_stage.to_json()}, {"by_stage", jstages},
                                              {"end_to_end", e2e.to_json()},
                                              {"rates_now", {{"per_stage", per_stage_now.to_json()},
                                                             {"by_stage", jstages_now},
                                                             {"end_to_end", e2e_now.to_json()}}},
                                              {"cases", jcases}, {"machine", machine_json()}})
                                      .dump(2) + "\n");
  if (!out.csv.empty()) write_text_file(out.csv, csv);
  return 0;
}

}  // namespace privrec::cli
