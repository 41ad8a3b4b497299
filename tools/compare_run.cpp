#include "tools/compare_run.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <unistd.h>

#include "kernels/mpi/sharded_training.hpp"
#include "kernels/training_run.hpp"
#include "models/config_error.hpp"
#include "models/json_reader.hpp"
#include "sim/scale_out.hpp"
#include "sim/calibration.hpp"
#include "sim/error_metrics.hpp"
#include "tools/cli_common.hpp"
#include "tools/interrupt.hpp"
#include "sim/simulation.hpp"

namespace privrec::cli {

namespace {
// Pairs each measured stage with its modeled one; end to end is the step median against the sum.
Comparison pair_up(const std::vector<MeasuredStage>& measured, const MeasuredMs& step, const sim::SimReport& model,
                   int64_t batch) {
  Comparison c;
  for (const auto& [stage, ms] : measured) {
    StageComparison s;
    s.stage = stage, s.measured_ms = ms.median, s.measured_min_ms = ms.min, s.measured_max_ms = ms.max;
    for (const auto& m : model.stages)
      if (m.stage == stage) s.modeled = m.time, s.modeled_ms = m.time.ms;
    s.error_pct = sim::error_pct(s.measured_ms, s.modeled_ms);
    c.stages.push_back(s);
  }
  const double measured_step_ms = step.median;
  c.measured_step_ms = measured_step_ms, c.measured_step_min_ms = step.min, c.measured_step_max_ms = step.max;
  c.modeled_step_ms = model.step_ms;
  c.error_pct = sim::error_pct(c.measured_step_ms, c.modeled_step_ms);
  c.measured_throughput = measured_step_ms > 0 ? 1e3 * static_cast<double>(batch) / measured_step_ms : 0;
  c.modeled_throughput = model.throughput_examples_per_s;
  return c;
}
}  // namespace

nlohmann::json Comparison::to_json() const {
  nlohmann::json j;
  j["stages"] = nlohmann::json::array();
  // The fastest and slowest measured step, where the run gives them.
  auto add_range = [](nlohmann::json& o, double lo, double hi) {
    if (has_range(lo, hi)) o["measured_min_ms"] = lo, o["measured_max_ms"] = hi;
  };
  for (const auto& s : stages) {
    nlohmann::json o{{"name", stage_name(s.stage)},
                     {"measured_ms", s.measured_ms},
                     {"modeled_ms", s.modeled_ms},
                     {"error_pct", s.error_pct},
                     {"bound", sim::bound_name(s.modeled.bound)},
                     {"levels", sim::levels_json(s.modeled)}};
    add_range(o, s.measured_min_ms, s.measured_max_ms);
    j["stages"].push_back(std::move(o));
  }
  j["end_to_end"] = {{"measured_ms", measured_step_ms},
                     {"modeled_ms", modeled_step_ms},
                     {"error_pct", error_pct},
                     {"measured_throughput_examples_per_s", measured_throughput},
                     {"modeled_throughput_examples_per_s", modeled_throughput}};
  add_range(j["end_to_end"], measured_step_min_ms, measured_step_max_ms);
  return j;
}

namespace {
// The model of the steps after the warm-up, paired with the measured stages.
Comparison with_model(const std::vector<MeasuredStage>& measured, const MeasuredMs& step, int64_t batch,
                      const Workload& w, const AlgorithmConfig& cfg, const TraceSource& trace,
                      const sim::HardwareProfile& h, int64_t steps, int64_t warmup) {
  const sim::SimReport model = sim::simulate(w, cfg, trace, h, steps, {}, warmup + 1);
  return pair_up(measured, step, model, batch);
}

Comparison measure_and_model(const TrainReport& rep, const Workload& w, const AlgorithmConfig& cfg,
                             const TraceSource& trace, const sim::HardwareProfile& h, int64_t steps, int64_t warmup) {
  std::vector<MeasuredStage> measured;
  for (const auto& s : rep.stages) measured.push_back({s.stage, {s.median_ms, s.min_ms, s.max_ms}});
  return with_model(measured, {rep.step_ms_median, rep.step_ms_min, rep.step_ms_max}, rep.batch_size, w, cfg, trace,
                    h, steps, warmup);
}

TrainOptions options(int64_t steps, int64_t warmup, bool progress) {
  TrainOptions opt;
  opt.steps = steps;
  opt.warmup = warmup;
  opt.progress = progress;
  return opt;
}
}  // namespace

Comparison compare(const Backend& backend, const Workload& w, const AlgorithmConfig& cfg, const TraceSource& trace,
                   const sim::HardwareProfile& h, int64_t steps, int64_t warmup, bool progress) {
  return measure_and_model(backend.train(w, cfg, trace, options(steps, warmup, progress)), w, cfg, trace, h, steps,
                           warmup);
}

namespace {
// The peer's stages (name, ms_per_step, ms_min, ms_max) and steps (median, min, max) from the JSON
// it wrote.
std::vector<MeasuredStage> peer_stages(const nlohmann::json& j, const std::string& file, MeasuredMs& step) {
  std::vector<MeasuredStage> measured;
  try {
    const auto& st = j.at("step_ms");
    step = {st.at("median").get<double>(), st.at("min").get<double>(), st.at("max").get<double>()};
    for (const auto& s : j.at("stages"))
      measured.push_back({parse_stage(s.at("name").get<std::string>()),
                          {s.at("ms_per_step").get<double>(), s.at("ms_min").get<double>(), s.at("ms_max").get<double>()}});
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(file + ": not what the peer writes (" + e.what() + ")");
  }
  return measured;
}
}  // namespace

namespace {
// `s` as one shell word: single-quoted, each ' written as '\''.
std::string shell_word(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// The last lines of a file (the peer's messages), for an error.
std::string tail_of(const std::filesystem::path& file, size_t max_lines = 6) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::string out;
  for (size_t i = lines.size() > max_lines ? lines.size() - max_lines : 0; i < lines.size(); ++i) out += "\n  " + lines[i];
  return out;
}

}  // namespace

// What the peer runs: refused here, before Python starts, with the flag that asked for it.
void check_peer_settings(const AlgorithmConfig& cfg) {
  const AlgorithmKind k = cfg.kind;
  if (k != AlgorithmKind::sgd && k != AlgorithmKind::dpsgd_f && k != AlgorithmKind::eana && k != AlgorithmKind::lazydp)
    throw InputError(std::string("--algo ") + algorithm_info(k).name + ": the PyTorch peer runs sgd, dpsgd-f, eana and lazydp");
  if (k == AlgorithmKind::sgd) return;
  if (cfg.noise != NoiseSource::gaussian)
    throw InputError("--noise " + noise_source_name(cfg.noise) + ": the PyTorch peer draws Gaussian noise only");
  if (!std::isfinite(cfg.clip)) throw InputError("--clip inf: the PyTorch peer clips (give a finite --clip)");
  if (k == AlgorithmKind::lazydp && cfg.lazydp.noise != LazyNoiseMode::aggregated)
    throw InputError("--lazydp-noise exact: the PyTorch peer draws the aggregated noise only");
  if (cfg.lr_decay != 1.0) throw InputError("--lr-decay: the PyTorch peer keeps the learning rate constant");
}

void check_framework_hardware(const Backend& backend, const sim::HardwareProfile& hw) {
  if (!backend.runs_on_host) throw InputError("--implementation framework: the PyTorch peer runs on the CPU (--backend cpu)");
  if (hw.kernels != backend.kernel_family || hw.host || hw.tables_in != "device")
    throw InputError("--hardware " + hw.name + ": " +
                     (hw.kernels != backend.kernel_family ? "it models " + hw.kernels + " kernels"
                                                          : std::string("it has a device besides its host CPU")) +
                     "; the PyTorch peer runs on this CPU, so the framework implementation is modeled on a CPU profile "
                     "(default: " + measured_profile_of(backend) + ")");
}

void check_framework_python(const std::string& python) {
  if (run_child(shell_word(python) + " -c 'import torch' > /dev/null 2>&1") != 0)
    throw InputError("--python " + python + ": cannot import torch (the framework peer needs PyTorch: apt-get install python3-torch)");
}

void check_framework_case(const AlgorithmConfig& cfg, int64_t steps, int64_t warmup) {
  check_peer_settings(cfg);
  if (cfg.kind == AlgorithmKind::lazydp && steps < warmup + 2)
    throw InputError(fmt::format("--steps {} --warmup {}: lazydp's catch-up needs a next batch; with the framework peer "
                                 "give at least warmup + 2 steps", steps, warmup));
}

Comparison compare_framework_peer(const std::string& python, const Workload& w, const AlgorithmConfig& cfg,
                                  const TraceSource& trace, const sim::HardwareProfile& h, int64_t steps,
                                  int64_t warmup, bool progress, PeerCosts* costs) {
  namespace fs = std::filesystem;
  check_peer_settings(cfg);
  const fs::path script = fs::path(PRIVREC_SOURCE_DIR) / "tools/peers/torch_cpu_peer.py";
  if (!fs::is_regular_file(script)) throw InputError("--implementation framework: the peer " + script.string() + " is missing");
  // A folder of our own (mkdtemp: a fresh name, mode 0700), removed on every way out.
  std::string pattern = (fs::temp_directory_path() / "privrec-peer-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("cannot make a temporary folder under " + fs::temp_directory_path().string());
  const fs::path dir = pattern;
  struct Cleanup {
    fs::path d;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(d, ec);
    }
  } cleanup{dir};
  const fs::path like = dir / "like.json", out = dir / "peer.json", log = dir / "peer.log";
  {
    std::ofstream f(like);
    f << nlohmann::json{{"workload", w.to_json()}, {"algorithm", cfg.to_json()}}.dump() << "\n";
    if (!f) throw std::runtime_error("cannot write " + like.string());
  }
  // The peer's progress and stage table go to stderr with --progress, else to its log; its
  // messages are in the error either way.
  const std::string command =
      fmt::format("{} {} --like {} --steps {} --warmup {} --json {} {}", shell_word(python), shell_word(script.string()),
                  shell_word(like.string()), steps, warmup, shell_word(out.string()),
                  progress ? "1>&2" : "> " + shell_word(log.string()) + " 2>&1");
  const int code = run_child(command);
  if (code == 130 || code == 143)  // ended by a signal privrec did not get (one privrec got throws Interrupted)
    throw std::runtime_error(fmt::format("the PyTorch peer was interrupted (exit {}){}", code, tail_of(log)));
  if (code == 2) throw InputError("--implementation framework: the PyTorch peer refused this case" + tail_of(log));
  if (code != 0) throw std::runtime_error(fmt::format("the PyTorch peer failed (exit {}){}", code, tail_of(log)));
  MeasuredMs step;
  const nlohmann::json peer = parse_json_file(out.string());
  const std::vector<MeasuredStage> measured = peer_stages(peer, out.string(), step);
  if (costs) {
    // Optional, but where present a positive finite number: a peer that measured nonsense is refused.
    auto number = [&](const nlohmann::json& j, const std::string& key, const std::string& path) {
      if (!j.contains(key)) return 0.0;
      const nlohmann::json& v = j.at(key);
      if (!v.is_number() || !(v.get<double>() > 0) || !std::isfinite(v.get<double>()))
        throw std::runtime_error(out.string() + ": " + path + key + " " + json_value_text(v) + ": expected a positive number");
      return v.get<double>();
    };
    costs->dispatch_us = number(peer, "dispatch_us", "");
    if (peer.contains("framework_rates")) {
      const nlohmann::json& r = peer.at("framework_rates");
      if (!r.is_object()) throw std::runtime_error(out.string() + ": framework_rates " + json_value_text(r) + ": expected an object");
      costs->rng_normals_per_s = number(r, "rng_normals_per_s", "framework_rates.");
      costs->gemm_GFLOPps = number(r, "gemm_GFLOPps", "framework_rates.");
    }
  }
  return with_model(measured, step, w.batch_size, w, cfg, trace, h, steps, warmup);
}

namespace {
// The kernels' layout as the model's sharding plan (row blocks split alike: models/row_blocks.hpp).
sim::ShardingPlan plan_of_layout(const mpi::ShardLayout& l, size_t tables) {
  sim::ShardingPlan plan;
  plan.tables.resize(tables);
  for (int64_t r = 0; r < l.ranks; ++r)
    for (const auto& b : l.blocks[r]) plan.tables[b.table].devices.push_back(r);
  for (auto& t : plan.tables)
    t.scheme = l.scheme == mpi::Sharding::table_wise ? sim::ShardScheme::table_wise : sim::ShardScheme::row_wise;
  return plan;
}
}  // namespace

Comparison compare_sharded(const Workload& w, const AlgorithmConfig& cfg, const TraceSource& trace,
                           const sim::ClusterProfile& c, mpi::Sharding scheme, int64_t steps, int64_t warmup,
                           bool progress, const std::string& fingerprint) {
  const mpi::ShardLayout layout = mpi::ShardLayout::make(w, scheme, c.devices());
  const TrainReport rep =
      mpi::run_sharded_cpu_training(w, cfg, trace, options(steps, warmup, progress), scheme, fingerprint);
  std::vector<MeasuredStage> measured;  // each stage's slowest rank: no step range
  for (const auto& s : rep.stages) {
    double slowest = 0;
    for (const auto& r : rep.rank_stage_ms) slowest = std::max(slowest, r[static_cast<size_t>(s.stage)]);
    measured.push_back({s.stage, {slowest}});
  }
  const MeasuredMs step{*std::max_element(rep.rank_step_ms.begin(), rep.rank_step_ms.end())};
  const sim::ClusterModel model(w, cfg, c, steps, warmup + 1);
  return pair_up(measured, step, model.run(plan_of_layout(layout, w.tables.size())).as_sim_report(), rep.batch_size);
}

Comparison remodel(const Comparison& measured, const Workload& w, const AlgorithmConfig& cfg,
                   const TraceSource& trace, const sim::HardwareProfile& h, int64_t steps, int64_t warmup) {
  std::vector<MeasuredStage> m;
  for (const auto& s : measured.stages) m.push_back({s.stage, {s.measured_ms, s.measured_min_ms, s.measured_max_ms}});
  return with_model(m, {measured.measured_step_ms, measured.measured_step_min_ms, measured.measured_step_max_ms},
                    w.batch_size, w, cfg, trace, h, steps, warmup);
}

namespace {
// Scales a level's row-random figures (its 128 B figure and its by-row curve) to `now_128`.
template <typename Level>
void rescale_random(Level& l, double now_128) {
  const double ratio = now_128 / l.random_GBps_for(128.0);
  for (auto& [bytes, gbps] : l.random_GBps_by_row_B) gbps *= ratio;
  l.random_GBps = now_128;
}
}  // namespace

std::optional<sim::HardwareProfile> with_rates_now(const Backend& backend, const sim::HardwareProfile& h) {
  if (!backend.shared_processor) return std::nullopt;
  return with_rates(backend.probe_rates(), h);
}

sim::HardwareProfile with_rates(const BackendRates& r, const sim::HardwareProfile& h) {
  sim::HardwareProfile now = h;
  sim::ProcessorProfile& d = now.device;
  // Row-random bandwidth: the probe gathers over a large buffer that the caches still serve a
  // share of, so memory's figure now is what reproduces it with the caches taken out; then each
  // cache, farthest first, from the probe inside it with the other levels held.
  const double footprint = r.random_footprint_MB > 0 ? r.random_footprint_MB : 1073.741824;
  rescale_random(d, sim::level_random_GBps_matching(d, d.caches.size(), footprint, 128.0, r.random_GBps));
  for (size_t l = d.caches.size(); l-- > 0;)
    for (const auto& p : r.footprint_curve)
      if (p.row_B == 128.0 && p.footprint_MB < d.caches[l].capacity_MB && (l == 0 || p.footprint_MB > d.caches[l - 1].capacity_MB))
        rescale_random(d.caches[l], sim::level_random_GBps_matching(d, l, p.footprint_MB, 128.0, p.GBps));
  d.stream_GBps = r.stream_GBps;
  d.gemm_GFLOPps = r.gemm_GFLOPps;
  d.vector_GFLOPps = r.vector_GFLOPps;
  d.rng_normals_per_s = r.rng_normals_per_s;
  d.sort_ops_per_s = r.sort_ops_per_s;
  d.launch_overhead_us = r.launch_overhead_us;
  return now;
}

nlohmann::json rates_json(const sim::ProcessorProfile& p) {
  nlohmann::json j = {{"stream_GBps", p.stream_GBps},         {"random_GBps_128B", p.random_GBps_for(128.0)},
                      {"gemm_GFLOPps", p.gemm_GFLOPps},       {"vector_GFLOPps", p.vector_GFLOPps},
                      {"rng_normals_per_s", p.rng_normals_per_s}, {"sort_ops_per_s", p.sort_ops_per_s},
                      {"launch_overhead_us", p.launch_overhead_us}};
  if (p.first_touch_GBps > 0) j["first_touch_GBps"] = p.first_touch_GBps;
  return j;
}

namespace {
// A measured range as percents of its median, "-12..+25%"; "" where the run gives none.
std::string spread(double median, double lo, double hi) {
  if (!has_range(lo, hi) || median <= 0) return "";
  return fmt::format("{:+.0f}..{:+.0f}%", 100.0 * (lo / median - 1.0), 100.0 * (hi / median - 1.0));
}
}  // namespace

void print_comparison(const Comparison& c) {
  std::printf("%-16s %12s %12s %9s  %-11s %-8s %s\n", "stage", "measured ms", "modeled ms", "error", "step spread",
              "bound", "modeled rows from");
  for (const auto& s : c.stages)
    std::printf("%-16s %12.3f %12.3f %8.1f%%  %-11s %-8s %s\n", stage_name(s.stage), s.measured_ms, s.modeled_ms,
                s.error_pct, spread(s.measured_ms, s.measured_min_ms, s.measured_max_ms).c_str(),
                sim::bound_name(s.modeled.bound), sim::levels_summary(s.modeled).c_str());
  std::printf("%-16s %12.3f %12.3f %8.1f%%  %s\n", "end to end", c.measured_step_ms, c.modeled_step_ms, c.error_pct,
              spread(c.measured_step_ms, c.measured_step_min_ms, c.measured_step_max_ms).c_str());
  std::printf("throughput: measured %.0f, modeled %.0f examples/s\n", c.measured_throughput, c.modeled_throughput);
  if (has_range(c.measured_step_min_ms, c.measured_step_max_ms)) {
    const bool inside = c.modeled_step_ms >= c.measured_step_min_ms && c.modeled_step_ms <= c.measured_step_max_ms;
    std::printf("the measured steps took %.3f .. %.3f ms: the modeled step is %s\n", c.measured_step_min_ms,
                c.measured_step_max_ms,
                inside ? "within them (this run's step-to-step variation covers the error)"
                       : (c.modeled_step_ms < c.measured_step_min_ms ? "below the fastest" : "above the slowest"));
  }
}

}  // namespace privrec::cli
