// privrec simulate: the performance model's per-stage work and time for a workload, an algorithm
// and a hardware profile, driven by the same trace `privrec train` would run.
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "kernels/backend.hpp"
#include "models/config_error.hpp"
#include "sim/chrome_trace.hpp"
#include "models/kernel_work/working_memory.hpp"
#include "sim/sharding_planner.hpp"
#include "sim/simulation.hpp"
#include "sim/time_to_train.hpp"
#include "tools/cli_common.hpp"
#include "traces/synthetic_trace.hpp"

namespace privrec::cli {

namespace {
nlohmann::json stage_json(const sim::SimStage& s) {
  nlohmann::json j = s.work.to_json();
  j["name"] = stage_name(s.stage);
  j["ms_per_step"] = s.time.ms;
  j["bound"] = sim::bound_name(s.time.bound);
  j["memory_ms"] = s.time.memory_ms;
  j["compute_ms"] = s.time.compute_ms;
  j["sort_ms"] = s.time.sort_ms;  // part of compute_ms
  j["rng_ms"] = s.time.rng_ms;
  j["overhead_ms"] = s.time.overhead_ms;
  j["first_touch_ms"] = s.time.first_touch_ms;  // part of overhead_ms
  j["link_ms"] = s.time.link_ms;
  j["link_bytes"] = s.link_bytes;
  j["runs_on"] = sim::runs_with_tables(s.stage) ? "tables" : "device";
  if (!s.time.levels.empty()) j["levels"] = sim::levels_json(s.time);
  return j;
}

// Where each table stage's rows came from: "fwd.emb  L2 12.0 %  L3 35.1 %  memory 52.9 %".
void print_levels(const sim::SimReport& rep) {
  bool header = false;
  auto line = [&](const sim::SimStage& s) {
    if (s.time.levels.empty()) return;
    if (!header) std::printf("row traffic by memory level (share of the stage's row accesses):\n"), header = true;
    std::printf("  %-16s  %s\n", stage_name(s.stage), sim::levels_summary(s.time).c_str());
  };
  for (const auto& s : rep.stages) line(s);
  for (const auto& s : rep.once) line(s);
  if (header && rep.row_traffic.contains("levels_beyond_trace") && !rep.row_traffic["levels_beyond_trace"].empty()) {
    std::string names;
    for (const auto& n : rep.row_traffic["levels_beyond_trace"]) names += (names.empty() ? "" : ", ") + n.get<std::string>();
    std::printf("  (note: the modeled steps touched %s of distinct rows, less than %s holds: their hit rates are lower\n"
                "   bounds; model more --steps, or --analytic for Che's steady state)\n",
                human_bytes(rep.row_traffic["bytes_touched"].get<double>()).c_str(), names.c_str());
  }
  if (header && rep.row_traffic.contains("sample_rate") && rep.row_traffic["sample_rate"].get<double>() < 1)
    std::printf("  (reuse from a SHARDS sample of %.3g of the rows; the JSON gives each hit rate's standard error)\n",
                rep.row_traffic["sample_rate"].get<double>());
}

// Flops and sorting, launch overheads and link transfers in columns of their own: a stage bound by
// sorting or by the link says so.
void print_row(const sim::SimStage& s, double total_ms, const char* suffix) {
  std::printf("%-16s %10.3f %8.1f%% %11s %11s  %-9s %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f%s\n", stage_name(s.stage), s.time.ms,
              total_ms > 0 ? 100.0 * s.time.ms / total_ms : 0.0,
              human_bytes(static_cast<double>(s.work.bytes_read())).c_str(),
              human_bytes(static_cast<double>(s.work.bytes_written())).c_str(), sim::bound_name(s.time.bound),
              s.time.memory_ms, s.time.compute_ms - s.time.sort_ms, s.time.sort_ms, s.time.rng_ms, s.time.overhead_ms,
              s.time.link_ms, suffix);
}

// Which of the profile's rates are measured and which estimated (its provenance says).
void print_rate_sources(const sim::HardwareProfile& h) {
  const std::string source = h.provenance.value("source", "unknown");
  if (source == "measured") {
    std::printf("rates: %s was measured on %s by privrec calibrate (its provenance)\n", h.name.c_str(),
                h.provenance.value("date", std::string("an unrecorded date")).c_str());
    return;
  }
  std::string estimated;
  if (h.provenance.contains("derivation") && h.provenance["derivation"].is_object())
    for (const auto& [key, why] : h.provenance["derivation"].items())
      if (why.is_string() && why.get<std::string>().rfind("estimate", 0) == 0) estimated += (estimated.empty() ? "" : ", ") + key;
  std::printf("rates: %s's are %s figures%s (provenance.derivation of its profile says how each was found)\n",
              h.name.c_str(), source.c_str(), estimated.empty() ? "" : ("; estimates, not measurements: " + estimated).c_str());
}

double once_ms(const std::vector<sim::SimStage>& once) {
  double ms = 0;
  for (const auto& o : once) ms += o.time.ms;
  return ms;
}

std::string comm_text(const sim::ClusterStage& s) {
  if (!s.comm) return "";
  return fmt::format("{} / {}", human_bytes(s.comm->intra.bytes), human_bytes(s.comm->inter.bytes));
}

struct ClusterRunInputs {
  const Workload& w;
  const AlgorithmConfig& cfg;
  const privacy::PrivacyReport& priv;
  const sim::ClusterProfile& c;
  std::string sharding;
  double price = 0;
  int64_t steps = 3;
  uint64_t seed = 1;
  bool quiet = false;
};

void print_cluster(const ClusterRunInputs& in, const sim::ClusterModel& model, const sim::ClusterPrediction& p) {
  const sim::ClusterReport& r = p.report;
  std::printf("privrec simulate (analytic, scale-out): %s (%s of tables, batch %lld), %s, on %s: %lld x %s in %lld node%s, "
              "%lld steps\n",
              in.w.name.c_str(), human_bytes(static_cast<double>(in.w.table_bytes())).c_str(),
              static_cast<long long>(in.w.batch_size), algorithm_info(in.cfg.kind).name, in.c.name.c_str(),
              static_cast<long long>(r.devices), in.c.device.name.c_str(), static_cast<long long>(in.c.nodes),
              in.c.nodes == 1 ? "" : "s", static_cast<long long>(in.steps));
  if (p.planner) {
    std::printf("sharding (planner, %lld plans timed): %s\n  because: %s, %.3f ms/step\n",
                static_cast<long long>(p.planner->evaluated), p.plan.summary().c_str(), p.planner->best.how.c_str(),
                p.planner->best.step_ms);
    if (p.planner->runner_up)
      std::printf("  runner-up: %s (%s), %.3f ms/step\n", p.planner->runner_up->plan.summary().c_str(),
                  p.planner->runner_up->how.c_str(), p.planner->runner_up->step_ms);
  } else {
    std::printf("sharding (%s): %s\n", in.sharding.c_str(), p.plan.summary().c_str());
  }
  std::printf("%-16s %10s %8s  %-8s %8s %10s  %s\n", "stage", "ms/step", "share", "bound", "slowest", "mean ms",
              "comm bytes per device (node links / network)");
  auto row = [&](const sim::ClusterStage& s, const char* suffix) {
    std::printf("%-16s %10.3f %7.1f%%  %-8s %8lld %10.3f  %s%s\n", stage_name(s.stage.stage), s.stage.time.ms,
                r.step_ms > 0 && !suffix[0] ? 100.0 * s.stage.time.ms / r.step_ms : 0.0, sim::bound_name(s.stage.time.bound),
                static_cast<long long>(s.slowest_device), s.mean_ms, comm_text(s).c_str(), suffix);
  };
  for (const auto& s : r.stages) row(s, "");
  for (const auto& o : r.once) row(o, o.stage.before_training ? "   (once, before training)" : "   (once, at the end)");
  double table_side = 0, device_side = 0;
  for (const auto& m : r.memory)
    table_side = std::max(table_side, model.table_side_bytes(m)), device_side = std::max(device_side, model.device_side_bytes(m));
  std::printf("step: %.3f ms modeled (communication %.3f ms, %.1f %%), %.0f examples/s\n", r.step_ms, r.comm_ms,
              r.step_ms > 0 ? 100 * r.comm_ms / r.step_ms : 0.0, r.throughput_examples_per_s);
  if (model.device_profile().tables_in == "host")
    std::printf("memory per device: tables and lazydp history at most %s of its %s share of the node's host memory; "
                "MLPs and buffers at most %s of %s usable device memory\n",
                human_bytes(table_side).c_str(), human_bytes(model.table_side_capacity()).c_str(),
                human_bytes(device_side).c_str(), human_bytes(model.device_side_capacity()).c_str());
  else
    std::printf("%s: at most %s of the %s usable (%.0f %% of %s)\n", model.device_profile().device_memory_name().c_str(),
                human_bytes(device_side).c_str(),
                human_bytes(model.device_side_capacity()).c_str(), 100 * kUsableDeviceMemory,
                human_bytes(in.c.device.device.memory_GB * 1e9).c_str());
}

int simulate_cluster(const ClusterRunInputs& in, const OutputFlags& out) {
  if (!in.quiet)
    std::fprintf(stderr, "[privrec] modeling %s, %s on %s (%lld devices)%s\n", in.w.name.c_str(),
                 algorithm_info(in.cfg.kind).name, in.c.name.c_str(), static_cast<long long>(in.c.devices()),
                 in.sharding == "auto" ? ", planning the sharding" : "");
  const sim::ClusterModel model(in.w, in.cfg, in.c, in.steps);
  const sim::ClusterPrediction p = sim::predict_on_cluster(model, in.sharding);
  print_cluster(in, model, p);
  print_rate_sources(in.c.device);
  std::printf("%s\n", in.priv.summary().c_str());
  nlohmann::json j;
  j["command"] = "simulate";
  j["mode"] = "analytic";
  j["cluster"] = in.c.to_json();
  j["workload"] = in.w.to_json();
  j["algorithm"] = in.cfg.to_json();
  j["privacy"] = in.priv.to_json();
  j["seed"] = in.seed;
  j["steps"] = in.steps;
  j["batch_size"] = in.w.batch_size;
  j["table_GB"] = p.report.table_GB;
  j["scale_out"] = p.report.to_json(in.w, p.plan);
  if (p.planner) {
    j["planner"] = {{"choice", p.planner->best.how}, {"step_ms", p.planner->best.step_ms}, {"plans_timed", p.planner->evaluated}};
    if (p.planner->runner_up)
      j["planner"]["runner_up"] = {{"how", p.planner->runner_up->how}, {"step_ms", p.planner->runner_up->step_ms},
                                   {"sharding", p.planner->runner_up->plan.to_json(in.w)}};
  }
  j["step_ms"] = p.report.step_ms;
  j["throughput_examples_per_s"] = p.report.throughput_examples_per_s;
  double once = 0;
  for (const auto& o : p.report.once) once += o.stage.time.ms;
  if (in.priv.steps > 0) {
    const sim::TimeToTrain tt = sim::time_to_train(in.priv.steps, p.report.step_ms, once, p.report.devices, in.price);
    std::printf("%s\n", tt.summary().c_str());
    j["time_to_train"] = tt.to_json();
  }
  j["machine"] = machine_json();
  if (!out.json.empty()) write_text_file(out.json, j.dump(2) + "\n");
  if (!out.csv.empty()) {
    std::string csv = "cluster,devices,model,algo,batch,table_bytes,stage,ms_per_step,bound,slowest_device,mean_device_ms," +
                      WorkCounters::csv_header() + ",step_ms,throughput_examples_per_s\n";
    for (const auto& s : p.report.stages)
      csv += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", in.c.name, p.report.devices, in.w.name,
                         algorithm_info(in.cfg.kind).name, in.w.batch_size, in.w.table_bytes(), stage_name(s.stage.stage),
                         s.stage.time.ms, sim::bound_name(s.stage.time.bound), s.slowest_device, s.mean_ms,
                         s.stage.work.csv_values(), p.report.step_ms, p.report.throughput_examples_per_s);
    write_text_file(out.csv, csv);
  }
  return 0;
}
}  // namespace

int cmd_simulate(int argc, char** argv) {
  po::options_description opts("privrec simulate options");
  WorkloadFlags wf;
  AlgorithmFlags af;
  PrivacyFlags pf;
  PlacementFlags place;
  ImplementationFlags impl_flags;
  ClusterFlags cf;
  double sample_rate = 0;
  std::string hardware = "h100-sxm", trace_path, trace_out;
  int64_t steps = 3;
  uint64_t seed = 1;
  opts.add_options()("help,h", "show this help")
    ("hardware", po::value(&hardware)->default_value(hardware), "hardware profile: a preset (configs/hardware/NAME.json), a JSON file, or `host`: the committed "
     "profile measured on this host's processor (as compare's CPU default)")
    ("steps", po::value(&steps)->default_value(steps), "batches of the trace to model (work is their mean per step)")
    ("seed", po::value(&seed)->default_value(seed), "seed of the synthetic trace (and of the algorithm's noise)")
    ("trace", po::value(&trace_path), "model a trace file instead of synthetic data")
    ("trace-out", po::value(&trace_out), "write one modeled step as a Chrome/Perfetto trace-event JSON file")
    ("analytic", "model expectations (closed forms for uniform, rank sums for zipf; Che's approximation for caches) instead of a trace's batches")
    ("sample-rate", po::value(&sample_rate),
     "share of rows the reuse analysis tracks (SHARDS sampling; 1: exact; default: exact up to 4 M row accesses, sampled beyond)");
  OutputFlags out;
  out.add_to(opts);
  wf.add_to(opts);
  af.add_to(opts);
  pf.add_to(opts);
  place.add_to(opts);
  impl_flags.add_to(opts);
  cf.add_to(opts);
  po::variables_map vm;
  std::string presets;
  for (const auto& n : sim::hardware_preset_names()) presets += (presets.empty() ? "" : ", ") + n;
  if (!parse(argc, argv, opts, vm,
             "usage: privrec simulate [--hardware PRESET|FILE] [--model PRESET|FILE] [--table-scale X] [--algo ALGO] ...\n"
             "Predicts each stage's work and time per step on a hardware profile (presets: " + presets + ")."))
    return 0;
  const bool force = vm.count("force") > 0, quiet = vm.count("quiet") > 0;
  const std::string &json_path = out.json, &csv_path = out.csv;
  if (steps < 1 || steps > 1000000) throw InputError(fmt::format("--steps {}: expected 1 .. 1000000", steps));
  for (const std::string* p : {&json_path, &csv_path, static_cast<const std::string*>(&trace_out)}) check_output(*p, force);
  std::optional<sim::ClusterProfile> cluster = cf.resolve(vm);
  if (cluster && !vm["hardware"].defaulted())
    throw InputError("--hardware: a cluster names its devices' profile; give --hardware or --cluster, not both");
  if (cluster && (vm.count("trace") || vm.count("sample-rate") || vm.count("trace-out")))
    throw InputError("--cluster: the scale-out model is analytic; it takes no --trace, --sample-rate or --trace-out");
  if (hardware == "host") hardware = model_profile_of(find_backend("cpu"));
  sim::HardwareProfile hw = sim::load_hardware_profile(hardware);
  place.apply(cluster ? cluster->device : hw);
  const sim::ImplementationProfile impl = impl_flags.resolve(cluster ? cluster->device.name : hw.name);
  if (cluster) refuse_on_cluster(impl);
  if (const std::string note = sim::fitted_elsewhere_note(impl, hw.name); !note.empty() && !quiet)
    std::fprintf(stderr, "[privrec] note: %s\n", note.c_str());
  sim::apply_implementation(hw, impl);
  const double price = cf.price_of(vm, cluster ? &*cluster : nullptr);
  if (vm.count("sample-rate") && !(sample_rate >= 1e-4 && sample_rate <= 1))
    throw InputError(fmt::format("--sample-rate {}: expected a share in [0.0001, 1]", sample_rate));

  wf.finish(vm);
  pf.finish(vm);
  AlgorithmFlags::refuse_learning_rate(vm, "simulate");
  if ((vm.count("analytic") || cluster) && !vm["seed"].defaulted())
    throw InputError("--seed: the analytic model draws nothing (no trace, expected noise); it takes no --seed");
  Workload w = wf.resolve();
  AlgorithmConfig cfg = af.resolve(seed);
  std::unique_ptr<TraceSource> trace;
  if (!trace_path.empty())
    trace = load_trace_file(trace_path, vm, w);
  else
    trace = std::make_unique<SyntheticTrace>(w, seed);
  // A target epsilon sets the noise (and adafest's selection rate) before the model runs.
  const privacy::PrivacyReport priv = privacy::account(pf.settings, w, w.batch_size, cfg);
  if (cluster) return simulate_cluster({w, cfg, priv, *cluster, cf.sharding, price, steps, seed, quiet}, out);
  if (!quiet)
    std::fprintf(stderr, "[privrec] modeling %s (%s of tables, batch %lld), %s on %s, %lld steps\n", w.name.c_str(),
                 human_bytes(static_cast<double>(w.table_bytes())).c_str(), static_cast<long long>(w.batch_size),
                 algorithm_info(cfg.kind).name, hw.name.c_str(), static_cast<long long>(steps));
  auto progress = [&](int64_t t) {
    if (!quiet && steps >= 10 && (t % (steps / 10) == 0 || t == steps))
      std::fprintf(stderr, "[privrec] step %lld/%lld\n", static_cast<long long>(t), static_cast<long long>(steps));
  };
  const bool analytic = vm.count("analytic") > 0;
  if (analytic && !trace_path.empty()) throw InputError("--analytic models expectations; it takes no --trace");
  if (analytic && vm.count("sample-rate")) throw InputError("--sample-rate: --analytic reads no trace to sample");
  // This step's batch, the next one, and the analysis' copy in flight.
  if (!analytic)
    require_batches_fit(w, 3, "the trace-driven model: use --analytic, or a smaller --batch or --pooling");
  const sim::SimReport rep = analytic ? sim::simulate_analytic(w, cfg, hw, steps)
                                      : sim::simulate(w, cfg, *trace, hw, steps, progress, 1, sample_rate);

  const std::string placement =
      hw.table_memory_name() +
      (hw.device_cache ? fmt::format(", {:g} GB {} cache in device memory", hw.device_cache->capacity_GB, hw.device_cache->policy) : "");
  const std::string seed_text = analytic ? "" : fmt::format(", seed {}", seed);  // the analytic model draws nothing
  std::printf("privrec simulate (%s): %s (%s of tables, batch %lld), %s, on %s (tables in %s)%s, %lld steps%s\n",
              analytic ? "analytic" : "trace-driven",
              w.name.c_str(), human_bytes(static_cast<double>(w.table_bytes())).c_str(),
              static_cast<long long>(rep.batch_size), algorithm_info(cfg.kind).name, hw.name.c_str(),
              placement.c_str(), impl.name == "fused" ? "" : (", the " + impl.name + " implementation").c_str(),
              static_cast<long long>(steps), seed_text.c_str());
  std::printf("%-16s %10s %9s %11s %11s  %-9s %9s %9s %9s %9s %9s %9s\n", "stage", "ms/step", "share", "read", "written", "bound",
              "mem ms", "flop ms", "sort ms", "rng ms", "ovh ms", "link ms");
  for (const auto& s : rep.stages) print_row(s, rep.step_ms, "");
  for (const auto& o : rep.once)
    print_row(o, 0, o.before_training ? "   (once, before training)" : "   (once, at the end of training)");
  print_levels(rep);
  print_rate_sources(hw);
  std::printf("step: %.3f ms modeled, %.0f examples/s\n", rep.step_ms, rep.throughput_examples_per_s);
  // Part of the result, not progress: printed with -q too, and kept in the JSON.
  const std::string misfit = sim::misfit_note(rep, hw);
  if (!misfit.empty()) std::printf("memory: %s\n", misfit.c_str());
  std::printf("%s\n", priv.summary().c_str());
  std::optional<sim::TimeToTrain> tt;
  if (priv.steps > 0) tt = sim::time_to_train(priv.steps, rep.step_ms, once_ms(rep.once), 1, price);
  if (tt) std::printf("%s\n", tt->summary().c_str());

  nlohmann::json j;
  j["command"] = "simulate";
  j["hardware"] = hw.to_json();
  j["workload"] = w.to_json();
  j["algorithm"] = cfg.to_json();
  j["privacy"] = priv.to_json();
  j["seed"] = seed;
  j["trace"] = analytic ? std::string("analytic") : trace->describe();
  j["mode"] = analytic ? "analytic" : "trace-driven";
  j["steps"] = steps;
  j["batch_size"] = rep.batch_size;
  j["table_GB"] = rep.table_GB;
  j["tables_fit_in_memory"] = rep.tables_fit;
  j["table_capacity_GB"] = hw.table_capacity_GB();  // what tables_fit_in_memory is tested against
  j["table_memory"] = hw.table_memory_name();        // and what to call it
  if (!misfit.empty()) j["memory_note"] = misfit;
  j["implementation"] = impl.to_json();
  j["materialized_noise_GB"] = rep.noise_GB;
  j["row_state_GB"] = rep.row_state_GB;
  j["throughput_examples_per_s"] = rep.throughput_examples_per_s;
  j["step_ms"] = rep.step_ms;
  j["row_traffic"] = rep.row_traffic;
  if (tt) j["time_to_train"] = tt->to_json();
  j["stages"] = nlohmann::json::array();
  for (const auto& s : rep.stages) j["stages"].push_back(stage_json(s));
  for (const auto& o : rep.once) j["once"].push_back(stage_json(o));
  j["machine"] = machine_json();
  if (!json_path.empty()) write_text_file(json_path, j.dump(2) + "\n");
  if (!trace_out.empty())
    write_text_file(trace_out, sim::chrome_trace(rep, hw, fmt::format("privrec simulate: {} {} on {}", w.name,
                                                                      algorithm_info(cfg.kind).name, hw.name))
                                   .dump(1) + "\n");
  if (!csv_path.empty()) {
    std::string csv =
        "hardware,model,algo,batch,table_bytes,stage,ms_per_step,bound,memory_ms,compute_ms,rng_ms,overhead_ms,link_ms," +
        WorkCounters::csv_header() + ",throughput_examples_per_s\n";
    auto row = [&](const sim::SimStage& s) {
      csv += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", hw.name, w.name, algorithm_info(cfg.kind).name,
                         rep.batch_size, w.table_bytes(), stage_name(s.stage), s.time.ms, sim::bound_name(s.time.bound),
                         s.time.memory_ms, s.time.compute_ms, s.time.rng_ms, s.time.overhead_ms, s.time.link_ms,
                         s.work.csv_values(), rep.throughput_examples_per_s);
    };
    for (const auto& s : rep.stages) row(s);
    for (const auto& o : rep.once) row(o);
    write_text_file(csv_path, csv);
  }
  return 0;
}

}  // namespace privrec::cli
