#include "tools/case_list.hpp"

#include <fmt/format.h>

#include "models/config_error.hpp"
#include "models/json_reader.hpp"

namespace privrec::cli {

std::string Case::label() const {
  std::string s = fmt::format("{} x{} {}", model, table_scale, algo);
  if (batch) s += fmt::format(" batch {}", batch);
  if (pooling) s += fmt::format(" pooling {}", pooling);
  if (!dist.empty()) s += " " + dist;
  if (ranks > 1) s += fmt::format(" {} ranks {}", ranks, sharding);
  return s;
}

Workload Case::workload() const {
  Workload w = load_workload(model);
  w.scale_tables(table_scale);
  if (batch) w.batch_size = batch;
  if (pooling) w.set_pooling(pooling);
  if (!dist.empty()) w.set_access(AccessDistribution::parse(dist));
  return w;
}

AlgorithmConfig Case::algorithm(uint64_t seed) const {
  AlgorithmConfig c;
  c.kind = parse_algorithm(algo);
  c.seed = seed;
  c.validate();
  return c;
}

nlohmann::json Case::to_json() const {
  nlohmann::json j = {{"model", model}, {"table_scale", table_scale}, {"algo", algo}, {"steps", steps}, {"warmup", warmup}};
  if (batch) j["batch"] = batch;
  if (pooling) j["pooling"] = pooling;
  if (!dist.empty()) j["dist"] = dist;
  if (ranks > 1) j["ranks"] = ranks, j["sharding"] = sharding;
  return j;
}

std::vector<Case> load_cases(const std::string& file) { return parse_cases(parse_json_file(file), file); }

std::vector<Case> parse_cases(const nlohmann::json& j, const std::string& file) {
  JsonObjectReader top(j, file, "");
  top.optional_string("description");
  const nlohmann::json& list = top.required_array("cases");
  top.reject_unknown_keys();
  std::vector<Case> cases;
  for (size_t i = 0; i < list.size(); ++i) {
    JsonObjectReader r = top.child(list[i], "cases", i);
    Case c;
    c.model = r.required_string("model");
    c.table_scale = r.required_number("table_scale");
    if (!(c.table_scale > 0))
      throw config_error(file, r.key_path("table_scale"), fmt::format("{}", c.table_scale), "a positive number");
    c.algo = r.required_string("algo");
    c.batch = r.optional_positive_int("batch").value_or(0);
    c.pooling = r.optional_positive_int("pooling").value_or(0);
    c.dist = r.optional_string("dist").value_or("");
    c.steps = r.optional_positive_int("steps").value_or(c.steps);
    c.warmup = r.optional_positive_int("warmup").value_or(c.warmup);
    c.ranks = r.optional_positive_int("ranks").value_or(1);
    c.sharding = r.optional_string("sharding").value_or("");
    if (c.ranks > 1 && c.sharding.empty())
      throw config_error(file, r.key_path("sharding"), "(missing)", "table_wise or row_wise: a case on ranks > 1 is sharded");
    if (c.ranks == 1 && !c.sharding.empty())
      throw config_error(file, r.key_path("sharding"), "\"" + c.sharding + "\"",
                         "no sharding for one rank (\"ranks\" is 1); give \"ranks\": N for N > 1");
    if (!c.sharding.empty() && c.sharding != "table_wise" && c.sharding != "row_wise")
      throw config_error(file, r.key_path("sharding"), "\"" + c.sharding + "\"", "table_wise or row_wise");
    r.reject_unknown_keys();
    try {
      c.workload();
      c.algorithm(1);
    } catch (const InputError& e) {
      throw InputError(fmt::format("{}: cases[{}]: {}", file, i, e.what()));
    }
    cases.push_back(c);
  }
  return cases;
}

}  // namespace privrec::cli
