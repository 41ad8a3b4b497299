#include "models/workload.hpp"

#include <charconv>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "models/config_error.hpp"
#include "models/json_reader.hpp"
#include "models/suggest.hpp"

namespace privrec {

bool workload_preset(const std::string& name, Workload& out);  // workload_presets.cpp

AccessDistribution AccessDistribution::parse(const std::string& text) {
  if (text == "uniform") return {};
  if (text.rfind("zipf:", 0) == 0) {
    const std::string number = text.substr(5);
    double s = 0;
    auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), s);
    if (ec == std::errc() && ptr == number.data() + number.size() && std::isfinite(s) && s > 0)
      return {Kind::zipf, s};
  }
  throw InputError("access distribution '" + text + "': expected 'uniform' or 'zipf:S' with S > 0 (e.g. zipf:1.05)");
}

std::string AccessDistribution::name() const {
  return kind == Kind::uniform ? "uniform" : fmt::format("zipf:{}", zipf_exponent);
}

int64_t Workload::table_bytes() const {
  int64_t b = 0;
  for (const auto& t : tables) b += t.bytes();
  return b;
}

int64_t Workload::table_rows() const {
  int64_t r = 0;
  for (const auto& t : tables) r += t.rows;
  return r;
}

int64_t Workload::mlp_parameters() const {
  int64_t p = 0, in = dense_features;
  for (int64_t out : bottom_mlp) p += (in + 1) * out, in = out;
  in = interaction_width();
  for (int64_t out : top_mlp) p += (in + 1) * out, in = out;
  return p;
}

namespace {
// table_bytes() and mlp_parameters() sum in int64_t: every workload stays far inside it (issue 18,
// fuzzing: a file of 600 tables of 2^40 rows, or a dense_features of 2^62, overflowed them). The
// sums here are in double, which cannot overflow, so a workload past the limits is refused.
constexpr double kMaxTableBytes = 1152921504606846976.0;  // 2^60
constexpr double kMaxMlpParameters = 1099511627776.0;     // 2^40

double table_bytes_in_double(const std::vector<TableSpec>& tables) {
  double b = 0;
  for (const auto& t : tables) b += static_cast<double>(t.rows) * static_cast<double>(t.dim) * sizeof(float);
  return b;
}

double mlp_parameters_in_double(const Workload& w) {
  double p = 0, in = static_cast<double>(w.dense_features);
  for (int64_t out : w.bottom_mlp) p += (in + 1) * static_cast<double>(out), in = static_cast<double>(out);
  in = static_cast<double>(w.interaction_width());
  for (int64_t out : w.top_mlp) p += (in + 1) * static_cast<double>(out), in = static_cast<double>(out);
  return p;
}
}  // namespace

void Workload::scale_tables(double factor) {
  if (!(factor > 0) || !std::isfinite(factor))
    throw InputError(fmt::format("--table-scale {}: expected a positive number", factor));
  for (auto& t : tables) {
    double rows = std::ceil(static_cast<double>(t.rows) * factor);
    if (rows > 9.0e15) throw InputError(fmt::format("--table-scale {}: table {} would have too many rows", factor, t.name));
    t.rows = std::max<int64_t>(1, static_cast<int64_t>(rows));
  }
  if (table_bytes_in_double(tables) > kMaxTableBytes)
    throw InputError(fmt::format("--table-scale {}: the tables would hold more than 2^60 bytes", factor));
}

void Workload::set_pooling(int64_t pooling) {
  if (pooling <= 0) throw InputError(fmt::format("--pooling {}: expected a positive integer", pooling));
  for (auto& t : tables) t.pooling = pooling;
}

void Workload::set_access(const AccessDistribution& access) {
  for (auto& t : tables) t.access = access;
}

void Workload::validate(const std::string& file) const {
  if (tables.empty()) throw config_error(file, "tables", "[]", "at least one table");
  if (interaction != "dot") throw config_error(file, "interaction", interaction, "\"dot\" (DLRM dot interaction)");
  if (top_mlp.back() != 1)
    throw config_error(file, fmt::format("top_mlp[{}]", top_mlp.size() - 1), std::to_string(top_mlp.back()),
                       "1 (the last top layer produces the logit)");
  for (size_t i = 0; i < tables.size(); ++i) {
    if (tables[i].dim != embedding_dim())
      throw config_error(file, fmt::format("tables[{}].dim", i), std::to_string(tables[i].dim),
                         fmt::format("{} (the dot interaction needs every table's dim to equal the last bottom_mlp width)",
                                     embedding_dim()));
    if (tables[i].rows > (int64_t(1) << 40))
      throw config_error(file, fmt::format("tables[{}].rows", i), std::to_string(tables[i].rows), "at most 2^40 rows");
  }
  if (tables.size() > 65536) throw config_error(file, "tables", std::to_string(tables.size()) + " tables", "at most 65536");
  if (embedding_dim() > 4096)
    throw config_error(file, fmt::format("bottom_mlp[{}]", bottom_mlp.size() - 1), std::to_string(embedding_dim()),
                       "an embedding dim of at most 4096");
  if (batch_size > (int64_t(1) << 24))
    throw config_error(file, "batch_size", std::to_string(batch_size), "at most 16777216");
  if (const double b = table_bytes_in_double(tables); b > kMaxTableBytes)
    throw config_error(file, "tables", fmt::format("{:.3g} bytes", b), "at most 2^60 bytes of tables in all");
  if (const double p = mlp_parameters_in_double(*this); p > kMaxMlpParameters)
    throw config_error(file, "dense_features, bottom_mlp, top_mlp", fmt::format("{:.3g} MLP parameters", p),
                       "at most 2^40 parameters in all");
}

nlohmann::json Workload::to_json() const {
  nlohmann::json t = nlohmann::json::array();
  for (const auto& s : tables)
    t.push_back({{"name", s.name}, {"rows", s.rows}, {"dim", s.dim}, {"pooling", s.pooling}, {"access", s.access.name()}});
  nlohmann::json j = {{"name", name},       {"dense_features", dense_features}, {"bottom_mlp", bottom_mlp},
                      {"top_mlp", top_mlp}, {"interaction", interaction},       {"batch_size", batch_size},
                      {"tables", t},        {"table_bytes", table_bytes()},     {"mlp_parameters", mlp_parameters()}};
  if (dataset_examples > 0) j["dataset_examples"] = dataset_examples;  // absent when unknown, as in the files
  return j;
}

Workload workload_from_json(const nlohmann::json& j, const std::string& file) {
  JsonObjectReader r(j, file, "");
  Workload w;
  w.name = r.required_string("name");
  w.dense_features = r.required_positive_int("dense_features");
  w.bottom_mlp = r.required_positive_int_list("bottom_mlp");
  w.top_mlp = r.required_positive_int_list("top_mlp");
  w.interaction = r.required_string("interaction");
  w.batch_size = r.required_positive_int("batch_size");
  w.dataset_examples = r.optional_positive_int("dataset_examples").value_or(0);
  const auto& tables = r.required_array("tables");
  for (size_t i = 0; i < tables.size(); ++i) {
    JsonObjectReader t = r.child(tables[i], "tables", i);
    TableSpec spec;
    spec.name = t.required_string("name");
    spec.rows = t.required_positive_int("rows");
    spec.dim = t.required_positive_int("dim");
    spec.pooling = t.required_positive_int("pooling");
    std::string access = t.optional_string("access").value_or("uniform");
    try {
      spec.access = AccessDistribution::parse(access);
    } catch (const InputError&) {
      throw config_error(file, t.key_path("access"), "\"" + access + "\"", "\"uniform\" or \"zipf:S\" with S > 0");
    }
    // "count": N repeats the table N times, named name_0 .. name_{N-1}.
    int64_t count = t.optional_positive_int("count").value_or(1);
    t.reject_unknown_keys();
    // The limit of 65536 tables (validate) before the copies are made: a 16 KB file of counts
    // made 29 million tables (2.4 GB, 18 s) before it was refused (issue 18, fuzzing).
    if (count > 65536 - static_cast<int64_t>(w.tables.size()))
      throw config_error(file, t.key_path("count"), std::to_string(count),
                         fmt::format("at most 65536 tables in all ({} before this one)", w.tables.size()));
    for (int64_t c = 0; c < count; ++c) {
      TableSpec copy = spec;
      if (count > 1) copy.name = fmt::format("{}_{}", spec.name, c);
      w.tables.push_back(copy);
    }
  }
  r.reject_unknown_keys();
  w.validate(file);
  return w;
}

Workload load_workload(const std::string& preset_or_file) {
  Workload w;
  if (workload_preset(preset_or_file, w)) return w;
  if (!std::filesystem::exists(preset_or_file)) {
    std::string names;
    for (const auto& n : workload_preset_names()) names += (names.empty() ? "" : ", ") + n;
    throw InputError("--model " + preset_or_file + ": no such preset" + did_you_mean(preset_or_file, workload_preset_names()) +
                     " (presets: " + names + ") and no such file");
  }
  return workload_from_json(parse_json_file(preset_or_file), preset_or_file);
}

}  // namespace privrec
