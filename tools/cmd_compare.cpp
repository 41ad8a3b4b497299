// privrec compare: the real step and the model on the same workload and trace, stage by stage.
#include <cmath>
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "kernels/backend.hpp"
#include "kernels/mpi/mpi_library.hpp"
#include "sim/cluster.hpp"
#include "models/config_error.hpp"
#include "tools/cli_common.hpp"
#include "tools/compare_run.hpp"
#include "traces/synthetic_trace.hpp"

namespace privrec::cli {

namespace {
// Why an end-to-end error can be large, and what to do: the machine now against the profile (a
// shared host's bandwidth drifts), and the command that measures this machine again.
void print_large_error_hint(const sim::HardwareProfile& hw, const sim::HardwareProfile* probed, const std::string& backend) {
  std::printf("note: the end-to-end error is over 10 %%.");
  if (probed)
    std::printf(" This machine measures %.1f GB/s streaming, %.0f GFLOP/s GEMM and %.0f M normals/s now; the profile "
                "says %.1f, %.0f and %.0f (a shared host drifts by up to 2x within minutes).",
                probed->device.stream_GBps, probed->device.gemm_GFLOPps, probed->device.rng_normals_per_s / 1e6,
                hw.device.stream_GBps, hw.device.gemm_GFLOPps, hw.device.rng_normals_per_s / 1e6);
  else
    std::printf(" %s is not a profile measured on this machine.", hw.name.c_str());
  std::printf(" To measure this machine again: build/privrec calibrate --backend %s --out my_machine.json, then "
              "build/privrec compare --hardware my_machine.json\n",
              backend.c_str());
}

// What a comparison ran: the workload, algorithm, seed, steps, trace and machine, in its JSON.
void add_run_json(nlohmann::json& j, const Workload& w, const AlgorithmConfig& cfg, uint64_t seed, int64_t steps,
                  int64_t warmup, const TraceSource& trace) {
  j["workload"] = w.to_json();
  j["algorithm"] = cfg.to_json();
  j["seed"] = seed;
  j["steps"] = steps;
  j["warmup_steps"] = warmup;
  j["trace"] = trace.describe();
  j["machine"] = machine_json();
}

// compare --sharding under mpirun: every rank trains its part; rank 0 prints and writes.
int compare_sharded_run(const po::variables_map& vm, const std::string& sharding, const std::string& cluster_name,
                        const std::string& backend, const Workload& w, const AlgorithmConfig& cfg,
                        const TraceSource& trace, const OutputFlags& out, int64_t steps, int64_t warmup, uint64_t seed,
                        bool quiet) {
  if (!out.csv.empty()) throw InputError("--csv: not written with --sharding (use --json)");
  const mpi::Sharding scheme = *sharding_of(sharding, backend, "compare");  // set: under mpirun or given
  if (!vm["hardware"].defaulted() || !vm["rates"].defaulted())
    throw InputError("--hardware and --rates: with --sharding the ranks are modeled by --cluster");
  const sim::ClusterProfile c = sim::load_cluster_profile(cluster_name);
  if (c.devices() != mpi::launched_ranks())
    throw InputError(fmt::format("--cluster {}: it has {} devices and mpirun started {} ranks", cluster_name, c.devices(),
                                 mpi::launched_ranks()));
  const std::string fingerprint = fmt::format("{}|{}|{}|{}|{}|{}|{}", w.to_json().dump(), cfg.to_json().dump(), seed,
                                              steps, warmup, trace.describe(), cluster_name);
  const bool rank0 = mpi::launched_rank() == 0;
  const Comparison cmp = compare_sharded(w, cfg, trace, c, scheme, steps, warmup, !quiet && rank0, fingerprint);
  if (!rank0) return 0;
  std::printf("privrec compare: %s (%s of tables, batch %lld), %s, measured on %d ranks (%s), modeled on %s; each "
              "stage's slowest rank\n",
              w.name.c_str(), human_bytes(static_cast<double>(w.table_bytes())).c_str(),
              static_cast<long long>(w.batch_size), algorithm_info(cfg.kind).name, mpi::launched_ranks(),
              mpi::sharding_name(scheme), c.name.c_str());
  print_comparison(cmp);
  nlohmann::json j = cmp.to_json();
  j["command"] = "compare";
  j["sharding"] = mpi::sharding_name(scheme);
  j["ranks"] = mpi::launched_ranks();
  j["cluster"] = c.to_json();
  add_run_json(j, w, cfg, seed, steps, warmup, trace);
  if (!out.json.empty()) write_text_file(out.json, j.dump(2) + "\n");
  return 0;
}
// The comparison as CSV: a row per stage, then end to end.
// measured_min_ms and measured_max_ms: the fastest and slowest measured step (empty where unknown).
std::string comparison_csv(const Comparison& c) {
  auto range = [](double lo, double hi) { return has_range(lo, hi) ? fmt::format("{},{}", lo, hi) : std::string(","); };
  std::string csv = "stage,measured_ms,modeled_ms,error_pct,bound,measured_min_ms,measured_max_ms\n";
  for (const auto& s : c.stages)
    csv += fmt::format("{},{},{},{},{},{}\n", stage_name(s.stage), s.measured_ms, s.modeled_ms, s.error_pct,
                       sim::bound_name(s.modeled.bound), range(s.measured_min_ms, s.measured_max_ms));
  csv += fmt::format("end_to_end,{},{},{},,{}\n", c.measured_step_ms, c.modeled_step_ms, c.error_pct,
                     range(c.measured_step_min_ms, c.measured_step_max_ms));
  return csv;
}

// --implementation framework: the PyTorch peer measured (on the CPU), the framework
// implementation modeled on the same hardware profile.
int compare_framework_run(const po::variables_map& vm, const sim::ImplementationProfile& impl, const std::string& python,
                          const Backend& backend, sim::HardwareProfile hw, const Workload& w, const AlgorithmConfig& cfg,
                          const TraceSource& trace, const OutputFlags& out, const RunFlags& run, bool quiet) {
  if (!run.trace.empty()) throw InputError("--trace: the PyTorch peer draws its own uniform ids; it takes no trace");
  // Before the rate probe: a refusal takes no measuring.
  check_framework_hardware(backend, hw);
  check_framework_case(cfg, run.steps, run.warmup);
  require_fits(backend, w, cfg);  // the host holds the model the peer trains
  check_framework_python(python);
  // The probe describes this machine's processor: only for a profile measured on it.
  const bool this_machine = measured_on_this_host(hw, backend);
  std::optional<sim::HardwareProfile> probed = this_machine ? with_rates_now(backend, hw) : std::nullopt;
  // The JSON gives the profile and the probe as they are, the implementation beside them.
  const nlohmann::json hardware_json = hw.to_json(), probe_json = probed ? rates_json(probed->device) : nlohmann::json();
  if (probed) sim::apply_implementation(*probed, impl);
  sim::apply_implementation(hw, impl);
  const bool now = vm["rates"].as<std::string>() == "now" && probed;
  if (!quiet)
    std::fprintf(stderr, "[privrec] measuring %s (%s of tables, batch %lld), %s, the framework way (PyTorch peer); modeling "
                 "on %s with the %s implementation\n", w.name.c_str(), human_bytes(static_cast<double>(w.table_bytes())).c_str(),
                 static_cast<long long>(w.batch_size), algorithm_info(cfg.kind).name, hw.name.c_str(), impl.name.c_str());
  const Comparison c = compare_framework_peer(python, w, cfg, trace, now ? *probed : hw, run.steps, run.warmup, !quiet);
  std::printf("privrec compare: %s (%s of tables, batch %lld), %s, measured the framework way (PyTorch peer on the CPU), "
              "modeled on %s with the %s implementation\n", w.name.c_str(), human_bytes(static_cast<double>(w.table_bytes())).c_str(),
              static_cast<long long>(w.batch_size), algorithm_info(cfg.kind).name, hw.name.c_str(), impl.name.c_str());
  print_comparison(c);
  nlohmann::json j = c.to_json();
  j["rates"] = now ? "now" : "profile";
  if (probed) {
    const Comparison other = remodel(c, w, cfg, trace, now ? hw : *probed, run.steps, run.warmup);
    std::printf("%s: modeled %.3f ms, %.1f%%\n",
                now ? "at the profile's own rates (--rates profile)" : "at the rates probed right before the run (--rates now)",
                other.modeled_step_ms, other.error_pct);
    j["rates_now"] = probe_json;
    j[now ? "profile_rates" : "at_rates_now"] = other.to_json();
  }
  j["command"] = "compare";
  j["backend"] = "pytorch-cpu";
  j["implementation"] = impl.to_json();
  j["hardware"] = hardware_json;
  add_run_json(j, w, cfg, run.seed, run.steps, run.warmup, trace);
  if (!out.json.empty()) write_text_file(out.json, j.dump(2) + "\n");
  if (!out.csv.empty()) write_text_file(out.csv, comparison_csv(c));
  return 0;
}

}  // namespace

int cmd_compare(int argc, char** argv) {
  po::options_description opts("privrec compare options");
  WorkloadFlags wf;
  AlgorithmFlags af;
  RunFlags run;
  ImplementationFlags impl_flags;
  std::string python = "/usr/bin/python3";
  std::string hardware = model_profile_of(find_backend(run.backend));  // the default backend's
  std::string rates = "profile", sharding, cluster = "cpu-epyc-2c-mpi2";
  opts.add_options()("help,h", "show this help")
    ("sharding", po::value(&sharding), "under mpirun: train sharded over the ranks (table_wise or row_wise, as train) and "
     "model the same layout with the scale-out model on --cluster")
    ("cluster", po::value(&cluster)->default_value(cluster), "with --sharding: the cluster profile of the ranks (written "
     "by mpirun -np N privrec calibrate --network)")
    ("hardware", po::value(&hardware)->default_value(hardware), "the profile to model with: a preset or a JSON file")
    ("rates", po::value(&rates)->default_value(rates),
     "profile: model at the profile's rates as written; now: at the rates a half-second probe measures right "
     "before the run. Either way, when the profile was measured on this backend's processor and that processor is "
     "shared (the CPU, whose bandwidth drifts up to 2x within minutes), the other is reported on a last line");
  impl_flags.add_to(opts);
  opts.add_options()("python", po::value(&python)->default_value(python),
                     "with --implementation framework: the Python that runs the PyTorch peer (must import torch)");
  run.add_to(opts);
  OutputFlags out;
  out.add_to(opts);
  wf.add_to(opts);
  af.add_to(opts);
  po::variables_map vm;
  if (!parse(argc, argv, opts, vm,
             "usage: privrec compare [--backend cpu|cuda] [--hardware PROFILE] [--model M] [--table-scale X] [--algo A] ...\n"
             "Runs the real training step and the performance model on the same workload and trace; prints measured and\n"
             "modeled ms per stage with the error in percent, and end to end."))
    return 0;
  const bool force = vm.count("force") > 0, quiet = vm.count("quiet") > 0;
  if (rates != "now" && rates != "profile") throw InputError(fmt::format("--rates {}: expected now or profile", rates));
  run.finish(vm);
  const Backend& backend = run.check(100000, /*every_backend=*/true);
  const int64_t steps = run.steps, warmup = run.warmup;
  const uint64_t seed = run.seed;
  const std::string& trace_path = run.trace;
  for (const std::string* p : {&out.json, &out.csv}) check_output(*p, force);
  // Each backend has its own default profile (the GPU's is the H100 preset).
  sim::HardwareProfile hw = sim::load_hardware_profile(vm["hardware"].defaulted() ? model_profile_of(backend) : hardware);
  const sim::ImplementationProfile impl = impl_flags.resolve(hw.name);
  // compare measures privrec's kernels (fused) or the PyTorch peer (framework): nothing else.
  const bool framework = impl.kernels == "framework";
  if (!impl.kernels.empty() && !framework)
    throw InputError("--implementation " + impl.name + ": compare measures privrec's kernels (fused) or the PyTorch peer (an "
                     "implementation with \"kernels\": \"framework\")");
  if (!framework && !vm["python"].defaulted()) throw InputError("--python: used with --implementation framework only");
  if (!impl.kernels.empty() && (!sharding.empty() || mpi::launched_ranks() > 1))
    throw InputError("--implementation " + impl.name + ": not with --sharding or mpirun (the PyTorch peer runs on one process)");
  wf.finish(vm);
  Workload w = wf.resolve();
  const AlgorithmConfig cfg = af.resolve(seed);
  const std::unique_ptr<TraceSource> trace =
      trace_path.empty() ? std::make_unique<SyntheticTrace>(w, seed) : load_trace_file(trace_path, vm, w);
  if (!sharding.empty() || mpi::launched_ranks() > 1)
    return compare_sharded_run(vm, sharding, cluster, run.backend, w, cfg, *trace, out, steps, warmup, seed, quiet);
  if (!vm["cluster"].defaulted()) throw InputError("--cluster: used with --sharding only");
  if (framework) return compare_framework_run(vm, impl, python, backend, hw, w, cfg, *trace, out, run, quiet);
  require_fits(backend, w, cfg);
  if (!quiet)
    std::fprintf(stderr, "[privrec] measuring %s (%s of tables, batch %lld), %s on the %s; modeling on %s\n",
                 w.name.c_str(), human_bytes(static_cast<double>(w.table_bytes())).c_str(),
                 static_cast<long long>(w.batch_size), algorithm_info(cfg.kind).name, backend.name.c_str(),
                 hw.name.c_str());
  // The probe describes this machine: only a profile measured on it (its kernels, this processor).
  const bool this_machine = measured_on_this_host(hw, backend);
  const std::optional<sim::HardwareProfile> probed = this_machine ? with_rates_now(backend, hw) : std::nullopt;
  const bool now = rates == "now" && probed;
  const Comparison c = compare(backend, w, cfg, *trace, now ? *probed : hw, steps, warmup, !quiet);
  std::printf("privrec compare: %s (%s of tables, batch %lld), %s, measured on the %s, modeled on %s\n", w.name.c_str(),
              human_bytes(static_cast<double>(w.table_bytes())).c_str(), static_cast<long long>(w.batch_size),
              algorithm_info(cfg.kind).name, backend.name.c_str(), hw.name.c_str());
  print_comparison(c);
  nlohmann::json j = c.to_json();
  j["rates"] = now ? "now" : "profile";
  if (probed) {
    // The other model: a single half-second probe can catch this VM mid-swing, so it is reported,
    // not trusted on its own (validate takes the median over repeats).
    const Comparison other = remodel(c, w, cfg, *trace, now ? hw : *probed, steps, warmup);
    std::printf("%s: modeled %.3f ms, %.1f%% (probe: stream %.1f GB/s, GEMM %.0f GFLOP/s, normals %.0f M/s)\n",
                now ? "at the profile's own rates (--rates profile)" : "at the rates probed right before the run (--rates now)",
                other.modeled_step_ms, other.error_pct, probed->device.stream_GBps, probed->device.gemm_GFLOPps,
                probed->device.rng_normals_per_s / 1e6);
    j["rates_now"] = rates_json(probed->device);
    j[now ? "profile_rates" : "at_rates_now"] = other.to_json();
  }
  if (std::abs(c.error_pct) > 10) print_large_error_hint(hw, probed ? &*probed : nullptr, backend.name);
  j["command"] = "compare";
  j["backend"] = backend.name;
  j["hardware"] = hw.to_json();
  add_run_json(j, w, cfg, seed, steps, warmup, *trace);
  if (!out.json.empty()) write_text_file(out.json, j.dump(2) + "\n");
  if (!out.csv.empty()) write_text_file(out.csv, comparison_csv(c));
  return 0;
}

}  // namespace privrec::cli
