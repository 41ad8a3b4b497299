// privrec sweep: the performance model over the cross product of axes (hardware, or a cluster's
// node counts; workload, table scale, algorithm, batch, pooling, access distribution), one CSV
// row per case and a human table on stdout.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "models/config_error.hpp"
#include "sim/scale_out.hpp"
#include "sim/sharding_planner.hpp"
#include "sim/simulation.hpp"
#include "sim/time_to_train.hpp"
#include "tools/cli_common.hpp"
#include "traces/synthetic_trace.hpp"

namespace privrec::cli {

namespace {
// In nesting order (the last varies fastest). nodes: a cluster's node counts (--cluster only; then
// the cluster names the hardware). zipf: an exponent per value, 0 for uniform access (the same as
// --axis dist=uniform,zipf:S, in numbers). device-cache: GB of device memory caching host tables
// (0: none; the profile must describe a host, see --tables-in). implementation: an implementation
// profile per value (fused, framework or a file; not with --cluster).
const std::vector<std::string> kAxes = {"hardware", "implementation", "nodes", "model", "table-scale", "batch", "pooling", "dist",
                                        "zipf", "device-cache", "adafest-tau", "algo"};
const char* const kAxisList =
    "hardware, implementation, nodes (with --cluster), model, table-scale, batch, pooling, dist, zipf, device-cache, adafest-tau, algo";

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

// What every case shares: the mode, the cluster (if any) and how its tables are sharded, the price.
struct SweepSetup {
  bool analytic = false;
  int64_t steps = 2;
  uint64_t seed = 1;
  PlacementFlags place;
  std::optional<sim::ClusterProfile> cluster;  // --cluster (with --nodes applied)
  std::string sharding = "auto";
  double price = 0;  // USD per device-hour, 0: unknown
};

PlacementFlags case_placement(const PlacementFlags& place, const std::string& cache) {
  PlacementFlags p = place;
  if (!cache.empty()) p.cache_GB = parse_double("device-cache", cache);
  return p;
}

// The cluster of a case: the node count of the nodes axis (empty: the cluster's), the placement on
// every device.
sim::ClusterProfile case_cluster(const SweepSetup& s, const std::string& nodes, const std::string& cache) {
  sim::ClusterProfile c = *s.cluster;
  if (!nodes.empty()) {
    try {
      sim::set_nodes(c, parse_int("nodes", nodes));
    } catch (const InputError& e) {
      throw InputError(fmt::format("--axis nodes={}: {}", nodes, e.what()));
    }
  }
  case_placement(s.place, cache).apply(c.device);
  return c;
}

// Every value of every axis, checked before the first case runs (a typo fails at once, not an hour
// in), every hardware (or cluster size) with every device cache placed as the cases will place it,
// and a sharding file against every model and cluster size.
void check_axis_values(const std::map<std::string, std::vector<std::string>>& values, const SweepSetup& s) {
  for (const auto& h : values.at("hardware"))
    for (const auto& n : values.at("nodes"))
      for (const auto& c : values.at("device-cache")) {
        const std::string where = s.cluster ? fmt::format("--cluster {}{}", s.cluster->name, n.empty() ? "" : " with nodes=" + n)
                                            : "--axis hardware=" + h;
        try {
          if (s.cluster) {
            case_cluster(s, n, c);
          } else {
            sim::HardwareProfile hw = sim::load_hardware_profile(h);
            case_placement(s.place, c).apply(hw);
          }
        } catch (const InputError& e) {
          throw InputError(fmt::format("{} with device-cache={}: {}", where, c.empty() ? "(the flags')" : c, e.what()));
        }
      }
  for (const auto& [name, vs] : values)
    for (const auto& v : vs) {
      if (v.empty()) continue;  // the flag's default
      if (name == "hardware") {
        if (!s.cluster) sim::load_hardware_profile(v);
      } else if (name == "implementation") {
        try {
          const sim::ImplementationProfile impl = sim::load_implementation_profile(v);
          if (s.cluster) refuse_on_cluster(impl);
        } catch (const InputError& e) {
          throw InputError(fmt::format("--axis implementation={}: {}", v, e.what()));
        }
      } else if (name == "model") load_workload(v);
      else if (name == "algo") parse_algorithm(v);
      else if (name == "batch" || name == "pooling" || name == "nodes") parse_int(name, v);
      else if (name == "dist") AccessDistribution::parse(v);
      else parse_double(name, v);
    }
  if (s.cluster && s.sharding != "auto")
    for (const auto& m : values.at("model"))
      for (const auto& n : values.at("nodes"))
        sim::load_sharding_plan(s.sharding, load_workload(m), case_cluster(s, n, "").devices());
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

// What one case's model gave. Without a report the case's tables fit no sharding (note says why).
struct CaseResult {
  std::optional<sim::SimReport> report;  // per stage: the slowest device's, on a cluster
  sim::HardwareProfile hw;               // what the stages ran on (a cluster's device), placed
  std::string implementation = "fused";  // the implementation profile's name
  std::optional<sim::ClusterProfile> cluster;
  int64_t devices = 1;
  double comm_ms = 0;
  bool fits = true;
  std::string sharding, note;
  std::optional<sim::TimeToTrain> tt;
};

// One case on a cluster: the planner's (or the file's) sharding, the scale-out model. A case no
// sharding fits is a result, not an error: the sweep goes on.
CaseResult run_on_cluster(const SweepCase& c, const Workload& w, const AlgorithmConfig& cfg, const SweepSetup& s) {
  CaseResult res;
  res.cluster = case_cluster(s, c["nodes"], c["device-cache"]);
  res.hw = res.cluster->device;
  res.devices = res.cluster->devices();
  // A plan file that does not name this workload's tables or devices is bad input, not a misfit.
  if (s.sharding != "auto") sim::load_sharding_plan(s.sharding, w, res.devices);
  const sim::ClusterModel model(w, cfg, *res.cluster, s.steps);
  try {
    const sim::ClusterPrediction p = sim::predict_on_cluster(model, s.sharding);
    res.report = p.report.as_sim_report();
    res.comm_ms = p.report.comm_ms;
    res.fits = p.report.fits;
    res.sharding = p.plan.summary();
  } catch (const InputError& e) {
    res.fits = false;
    res.note = e.what();
  }
  return res;
}

CaseResult run_case(const SweepCase& c, const Workload& w, const AlgorithmConfig& cfg, const SweepSetup& s) {
  if (s.cluster) return run_on_cluster(c, w, cfg, s);
  CaseResult res;
  res.hw = sim::load_hardware_profile(c["hardware"]);
  case_placement(s.place, c["device-cache"]).apply(res.hw);
  const sim::ImplementationProfile impl = sim::load_implementation_profile(c["implementation"], res.hw.name);
  // The implementation as the axis named it: its variant fitted on this hardware (NAME-on-HARDWARE)
  // is how it is modeled there, not another implementation (report groups rows by this column).
  res.implementation = impl.name == c["implementation"] + "-on-" + res.hw.name ? c["implementation"] : impl.name;
  sim::apply_implementation(res.hw, impl);
  if (s.analytic) {
    res.report = sim::simulate_analytic(w, cfg, res.hw, s.steps);
  } else {
    require_batches_fit(w, 3, "the trace-driven model: use --analytic, or a smaller --batch or --pooling");
    SyntheticTrace trace(w, s.seed);
    res.report = sim::simulate(w, cfg, trace, res.hw, s.steps);
  }
  res.fits = res.report->tables_fit;
  res.note = sim::misfit_note(*res.report, res.hw);
  return res;
}

double once_ms(const sim::SimReport& r) {
  double ms = 0;
  for (const auto& o : r.once) ms += o.time.ms;
  return ms;
}

struct SweepOutputs {
  std::string csv;
  nlohmann::json cases = nlohmann::json::array();
  std::vector<std::vector<std::string>> table;  // the human table's rows, cells as printed
  std::vector<std::string> notes;               // "case N: why", under the table
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

// A CSV field: quoted (quotes doubled) when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (const char ch : s) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return q + "\"";
}

template <class T>
std::string opt_field(const std::optional<T>& v) {
  return v ? fmt::format("{}", *v) : "";
}

// The columns written before the per-stage ones (the first sweeps' layout, kept), then the stages
// in vocabulary order, then the columns the scale-out model brought (at the end, so scripts that
// read columns by position keep working).
std::string csv_header() {
  std::string h = "hardware,model,table_scale,table_bytes,algo,batch,pooling,dist,zipf,device_cache_GB,adafest_tau,"
                  "throughput_examples_per_s,step_ms,rows_updated_per_step,fwd_emb_hit_rate,epsilon,delta,noise_multiplier";
  for (const char* s : kStageNames) h += fmt::format(",{}_ms", s);
  return h + ",cluster,nodes,devices,tables_in,comm_ms,fits,steps,wall_h,device_hours,cost_usd,sharding,note,"
             "implementation,materialized_noise_GB,row_state_GB\n";
}

void add_csv_row(const SweepCase& c, const Workload& w, const AlgorithmConfig& cfg, const CaseResult& res,
                 const privacy::PrivacyReport& priv, const std::string& dist, SweepOutputs& out) {
  const sim::SimReport* r = res.report ? &*res.report : nullptr;
  const double cache_GB = res.hw.device_cache ? res.hw.device_cache->capacity_GB : 0.0;
  out.csv += fmt::format("{},{},{},{},{},{},{},{},{},{},{}", csv_field(res.hw.name), csv_field(w.name), c["table-scale"],
                         w.table_bytes(), c["algo"], w.batch_size, c["pooling"], dist, c["zipf"], cache_GB, cfg.adafest.tau);
  // On a cluster the stages' work is the slowest device's: rows updated per step would be a shard's.
  if (r) out.csv += fmt::format(",{},{},{},{}", r->throughput_examples_per_s, r->step_ms,
                                res.cluster ? "" : fmt::format("{}", rows_updated(*r, w)), fwd_emb_hit_rate(*r));
  else out.csv += ",,,,";
  out.csv += priv.accounted ? fmt::format(",{},{},{}", priv.epsilon, priv.delta, priv.noise_multiplier)
                            : fmt::format(",,{},", priv.delta);
  std::map<std::string, double> ms;
  if (r) {
    for (const auto& st : r->stages) ms[stage_name(st.stage)] = st.time.ms;
    for (const auto& o : r->once) ms[stage_name(o.stage)] = o.time.ms;
  }
  for (const char* sn : kStageNames) out.csv += r ? fmt::format(",{}", ms.count(sn) ? ms[sn] : 0.0) : ",";
  const sim::TimeToTrain* tt = res.tt ? &*res.tt : nullptr;
  out.csv += fmt::format(",{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", res.cluster ? csv_field(res.cluster->name) : "",
                         res.cluster ? std::to_string(res.cluster->nodes) : "", res.devices, res.hw.tables_in,
                         r ? fmt::format("{}", res.comm_ms) : "", res.fits ? "true" : "false",
                         priv.steps > 0 ? std::to_string(priv.steps) : "", tt ? fmt::format("{}", tt->wall_s / 3600) : "",
                         tt ? fmt::format("{}", tt->device_hours) : "", tt ? opt_field(tt->cost_usd) : "",
                         csv_field(res.sharding), csv_field(res.note), csv_field(res.implementation),
                         r ? fmt::format("{}", r->noise_GB) : "", r ? fmt::format("{}", r->row_state_GB) : "");
}

void add_json_case(const SweepCase& c, const Workload& w, const AlgorithmConfig& cfg, const CaseResult& res,
                   const privacy::PrivacyReport& priv, const std::string& dist, SweepOutputs& out) {
  const sim::SimReport* r = res.report ? &*res.report : nullptr;
  const nlohmann::json zipf = c["zipf"].empty() ? nlohmann::json() : nlohmann::json(std::stod(c["zipf"]));
  const nlohmann::json none;
  std::map<std::string, double> ms;
  if (r) {
    for (const auto& st : r->stages) ms[stage_name(st.stage)] = st.time.ms;
    for (const auto& o : r->once) ms[stage_name(o.stage)] = o.time.ms;
  }
  nlohmann::json j = {{"hardware", res.hw.name}, {"model", w.name}, {"table_scale", std::stod(c["table-scale"])},
                      {"table_bytes", w.table_bytes()}, {"algo", c["algo"]}, {"batch", w.batch_size},
                      {"pooling", c["pooling"]}, {"dist", dist}, {"zipf", zipf},
                      {"device_cache_GB", res.hw.device_cache ? res.hw.device_cache->capacity_GB : 0.0},
                      {"tables_in", res.hw.tables_in}, {"adafest_tau", cfg.adafest.tau},
                      {"devices", res.devices}, {"fits", res.fits}, {"privacy", priv.to_json()},
                      {"implementation", res.implementation}};
  j["materialized_noise_GB"] = r ? nlohmann::json(r->noise_GB) : none;
  j["row_state_GB"] = r ? nlohmann::json(r->row_state_GB) : none;
  j["fwd_emb_hit_rate"] = r ? nlohmann::json(fwd_emb_hit_rate(*r)) : none;
  j["throughput_examples_per_s"] = r ? nlohmann::json(r->throughput_examples_per_s) : none;
  j["step_ms"] = r ? nlohmann::json(r->step_ms) : none;
  j["rows_updated_per_step"] = r && !res.cluster ? nlohmann::json(rows_updated(*r, w)) : none;
  j["stages_ms"] = r ? nlohmann::json(ms) : none;
  j["time_to_train"] = res.tt ? res.tt->to_json() : none;
  if (res.cluster) {
    j["cluster"] = res.cluster->name;
    j["nodes"] = res.cluster->nodes;
    j["communication_ms"] = r ? nlohmann::json(res.comm_ms) : none;
    j["sharding"] = res.sharding;
  }
  if (!res.note.empty()) j["note"] = res.note;
  out.cases.push_back(std::move(j));
}

// The human table's columns: the axes that take more than one value (and algo), then the results.
std::vector<std::string> table_columns(const std::map<std::string, std::vector<std::string>>& values, bool cluster) {
  std::vector<std::string> cols = {"case"};
  for (const std::string& a : kAxes)
    if (a == "algo" || values.at(a).size() > 1) cols.push_back(a);
  if (cluster) cols.push_back("devices");
  cols.insert(cols.end(), {"ms/step", "examples/s"});
  if (cluster) cols.push_back("comm ms");
  cols.push_back("train h");
  return cols;
}

void add_table_row(size_t index, const SweepCase& c, const CaseResult& res, const std::vector<std::string>& cols,
                   SweepOutputs& out) {
  const sim::SimReport* r = res.report ? &*res.report : nullptr;
  std::vector<std::string> row;
  for (const std::string& col : cols) {
    if (col == "case") row.push_back(std::to_string(index + 1));
    else if (col == "hardware") row.push_back(res.hw.name);
    else if (col == "implementation") row.push_back(res.implementation);
    else if (col == "nodes") row.push_back(res.cluster ? std::to_string(res.cluster->nodes) : "");
    else if (col == "devices") row.push_back(std::to_string(res.devices));
    else if (col == "ms/step") row.push_back(r ? fmt::format("{:.4g}", r->step_ms) : "does not fit");
    else if (col == "examples/s") row.push_back(r ? fmt::format("{:.0f}", r->throughput_examples_per_s) : "-");
    else if (col == "comm ms") row.push_back(r ? fmt::format("{:.4g}", res.comm_ms) : "-");
    else if (col == "train h") row.push_back(res.tt ? fmt::format("{:.4g}", res.tt->wall_s / 3600) : "-");
    else row.push_back(c[col].empty() ? "(flag)" : c[col]);
  }
  out.table.push_back(std::move(row));
  if (!res.note.empty()) out.notes.push_back(fmt::format("case {}: {}{}", index + 1, r ? "" : "does not fit: ", res.note));
}

void print_table(const std::vector<std::string>& cols, const SweepOutputs& out) {
  std::vector<size_t> width;
  for (const auto& c : cols) width.push_back(c.size());
  for (const auto& row : out.table)
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t i = 0; i < cells.size(); ++i)
      s += (i ? "  " : "") + (i + 1 == cells.size() ? cells[i] : fmt::format("{:<{}}", cells[i], width[i]));
    std::printf("%s\n", s.c_str());
  };
  line(cols);
  for (const auto& row : out.table) line(row);
  for (const auto& n : out.notes) std::printf("%s\n", n.c_str());
}

// The resolved workload of a case (its axes over the flags').
Workload case_workload(const SweepCase& c, const WorkloadFlags& wf) {
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
  return cw.resolve();
}

// The distribution modeled (the dist axis or flag, or the zipf axis), empty where tables differ.
std::string dist_of(const Workload& w) {
  std::string dist = w.tables.empty() ? "" : w.tables[0].access.name();
  for (const auto& t : w.tables)
    if (!(t.access == w.tables[0].access)) dist = "";
  return dist;
}

// Flags the cluster decides, or that only a cluster takes.
void check_cluster_flags(const po::variables_map& vm, const std::map<std::string, std::vector<std::string>>& axes,
                         const SweepSetup& s) {
  if (!s.cluster) {
    if (axes.count("nodes"))
      throw InputError("--axis nodes: only with --cluster (the node counts of a cluster; without one, vary --axis hardware)");
    return;
  }
  if (axes.count("hardware"))
    throw InputError(fmt::format("--axis hardware: --cluster {} names its devices' profile ({}); vary --axis nodes, or "
                                 "sweep --axis hardware without --cluster",
                                 s.cluster->name, s.cluster->device.name));
  if (!vm["hardware"].defaulted())
    throw InputError("--hardware: a cluster names its devices' profile; give --hardware or --cluster, not both");
  if (vm.count("nodes") && axes.count("nodes"))
    throw InputError("--nodes and --axis nodes: both set the node count; give one");
}
}  // namespace

int cmd_sweep(int argc, char** argv) {
  po::options_description opts("privrec sweep options");
  WorkloadFlags wf;
  AlgorithmFlags af;
  PrivacyFlags pf;
  SweepSetup setup;
  ClusterFlags cf;
  std::string hardware = "h100-sxm";
  std::vector<std::string> axes;
  opts.add_options()("help,h", "show this help")
    ("axis", po::value(&axes), (std::string("NAME=V1,V2,... (repeatable): ") + kAxisList).c_str())
    ("hardware", po::value(&hardware)->default_value(hardware), "hardware profile when there is no hardware axis")
    ("steps", po::value(&setup.steps)->default_value(setup.steps), "batches modeled per case")
    ("seed", po::value(&setup.seed)->default_value(setup.seed), "seed of the synthetic traces")
    ("analytic", "model expectations instead of synthetic traces (no batch is drawn; Che's approximation for caches; "
                 "implied by --cluster)");
  OutputFlags out;
  out.add_to(opts);
  wf.add_to(opts);
  af.add_to(opts);
  pf.add_to(opts);
  setup.place.add_to(opts);
  ImplementationFlags impl_flags;
  impl_flags.add_to(opts);
  cf.add_to(opts);
  po::variables_map vm;
  if (!parse(argc, argv, opts, vm,
             "usage: privrec sweep --axis table-scale=0.001,0.01,0.1,1,10 --axis algo=sgd,dpsgd-f,lazydp,adafest "
             "[--axis hardware=h100-sxm,v100-xeon-e5-2698v4] [--axis zipf=0,0.8,1.05] "
             "[--tables-in host --axis device-cache=1,8,70] [--model M] --csv FILE\n"
             "       privrec sweep --cluster dgx-h100 --axis nodes=1,2,4,8 --model mlperf-dlrm --table-scale 104 "
             "--axis algo=dpsgd-f,lazydp --csv FILE\n"
             "Runs the performance model on every combination of the axes: a table on stdout, one CSV row per case,\n"
             "progress on stderr. With --cluster every case runs the scale-out model (analytic) on the planner's\n"
             "sharding (or --sharding FILE); a case no sharding fits is a row with fits=false and the planner's note."))
    return 0;
  const bool force = vm.count("force") > 0, quiet = vm.count("quiet") > 0;
  for (const std::string* p : {&out.json, &out.csv}) check_output(*p, force);
  if (setup.steps < 1 || setup.steps > 10000) throw InputError(fmt::format("--steps {}: expected 1 .. 10000", setup.steps));
  setup.cluster = cf.resolve(vm);
  setup.sharding = cf.sharding;
  setup.price = cf.price_of(vm, setup.cluster ? &*setup.cluster : nullptr);
  setup.analytic = vm.count("analytic") > 0 || setup.cluster.has_value();
  wf.finish(vm);
  pf.finish(vm);
  AlgorithmFlags::refuse_learning_rate(vm, "sweep");
  std::map<std::string, std::vector<std::string>> values = parse_axes(axes);
  check_cluster_flags(vm, values, setup);
  auto base = [&](const std::string& name, const std::string& v) {
    if (!values.count(name)) values[name] = {v};
  };
  base("hardware", setup.cluster ? setup.cluster->name : hardware), base("nodes", "");
  if (values.count("implementation") && !vm["implementation"].defaulted())
    throw InputError("--implementation and --axis implementation: both set the implementation; give one");
  base("implementation", impl_flags.implementation);
  base("model", wf.model), base("table-scale", fmt::format("{}", wf.table_scale));
  base("algo", af.algo), base("batch", wf.batch ? std::to_string(wf.batch) : ""), base("dist", wf.dist);
  base("pooling", wf.pooling ? std::to_string(wf.pooling) : ""), base("zipf", "");
  base("device-cache", ""), base("adafest-tau", fmt::format("{}", af.cfg.adafest.tau));
  if (values.count("zipf") && values.at("zipf").front() != "" && vm.count("dist"))
    throw InputError("--dist and --axis zipf: both set the access distribution; give one");
  if (values.count("device-cache") && values.at("device-cache").front() != "" && vm.count("device-cache"))
    throw InputError("--device-cache and --axis device-cache: give one");
  check_axis_values(values, setup);
  if (!quiet)  // once per implementation fitted on another machine and hardware it models
    for (const auto& im : values.at("implementation"))
      for (const auto& hw : values.at("hardware")) {
        const std::string hw_name = setup.cluster ? "" : sim::load_hardware_profile(hw).name;
        const std::string note =
            setup.cluster ? "" : sim::fitted_elsewhere_note(sim::load_implementation_profile(im, hw_name), hw_name);
        if (!note.empty()) std::fprintf(stderr, "[privrec] note: %s\n", note.c_str());
      }
  const std::vector<SweepCase> cases = cross_product(values);
  const std::vector<std::string> cols = table_columns(values, setup.cluster.has_value());

  SweepOutputs res;
  res.csv = csv_header();
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < cases.size(); ++i) {
    const SweepCase& c = cases[i];
    const Workload w = case_workload(c, wf);
    AlgorithmFlags ca = af;
    ca.algo = c["algo"];
    ca.cfg.adafest.tau = parse_double("adafest-tau", c["adafest-tau"]);
    AlgorithmConfig cfg = ca.resolve(setup.seed);
    // A target epsilon sets this case's noise (and adafest's selection rate) before the model runs,
    // so every algorithm is compared at the same epsilon.
    const privacy::PrivacyReport priv = privacy::account(pf.settings, w, w.batch_size, cfg);
    CaseResult r = run_case(c, w, cfg, setup);
    if (r.report && priv.steps > 0)
      r.tt = sim::time_to_train(priv.steps, r.report->step_ms, once_ms(*r.report), r.devices, setup.price);
    const std::string dist = dist_of(w);
    add_csv_row(c, w, cfg, r, priv, dist, res);
    add_json_case(c, w, cfg, r, priv, dist, res);
    add_table_row(i, c, r, cols, res);
    if (!quiet) {
      const std::string on = r.cluster ? fmt::format("{} x{}", r.cluster->name, r.devices) : r.hw.name;
      const std::string result = r.report ? fmt::format("{:.0f} examples/s", r.report->throughput_examples_per_s)
                                          : std::string("does not fit");
      std::fprintf(stderr, "[privrec] case %zu/%zu: %s %s x%s %s: %s%s (%.1f s elapsed)\n", i + 1, cases.size(), on.c_str(),
                   w.name.c_str(), c["table-scale"].c_str(), c["algo"].c_str(), result.c_str(),
                   priv.accounted ? fmt::format(", epsilon {:.3g}", priv.epsilon).c_str() : "",
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
  }
  std::printf("privrec sweep (%s%s): %zu cases, %lld steps each, seed %llu\n", setup.analytic ? "analytic" : "trace-driven",
              setup.cluster ? (", scale-out on " + setup.cluster->name + ", sharding " + setup.sharding).c_str() : "",
              cases.size(), static_cast<long long>(setup.steps), static_cast<unsigned long long>(setup.seed));
  print_table(cols, res);
  if (!out.csv.empty()) write_text_file(out.csv, res.csv);
  if (!out.json.empty()) {
    nlohmann::json j = {{"command", "sweep"}, {"steps", setup.steps}, {"seed", setup.seed},
                        {"mode", setup.analytic ? "analytic" : "trace-driven"},
                        {"algorithm", af.resolve(setup.seed).to_json()}, {"cases", res.cases}, {"machine", machine_json()}};
    if (setup.cluster) {
      j["cluster"] = setup.cluster->to_json();
      j["sharding"] = setup.sharding;
    }
    if (setup.price > 0) j["price_per_device_hour_usd"] = setup.price;
    write_text_file(out.json, j.dump(2) + "\n");
  }
  return 0;
}

}  // namespace privrec::cli
