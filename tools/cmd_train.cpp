// privrec train: real training steps on a backend, per-stage time and counted work.
#include <omp.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "kernels/backend.hpp"
#include "kernels/mpi/mpi_library.hpp"
#include "kernels/mpi/sharded_training.hpp"
#include "models/config_error.hpp"
#include "tools/cli_common.hpp"
#include "traces/synthetic_trace.hpp"
#include "traces/trace_file.hpp"

namespace privrec::cli {

namespace {
nlohmann::json stage_json(const StageSummary& s) {
  nlohmann::json j = s.work.to_json();
  j["name"] = stage_name(s.stage);
  j["ms_per_step"] = s.median_ms;
  j["ms_min"] = s.min_ms;
  j["ms_max"] = s.max_ms;
  const double secs = s.median_ms * 1e-3;
  j["achieved_GBps"] = secs > 0 ? static_cast<double>(s.work.bytes()) / secs / 1e9 : 0.0;
  j["achieved_rng_samples_per_s"] = secs > 0 ? static_cast<double>(s.work.rng_samples) / secs : 0.0;
  j["achieved_GFLOPps"] = secs > 0 ? static_cast<double>(s.work.flops) / secs / 1e9 : 0.0;
  return j;
}

void print_row(const StageSummary& s, double total_ms, const char* suffix) {
  const double secs = s.median_ms * 1e-3;
  const double gbps = secs > 0 ? static_cast<double>(s.work.bytes()) / secs / 1e9 : 0;
  const double rng = secs > 0 ? static_cast<double>(s.work.rng_samples) / secs / 1e6 : 0;
  std::printf("%-16s %10.3f %8.1f%% %11s %11s %8.2f %10.1f %8.2f   %.3f..%.3f%s\n", stage_name(s.stage), s.median_ms,
              total_ms > 0 ? 100.0 * s.median_ms / total_ms : 0.0, human_bytes(static_cast<double>(s.work.bytes_read())).c_str(),
              human_bytes(static_cast<double>(s.work.bytes_written())).c_str(), gbps, rng,
              secs > 0 ? static_cast<double>(s.work.flops) / secs / 1e9 : 0.0, s.min_ms, s.max_ms, suffix);
}

// A sharded run's spread: each rank's median per stage (rank 0's table above is the report).
void print_ranks(const TrainReport& rep) {
  std::printf("per rank, median ms (%s; %s):\n%-16s", rep.sharding.c_str(), rep.layout.c_str(), "stage");
  for (int64_t r = 0; r < rep.ranks; ++r) std::printf(" %9s", fmt::format("rank {}", r).c_str());
  std::printf("\n");
  for (const auto& s : rep.stages) {
    std::printf("%-16s", stage_name(s.stage));
    for (const auto& ms : rep.rank_stage_ms) std::printf(" %9.3f", ms[static_cast<size_t>(s.stage)]);
    std::printf("\n");
  }
  std::printf("%-16s", "step");
  for (const double ms : rep.rank_step_ms) std::printf(" %9.3f", ms);
  std::printf("\n");
}

nlohmann::json ranks_json(const TrainReport& rep) {
  nlohmann::json j = {{"ranks", rep.ranks}, {"sharding", rep.sharding}, {"layout", rep.layout}};
  for (int64_t r = 0; r < rep.ranks; ++r) {
    nlohmann::json st = nlohmann::json::object();
    for (size_t s = 0; s < kStages; ++s)
      if (rep.rank_stage_ms[r][s] >= 0) st[stage_name(static_cast<Stage>(s))] = rep.rank_stage_ms[r][s];
    j["per_rank"].push_back({{"rank", r}, {"step_ms", rep.rank_step_ms[r]}, {"stage_ms", st}});
  }
  return j;
}

}  // namespace

int cmd_train(int argc, char** argv) {
  po::options_description opts("privrec train options");
  WorkloadFlags wf;
  AlgorithmFlags af;
  RunFlags run;
  std::string save_path;
  int64_t threads = 0;
  opts.add_options()("help,h", "show this help");
  run.add_to(opts);
  opts.add_options()
    ("threads", po::value(&threads)->default_value(0), "OpenMP threads (0: all cores)")
    ("save-model", po::value(&save_path), "save the trained model (after lazydp's flush) to FILE")
    ("sharding", po::value<std::string>(), "under mpirun: split the tables over the ranks, table_wise (whole tables) or "
     "row_wise (row blocks); the MLPs are replicated, rank 0 reports and writes the outputs")
    ("fit-batch", "dpsgd-b/r: when the batch's per-example gradients do not fit in memory, run the largest batch that does (otherwise such a batch is refused)");
  OutputFlags out;
  out.add_to(opts);
  wf.add_to(opts);
  af.add_to(opts);
  PrivacyFlags pf;
  pf.add_to(opts);
  po::variables_map vm;
  if (!parse(argc, argv, opts, vm,
             "usage: privrec train [--backend cpu|cuda] [--model PRESET|FILE] [--table-scale X] [--algo ALGO] [--steps N] ...\n"
             "Runs real training steps and prints each stage's median time per step, share, traffic and rates."))
    return 0;
  const bool force = vm.count("force") > 0, quiet = vm.count("quiet") > 0;
  const std::string &json_path = out.json, &csv_path = out.csv;
  run.finish(vm);
  const Backend& backend = run.check(100000000, /*every_backend=*/true);
  const int64_t steps = run.steps, warmup = run.warmup;
  const uint64_t seed = run.seed;
  const std::string& trace_path = run.trace;
  if (threads < 0 || threads > 4096) throw InputError(fmt::format("--threads {}: expected 0 .. 4096", threads));
  if (threads > 0) omp_set_num_threads(static_cast<int>(threads));
  for (const std::string* p : {&json_path, &csv_path, static_cast<const std::string*>(&save_path)}) check_output(*p, force);
  const auto sharding = sharding_of(vm.count("sharding") ? vm["sharding"].as<std::string>() : "", run.backend, "train");
  const bool rank0 = mpi::launched_rank() == 0;

  wf.finish(vm);
  pf.finish(vm);
  Workload w = wf.resolve();
  AlgorithmConfig cfg = af.resolve(seed);
  std::unique_ptr<TraceSource> trace;
  std::string note;
  if (!trace_path.empty()) {
    trace = load_trace_file(trace_path, vm, w);
    const int64_t n = trace->num_batches();
    if (steps > n && !quiet)
      std::fprintf(stderr, "[privrec] the trace has %lld batches; steps beyond that start over from its first batch\n",
                   static_cast<long long>(n));
  }
  // The privacy of the training these steps stand for, at the workload's batch (a target epsilon
  // sets the noise before any step runs).
  const privacy::PrivacyReport priv = privacy::account(pf.settings, w, w.batch_size, cfg);
  const MemoryPlan plan = sharding ? MemoryPlan{w.batch_size, ""} : backend.plan_memory(w, cfg.kind);
  if (plan.batch != w.batch_size) {
    if (trace) throw InputError(plan.note + " (the trace fixes the batch; write it with smaller batches)");
    if (!vm.count("fit-batch"))
      throw InputError(plan.note + fmt::format("; pass --batch {} (or --fit-batch to let privrec choose it)", plan.batch));
    note = plan.note + ": running it (--fit-batch)";
    std::fprintf(stderr, "[privrec] %s\n", note.c_str());
    w.batch_size = plan.batch;
  }
  if (!trace) trace = std::make_unique<SyntheticTrace>(w, seed);

  if (!quiet && rank0)
    std::fprintf(stderr, "[privrec] %s, %zu tables, %s of tables, batch %lld, %s, seed %llu, %d threads\n", w.name.c_str(),
                 w.tables.size(), human_bytes(static_cast<double>(w.table_bytes())).c_str(),
                 static_cast<long long>(w.batch_size), algorithm_info(cfg.kind).name,
                 static_cast<unsigned long long>(seed), omp_get_max_threads());
  TrainOptions opt;
  opt.steps = steps;
  opt.warmup = warmup;
  opt.progress = !quiet;
  opt.save_model = save_path;
  opt.save_info = {{"algorithm", cfg.to_json()}, {"steps", steps}, {"trace", trace->describe()}};
  const std::string fingerprint =
      fmt::format("{}|{}|{}|{}|{}|{}", w.to_json().dump(), cfg.to_json().dump(), seed, steps, warmup, trace->describe());
  const TrainReport rep = sharding ? mpi::run_sharded_cpu_training(w, cfg, *trace, opt, *sharding, fingerprint)
                                   : backend.train(w, cfg, *trace, opt);
  if (!rank0) return 0;  // rank 0 reports and writes the outputs

  double total = 0;
  for (const auto& s : rep.stages) total += s.median_ms;
  std::printf("privrec train: %s (%s of tables, batch %lld), %s, backend %s, %lld timed steps of %lld, seed %llu\n",
              w.name.c_str(), human_bytes(static_cast<double>(w.table_bytes())).c_str(),
              static_cast<long long>(rep.batch_size), algorithm_info(cfg.kind).name, run.backend.c_str(),
              static_cast<long long>(rep.measured_steps), static_cast<long long>(steps),
              static_cast<unsigned long long>(seed));
  std::printf("%-16s %10s %9s %11s %11s %8s %10s %8s   %s\n", "stage", "ms/step", "share", "read", "written", "GB/s",
              "Mnormal/s", "GFLOP/s", "min..max ms");
  for (const auto& s : rep.stages) print_row(s, total, "");
  for (const auto& o : rep.once)
    print_row(o.summary, 0, o.before_training ? "   (once, before training)" : "   (once, at the end of training)");
  std::printf("step: %.3f ms median (%.3f..%.3f), %.0f examples/s; loss %.4f -> %.4f\n", rep.step_ms_median,
              rep.step_ms_min, rep.step_ms_max, rep.throughput_examples_per_s, rep.losses.front(), rep.losses.back());
  if (rep.ranks > 1) print_ranks(rep);
  std::printf("%s\n", priv.summary().c_str());

  nlohmann::json j;
  j["command"] = "train";
  j["backend"] = run.backend;
  j["workload"] = w.to_json();
  j["algorithm"] = cfg.to_json();
  j["privacy"] = priv.to_json();
  j["seed"] = seed;
  j["trace"] = trace->describe();
  j["steps"] = steps;
  j["warmup_steps"] = warmup;
  j["measured_steps"] = rep.measured_steps;
  j["batch_size"] = rep.batch_size;
  if (!note.empty()) j["batch_note"] = note;
  j["throughput_examples_per_s"] = rep.throughput_examples_per_s;
  j["step_ms"] = {{"median", rep.step_ms_median}, {"min", rep.step_ms_min}, {"max", rep.step_ms_max}};
  j["setup_s"] = rep.setup_s;
  j["losses"] = rep.losses;
  j["stages"] = nlohmann::json::array();
  for (const auto& s : rep.stages) j["stages"].push_back(stage_json(s));
  for (const auto& o : rep.once) j["once"].push_back(stage_json(o.summary));
  j["extras"] = rep.last_extras;
  if (!rep.gemm.empty()) j["gemm"] = rep.gemm;
  if (rep.ranks > 1) j["distributed"] = ranks_json(rep);
  j["machine"] = machine_json();
  if (!json_path.empty()) write_text_file(json_path, j.dump(2) + "\n");
  if (!csv_path.empty()) {
    std::string csv = "model,algo,batch,table_bytes,stage,ms_per_step,ms_min,ms_max," + WorkCounters::csv_header() +
                      ",throughput_examples_per_s\n";
    auto row = [&](const StageSummary& s) {
      csv += fmt::format("{},{},{},{},{},{},{},{},{},{}\n", w.name, algorithm_info(cfg.kind).name, rep.batch_size,
                         w.table_bytes(), stage_name(s.stage), s.median_ms, s.min_ms, s.max_ms, s.work.csv_values(),
                         rep.throughput_examples_per_s);
    };
    for (const auto& s : rep.stages) row(s);
    for (const auto& o : rep.once) row(o.summary);
    write_text_file(csv_path, csv);
  }
  return 0;
}

}  // namespace privrec::cli
