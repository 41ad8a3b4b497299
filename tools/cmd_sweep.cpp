// privrec sweep: the performance model over the cross product of axes (hardware, workload, table
// scale, algorithm, batch, pooling, access distribution), one CSV row per case.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>

#include <fmt/format.h>

#include "models/config_error.hpp"
#include "sim/simulation.hpp"
#include "tools/cli_common.hpp"
#include "traces/synthetic_trace.hpp"

namespace privrec::cli {

namespace {
// In nesting order (the last varies fastest). zipf: an exponent per value, 0 for uniform access
// (the same as --axis dist=uniform,zipf:S, in numbers). device-cache: GB of device memory caching
// host tables (0: none; the profile must describe a host, see --tables-in).
const std::vector<std::string> kAxes = {"hardware", "model", "table-scale", "batch", "pooling", "dist",
                                        "zipf", "device-cache", "adafest-tau", "algo"};
const char* const kAxisList = "hardware, model, table-scale, batch, pooling, dist, zipf, device-cache, adafest-tau, algo";

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

// zipf and device-cache take 0 (uniform, no cache); the others need positive numbers.
double parse_double(const std::string& axis, const std::string& v) {
  const bool zero_ok = axis == "zipf" || axis == "device-cache";
  try {
    size_t used = 0;
    const double x = std::stod(v, &used);
    if (used == v.size() && std::isfinite(x) && (x > 0 || (zero_ok && x == 0))) return x;
  } catch (const std::exception&) {
  }
  throw InputError(fmt::format("--axis {}={}: expected {} numbers", axis, v, zero_ok ? "non-negative" : "positive"));
}

int64_t parse_int(const std::string& axis, const std::string& v) {
  try {
    size_t used = 0;
    const long long x = std::stoll(v, &used);
    if (used == v.size() && x > 0) return x;
  } catch (const std::exception&) {
  }
  throw InputError(fmt::format("--axis {}={}: expected positive integers", axis, v));
}
// One case of the sweep: every axis at one of its values.
struct SweepCase {
  std::map<std::string, std::string> at;
  const std::string& operator[](const std::string& axis) const { return at.at(axis); }
};

// Every value of every axis, checked before the first case runs (a typo fails at once, not an hour
// in), and every hardware with every device cache placed as the cases will place it.
void check_axis_values(const std::map<std::string, std::vector<std::string>>& values, const PlacementFlags& place) {
  for (const auto& h : values.at("hardware"))
    for (const auto& c : values.at("device-cache")) {
      sim::HardwareProfile hw = sim::load_hardware_profile(h);
      PlacementFlags p = place;
      if (!c.empty()) p.cache_GB = parse_double("device-cache", c);
      try {
        p.apply(hw);
      } catch (const InputError& e) {
        throw InputError(fmt::format("--axis hardware={} with device-cache={}: {}", h, c.empty() ? "(the flags')" : c, e.what()));
      }
    }
  for (const auto& [name, vs] : values)
    for (const auto& v : vs) {
      if (v.empty()) continue;  // the flag's default
      if (name == "hardware") sim::load_hardware_profile(v);
      else if (name == "model") load_workload(v);
      else if (name == "algo") parse_algorithm(v);
      else if (name == "batch" || name == "pooling") parse_int(name, v);
      else if (name == "dist") AccessDistribution::parse(v);
      else parse_double(name, v);
    }
}

std::map<std::string, std::vector<std::string>> parse_axes(const std::vector<std::string>& axes) {
  std::map<std::string, std::vector<std::string>> values;
  for (const auto& a : axes) {
    const size_t eq = a.find('=');
    const std::string name = a.substr(0, eq);
    if (eq == std::string::npos || eq + 1 == a.size())
      throw InputError("--axis " + a + ": expected NAME=V1,V2,... with NAME one of " + kAxisList);
    if (std::find(kAxes.begin(), kAxes.end(), name) == kAxes.end())
      throw InputError("--axis " + a + ": unknown axis '" + name + "' (" + kAxisList + ")");
    if (values.count(name)) throw InputError("--axis " + name + ": given twice");
    values[name] = split(a.substr(eq + 1), ',');
    for (const auto& v : values[name])
      if (v.empty()) throw InputError("--axis " + a + ": an empty value");
  }
  if (values.count("zipf") && values.count("dist"))
    throw InputError("--axis zipf and --axis dist: both set the access distribution; give one");
  return values;
}

// The cross product, the last axis of kAxes varying fastest.
std::vector<SweepCase> cross_product(const std::map<std::string, std::vector<std::string>>& values) {
  std::vector<SweepCase> out{SweepCase{}};
  for (const std::string& name : kAxes) {
    std::vector<SweepCase> next;
    for (const SweepCase& c : out)
      for (const std::string& v : values.at(name)) {
        SweepCase n = c;
        n.at[name] = v;
        next.push_back(std::move(n));
      }
    out = std::move(next);
  }
  return out;
}

struct SweepOutputs {
  std::string csv;
  nlohmann::json cases = nlohmann::json::array();
};

// Table rows the step rewrites: the update stage's random row writes, or every row when it
// streams the whole tables (the dense noisy update).
double rows_updated(const sim::SimReport& r, const Workload& w) {
  double rows = 0;
  for (const auto& st : r.stages) {
    if (st.stage != Stage::dp_update && st.stage != Stage::update_sparse) continue;
    rows += st.work.rows_written_rand > 0 ? static_cast<double>(st.work.rows_written_rand)
            : st.work.bytes_written_seq > 0 ? static_cast<double>(w.table_rows())
                                            : 0.0;
  }
  return rows;
}

// The fwd.emb stage's share of row accesses served by the nearest levels (all but the last):
// how much the caches take off memory (or, with a device cache, off the link).
double fwd_emb_hit_rate(const sim::SimReport& r) {
  for (const auto& st : r.stages)
    if (st.stage == Stage::fwd_emb && !st.time.levels.empty()) return 1.0 - st.time.levels.back().share;
  return 0;
}

void add_case(const SweepCase& c, const Workload& w, const sim::HardwareProfile& hw, const AlgorithmConfig& cfg,
              const sim::SimReport& r, const privacy::PrivacyReport& priv, SweepOutputs& out) {
  std::map<std::string, double> ms;
  for (const auto& st : r.stages) ms[stage_name(st.stage)] = st.time.ms;
  for (const auto& o : r.once) ms[stage_name(o.stage)] = o.time.ms;
  const double cache_GB = hw.device_cache ? hw.device_cache->capacity_GB : 0.0;
  const double hit = fwd_emb_hit_rate(r), updated = rows_updated(r, w);
  // The distribution modeled (the dist axis or flag, or the zipf axis), empty where tables differ.
  std::string dist = w.tables.empty() ? "" : w.tables[0].access.name();
  for (const auto& t : w.tables) if (!(t.access == w.tables[0].access)) dist = "";
  out.csv += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}", hw.name, w.name, c["table-scale"], w.table_bytes(),
                         c["algo"], w.batch_size, c["pooling"], dist, c["zipf"], cache_GB, cfg.adafest.tau,
                         r.throughput_examples_per_s, r.step_ms, updated, hit);
  out.csv += priv.accounted ? fmt::format(",{},{},{}", priv.epsilon, priv.delta, priv.noise_multiplier)
                            : fmt::format(",,{},", priv.delta);
  for (const char* sn : kStageNames) out.csv += fmt::format(",{}", ms.count(sn) ? ms[sn] : 0.0);
  out.csv += "\n";
  const nlohmann::json zipf = c["zipf"].empty() ? nlohmann::json() : nlohmann::json(std::stod(c["zipf"]));
  out.cases.push_back({{"hardware", hw.name}, {"model", w.name}, {"table_scale", std::stod(c["table-scale"])},
                       {"table_bytes", w.table_bytes()}, {"algo", c["algo"]}, {"batch", w.batch_size},
                       {"pooling", c["pooling"]}, {"dist", dist}, {"zipf", zipf},
                       {"device_cache_GB", cache_GB}, {"fwd_emb_hit_rate", hit},
                       {"throughput_examples_per_s", r.throughput_examples_per_s}, {"step_ms", r.step_ms},
                       {"rows_updated_per_step", updated}, {"adafest_tau", cfg.adafest.tau}, {"stages_ms", ms},
                       {"privacy", priv.to_json()}});
}
}  // namespace

int cmd_sweep(int argc, char** argv) {
  po::options_description opts("privrec sweep options");
  WorkloadFlags wf;
  AlgorithmFlags af;
  PrivacyFlags pf;
  PlacementFlags place;
  std::string hardware = "h100-sxm";
  std::vector<std::string> axes;
  int64_t steps = 2;
  uint64_t seed = 1;
  opts.add_options()("help,h", "show this help")
    ("axis", po::value(&axes), (std::string("NAME=V1,V2,... (repeatable): ") + kAxisList).c_str())
    ("hardware", po::value(&hardware)->default_value(hardware), "hardware profile when there is no hardware axis")
    ("steps", po::value(&steps)->default_value(steps), "batches modeled per case")
    ("seed", po::value(&seed)->default_value(seed), "seed of the synthetic traces")
    ("analytic", "model expectations instead of synthetic traces (no batch is drawn; Che's approximation for caches)");
  OutputFlags out;
  out.add_to(opts);
  wf.add_to(opts);
  af.add_to(opts);
  pf.add_to(opts);
  place.add_to(opts);
  po::variables_map vm;
  if (!parse(argc, argv, opts, vm,
             "usage: privrec sweep --axis table-scale=0.001,0.01,0.1,1,10 --axis algo=sgd,dpsgd-f,lazydp,adafest "
             "[--axis hardware=h100-sxm,v100-xeon-e5-2698v4] [--axis zipf=0,0.8,1.05] "
             "[--tables-in host --axis device-cache=1,8,70] [--model M] --csv FILE\n"
             "Runs the performance model on every combination of the axes; one row per case, progress on stderr."))
    return 0;
  const bool force = vm.count("force") > 0, quiet = vm.count("quiet") > 0;
  for (const std::string* p : {&out.json, &out.csv}) check_output(*p, force);
  if (steps < 1 || steps > 10000) throw InputError(fmt::format("--steps {}: expected 1 .. 10000", steps));
  wf.finish(vm);
  pf.finish(vm);
  std::map<std::string, std::vector<std::string>> values = parse_axes(axes);
  auto base = [&](const std::string& name, const std::string& v) {
    if (!values.count(name)) values[name] = {v};
  };
  base("hardware", hardware), base("model", wf.model), base("table-scale", fmt::format("{}", wf.table_scale));
  base("algo", af.algo), base("batch", wf.batch ? std::to_string(wf.batch) : ""), base("dist", wf.dist);
  base("pooling", wf.pooling ? std::to_string(wf.pooling) : ""), base("zipf", "");
  base("device-cache", ""), base("adafest-tau", fmt::format("{}", af.cfg.adafest.tau));
  if (values.count("zipf") && values.at("zipf").front() != "" && vm.count("dist"))
    throw InputError("--dist and --axis zipf: both set the access distribution; give one");
  if (values.count("device-cache") && values.at("device-cache").front() != "" && vm.count("device-cache"))
    throw InputError("--device-cache and --axis device-cache: give one");
  check_axis_values(values, place);
  const std::vector<SweepCase> cases = cross_product(values);

  SweepOutputs res;
  res.csv = "hardware,model,table_scale,table_bytes,algo,batch,pooling,dist,zipf,device_cache_GB,adafest_tau,"
            "throughput_examples_per_s,step_ms,rows_updated_per_step,fwd_emb_hit_rate,epsilon,delta,noise_multiplier";
  for (const char* s : kStageNames) res.csv += fmt::format(",{}_ms", s);
  res.csv += "\n";
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < cases.size(); ++i) {
    const SweepCase& c = cases[i];
    WorkloadFlags cw = wf;
    cw.model = c["model"];
    cw.table_scale = parse_double("table-scale", c["table-scale"]);
    cw.batch = c["batch"].empty() ? 0 : parse_int("batch", c["batch"]);
    cw.pooling = c["pooling"].empty() ? 0 : parse_int("pooling", c["pooling"]);
    cw.dist = c["dist"];
    if (!c["zipf"].empty()) {
      const double s = parse_double("zipf", c["zipf"]);
      cw.dist = s == 0 ? "uniform" : fmt::format("zipf:{}", s);
    }
    const Workload w = cw.resolve();
    AlgorithmFlags ca = af;
    ca.algo = c["algo"];
    ca.cfg.adafest.tau = parse_double("adafest-tau", c["adafest-tau"]);
    AlgorithmConfig cfg = ca.resolve(seed);
    sim::HardwareProfile hw = sim::load_hardware_profile(c["hardware"]);
    PlacementFlags cp = place;
    if (!c["device-cache"].empty()) cp.cache_GB = parse_double("device-cache", c["device-cache"]);
    cp.apply(hw);
    // A target epsilon sets the noise (and adafest's selection rate) before the model runs.
    const privacy::PrivacyReport priv = privacy::account(pf.settings, w, w.batch_size, cfg);
    const sim::SimReport r = [&] {
      if (vm.count("analytic")) return sim::simulate_analytic(w, cfg, hw, steps);
      SyntheticTrace trace(w, seed);
      return sim::simulate(w, cfg, trace, hw, steps);
    }();
    add_case(c, w, hw, cfg, r, priv, res);
    if (!quiet)
      std::fprintf(stderr, "[privrec] case %zu/%zu: %s %s x%s %s: %.0f examples/s%s (%.1f s elapsed)\n", i + 1,
                   cases.size(), hw.name.c_str(), w.name.c_str(), c["table-scale"].c_str(), c["algo"].c_str(),
                   r.throughput_examples_per_s, priv.accounted ? fmt::format(", epsilon {:.3g}", priv.epsilon).c_str() : "",
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  if (out.csv.empty() && out.json.empty()) std::fputs(res.csv.c_str(), stdout);
  if (!out.csv.empty()) write_text_file(out.csv, res.csv);
  if (!out.json.empty())
    write_text_file(out.json, nlohmann::json({{"command", "sweep"}, {"steps", steps}, {"seed", seed},
                                              {"mode", vm.count("analytic") ? "analytic" : "trace-driven"},
                                              {"algorithm", af.resolve(seed).to_json()}, {"cases", res.cases},
                                              {"machine", machine_json()}})
                                      .dump(2) + "\n");
  return 0;
}

}  // namespace privrec::cli
