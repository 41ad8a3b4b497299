#include "sim/hardware_profile.hpp"

#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "models/config_error.hpp"
#include "models/json_reader.hpp"

namespace privrec::sim {

// Generated from configs/hardware/*.json at configure time (sim/CMakeLists.txt).
const std::map<std::string, std::string>& builtin_hardware_presets();

namespace {
double positive(JsonObjectReader& r, const std::string& key) {
  const double v = r.required_number(key);
  if (!(v > 0)) throw config_error(r.file(), r.key_path(key), fmt::format("{}", v), "a positive number");
  return v;
}

double non_negative(JsonObjectReader& r, const std::string& key) {
  const double v = r.required_number(key);
  if (!(v >= 0)) throw config_error(r.file(), r.key_path(key), fmt::format("{}", v), "a number >= 0");
  return v;
}

ProcessorProfile parse_processor(const nlohmann::json& j, const std::string& file, const std::string& key) {
  JsonObjectReader r(j, file, key);
  ProcessorProfile p;
  p.memory_GB = positive(r, "memory_GB");
  p.stream_GBps = positive(r, "stream_GBps");
  p.random_GBps = positive(r, "random_GBps");
  p.gemm_GFLOPps = positive(r, "gemm_GFLOPps");
  p.vector_GFLOPps = positive(r, "vector_GFLOPps");
  p.rng_normals_per_s = positive(r, "rng_normals_per_s");
  p.launch_overhead_us = non_negative(r, "launch_overhead_us");
  r.reject_unknown_keys();
  return p;
}

nlohmann::json processor_json(const ProcessorProfile& p) {
  return {{"memory_GB", p.memory_GB},         {"stream_GBps", p.stream_GBps},
          {"random_GBps", p.random_GBps},     {"gemm_GFLOPps", p.gemm_GFLOPps},
          {"vector_GFLOPps", p.vector_GFLOPps}, {"rng_normals_per_s", p.rng_normals_per_s},
          {"launch_overhead_us", p.launch_overhead_us}};
}
}  // namespace

HardwareProfile parse_hardware_profile(const nlohmann::json& j, const std::string& file) {
  if (!j.is_object()) throw config_error(file, "(top level)", json_value_text(j), "a JSON object");
  JsonObjectReader r(j, file, "");
  HardwareProfile h;
  h.name = r.required_string("name");
  h.description = r.optional_string("description").value_or("");
  h.provenance = r.required_object("provenance", "an object saying where the numbers come from");
  if (!h.provenance.contains("source") || !h.provenance["source"].is_string())
    throw config_error(file, r.key_path("provenance.source"), json_value_text(h.provenance.value("source", nlohmann::json())),
                       "a string: datasheet, measured, estimate, ...");
  h.tables_in = r.required_string("tables_in");
  if (h.tables_in != "device" && h.tables_in != "host")
    throw config_error(file, r.key_path("tables_in"), h.tables_in, "\"device\" or \"host\"");
  h.device = parse_processor(r.required_object("device"), file, r.key_path("device"));
  if (h.tables_in == "host") {
    h.host = parse_processor(r.required_object("host", "an object (tables_in is \"host\")"), file, r.key_path("host"));
    JsonObjectReader l(r.required_object("link", "an object (tables_in is \"host\")"), file, r.key_path("link"));
    h.link_GBps = positive(l, "GBps");
    h.link_latency_us = non_negative(l, "latency_us");
    l.reject_unknown_keys();
  } else if (r.has("host") || r.has("link")) {
    throw config_error(file, r.key_path(r.has("host") ? "host" : "link"), "(present)",
                       "no host or link section when tables_in is \"device\"");
  }
  r.reject_unknown_keys();
  return h;
}

nlohmann::json HardwareProfile::to_json() const {
  nlohmann::json j = {{"name", name}, {"description", description}, {"provenance", provenance},
                      {"tables_in", tables_in}, {"device", processor_json(device)}};
  if (host) {
    j["host"] = processor_json(*host);
    j["link"] = {{"GBps", link_GBps}, {"latency_us", link_latency_us}};
  }
  return j;
}

std::vector<std::string> hardware_preset_names() {
  std::vector<std::string> names;
  for (const auto& [name, text] : builtin_hardware_presets()) names.push_back(name);
  return names;
}

HardwareProfile load_hardware_profile(const std::string& name_or_file) {
  const auto& presets = builtin_hardware_presets();
  if (const auto it = presets.find(name_or_file); it != presets.end()) {
    const std::string file = "configs/hardware/" + name_or_file + ".json";
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(it->second);
    } catch (const nlohmann::json::parse_error& e) {
      throw InputError(fmt::format("{}: built-in preset is not valid JSON: {}", file, e.what()));
    }
    return parse_hardware_profile(j, file);
  }
  if (!std::filesystem::exists(name_or_file)) {
    std::string known;
    for (const auto& n : hardware_preset_names()) known += (known.empty() ? "" : ", ") + n;
    throw InputError(fmt::format("--hardware {}: neither a preset ({}) nor an existing file", name_or_file, known));
  }
  return parse_hardware_profile(parse_json_file(name_or_file), name_or_file);
}

}  // namespace privrec::sim
