// privrec sweep: the performance model over the cross product of axes (hardware, workload, table
// scale, algorithm, batch, pooling, access distribution), one CSV row per case.
#include <chrono>
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
const std::vector<std::string> kAxes = {"hardware", "model", "table-scale", "algo", "batch", "pooling", "dist", "adafest-tau"};

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

double parse_double(const std::string& axis, const std::string& v) {
  try {
    size_t used = 0;
    const double x = std::stod(v, &used);
    if (used == v.size() && x > 0) return x;
  } catch (const std::exception&) {
  }
  throw InputError(fmt::format("--axis {}={}: expected positive numbers", axis, v));
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
}  // namespace

int cmd_sweep(int argc, char** argv) {
  po::options_description opts("privrec sweep options");
  WorkloadFlags wf;
  AlgorithmFlags af;
  PrivacyFlags pf;
  std::string hardware = "h100-sxm";
  std::vector<std::string> axes;
  int64_t steps = 2;
  uint64_t seed = 1;
  opts.add_options()("help,h", "show this help")
    ("axis", po::value(&axes), "NAME=V1,V2,... (repeatable): hardware, model, table-scale, algo, batch, pooling, dist or "
                               "adafest-tau")
    ("hardware", po::value(&hardware)->default_value(hardware), "hardware profile when there is no hardware axis")
    ("steps", po::value(&steps)->default_value(steps), "batches modeled per case")
    ("seed", po::value(&seed)->default_value(seed), "seed of the synthetic traces")
    ("analytic", "model expectations instead of synthetic traces (no batch is drawn)");
  OutputFlags out;
  out.add_to(opts);
  wf.add_to(opts);
  af.add_to(opts);
  pf.add_to(opts);
  po::variables_map vm;
  if (!parse(argc, argv, opts, vm,
             "usage: privrec sweep --axis table-scale=0.001,0.01,0.1,1,10 --axis algo=sgd,dpsgd-f,lazydp,adafest "
             "[--axis hardware=h100-sxm,v100-xeon-e5-2698v4] [--model M] --csv FILE\n"
             "Runs the performance model on every combination of the axes; one row per case, progress on stderr."))
    return 0;
  const bool force = vm.count("force") > 0, quiet = vm.count("quiet") > 0;
  for (const std::string* p : {&out.json, &out.csv}) check_output(*p, force);
  if (steps < 1 || steps > 10000) throw InputError(fmt::format("--steps {}: expected 1 .. 10000", steps));
  wf.finish(vm);
  pf.finish(vm);

  std::map<std::string, std::vector<std::string>> values;
  for (const auto& a : axes) {
    const size_t eq = a.find('=');
    const std::string name = a.substr(0, eq);
    if (eq == std::string::npos || eq + 1 == a.size())
      throw InputError("--axis " + a + ": expected NAME=V1,V2,... with NAME one of hardware, model, table-scale, algo, "
                       "batch, pooling, dist, adafest-tau");
    if (std::find(kAxes.begin(), kAxes.end(), name) == kAxes.end())
      throw InputError("--axis " + a + ": unknown axis '" + name +
                       "' (hardware, model, table-scale, algo, batch, pooling, dist, adafest-tau)");
    if (values.count(name)) throw InputError("--axis " + name + ": given twice");
    values[name] = split(a.substr(eq + 1), ',');
    for (const auto& v : values[name])
      if (v.empty()) throw InputError("--axis " + a + ": an empty value");
  }
  auto axis = [&](const std::string& name, const std::string& base) {
    return values.count(name) ? values[name] : std::vector<std::string>{base};
  };
  const auto hws = axis("hardware", hardware), models = axis("model", wf.model),
             scales = axis("table-scale", fmt::format("{}", wf.table_scale)), algos = axis("algo", af.algo),
             batches = axis("batch", wf.batch ? std::to_string(wf.batch) : ""),
             poolings = axis("pooling", wf.pooling ? std::to_string(wf.pooling) : ""), dists = axis("dist", wf.dist),
             taus = axis("adafest-tau", fmt::format("{}", af.cfg.adafest.tau));
  // Check every value before the first case runs, so a typo fails at once, not an hour in.
  std::vector<sim::HardwareProfile> profiles;
  for (const auto& h : hws) profiles.push_back(sim::load_hardware_profile(h));
  for (const auto& s : scales) parse_double("table-scale", s);
  for (const auto& a : algos) parse_algorithm(a);
  for (const auto& b : batches) if (!b.empty()) parse_int("batch", b);
  for (const auto& p : poolings) if (!p.empty()) parse_int("pooling", p);
  for (const auto& d : dists) if (!d.empty()) AccessDistribution::parse(d);
  for (const auto& t : taus) parse_double("adafest-tau", t);
  for (const auto& m : models) load_workload(m);

  const size_t total = hws.size() * models.size() * scales.size() * algos.size() * batches.size() * poolings.size() *
                       dists.size() * taus.size();
  std::string csv =
      "hardware,model,table_scale,table_bytes,algo,batch,pooling,dist,adafest_tau,throughput_examples_per_s,step_ms,"
      "rows_updated_per_step,epsilon,delta,noise_multiplier";
  for (const char* s : kStageNames) csv += fmt::format(",{}_ms", s);
  csv += "\n";
  nlohmann::json cases = nlohmann::json::array();
  const auto t0 = std::chrono::steady_clock::now();
  size_t done = 0;
  for (size_t hi = 0; hi < hws.size(); ++hi)
    for (const auto& m : models)
      for (const auto& s : scales)
        for (const auto& b : batches)
          for (const auto& p : poolings)
            for (const auto& d : dists)
              for (const auto& tau : taus)
              for (const auto& a : algos) {
                WorkloadFlags cw = wf;
                cw.model = m;
                cw.table_scale = parse_double("table-scale", s);
                cw.batch = b.empty() ? 0 : parse_int("batch", b);
                cw.pooling = p.empty() ? 0 : parse_int("pooling", p);
                cw.dist = d;
                const Workload w = cw.resolve();
                AlgorithmFlags ca = af;
                ca.algo = a;
                ca.cfg.adafest.tau = parse_double("adafest-tau", tau);
                AlgorithmConfig cfg = ca.resolve(seed);
                // A target epsilon sets the noise (and adafest's selection rate) before the model runs.
                const privacy::PrivacyReport priv = privacy::account(pf.settings, w, w.batch_size, cfg);
                const sim::SimReport r = [&] {
                  if (vm.count("analytic")) return sim::simulate_analytic(w, cfg, profiles[hi], steps);
                  SyntheticTrace trace(w, seed);
                  return sim::simulate(w, cfg, trace, profiles[hi], steps);
                }();
                std::map<std::string, double> ms;
                for (const auto& st : r.stages) ms[stage_name(st.stage)] = st.time.ms;
                // Table rows the step rewrites: the update stage's random row writes, or every row
                // when it streams the whole tables (the dense noisy update).
                double rows_updated = 0;
                for (const auto& st : r.stages) {
                  if (st.stage != Stage::dp_update && st.stage != Stage::update_sparse) continue;
                  rows_updated += st.work.rows_written_rand > 0 ? static_cast<double>(st.work.rows_written_rand)
                                  : st.work.bytes_written_seq > 0 ? static_cast<double>(w.table_rows())
                                                                  : 0.0;
                }
                for (const auto& o : r.once) ms[stage_name(o.stage)] = o.time.ms;
                csv += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{}", profiles[hi].name, w.name, cw.table_scale,
                                   w.table_bytes(), a, w.batch_size, p.empty() ? "" : p, d.empty() ? "" : d,
                                   ca.cfg.adafest.tau, r.throughput_examples_per_s, r.step_ms, rows_updated);
                csv += priv.accounted ? fmt::format(",{},{},{}", priv.epsilon, priv.delta, priv.noise_multiplier)
                                      : fmt::format(",,{},", priv.delta);
                for (const char* sn : kStageNames) csv += fmt::format(",{}", ms.count(sn) ? ms[sn] : 0.0);
                csv += "\n";
                nlohmann::json c = {{"hardware", profiles[hi].name}, {"model", w.name}, {"table_scale", cw.table_scale},
                                    {"table_bytes", w.table_bytes()}, {"algo", a}, {"batch", w.batch_size},
                                    {"pooling", p}, {"dist", d}, {"throughput_examples_per_s", r.throughput_examples_per_s},
                                    {"step_ms", r.step_ms}, {"rows_updated_per_step", rows_updated},
                                    {"adafest_tau", ca.cfg.adafest.tau}, {"stages_ms", ms}, {"privacy", priv.to_json()}};
                cases.push_back(c);
                ++done;
                if (!quiet)
                  std::fprintf(stderr, "[privrec] case %zu/%zu: %s %s x%s %s: %.0f examples/s%s (%.1f s elapsed)\n",
                               done, total, profiles[hi].name.c_str(), w.name.c_str(), s.c_str(), a.c_str(),
                               r.throughput_examples_per_s,
                               priv.accounted ? fmt::format(", epsilon {:.3g}", priv.epsilon).c_str() : "",
                               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
              }
  if (out.csv.empty() && out.json.empty()) std::fputs(csv.c_str(), stdout);
  if (!out.csv.empty()) write_text_file(out.csv, csv);
  if (!out.json.empty())
    write_text_file(out.json, nlohmann::json({{"command", "sweep"}, {"steps", steps}, {"seed", seed},
                                              {"mode", vm.count("analytic") ? "analytic" : "trace-driven"},
                                              {"algorithm", af.resolve(seed).to_json()}, {"cases", cases},
                                              {"machine", machine_json()}})
                                      .dump(2) + "\n");
  return 0;
}

}  // namespace privrec::cli
