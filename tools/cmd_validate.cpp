// privrec validate: compare over a held-out case list; how far the model is, per stage and end to
// end, read against how far the measurement is from itself (every case is run R times).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>

#include "kernels/backend.hpp"
#include "kernels/mpi/mpi_library.hpp"
#include "sim/scale_out.hpp"
#include "models/config_error.hpp"
#include "models/sample_stats.hpp"
#include "sim/error_metrics.hpp"
#include "tools/case_list.hpp"
#include "tools/cli_common.hpp"
#include "tools/compare_run.hpp"
#include "traces/synthetic_trace.hpp"

namespace privrec::cli {

namespace {

constexpr const char* kUsage =
    "usage: privrec validate --backend cpu|cuda --hardware PROFILE --cases FILE [--repeats R] [--json FILE]\n"
    "Runs compare on every held-out case R times, in rounds (round 1: cases 1..N, round 2: cases 1..N, ...),\n"
    "so the machine's drift falls on every case alike. Per case and stage the measurement is the median of\n"
    "the R runs, and its spread is (max - min) / median of the R runs, in percent (the JSON adds the median\n"
    "absolute deviation over the median). The model's error is against the median measurement: at the\n"
    "profile's rates, and at the rates probed right before each run (the median of those R modeled times;\n"
    "a processor that is not shared, the GPU, is modeled at the profile's rates only). Per stage, all\n"
    "stages and end to end it reports the measurement's median spread beside the model's median and worst\n"
    "absolute error, Pearson correlation and the share of cases within 10 %, and says in one line whether\n"
    "the median error is within the median spread.\n"
    "Under mpirun (mpirun -np 2 privrec validate; default cases cpu_distributed_cases) every case is a sharded one\n"
    "(\"ranks\" and \"sharding\" keys), measured over the ranks and modeled by the scale-out model on --cluster.\n"
    "With --implementation framework every run is the PyTorch peer's (default cases framework_validation_cases),\n"
    "modeled by the framework implementation on --hardware, a CPU profile.";

constexpr const char* kSpreadDefinition =
    "spread_pct: 100 (max - min) / median of the repeats; mad_pct: 100 median(|x - median|) / median";
constexpr const char* kRatesNowDefinition =
    "the model at the rates probed right before each repeat; per stage and end to end the median of those "
    "modeled times, against the median measurement";

constexpr const char* kDistributedCases = "cpu_distributed_cases";
constexpr const char* kFrameworkCases = "framework_validation_cases";

struct Options {
  std::string backend = kDefaultBackend, hardware, cases_path, cluster = "cpu-epyc-2c-mpi2";
  uint64_t seed = 1;
  int64_t repeats = 3;
  ImplementationFlags impl;
  std::string python = "/usr/bin/python3";
  bool python_defaulted = true;
  OutputFlags out;
  bool quiet = false, force = false, hardware_defaulted = true, cases_defaulted = true, cluster_defaulted = true;
};

// Parses the flags; nothing after --help. InputError for a bad --repeats.
std::optional<Options> parse_options(int argc, char** argv) {
  Options o;
  o.hardware = measured_profile_of(find_backend(o.backend)), o.cases_path = find_backend(o.backend).validation_cases;
  const std::string hardware_help = "the profile to validate: a preset or a JSON file (default: the backend's, " +
                                    backend_defaults([](const Backend& b) { return measured_profile_of(b); }) + ")";
  const std::string cases_help = "held-out cases (none may be a calibration case; default: the backend's, " +
                                 backend_defaults([](const Backend& b) { return b.validation_cases; }) + ")";
  po::options_description opts("privrec validate options");
  opts.add_options()("help,h", "show this help")
    ("backend", po::value(&o.backend)->default_value(o.backend), backend_help().c_str())
    ("hardware", po::value(&o.hardware)->default_value(o.hardware), hardware_help.c_str())
    ("cases", po::value(&o.cases_path)->default_value(o.cases_path), cases_help.c_str())
    ("seed", po::value(&o.seed)->default_value(o.seed), "seed of the cases' models and traces")
    ("cluster", po::value(&o.cluster)->default_value(o.cluster), "under mpirun: the cluster profile of the ranks")
    ("repeats", po::value(&o.repeats)->default_value(o.repeats),
     "runs of every case (at least 1), interleaved in rounds; the measurement is their median and its "
     "spread (max - min) / median");
  o.impl.add_to(opts);
  opts.add_options()("python", po::value(&o.python)->default_value(o.python),
                     "with --implementation framework: the Python that runs the PyTorch peer (must import torch)");
  o.out.add_to(opts);
  po::variables_map vm;
  if (!parse(argc, argv, opts, vm, kUsage)) return std::nullopt;
  if (o.repeats < 1) throw InputError(fmt::format("--repeats {}: expected at least 1 run per case", o.repeats));
  o.quiet = vm.count("quiet") > 0, o.force = vm.count("force") > 0;
  o.hardware_defaulted = vm["hardware"].defaulted(), o.cases_defaulted = vm["cases"].defaulted();
  o.cluster_defaulted = vm["cluster"].defaulted(), o.python_defaulted = vm["python"].defaulted();
  return o;
}

// One held-out case: what it runs, each repeat's measurement, and, after the last round, the
// median measurement with its spread against the two models.
struct CaseRun {
  Case c;
  Workload w;
  AlgorithmConfig cfg;
  std::unique_ptr<SyntheticTrace> trace;
  std::vector<Comparison> repeats;    // measured, and modeled at the rates probed before the repeat
  std::vector<nlohmann::json> rates;  // those rates (the profile's where there is no probe)
  std::vector<sim::Spread> stage_spread;
  sim::Spread e2e_spread;
  Comparison profile, now;  // the median measurement against the model at the profile's rates / rates now
};

// The ranks' cluster when validate runs under mpirun (sharded cases), else nothing.
std::optional<sim::ClusterProfile> g_cluster;
// With --implementation framework: the implementation the PyTorch peer's runs are modeled with, and
// the Python that runs the peer.
struct FrameworkRuns {
  sim::ImplementationProfile impl;
  std::string python;
};
std::optional<FrameworkRuns> g_framework;

// One run of one case: probe the rates (a shared processor), then measure, and model at those
// rates; a sharded case is measured over the ranks and modeled at the cluster's rates.
void measure_once(const Backend& b, const sim::HardwareProfile& hw, CaseRun& run) {
  if (g_cluster) {
    const std::string fingerprint =
        fmt::format("{}|{}|{}|{}|{}|{}", run.c.label(), run.repeats.size(), g_cluster->name, run.w.to_json().dump(),
                    run.cfg.to_json().dump(), run.trace->describe());  // the config JSON carries the seed
    run.repeats.push_back(compare_sharded(run.w, run.cfg, *run.trace, *g_cluster, mpi::parse_sharding(run.c.sharding),
                                          run.c.steps, run.c.warmup, false, fingerprint));
    run.rates.push_back(rates_json(sim::per_device_profile(*g_cluster).device));
    return;
  }
  const std::optional<sim::HardwareProfile> probed = with_rates_now(b, hw);
  sim::HardwareProfile now = probed ? *probed : hw;
  run.rates.push_back(rates_json(now.device));  // the machine's, before any implementation's own rates
  if (!g_framework) {
    run.repeats.push_back(compare(b, run.w, run.cfg, *run.trace, now, run.c.steps, run.c.warmup, false));
    return;
  }
  // The PyTorch peer, modeled by the framework implementation at those rates.
  sim::apply_implementation(now, g_framework->impl);
  try {
    run.repeats.push_back(compare_framework_peer(g_framework->python, run.w, run.cfg, *run.trace, now, run.c.steps,
                                                 run.c.warmup, false));
  } catch (const InputError& e) {
    throw InputError(fmt::format("case '{}': {}", run.c.label(), e.what()));
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(fmt::format("case '{}': {}", run.c.label(), e.what()));
  }
}

// Every case `repeats` times, a round at a time, so the machine's drift over the run is spread over
// every case rather than falling on the cases that happen to run last.
void measure_in_rounds(const Backend& b, const sim::HardwareProfile& hw, std::vector<CaseRun>& runs, int64_t repeats,
                       bool quiet) {
  for (int64_t round = 1; round <= repeats; ++round)
    for (size_t i = 0; i < runs.size(); ++i) {
      measure_once(b, hw, runs[i]);
      if (quiet) continue;
      const Comparison& m = runs[i].repeats.back();
      const nlohmann::json& r = runs[i].rates.back();
      std::fprintf(stderr,
                   "[privrec] round %lld/%lld, case %zu/%zu %s: %.2f ms per step (rates: stream %.0f GB/s, "
                   "normals %.0f M/s, GEMM %.0f GFLOP/s)\n",
                   static_cast<long long>(round), static_cast<long long>(repeats), i + 1, runs.size(),
                   runs[i].c.label().c_str(), m.measured_step_ms, r["stream_GBps"].get<double>(),
                   r["rng_normals_per_s"].get<double>() / 1e6, r["gemm_GFLOPps"].get<double>());
    }
}

// The repeats' models (each at the rates probed before it), their median per stage and end to end,
// against the median measurement `measured`. A stage's bound is that of the repeat whose model is
// nearest the median (the median itself for an odd count).
Comparison median_of_models(const std::vector<Comparison>& reps, const Comparison& measured) {
  Comparison c = measured;
  auto median_of = [&reps](auto field) {
    std::vector<double> v;
    for (const Comparison& r : reps) v.push_back(field(r));
    return median(v);
  };
  for (size_t k = 0; k < c.stages.size(); ++k) {
    StageComparison& s = c.stages[k];
    s.modeled_ms = median_of([k](const Comparison& r) { return r.stages[k].modeled_ms; });
    size_t nearest = 0;
    for (size_t i = 1; i < reps.size(); ++i)
      if (std::abs(reps[i].stages[k].modeled_ms - s.modeled_ms) <
          std::abs(reps[nearest].stages[k].modeled_ms - s.modeled_ms))
        nearest = i;
    s.modeled = reps[nearest].stages[k].modeled;
    s.error_pct = sim::error_pct(s.measured_ms, s.modeled_ms);
  }
  c.modeled_step_ms = median_of([](const Comparison& r) { return r.modeled_step_ms; });
  c.modeled_throughput = median_of([](const Comparison& r) { return r.modeled_throughput; });
  c.error_pct = sim::error_pct(c.measured_step_ms, c.modeled_step_ms);
  return c;
}

// After the last round: the median measurement and its spread, per stage and end to end, and both
// models against it. Where the processor is not shared both models are the profile's.
void finish_case(CaseRun& run, const sim::HardwareProfile& hw, bool probed) {
  Comparison measured;  // median measured times; its model fields are filled below
  const std::vector<StageComparison>& first = run.repeats.front().stages;
  for (size_t k = 0; k < first.size(); ++k) {
    std::vector<double> ms;
    for (const Comparison& r : run.repeats) {
      if (r.stages.size() != first.size() || r.stages[k].stage != first[k].stage)
        throw std::runtime_error(run.c.label() + ": the repeats measured different stages");
      ms.push_back(r.stages[k].measured_ms);
    }
    run.stage_spread.push_back(sim::summarize_repeats(ms));
    StageComparison s;  // the median over the repeats: no step range
    s.stage = first[k].stage, s.measured_ms = run.stage_spread.back().median;
    measured.stages.push_back(s);
  }
  std::vector<double> step_ms;
  for (const Comparison& r : run.repeats) step_ms.push_back(r.measured_step_ms);
  run.e2e_spread = sim::summarize_repeats(step_ms);
  measured.measured_step_ms = run.e2e_spread.median;
  measured.measured_throughput =
      measured.measured_step_ms > 0 ? 1e3 * static_cast<double>(run.w.batch_size) / measured.measured_step_ms : 0;
  run.now = median_of_models(run.repeats, measured);
  run.profile = probed ? remodel(measured, run.w, run.cfg, *run.trace, hw, run.c.steps, run.c.warmup) : run.now;
}

// Measured against modeled pairs of one model over every case: per stage, all stages, end to end.
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
  sim::ErrorSummary stage(const std::string& name) const {
    const auto& mm = by_stage.at(name);
    return sim::summarize_errors(mm.first, mm.second);
  }
  sim::ErrorSummary all_stages() const { return sim::summarize_errors(st_meas, st_model); }
  sim::ErrorSummary end_to_end() const { return sim::summarize_errors(e2e_meas, e2e_model); }
  nlohmann::json to_json() const {
    nlohmann::json by = nlohmann::json::object();
    for (const auto& [name, mm] : by_stage) by[name] = stage(name).to_json();
    return {{"per_stage", all_stages().to_json()}, {"by_stage", by}, {"end_to_end", end_to_end().to_json()}};
  }
};

// The measurement's spreads over every case, grouped as Tally groups the errors.
struct SpreadTally {
  std::vector<sim::Spread> st, e2e;
  std::map<std::string, std::vector<sim::Spread>> by_stage;
  void add(const CaseRun& run) {
    e2e.push_back(run.e2e_spread);
    for (size_t k = 0; k < run.stage_spread.size(); ++k) {
      st.push_back(run.stage_spread[k]);
      by_stage[stage_name(run.profile.stages[k].stage)].push_back(run.stage_spread[k]);
    }
  }
  nlohmann::json to_json() const {
    nlohmann::json by = nlohmann::json::object();
    for (const auto& [name, v] : by_stage) by[name] = sim::summarize_spreads(v).to_json();
    return {{"definition", kSpreadDefinition}, {"per_stage", sim::summarize_spreads(st).to_json()},
            {"by_stage", by}, {"end_to_end", sim::summarize_spreads(e2e).to_json()}};
  }
};

void print_case_table(const std::vector<CaseRun>& runs, int64_t repeats) {
  int w = 40;  // the longest label's width (two-rank cases name their sharding)
  for (const CaseRun& r : runs) w = std::max(w, static_cast<int>(r.c.label().size()));
  std::printf("%-*s %-19s | %-20s | %-20s\n", w, "", fmt::format("median of {} runs", repeats).c_str(),
              "model, profile rates", "model, rates now");
  std::printf("%-*s %11s %7s | %11s %8s | %11s %8s\n", w, "case (end to end)", "measured ms", "spread", "modeled ms",
              "error", "modeled ms", "error");
  for (const CaseRun& r : runs)
    std::printf("%-*s %11.2f %6.1f%% | %11.2f %7.1f%% | %11.2f %7.1f%%\n", w, r.c.label().c_str(),
                r.e2e_spread.median, r.e2e_spread.range_pct, r.profile.modeled_step_ms, r.profile.error_pct,
                r.now.modeled_step_ms, r.now.error_pct);
}

void print_summary_row(const std::string& name, const sim::SpreadSummary& spread, const sim::ErrorSummary& a,
                       const sim::ErrorSummary& b) {
  std::printf("%-16s %6lld | %7.1f%% | %8.1f%% %8.1f%% %7.3f %5.0f%% | %8.1f%% %8.1f%% %7.3f %5.0f%%\n", name.c_str(),
              static_cast<long long>(a.pairs), spread.median_range_pct, a.median_abs_pct, a.worst_abs_pct, a.pearson,
              100 * a.share_within_10pct, b.median_abs_pct, b.worst_abs_pct, b.pearson, 100 * b.share_within_10pct);
}

void print_summary_table(const Tally& profile, const Tally& now, const SpreadTally& spreads) {
  std::printf("\n%-16s %6s | %-8s | %-34s | %-34s\n", "", "", "measured", "model at profile rates",
              "model at rates now");
  std::printf("%-16s %6s | %8s | %9s %9s %7s %6s | %9s %9s %7s %6s\n", "stage", "pairs", "spread", "median",
              "worst", "pearson", "<=10%", "median", "worst", "pearson", "<=10%");
  for (const auto& [name, v] : spreads.by_stage)
    print_summary_row(name, sim::summarize_spreads(v), profile.stage(name), now.stage(name));
  print_summary_row("all stages", sim::summarize_spreads(spreads.st), profile.all_stages(), now.all_stages());
  print_summary_row("end to end", sim::summarize_spreads(spreads.e2e), profile.end_to_end(), now.end_to_end());
  std::printf("(spread: (max - min) / median of each case's repeats, the median over cases; error: |modeled - "
              "measured median| / measured median, the median over cases)\n");
}

// "end to end 4.6 % at profile rates, 3.9 % at rates now, spread 9.0 %: both within the noise", one
// model's figure where both are the profile's.
std::string against_spread(const char* what, double err, double err_now, double spread, bool probed) {
  auto is = [spread](double e) { return e <= spread ? "within" : "above"; };
  if (!probed) return fmt::format("{} {:.1f} %, spread {:.1f} %: {} the noise", what, err, spread, is(err));
  const std::string figures =
      fmt::format("{} {:.1f} % at profile rates, {:.1f} % at rates now, spread {:.1f} %", what, err, err_now, spread);
  if ((err <= spread) == (err_now <= spread)) return fmt::format("{}: both {} the noise", figures, is(err));
  return fmt::format("{}: profile rates {} the noise, rates now {} it", figures, is(err), is(err_now));
}

// The one line a reader needs: is the model's error above the noise it was measured through?
nlohmann::json print_verdict(const Tally& profile, const Tally& now, const SpreadTally& spreads, int64_t repeats,
                             bool probed) {
  const double e2e = profile.end_to_end().median_abs_pct, e2e_now = now.end_to_end().median_abs_pct;
  const double st = profile.all_stages().median_abs_pct, st_now = now.all_stages().median_abs_pct;
  const double e2e_spread = sim::summarize_spreads(spreads.e2e).median_range_pct;
  const double st_spread = sim::summarize_spreads(spreads.st).median_range_pct;
  if (repeats < 2) {
    std::printf("model error against measurement spread: not known with --repeats 1 (one run per case has no "
                "spread); median error end to end %.1f %%, all stages %.1f %%\n", e2e, st);
  } else {
    std::printf("model error against measurement spread (medians over cases): %s; %s\n",
                against_spread("end to end", e2e, e2e_now, e2e_spread, probed).c_str(),
                against_spread("all stages", st, st_now, st_spread, probed).c_str());
  }
  auto entry = [repeats](double err, double err_now, double spread) {
    const auto within = [&](double e) { return repeats < 2 ? nlohmann::json(nullptr) : nlohmann::json(e <= spread); };
    return nlohmann::json{{"median_abs_error_pct", err},      {"median_abs_error_pct_rates_now", err_now},
                          {"median_spread_pct", spread},      {"within_spread", within(err)},
                          {"within_spread_rates_now", within(err_now)}};
  };
  return {{"end_to_end", entry(e2e, e2e_now, e2e_spread)}, {"all_stages", entry(st, st_now, st_spread)}};
}

// Per case: the median comparison (the stages' measured_ms are medians) with each stage's spread,
// the model at rates now, and every repeat as measured and modeled at its probed rates.
nlohmann::json case_json(const CaseRun& r) {
  nlohmann::json jc = r.profile.to_json();
  for (size_t k = 0; k < r.stage_spread.size(); ++k) jc["stages"][k]["measured"] = r.stage_spread[k].to_json("ms");
  jc["end_to_end"]["measured"] = r.e2e_spread.to_json("ms");
  jc["case"] = r.c.to_json();
  jc["label"] = r.c.label();
  jc["rates_now"] = r.now.to_json();
  jc["repeats"] = nlohmann::json::array();
  for (size_t i = 0; i < r.repeats.size(); ++i) {
    nlohmann::json rep = r.repeats[i].to_json();  // measured in round i + 1, modeled at the rates before it
    rep["round"] = i + 1;
    rep["rates"] = r.rates[i];
    jc["repeats"].push_back(rep);
  }
  return jc;
}

std::string csv_text(const std::vector<CaseRun>& runs) {
  std::string csv =
      "case,stage,repeats,measured_median_ms,measured_spread_pct,measured_mad_pct,modeled_ms,error_pct,"
      "modeled_ms_rates_now,error_pct_rates_now\n";
  auto row = [&csv](const CaseRun& r, const char* stage, const sim::Spread& m, double modeled, double err,
                    double modeled_now, double err_now) {
    csv += fmt::format("{},{},{},{},{},{},{},{},{},{}\n", r.c.label(), stage, m.repeats, m.median, m.range_pct,
                       m.mad_pct, modeled, err, modeled_now, err_now);
  };
  for (const CaseRun& r : runs) {
    for (size_t k = 0; k < r.stage_spread.size(); ++k) {
      const StageComparison &s = r.profile.stages[k], &n = r.now.stages[k];
      row(r, stage_name(s.stage), r.stage_spread[k], s.modeled_ms, s.error_pct, n.modeled_ms, n.error_pct);
    }
    row(r, "end_to_end", r.e2e_spread, r.profile.modeled_step_ms, r.profile.error_pct, r.now.modeled_step_ms,
        r.now.error_pct);
  }
  return csv;
}

// The cases, refused where one was used to calibrate the profile (a fitted case cannot validate it)
// or does not fit; each with its workload, algorithm and trace.
std::vector<CaseRun> load_runs(const Options& o, const Backend& b, const sim::HardwareProfile& hw) {
  std::vector<CaseRun> runs;
  for (const Case& c : load_case_list(o.cases_path)) {
    // The framework's runs validate the implementation profile's fit; privrec's the hardware profile's.
    const nlohmann::json& fitted = g_framework ? g_framework->impl.provenance : hw.provenance;
    const std::string& fitted_name = g_framework ? g_framework->impl.name : hw.name;
    if (fitted.is_object() && fitted.contains("calibration_cases"))
      for (const auto& used : fitted["calibration_cases"])
        if (used == c.label())
          throw InputError(fmt::format("{}: case '{}' was used to calibrate {}; validate on held-out cases",
                                       o.cases_path, c.label(), fitted_name));
    const int ranks = mpi::launched_ranks();
    if (g_framework && c.ranks != 1)
      throw InputError(fmt::format("{}: case '{}' runs on {} ranks; the PyTorch peer runs on one process", o.cases_path,
                                   c.label(), c.ranks));
    if (c.ranks != ranks)
      throw InputError(ranks > 1 ? fmt::format("{}: case '{}' is not a {}-rank case; under mpirun every case needs "
                                               "\"ranks\": {} and a \"sharding\" (e.g. --cases cpu_distributed_cases)",
                                               o.cases_path, c.label(), ranks, ranks)
                                 : fmt::format("{}: case '{}' runs on {} ranks: start validate with `mpirun -np {} "
                                               "build/privrec validate --cases {}`",
                                               o.cases_path, c.label(), c.ranks, c.ranks, o.cases_path));
    CaseRun r{c, c.workload(), c.algorithm(o.seed), nullptr, {}, {}, {}, {}, {}, {}};
    if (g_framework) {
      try {
        check_framework_case(r.cfg, c.steps, c.warmup);
      } catch (const InputError& e) {
        throw InputError(fmt::format("{}: case '{}': {}", o.cases_path, c.label(), e.what()));
      }
    }
    require_fits(b, r.w, r.cfg);
    r.trace = std::make_unique<SyntheticTrace>(r.w, o.seed);
    runs.push_back(std::move(r));
  }
  return runs;
}

}  // namespace

int cmd_validate(int argc, char** argv) {
  std::optional<Options> parsed = parse_options(argc, argv);
  if (!parsed) return 0;
  Options& o = *parsed;
  const Backend& b = find_backend(o.backend);
  if (o.cases_defaulted) o.cases_path = b.validation_cases;
  // Under mpirun the default cases are the two-rank ones (configs/validation/cpu_distributed_cases.json).
  if (o.cases_defaulted && mpi::launched_ranks() > 1) o.cases_path = kDistributedCases;
  if (o.hardware_defaulted && b.measured_profile.empty())
    throw InputError(fmt::format(
        "--backend {}: give --hardware, the {} profile to validate (privrec calibrate --backend {})", b.name,
        b.processor, b.name));
  if (o.hardware_defaulted) o.hardware = measured_profile_of(b);
  b.require_available();  // first of all: can it run here (is there a device)?
  for (const std::string* p : {&o.out.json, &o.out.csv}) check_output(*p, o.force);
  const sim::HardwareProfile hw = sim::load_hardware_profile(o.hardware);
  const sim::ImplementationProfile impl = o.impl.resolve(hw.name);
  const bool sharded = mpi::launched_ranks() > 1, rank0 = mpi::launched_rank() == 0;
  // validate measures privrec's kernels (fused) or the PyTorch peer (framework), as compare does.
  if (impl.kernels == "framework") {
    if (sharded) throw InputError("--implementation " + impl.name + ": not under mpirun (the PyTorch peer runs on one process)");
    check_framework_hardware(b, hw);
    g_framework = FrameworkRuns{impl, o.python};
    if (o.cases_defaulted) o.cases_path = kFrameworkCases;
  } else if (!impl.kernels.empty()) {
    throw InputError("--implementation " + impl.name + ": validate measures privrec's kernels (fused) or the PyTorch peer "
                     "(an implementation with \"kernels\": \"framework\")");
  } else if (!o.python_defaulted) {
    throw InputError("--python: used with --implementation framework only");
  }
  std::vector<CaseRun> runs = load_runs(o, b, hw);
  if (g_framework) check_framework_python(o.python);  // once, after the cases' checks and before any run
  // What the medians are modeled with at the profile's rates: the hardware as the implementation runs on it.
  sim::HardwareProfile modeled = hw;
  sim::apply_implementation(modeled, impl);
  if (sharded) {
    if (!mpi::load_mpi().ok()) throw InputError(mpi::load_mpi().why_not);
    g_cluster = sim::load_cluster_profile(o.cluster);
    if (g_cluster->devices() != mpi::launched_ranks())
      throw InputError(fmt::format("--cluster {}: it has {} devices and mpirun started {} ranks", o.cluster,
                                   g_cluster->devices(), mpi::launched_ranks()));
  } else if (!o.cluster_defaulted) {
    throw InputError("--cluster: used under mpirun only");
  }
  const bool probe = b.shared_processor && !sharded;  // the ranks are modeled at the cluster's rates

  // Each case is modeled twice: with the profile's rates as written, and with the profile's rates
  // re-measured by a half-second probe right before each run (efficiencies unchanged). On a shared
  // host the machine drifts between runs; the second isolates the model's error from that drift,
  // and the repeats' spread shows how much drift is left within a case.
  const double stream_before = probe ? b.stream_GBps_now() : 0.0;
  if (rank0)
    std::printf("privrec validate: %s%s on %zu held-out cases from %s, measured on the %s%s, %lld runs each in rounds\n",
                sharded ? g_cluster->name.c_str() : hw.name.c_str(),
                g_framework ? fmt::format(" with the {} implementation", impl.name).c_str() : "", runs.size(),
                o.cases_path.c_str(), g_framework ? "CPU by the PyTorch peer" : o.backend.c_str(),
                sharded ? fmt::format(" over {} ranks", mpi::launched_ranks()).c_str() : "",
                static_cast<long long>(o.repeats));
  std::fflush(stdout);
  measure_in_rounds(b, hw, runs, o.repeats, o.quiet || !rank0);
  if (!rank0) return 0;  // rank 0 reports and writes
  const double stream_after = probe ? b.stream_GBps_now() : 0.0;
  Tally profile_rates, rates_now;
  SpreadTally spreads;
  nlohmann::json jcases = nlohmann::json::array();
  for (CaseRun& r : runs) {
    finish_case(r, modeled, probe);
    profile_rates.add(r.profile), rates_now.add(r.now), spreads.add(r);
    jcases.push_back(case_json(r));
  }
  print_case_table(runs, o.repeats);
  print_summary_table(profile_rates, rates_now, spreads);
  if (probe)
    std::printf("machine check: streaming read+write %.1f GB/s before the cases, %.1f GB/s after; the profile says "
                "%.1f GB/s\n", stream_before, stream_after, hw.device.stream_GBps);
  const nlohmann::json verdict = print_verdict(profile_rates, rates_now, spreads, o.repeats, probe);

  // Written only now, after every run: an interrupted validate leaves no output file behind.
  if (!o.out.json.empty()) {
    nlohmann::json j = {{"command", "validate"}, {"backend", o.backend}, {"repeats", o.repeats},
                        {"stream_GBps_now", {{"before", stream_before}, {"after", stream_after},
                                             {"profile", hw.device.stream_GBps}}},
                        {"hardware", hw.to_json()}, {"cases_file", o.cases_path}, {"seed", o.seed}};
    if (g_framework) j["implementation"] = impl.to_json(), j["backend"] = "pytorch-cpu";
    if (sharded) j["cluster"] = g_cluster->to_json(), j["ranks"] = mpi::launched_ranks();
    j.update(profile_rates.to_json());  // per_stage, by_stage, end_to_end: at the profile's rates
    j["rates_now"] = rates_now.to_json();
    j["rates_now"]["definition"] = kRatesNowDefinition;
    j["measurement_spread"] = spreads.to_json();
    j["model_error_against_spread"] = verdict;
    j["cases"] = jcases;
    j["machine"] = machine_json();
    write_text_file(o.out.json, j.dump(2) + "\n");
  }
  if (!o.out.csv.empty()) write_text_file(o.out.csv, csv_text(runs));
  return 0;
}

}  // namespace privrec::cli
