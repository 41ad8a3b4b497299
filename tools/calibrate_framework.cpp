#include "tools/calibrate_framework.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include <fmt/format.h>

#include "models/config_error.hpp"
#include "models/sample_stats.hpp"
#include "sim/calibration.hpp"
#include "kernels/backend.hpp"
#include "sim/implementation_profile.hpp"
#include "tools/case_list.hpp"
#include "tools/cli_common.hpp"
#include "tools/compare_run.hpp"
#include "traces/synthetic_trace.hpp"

namespace privrec::cli {

int calibrate_framework(const FrameworkCalibration& o) {
  check_output(o.out, o.force);
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<Case> cases = load_case_list(o.cases);
  // The preset as the starting point: its family, dispatch overhead and footprint, no fit yet.
  sim::ImplementationProfile impl = sim::load_implementation_profile("framework");
  impl.stage_efficiency.clear(), impl.stage_fixed_ms.clear(), impl.stage_bag_ns.clear(), impl.stage_launch_us.clear();
  impl.stage_overlap.clear();
  impl.cpu_rate_fractions.reset();
  const sim::HardwareProfile base = sim::load_hardware_profile(o.hardware);
  const Backend& cpu = find_backend("cpu");
  // Every check before the first case runs: a refusal takes no measuring.
  check_framework_hardware(cpu, base);
  for (const Case& c : cases) {
    try {
      check_framework_case(c.algorithm(o.seed), c.steps, c.warmup);
    } catch (const InputError& e) {
      throw InputError(fmt::format("{}: case '{}': {}", o.cases, c.label(), e.what()));
    }
  }
  check_framework_python(o.python);
  const bool this_machine = measured_on_this_host(base, cpu);
  // Every case measured first (the peer also times a framework call that does nothing, torch.randn
  // and torch.mm), then modeled again with that dispatch overhead and those rates, each the median
  // over the cases, before the fit.
  struct Run {
    Case c;
    Comparison cmp;
    sim::HardwareProfile h;  // the hardware as probed right before the case, without the implementation
  };
  std::vector<Run> runs;
  std::vector<double> dispatch, rng_fraction, gemm_fraction;
  nlohmann::json labels = nlohmann::json::array();
  for (size_t n = 0; n < cases.size() * static_cast<size_t>(o.repeats); ++n) {
    const Case& c = cases[n % cases.size()];
    const Workload w = c.workload();
    const AlgorithmConfig cfg = c.algorithm(o.seed);
    SyntheticTrace trace(w, o.seed);
    // Modeled at the rates a probe measures right before the case, as calibrate does for the
    // fused kernels (this VM drifts up to 2x within minutes), where the profile is this machine's.
    sim::HardwareProfile h = base;
    // privrec's rates on this machine right before the case: the fractions' denominators always,
    // and the rates the case is modeled at where the profile is this machine's.
    const BackendRates here = cpu.probe_rates();
    if (this_machine) h = with_rates(here, base);
    sim::HardwareProfile modeled = h;
    sim::apply_implementation(modeled, impl);
    PeerCosts peer;
    const Comparison cmp = compare_framework_peer(o.python, w, cfg, trace, modeled, c.steps, c.warmup, false, &peer);
    if (peer.dispatch_us > 0) dispatch.push_back(peer.dispatch_us);
    // The framework's primitives against privrec's on the same machine, side by side.
    if (peer.rng_normals_per_s > 0) rng_fraction.push_back(peer.rng_normals_per_s / here.rng_normals_per_s);
    if (peer.gemm_GFLOPps > 0) gemm_fraction.push_back(peer.gemm_GFLOPps / here.gemm_GFLOPps);
    runs.push_back({c, cmp, h});
    if (n < cases.size()) labels.push_back(c.label());
    if (!o.quiet)
      std::fprintf(stderr, "[privrec] round %zu/%d, case %zu/%zu %s: the peer %.1f ms/step (a call that does nothing: "
                   "%.1f us; torch.randn %.0f M normals/s, torch.mm %.1f GFLOP/s)\n", n / cases.size() + 1, o.repeats,
                   n % cases.size() + 1, cases.size(), c.label().c_str(), cmp.measured_step_ms, peer.dispatch_us,
                   peer.rng_normals_per_s / 1e6, peer.gemm_GFLOPps);
  }
  if (!dispatch.empty()) impl.dispatch_us = median(dispatch);
  if (!rng_fraction.empty() && !gemm_fraction.empty())
    impl.cpu_rate_fractions = sim::CpuRateFractions{median(rng_fraction), median(gemm_fraction)};
  std::vector<sim::StageObservation> obs;
  for (size_t n = 0; n < runs.size(); ++n) {
    Run& r = runs[n];
    sim::apply_implementation(r.h, impl);  // the measured dispatch cost and rates, on every processor
    const Workload w = r.c.workload();
    SyntheticTrace trace(w, o.seed);
    const Comparison m = remodel(r.cmp, w, r.c.algorithm(o.seed), trace, r.h, r.c.steps, r.c.warmup);
    for (const auto& s : m.stages) obs.push_back({s.stage, s.measured_ms, s.modeled, static_cast<int64_t>(n % cases.size())});
  }
  // At the hardware profile's own overlap fraction: the implementation keeps no overlap of its own,
  // so the fit's factors must hold at the one the model will combine the terms with.
  const sim::StageFit fit = sim::fit_stages(obs, base.device.overlap_fraction);
  impl.name = o.name;
  impl.description = "the framework way: PyTorch operators as the LazyDP paper's code calls them (REFERENCE.md section 8); "
                     "dpsgd's table noise materialized as a dense tensor beside the tables; calibrated against the "
                     "PyTorch peer on " + base.name + " (" + host_cpu_name() + ")";
  impl.stage_efficiency = fit.efficiency, impl.stage_fixed_ms = fit.fixed_ms;
  impl.stage_bag_ns = fit.bag_ns, impl.stage_launch_us = fit.launch_us;
  impl.provenance = {
      {"source", "measured"},
      {"date", utc_now()},
      {"command", o.command},
      {"git_revision", git_revision()},
      {"machine", machine_json()},
      {"hardware_profile", base.name},
      {"calibration_cases_file", o.cases},
      {"calibration_cases", labels},
      {"method", "the PyTorch peer (tools/peers/torch_cpu_peer.py) timed per stage on every case; each case modeled "
                 "with the framework work formulas on the hardware profile (at the rates probed right before the "
                 "case where the profile was measured on this machine); dispatch_us: the median over the cases of "
                 "the peer's in-place add of 8 floats, per call; cpu_rate_fractions: the median over the cases of the "
                 "peer's torch.randn and torch.mm rates over privrec's, probed on this machine before the case; "
                 "per stage, measured - modeled overheads = efficiency x combined terms + fixed + us per call x calls (sim/calibration.hpp, as a hardware profile's stage fit)"},
      {"calibration_median_abs_error_pct", fit.median_abs_error_pct}};
  write_text_file(o.out, impl.to_json().dump(2) + "\n");
  std::printf("privrec calibrate: wrote %s (%.0f s); median error over the calibration stages %.1f %%\n", o.out.c_str(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), fit.median_abs_error_pct);
  if (impl.cpu_rate_fractions)
    std::printf("  the framework's rates: torch.randn at %.3f of privrec's normals per second, torch.mm at %.3f of its GEMM rate\n",
                impl.cpu_rate_fractions->rng_normals_per_s, impl.cpu_rate_fractions->gemm_GFLOPps);
  if (const std::string w = sim::unfitted_warning(fit); !w.empty()) std::fprintf(stderr, "privrec calibrate: %s\n", w.c_str());
  for (const auto& [stage, f] : impl.stage_efficiency) {
    std::string extra;
    if (impl.stage_launch_us.count(stage)) extra = fmt::format(", {:.2f} us per call", impl.stage_launch_us.at(stage));
    std::printf("  %-16s efficiency %.3f, fixed %.3f ms%s\n", stage.c_str(), f, impl.stage_fixed_ms.at(stage), extra.c_str());
  }
  return 0;
}

}  // namespace privrec::cli
