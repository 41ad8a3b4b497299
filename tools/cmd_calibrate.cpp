// privrec calibrate: measures this machine's rates with microbenchmarks, fits the caches' row
// bandwidths to gathers over working sets of several sizes, runs the calibration cases for real,
// fits each stage's efficiency, and writes a measured hardware profile.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <set>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>

#include "kernels/backend.hpp"
#include "models/config_error.hpp"
#include "models/sample_stats.hpp"
#include "sim/calibration.hpp"
#include "tools/case_list.hpp"
#include "tools/calibrate_framework.hpp"
#include "tools/calibrate_network.hpp"
#include "tools/cli_common.hpp"
#include "tools/compare_run.hpp"
#include "traces/synthetic_trace.hpp"

namespace privrec::cli {

namespace {
using Say = std::function<void(const std::string&)>;

std::vector<sim::FootprintPoint> curve_of(const BackendRates& r) {
  std::vector<sim::FootprintPoint> c;
  for (const auto& p : r.footprint_curve) c.push_back({p.footprint_MB, p.row_B, p.GBps});
  return c;
}

sim::CostCurve cost_curve_of(const std::vector<BackendRates::CostPoint>& points_by_row) {
  std::map<double, std::vector<std::pair<double, double>>> by_row;
  for (const auto& p : points_by_row) by_row[p.row_B].emplace_back(p.fraction, p.factor);
  sim::CostCurve c;
  for (auto& [row, points] : by_row) {
    std::sort(points.begin(), points.end());
    c.by_row_B.emplace_back(row, std::move(points));
  }
  return c;
}

std::vector<sim::CacheLevel> detected_caches(const BackendRates& r) {
  std::vector<sim::CacheLevel> caches;
  for (const auto& c : r.caches) caches.push_back({c.name, c.capacity_MB, c.stream_GBps > 0 ? c.stream_GBps : r.stream_GBps, 0, {}});
  return caches;
}

// The caches' row bandwidths and effective capacities fitted to the footprint curve
// (sim::fit_memory_levels_and_capacities), or nothing where the backend measured no curve or
// detected no cache (memory then keeps the gathers from the large buffer, as before caches were
// modeled) or the curve cannot be fitted (said, not fatal).
std::optional<sim::LevelFit> fit_levels(const BackendRates& r, const Say& say) {
  if (r.footprint_curve.empty() || r.caches.empty()) return std::nullopt;
  try {
    sim::LevelFit f = sim::fit_memory_levels_and_capacities(curve_of(r), detected_caches(r), cost_curve_of(r.miss_cost_curve));
    for (const auto& n : f.notes) say("cache fit: " + n);
    return f;
  } catch (const std::invalid_argument& e) {
    say(std::string("cache fit skipped (memory keeps the large buffer's gathers): ") + e.what());
    return std::nullopt;
  }
}

// The profile's device from the full microbenchmarks; with a fit, memory's row-random curve is the
// fitted one (memory alone, the caches' share taken out) and the caches are listed in front of it.
sim::HardwareProfile profile_from_rates(const Backend& b, const BackendRates& r, const std::optional<sim::LevelFit>& fit,
                                        const std::string& name) {
  sim::HardwareProfile h;
  h.name = name;
  h.tables_in = "device";
  h.kernels = b.kernel_family;  // the profile models the kernels of the backend it was measured on
  h.description = r.processor + ", measured by privrec calibrate";
  sim::ProcessorProfile& d = h.device;
  d.memory_GB = r.memory_GB;
  d.stream_GBps = r.stream_GBps;
  d.random_GBps = r.random_GBps;  // 128 B rows
  d.random_GBps_by_row_B = r.random_GBps_by_row_B;
  d.memory_miss_cost = cost_curve_of(r.miss_cost_curve);
  d.sorted_visit_cost = cost_curve_of(r.sorted_visit_curve);
  if (fit) {
    d.random_GBps = fit->memory_random_GBps;
    d.random_GBps_by_row_B = fit->memory_random_GBps_by_row_B;
    d.caches = fit->caches;
  }
  d.gemm_GFLOPps = r.gemm_GFLOPps;
  d.vector_GFLOPps = r.vector_GFLOPps;
  d.rng_normals_per_s = r.rng_normals_per_s;
  d.sort_ops_per_s = r.sort_ops_per_s;
  d.launch_overhead_us = r.launch_overhead_us;
  d.first_touch_GBps = r.first_touch_GBps;
  // The link alone (no host: the host's own figures are not measured), for the batch's upload.
  h.link_GBps = r.link_GBps;
  h.link_latency_us = r.link_latency_us;
  return h;
}

// The profile's rates: the median of the probes taken between the cases, so they are measured the
// way the fit saw them (a probe right after a training step reads lower than the quiet full
// benchmark: caches, clocks). Memory's row-random curve keeps the full benchmark's shape (fitted
// or measured), rescaled to the probes' 128 B figure over the large buffer: to what memory must do
// for the profile's levels to reproduce that figure (the caches' small share at that footprint
// taken out; none without caches). Each cache's row-random figures are rescaled likewise to the
// median of what the probes made of it, so the profile holds the rates the cases were fitted at.
void rescale_to_probes(sim::ProcessorProfile& d, const std::vector<sim::ProcessorProfile>& probes,
                       double probe_footprint_MB) {
  if (probes.empty()) return;
  auto median_of = [&](auto field) {
    std::vector<double> v;
    for (const auto& p : probes) v.push_back(field(p));
    return median(std::move(v));
  };
  d.stream_GBps = median_of([](const sim::ProcessorProfile& p) { return p.stream_GBps; });
  const double probed_128 = median_of([](const sim::ProcessorProfile& p) { return p.random_GBps_for(128.0); });
  const double ratio = sim::level_random_GBps_matching(d, d.caches.size(), probe_footprint_MB, 128.0, probed_128) /
                       d.random_GBps_for(128.0);
  for (auto& [bytes, gbps] : d.random_GBps_by_row_B) gbps *= ratio;
  d.random_GBps *= ratio;
  for (size_t l = 0; l < d.caches.size(); ++l) {
    if (probes.front().caches.size() != d.caches.size()) break;
    const double now = median_of([&](const sim::ProcessorProfile& p) { return p.caches[l].random_GBps_for(128.0); });
    const double r = now / d.caches[l].random_GBps_for(128.0);
    for (auto& [bytes, gbps] : d.caches[l].random_GBps_by_row_B) gbps *= r;
    d.caches[l].random_GBps *= r;
  }
  d.gemm_GFLOPps = median_of([](const sim::ProcessorProfile& p) { return p.gemm_GFLOPps; });
  d.vector_GFLOPps = median_of([](const sim::ProcessorProfile& p) { return p.vector_GFLOPps; });
  d.rng_normals_per_s = median_of([](const sim::ProcessorProfile& p) { return p.rng_normals_per_s; });
  d.sort_ops_per_s = median_of([](const sim::ProcessorProfile& p) { return p.sort_ops_per_s; });
  d.launch_overhead_us = median_of([](const sim::ProcessorProfile& p) { return p.launch_overhead_us; });
}

// What the cache fit saw and made of it, for the provenance: enough to refit it by hand.
nlohmann::json footprint_json(const BackendRates& r, const std::optional<sim::LevelFit>& fit) {
  nlohmann::json j = {{"method", "row-random gathers (the bag kernel's access: uniformly random rows, all threads) over "
                                 "working sets of several sizes; per row size, t(F) = sum_L w_L(F) / bw_L with "
                                 "s_L(F) = min(1, C_L/F) - min(1, C_{L-1}/F), w_L = s_L for the caches and "
                                 "s_M(F) x the miss-cost factor at s_M(F) for memory "
                                 "(device.memory_miss_cost_by_row_B), fitted by non-negative least squares on "
                                 "the relative error with bandwidths that never rise with distance; each cache's capacity "
                                 "fitted too where the curve clearly prefers a smaller one than detected "
                                 "(sim::fit_memory_levels_and_capacities); each point the better of two passes"},
                      {"large_buffer_MB", r.random_footprint_MB},
                      {"random_GBps_by_row_B_large_buffer", nlohmann::json::object()},
                      {"detected_caches", nlohmann::json::array()},
                      {"points", nlohmann::json::array()}};
  for (const auto& [row, gbps] : r.random_GBps_by_row_B) j["random_GBps_by_row_B_large_buffer"][fmt::format("{}", row)] = gbps;
  for (const auto& c : r.caches)
    j["detected_caches"].push_back({{"name", c.name}, {"capacity_MB", c.capacity_MB}, {"stream_GBps", c.stream_GBps},
                                    {"detected", c.detected}});
  for (const auto& p : r.footprint_curve)
    j["points"].push_back({{"footprint_MB", p.footprint_MB}, {"row_B", p.row_B}, {"GBps", p.GBps}});
  if (fit) {
    j["fit_median_abs_error_pct"] = fit->median_abs_error_pct;
    j["fit_notes"] = fit->notes;
    j["fit_capacities_MB"] = nlohmann::json::object();
    for (const auto& c : fit->caches) j["fit_capacities_MB"][c.name] = c.capacity_MB;
    // The fit at the detected sizes, for comparison (the profile has the fit above).
    const sim::LevelFit at_detected = sim::fit_memory_levels(curve_of(r), detected_caches(r), cost_curve_of(r.miss_cost_curve));
    j["fit_at_detected_capacities_median_abs_error_pct"] = at_detected.median_abs_error_pct;
  } else {
    j["fit"] = "none: memory keeps the large buffer's gathers";
  }
  return j;
}

// The curve as a table (footprint by row size) and the levels fitted to it.
void print_footprint(const BackendRates& r, const std::optional<sim::LevelFit>& fit) {
  for (const auto& c : r.caches)
    std::printf("%s: %.2f MB (%s), stream %.1f GB/s\n", c.name.c_str(), c.capacity_MB, c.detected.c_str(), c.stream_GBps);
  std::map<double, std::map<double, double>> table;  // footprint -> row bytes -> GB/s
  std::set<double> rows;
  for (const auto& p : r.footprint_curve) table[p.footprint_MB][p.row_B] = p.GBps, rows.insert(p.row_B);
  std::printf("%14s", "footprint MB");
  for (double row : rows) std::printf(" %8.0f B", row);
  std::printf("   (row-random GB/s)\n");
  for (const auto& [footprint, by_row] : table) {
    std::printf("%14.2f", footprint);
    for (double row : rows) {
      if (by_row.count(row)) std::printf(" %10.2f", by_row.at(row));
      else std::printf(" %10s", "-");
    }
    std::printf("\n");
  }
  if (!fit) return;
  auto print_level = [&](const std::string& name, const std::vector<std::pair<double, double>>& by_row) {
    std::printf("%-14s", name.c_str());
    for (const auto& [row, gbps] : by_row) std::printf(" %4.0f B %6.2f", row, gbps);
    std::printf("  GB/s\n");
  };
  std::printf("fitted row-random bandwidth (median error over the curve %.1f %%):\n", fit->median_abs_error_pct);
  for (const auto& c : fit->caches) print_level(fmt::format("{} {:.3g} MB", c.name, c.capacity_MB), c.random_GBps_by_row_B);
  print_level("memory", fit->memory_random_GBps_by_row_B);
  std::printf("(at the detected capacities the median error is %.1f %%)\n",
              sim::fit_memory_levels(curve_of(r), detected_caches(r), cost_curve_of(r.miss_cost_curve)).median_abs_error_pct);
  for (const auto& n : fit->notes) std::printf("  note: %s\n", n.c_str());
}

// Runs every case, modeled at the rates a probe measures right before it: the fit sees the machine
// as it ran the case (a shared host drifts), and validate models its cases the same way. A
// processor that is not shared (the GPU) has its cases modeled at the rates measured up front.
// With repeats, every case runs once per round (rounds, not back to back: drift falls on all cases
// alike), and every run is an observation of its own, modeled at its own probe.
sim::StageFit run_cases(const Backend& b, const std::vector<Case>& cases, const sim::HardwareProfile& h, uint64_t seed,
                        int64_t repeats, std::vector<sim::ProcessorProfile>& probes, const Say& say) {
  std::vector<sim::StageObservation> obs;
  for (size_t n = 0; n < cases.size() * static_cast<size_t>(repeats); ++n) {
    const size_t i = n % cases.size();
    const Case& c = cases[i];
    const Workload w = c.workload();
    const AlgorithmConfig cfg = c.algorithm(seed);
    require_fits(b, w, cfg);
    SyntheticTrace trace(w, seed);
    const std::optional<sim::HardwareProfile> probed = with_rates_now(b, h);
    if (probed) probes.push_back(probed->device);
    const Comparison cmp = compare(b, w, cfg, trace, probed ? *probed : h, c.steps, c.warmup, false);
    for (const auto& s : cmp.stages) obs.push_back({s.stage, s.measured_ms, s.modeled, static_cast<int64_t>(i)});
    say(fmt::format("round {}/{}, case {}/{} {}: measured {:.1f} ms/step, roofline {:.1f} ms", n / cases.size() + 1,
                    repeats, i + 1, cases.size(), c.label(), cmp.measured_step_ms, cmp.modeled_step_ms));
  }
  return sim::fit_calibration(obs);
}

nlohmann::json provenance(const Backend& b, const BackendRates& r, const std::optional<sim::LevelFit>& levels,
                          const sim::StageFit& fit, const sim::ProcessorProfile& full, const std::string& cases_path,
                          const std::vector<Case>& cases, const std::string& command) {
  nlohmann::json case_labels = nlohmann::json::array();
  for (const auto& c : cases) case_labels.push_back(c.label());
  const std::string rates_method =
      b.shared_processor ? "the median of the half-second probes taken right before each calibration case (random "
                           "bandwidth by row size: memory's curve from the full microbenchmarks, rescaled so that the "
                           "profile's levels reproduce the probes' 128 B figure over the large buffer; the full "
                           "microbenchmarks are under full_benchmark); device.sorted_visit_cost_by_row_B: rows of the full "
                           "microbenchmarks' 1 GiB buffer read and written in ascending order, a share of them "
                           "(the density, 1/128 .. 1) at 128 and 512 B, each run paired with a stream pass over the buffer "
                           "just before it; the median of five runs' time over the time the same bytes take at their pass's "
                           "rate, then the least-squares non-increasing fit in the density"
                         : r.method;
  const std::string caches_method =
      levels ? "caches: detected sizes (or the smaller effective capacities the gathers show, see footprint_curve), "
               "streaming over a quarter of each, row-random bandwidths fitted with memory's to gathers over working sets "
               "of several sizes (footprint_curve), not rescaled by the probes; "
             : "";
  const std::string link_method =
      r.link_GBps > 0 ? "link: the batch's way up as a training step sends it (pageable memory gathered into "
                        "page-locked memory by the host's threads, one asynchronous copy), 8 bytes for the latency "
                        "and 64 MiB for the bandwidth, wall clock, median of five; "
                      : "";
  const std::string method =
      "rates: " + rates_method + "; " + caches_method + link_method +
      "stage_efficiency, stage_fixed_ms, stage_bag_ns and stage_launch_us: per stage, measured - modeled overheads = "
      "efficiency x combined terms (at the rates the case was modeled with) + fixed + ns per bag x bags + us per launch "
      "x launches (the bag cost, then the launch cost, each only where it lowers the objective by a quarter), least "
      "squares on the relative error over the calibration cases; "
      "overlap_fraction: the grid value (0 .. 1 by 0.05) whose fit has the smallest median error over those cases; " +
      fmt::format("stage_overlap: for a stage seen in {} distinct cases or more, the grid value (and that fit's "
                  "factors) with the smallest median error over the stage's own observations",
                  sim::kOwnOverlapCases);
  nlohmann::json machine = machine_json();
  machine.update(b.device_json());  // the GPU, where there is one
  nlohmann::json p = {{"source", "measured"},
                      {"machine", machine},
                      {"date", utc_now()},
                      {"command", command},
                      {"git_revision", git_revision()},
                      {"calibration_cases_file", cases_path},
                      {"calibration_cases", case_labels},
                      {"method", method},
                      {"calibration_median_abs_error_pct", fit.median_abs_error_pct},
                      {"full_benchmark", rates_json(full)}};
  if (!r.footprint_curve.empty()) p["footprint_curve"] = footprint_json(r, levels);
  return p;
}

void print_summary(const sim::HardwareProfile& h, const sim::StageFit& fit) {
  const sim::ProcessorProfile& d = h.device;
  std::printf("stream %.1f GB/s, random (128 B rows) %.1f GB/s, GEMM %.1f GFLOP/s, vector %.1f GFLOP/s, normals %.0f M/s, "
              "sorting %.0f M key-steps/s, parallel region %.2f us\n",
              d.stream_GBps, d.random_GBps, d.gemm_GFLOPps, d.vector_GFLOPps, d.rng_normals_per_s / 1e6,
              d.sort_ops_per_s / 1e6, d.launch_overhead_us);
  if (d.first_touch_GBps > 0)
    std::printf("first touch of fresh memory %.2f GB/s (%.2f us per 4 KB page)\n", d.first_touch_GBps,
                4096.0 / (d.first_touch_GBps * 1e3));
  for (const auto& c : d.caches)
    std::printf("%s %.2f MB: stream %.1f GB/s, random (128 B rows) %.1f GB/s\n", c.name.c_str(), c.capacity_MB,
                c.stream_GBps, c.random_GBps);
  if (h.link_GBps > 0) std::printf("link %.1f GB/s, %.1f us latency\n", h.link_GBps, h.link_latency_us);
  std::printf("overlap fraction %.2f (median error over the calibration stages %.1f %%)\n", fit.overlap_fraction,
              fit.median_abs_error_pct);
  if (const std::string w = sim::unfitted_warning(fit); !w.empty()) std::fprintf(stderr, "privrec calibrate: %s\n", w.c_str());
  for (const auto& [stage, f] : h.stage_efficiency) {
    std::string extra;
    if (h.stage_bag_ns.count(stage)) extra += fmt::format(", {:.1f} ns per bag", h.stage_bag_ns.at(stage));
    if (h.stage_launch_us.count(stage)) extra += fmt::format(", {:.2f} us per launch", h.stage_launch_us.at(stage));
    if (h.stage_overlap.count(stage)) extra += fmt::format(", overlap {:.2f}", h.stage_overlap.at(stage));
    std::printf("  %-16s efficiency %.3f, fixed %.3f ms%s\n", stage.c_str(), f, h.stage_fixed_ms.at(stage), extra.c_str());
  }
}

// --benchmarks-only takes none of the flags that describe the profile or its cases.
void refuse_with_benchmarks_only(const po::variables_map& vm) {
  for (const char* flag : {"out", "name", "force"})
    if (vm.count(flag)) throw InputError(fmt::format("--{}: not with --benchmarks-only (it writes nothing)", flag));
  for (const char* flag : {"cases", "seed", "repeats"})
    if (!vm[flag].defaulted()) throw InputError(fmt::format("--{}: not with --benchmarks-only (it runs no case)", flag));
}
}  // namespace

int cmd_calibrate(int argc, char** argv) {
  po::options_description opts("privrec calibrate options");
  std::string backend = kDefaultBackend, out_path, name, cases_path = find_backend(backend).calibration_cases;
  std::string implementation = "fused", python = "/usr/bin/python3";
  uint64_t seed = 1;
  int64_t repeats = 2;
  const std::string cases_help = "calibration cases (never the validation cases; default: the backend's, " +
                                 backend_defaults([](const Backend& b) { return b.calibration_cases; }) + ")";
  opts.add_options()("help,h", "show this help")
    ("backend", po::value(&backend)->default_value(backend), backend_help().c_str())
    ("out", po::value(&out_path), "where to write the profile (required), e.g. configs/hardware/NAME.json")
    ("name", po::value(&name), "the profile's name (default: the output file's name)")
    ("cases", po::value(&cases_path)->default_value(cases_path), cases_help.c_str())
    ("seed", po::value(&seed)->default_value(seed), "seed of the cases' models and traces")
    ("repeats", po::value(&repeats)->default_value(repeats),
     "runs of every case, in rounds; each run is an observation of the fit (this VM drifts between runs)")
    ("force", "overwrite an existing profile")
    ("network", "under mpirun: time the all-to-all and all-reduce between the ranks and write a cluster profile "
                "(configs/clusters/NAME.json) whose link is fitted to them; --hardware names the ranks' processor")
    ("hardware", po::value<std::string>(), "with --network: the hardware profile the ranks split; with --implementation "
                                           "framework: the one the peer's cases are modeled on (default: the backend's measured profile)")
    ("implementation", po::value(&implementation)->default_value(implementation),
     "fused: this machine's hardware profile (microbenchmarks, then privrec's kernels on the cases); framework: run the "
     "PyTorch peer on configs/validation/framework_calibration_cases.json and write an implementation profile "
     "(configs/implementations/NAME.json)")
    ("python", po::value(&python)->default_value(python), "with --implementation framework: the Python that imports torch")
    ("benchmarks-only", "only the microbenchmarks and the cache fit: print the footprint curve and the fitted levels, "
                        "run no case, write nothing")
    ("quiet,q", "no progress on stderr");
  po::variables_map vm;
  if (!parse(argc, argv, opts, vm,
             "usage: privrec calibrate --backend cpu|cuda --out configs/hardware/NAME.json [--cases FILE]\n"
             "       privrec calibrate --backend cpu|cuda --benchmarks-only\n"
             "       mpirun -np 2 privrec calibrate --network --out configs/clusters/NAME.json\n"
             "Microbenchmarks this machine (streaming and random-row bandwidth, the latter over working sets from\n"
             "cache-resident to memory-sized so each cache's row bandwidth is fitted, GEMM and vector rates, normals\n"
             "per second, parallel-region overhead), runs the calibration cases, fits per-stage efficiencies and writes\n"
             "a measured hardware profile."))
    return 0;
  const bool quiet = vm.count("quiet") > 0, benchmarks_only = vm.count("benchmarks-only") > 0;
  const Backend& b = find_backend(backend);
  if (implementation != "fused" && vm.count("network"))
    throw InputError("--implementation " + implementation + ": not with --network (which fits a cluster's link)");
  if (implementation == "fused" && !vm["python"].defaulted())
    throw InputError("--python: used with --implementation framework only");
  if (vm.count("network")) {
    for (const char* f : {"cases", "seed", "benchmarks-only"})
      if (vm.count(f) && !vm[f].defaulted()) throw InputError(std::string("--") + f + ": not used with --network");
    if (!b.runs_on_host) throw InputError("--network measures the ranks of this machine: --backend " + backend + " is not it");
    NetworkCalibration n;
    n.out = out_path;
    n.name = name.empty() ? std::filesystem::path(out_path).stem().string() : name;
    n.hardware = vm.count("hardware") ? vm["hardware"].as<std::string>() : measured_profile_of(b);
    n.force = vm.count("force") > 0, n.quiet = quiet;
    n.repeats = static_cast<int>(std::clamp<int64_t>(vm["repeats"].defaulted() ? 7 : repeats, 1, 100));
    n.command = "privrec";
    for (int i = 0; i < argc; ++i) n.command += std::string(" ") + argv[i];
    return calibrate_network(n);
  }
  if (implementation != "fused") {
    if (implementation != "framework")
      throw InputError("--implementation " + implementation + ": calibrate fits fused (a hardware profile) or framework");
    if (benchmarks_only) throw InputError("--benchmarks-only: not with --implementation framework");
    if (out_path.empty()) throw InputError("--out: required (the implementation profile to write)");
    FrameworkCalibration f;
    f.out = out_path;
    f.name = name.empty() ? std::filesystem::path(out_path).stem().string() : name;
    f.hardware = vm.count("hardware") ? vm["hardware"].as<std::string>() : measured_profile_of(b);
    f.cases = vm["cases"].defaulted() ? std::string("configs/validation/framework_calibration_cases.json") : cases_path;
    f.python = python, f.seed = seed, f.force = vm.count("force") > 0, f.quiet = quiet;
    f.repeats = static_cast<int>(vm["repeats"].defaulted() ? 1 : repeats);
    if (f.repeats < 1 || f.repeats > 100) throw InputError(fmt::format("--repeats {}: expected 1 .. 100", repeats));
    f.command = "privrec";
    for (int i = 0; i < argc; ++i) f.command += std::string(" ") + argv[i];
    return calibrate_framework(f);
  }
  if (vm.count("hardware")) throw InputError("--hardware: used with --network or --implementation framework only");
  if (vm["cases"].defaulted()) cases_path = b.calibration_cases;
  if (benchmarks_only) refuse_with_benchmarks_only(vm);
  if (repeats < 1 || repeats > 100) throw InputError(fmt::format("--repeats {}: expected 1 .. 100", repeats));
  b.require_available();  // first of all: can it run here (is there a device)?
  std::vector<Case> cases;
  if (!benchmarks_only) {
    if (out_path.empty()) throw InputError("--out: required (the profile file to write)");
    check_output(out_path, vm.count("force") > 0);
    if (name.empty()) name = std::filesystem::path(out_path).stem().string();
    cases = load_case_list(cases_path);
  }
  auto say = [&](const std::string& s) {
    if (!quiet) std::fprintf(stderr, "[privrec] %s\n", s.c_str());
  };
  const auto t0 = std::chrono::steady_clock::now();
  const BackendRates r = b.measure_rates(say);
  const std::optional<sim::LevelFit> levels = fit_levels(r, say);
  if (benchmarks_only) {
    print_footprint(r, levels);
    std::printf("privrec calibrate --benchmarks-only: %.0f s\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    return 0;
  }
  sim::HardwareProfile h = profile_from_rates(b, r, levels, name);
  std::vector<sim::ProcessorProfile> probes;
  const sim::StageFit fit = run_cases(b, cases, h, seed, repeats, probes, say);
  const sim::ProcessorProfile full = h.device;
  rescale_to_probes(h.device, probes, r.random_footprint_MB);
  h.device.overlap_fraction = fit.overlap_fraction;
  h.stage_efficiency = fit.efficiency;
  h.stage_fixed_ms = fit.fixed_ms;
  h.stage_bag_ns = fit.bag_ns;
  h.stage_launch_us = fit.launch_us;
  h.stage_overlap = fit.overlap;
  std::string command = "privrec";
  for (int i = 0; i < argc; ++i) command += std::string(" ") + argv[i];
  h.provenance = provenance(b, r, levels, fit, full, cases_path, cases, command);
  write_text_file(out_path, h.to_json().dump(2) + "\n");
  std::printf("privrec calibrate: wrote %s (%.0f s)\n", out_path.c_str(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  print_summary(h, fit);
  return 0;
}

}  // namespace privrec::cli
