#include "sim/hardware_profile.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "models/config_error.hpp"
#include "models/json_reader.hpp"
#include "models/kernel_work/working_memory.hpp"
#include "models/stage.hpp"
#include "models/suggest.hpp"
#include "sim/preset_json.hpp"

namespace privrec::sim {

// Generated from configs/hardware/*.json at configure time (sim/CMakeLists.txt).
const std::map<std::string, std::string>& builtin_hardware_presets();

namespace {
// "stage" or "stage:bound" (bound: memory, compute or rng).
void parse_stage_name(const std::string& key, const std::string& file, const std::string& path) {
  const size_t colon = key.find(':');
  const std::string name = key.substr(0, colon);
  const std::string bound = colon == std::string::npos ? "" : key.substr(colon + 1);
  const bool bound_ok = colon == std::string::npos || bound == "memory" || bound == "compute" || bound == "rng";
  for (const char* s : kStageNames)
    if (name == s && bound_ok) return;
  std::string known;
  for (const char* s : kStageNames) known += (known.empty() ? "" : ", ") + std::string(s);
  throw config_error(file, path, key, "a stage name (" + known + "), optionally with :memory, :compute or :rng");
}

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

// A key that must be a positive finite number ("128", "0.5"): its value, or InputError naming it.
double positive_key(const std::string& k, const std::string& file, const std::string& path, const char* expected) {
  double v = 0;
  try {
    size_t used = 0;
    v = std::stod(k, &used);
    if (used != k.size()) v = 0;
  } catch (const std::exception&) {
  }
  if (!(v > 0 && std::isfinite(v))) throw config_error(file, path, k, expected);
  return v;
}

std::vector<std::pair<double, double>> parse_by_row(JsonObjectReader& r) {
  std::vector<std::pair<double, double>> out;
  const nlohmann::json& m = r.required_object("random_GBps_by_row_B", "an object {\"row bytes\": GB/s, ...}");
  for (const auto& [k, v] : m.items()) {
    const std::string path = r.key_path("random_GBps_by_row_B") + "." + k;
    const double bytes = positive_key(k, r.file(), path, "a key that is a positive row size in bytes");
    if (!v.is_number() || !(v.get<double>() > 0)) throw config_error(r.file(), path, json_value_text(v), "a positive GB/s");
    out.emplace_back(bytes, v.get<double>());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// "caches": [{"name", "capacity_MB", "stream_GBps", "random_GBps", optional "random_GBps_by_row_B"}],
// nearest first: capacities strictly ascending and below the memory's.
std::vector<CacheLevel> parse_caches(JsonObjectReader& r, double memory_GB) {
  const std::string key = r.key_path("caches");
  const nlohmann::json& list = r.required_array("caches");
  std::vector<CacheLevel> out;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string path = fmt::format("{}[{}]", key, i);
    JsonObjectReader c = r.child(list[i], "caches", i);
    CacheLevel l;
    l.name = c.required_string("name");
    bool taken = l.name.empty() || l.name == "memory";
    for (const CacheLevel& o : out) taken = taken || o.name == l.name;
    if (taken)
      throw config_error(r.file(), path + ".name", "\"" + l.name + "\"",
                         "a non-empty name, unique among the caches and not \"memory\"");
    l.capacity_MB = positive(c, "capacity_MB");
    l.stream_GBps = positive(c, "stream_GBps");
    l.random_GBps = positive(c, "random_GBps");
    if (c.has("random_GBps_by_row_B")) l.random_GBps_by_row_B = parse_by_row(c);
    c.reject_unknown_keys();
    if (!out.empty() && !(l.capacity_MB > out.back().capacity_MB))
      throw config_error(r.file(), path + ".capacity_MB", fmt::format("{}", l.capacity_MB),
                         fmt::format("more than the level before ({} MB): caches are listed nearest first", out.back().capacity_MB));
    if (!(l.capacity_MB < memory_GB * 1e3))
      throw config_error(r.file(), path + ".capacity_MB", fmt::format("{}", l.capacity_MB),
                         fmt::format("less than the memory behind it ({} GB)", memory_GB));
    out.push_back(std::move(l));
  }
  return out;
}

// `key`: {"128": {"0.01": 9.5, ..., "1": 1}, ...}, each fraction (what `fraction` names: "miss
// fraction", "density") in (0, 1].
CostCurve parse_cost_curve(JsonObjectReader& r, const char* key, const std::string& fraction_name) {
  CostCurve out;
  const std::string shape = fmt::format("an object {{\"row bytes\": {{\"{}\": cost factor, ...}}, ...}}", fraction_name);
  const nlohmann::json& m = r.required_object(key, shape.c_str());
  for (const auto& [row, curve] : m.items()) {
    const std::string path = r.key_path(key) + "." + row;
    const double bytes = positive_key(row, r.file(), path, "a key that is a positive row size in bytes");
    if (!curve.is_object() || curve.empty())
      throw config_error(r.file(), path, json_value_text(curve),
                         fmt::format("a non-empty object {{\"{}\": cost factor, ...}}", fraction_name));
    std::vector<std::pair<double, double>> points;
    for (const auto& [fraction, v] : curve.items()) {
      const std::string at = path + "." + fraction;
      const std::string expected = fmt::format("a key that is a {} in (0, 1]", fraction_name);
      const double q = positive_key(fraction, r.file(), at, expected.c_str());
      if (q > 1) throw config_error(r.file(), at, fraction, expected);
      if (!v.is_number() || !(v.get<double>() > 0) || !std::isfinite(v.get<double>()))
        throw config_error(r.file(), at, json_value_text(v), "a positive cost factor");
      for (const auto& [other, f] : points)
        if (other == q)
          throw config_error(r.file(), at, fraction, fmt::format("a {} not listed twice under this row size", fraction_name));
      points.emplace_back(q, v.get<double>());
    }
    std::sort(points.begin(), points.end());
    for (const auto& [other, pts] : out.by_row_B)
      if (other == bytes) throw config_error(r.file(), path, row, "a row size not listed twice");
    out.by_row_B.emplace_back(bytes, std::move(points));
  }
  std::sort(out.by_row_B.begin(), out.by_row_B.end());
  return out;
}

nlohmann::json cost_curve_json(const CostCurve& c) {
  nlohmann::json m = nlohmann::json::object();
  for (const auto& [row, points] : c.by_row_B)
    for (const auto& [q, f] : points) m[fmt::format("{}", row)][fmt::format("{}", q)] = f;
  return m;
}

nlohmann::json by_row_json(const std::vector<std::pair<double, double>>& by_row) {
  nlohmann::json m = nlohmann::json::object();
  for (const auto& [bytes, gbps] : by_row) m[fmt::format("{}", bytes)] = gbps;
  return m;
}

DeviceCache parse_device_cache(JsonObjectReader& r, const HardwareProfile& h) {
  JsonObjectReader c(r.required_object("device_cache", "an object {\"capacity_GB\", \"policy\"}"), r.file(),
                     r.key_path("device_cache"));
  DeviceCache d;
  d.capacity_GB = positive(c, "capacity_GB");
  d.policy = c.required_string("policy");
  if (d.policy != "lru" && d.policy != "lfu")
    throw config_error(r.file(), c.key_path("policy"), d.policy, "\"lru\" or \"lfu\"");
  c.reject_unknown_keys();
  if (h.tables_in != "host")
    throw config_error(r.file(), r.key_path("device_cache"), "(present)", "a device cache only with tables_in \"host\"");
  if (d.capacity_GB > h.device.memory_GB)
    throw config_error(r.file(), c.key_path("capacity_GB"), fmt::format("{}", d.capacity_GB),
                       fmt::format("at most the device's memory_GB ({})", h.device.memory_GB));
  if (!h.device.caches.empty() && !(d.capacity_GB * 1e3 > h.device.caches.back().capacity_MB))
    throw config_error(r.file(), c.key_path("capacity_GB"), fmt::format("{}", d.capacity_GB),
                       fmt::format("more than the device's {} ({} MB): the device cache sits behind it",
                                   h.device.caches.back().name, h.device.caches.back().capacity_MB));
  return d;
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
  p.sort_ops_per_s = positive(r, "sort_ops_per_s");
  p.launch_overhead_us = non_negative(r, "launch_overhead_us");
  if (r.has("first_touch_GBps")) p.first_touch_GBps = positive(r, "first_touch_GBps");
  if (r.has("overlap_fraction")) {
    p.overlap_fraction = r.required_number("overlap_fraction");
    if (!(p.overlap_fraction >= 0 && p.overlap_fraction <= 1))
      throw config_error(file, r.key_path("overlap_fraction"), fmt::format("{}", p.overlap_fraction),
                         "a fraction in [0, 1] (1: the terms overlap fully, 0: they add up)");
  }
  if (r.has("random_GBps_by_row_B")) p.random_GBps_by_row_B = parse_by_row(r);
  if (r.has("memory_miss_cost_by_row_B")) p.memory_miss_cost = parse_cost_curve(r, "memory_miss_cost_by_row_B", "miss fraction");
  if (r.has("sorted_visit_cost_by_row_B")) p.sorted_visit_cost = parse_cost_curve(r, "sorted_visit_cost_by_row_B", "density");
  if (r.has("caches")) p.caches = parse_caches(r, p.memory_GB);
  r.reject_unknown_keys();
  return p;
}

nlohmann::json processor_json(const ProcessorProfile& p) {
  nlohmann::json j = {{"memory_GB", p.memory_GB},         {"stream_GBps", p.stream_GBps},
                      {"random_GBps", p.random_GBps},     {"gemm_GFLOPps", p.gemm_GFLOPps},
                      {"vector_GFLOPps", p.vector_GFLOPps}, {"rng_normals_per_s", p.rng_normals_per_s},
                      {"sort_ops_per_s", p.sort_ops_per_s},
                      {"launch_overhead_us", p.launch_overhead_us}};
  if (p.overlap_fraction != 1.0) j["overlap_fraction"] = p.overlap_fraction;
  if (p.first_touch_GBps > 0) j["first_touch_GBps"] = p.first_touch_GBps;
  if (!p.random_GBps_by_row_B.empty()) j["random_GBps_by_row_B"] = by_row_json(p.random_GBps_by_row_B);
  if (!p.memory_miss_cost.empty()) j["memory_miss_cost_by_row_B"] = cost_curve_json(p.memory_miss_cost);
  if (!p.sorted_visit_cost.empty()) j["sorted_visit_cost_by_row_B"] = cost_curve_json(p.sorted_visit_cost);
  for (const CacheLevel& l : p.caches) {
    nlohmann::json c = {{"name", l.name}, {"capacity_MB", l.capacity_MB}, {"stream_GBps", l.stream_GBps},
                        {"random_GBps", l.random_GBps}};
    if (!l.random_GBps_by_row_B.empty()) c["random_GBps_by_row_B"] = by_row_json(l.random_GBps_by_row_B);
    j["caches"].push_back(c);
  }
  return j;
}
}  // namespace

namespace {
// Linear in log(x) between the points (x ascending), flat beyond the ends.
double log_interpolate(const std::vector<std::pair<double, double>>& m, double x) {
  if (x <= m.front().first) return m.front().second;
  if (x >= m.back().first) return m.back().second;
  size_t i = 1;
  while (m[i].first < x) ++i;
  const double f = std::log(x / m[i - 1].first) / std::log(m[i].first / m[i - 1].first);
  return m[i - 1].second + f * (m[i].second - m[i - 1].second);
}
}  // namespace

double random_GBps_at(const std::vector<std::pair<double, double>>& m, double fallback, double row_bytes) {
  return m.empty() ? fallback : log_interpolate(m, row_bytes);
}

double CostCurve::factor(double row_bytes, double miss_fraction) const {
  if (by_row_B.empty() || !(miss_fraction > 0)) return 1.0;
  std::vector<std::pair<double, double>> at_row;  // each row size's factor at this fraction
  for (const auto& [row, points] : by_row_B)
    if (!points.empty()) at_row.emplace_back(row, log_interpolate(points, miss_fraction));
  return at_row.empty() ? 1.0 : log_interpolate(at_row, row_bytes);
}

double CostCurve::smallest_fraction() const {
  double q = 1.0;
  for (const auto& [row, points] : by_row_B)
    if (!points.empty()) q = std::min(q, points.front().first);
  return q;
}

void parse_stage_maps(JsonObjectReader& r, const std::string& file, StageMap& efficiency, StageMap& fixed_ms,
                      StageMap& bag_ns, StageMap& launch_us, StageMap& overlap) {
  // key, the map, what a value must be, its check
  struct Kind {
    const char* key;
    StageMap* map;
    const char* expected;
    bool (*ok)(double);
    bool per_bound = true;  // keys may name a bound ("dp.update:rng"); stage_overlap's are stages
  };
  const Kind kinds[] = {
      {"stage_efficiency", &efficiency, "a positive factor", [](double v) { return v > 0; }},
      {"stage_fixed_ms", &fixed_ms, "a number of ms >= 0", [](double v) { return v >= 0; }},
      {"stage_bag_ns", &bag_ns, "ns per bag, 0 .. 1e6", [](double v) { return v >= 0 && v <= 1e6; }},
      {"stage_launch_us", &launch_us, "us per launch, 0 .. 1e6", [](double v) { return v >= 0 && v <= 1e6; }},
      {"stage_overlap", &overlap, "a fraction in [0, 1]", [](double v) { return v >= 0 && v <= 1; }, false}};
  for (const Kind& k : kinds) {
    if (!r.has(k.key)) continue;
    const nlohmann::json& m = r.required_object(k.key, "an object {\"stage\": value, ...}");
    for (const auto& [name, v] : m.items()) {
      const std::string path = r.key_path(k.key) + "." + name;
      parse_stage_name(name, file, path);
      if (!k.per_bound && name.find(':') != std::string::npos)
        throw config_error(file, path, name, "a stage name: its overlap is the stage's, whatever bound it hits");
      if (!v.is_number() || !k.ok(v.get<double>())) throw config_error(file, path, json_value_text(v), k.expected);
      (*k.map)[name] = v.get<double>();
    }
  }
}

void stage_maps_json(nlohmann::json& j, const StageMap& efficiency, const StageMap& fixed_ms, const StageMap& bag_ns,
                     const StageMap& launch_us, const StageMap& overlap) {
  if (!efficiency.empty()) j["stage_efficiency"] = efficiency;
  if (!fixed_ms.empty()) j["stage_fixed_ms"] = fixed_ms;
  if (!bag_ns.empty()) j["stage_bag_ns"] = bag_ns;
  if (!launch_us.empty()) j["stage_launch_us"] = launch_us;
  if (!overlap.empty()) j["stage_overlap"] = overlap;
}

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
  h.kernels = r.required_string("kernels");
  // A processor's own kernels: privrec's CPU or CUDA family. The framework family is an
  // implementation's (--implementation framework, configs/implementations/), applied on top.
  if (h.kernels != "cpu" && h.kernels != "cuda")
    throw config_error(file, r.key_path("kernels"), h.kernels,
                       "the kernels it models: cpu or cuda (the framework way is an implementation: --implementation framework)");
  h.device = parse_processor(r.required_object("device"), file, r.key_path("device"));
  // A host needs a link; a link alone is the one the device's batch comes up over (a measured GPU
  // profile: the host's own figures are not measured).
  if (h.tables_in == "host" || r.has("host") || r.has("link")) {
    const char* why = h.tables_in == "host" ? "an object (tables_in is \"host\")" : "an object (a host needs a link)";
    if (h.tables_in == "host" || r.has("host")) h.host = parse_processor(r.required_object("host", why), file, r.key_path("host"));
    JsonObjectReader l(r.required_object("link", why), file, r.key_path("link"));
    h.link_GBps = positive(l, "GBps");
    h.link_latency_us = non_negative(l, "latency_us");
    l.reject_unknown_keys();
  }
  if (r.has("device_cache")) h.device_cache = parse_device_cache(r, h);
  parse_stage_maps(r, file, h.stage_efficiency, h.stage_fixed_ms, h.stage_bag_ns, h.stage_launch_us, h.stage_overlap);
  r.reject_unknown_keys();
  return h;
}

double HardwareProfile::table_capacity_GB() const {
  return tables_in == "host" ? host->memory_GB : kUsableDeviceMemory * device.memory_GB;
}

std::string HardwareProfile::device_memory_name() const { return kernels == "cpu" ? "main memory" : "device memory"; }

std::string HardwareProfile::table_memory_name() const {
  return tables_in == "host" ? "host memory" : device_memory_name();
}

nlohmann::json HardwareProfile::to_json() const {
  nlohmann::json j = {{"name", name}, {"description", description}, {"provenance", provenance},
                      {"tables_in", tables_in}, {"kernels", kernels}, {"device", processor_json(device)}};
  if (host) j["host"] = processor_json(*host);
  if (host || link_GBps > 0) j["link"] = {{"GBps", link_GBps}, {"latency_us", link_latency_us}};
  if (device_cache) j["device_cache"] = {{"capacity_GB", device_cache->capacity_GB}, {"policy", device_cache->policy}};
  stage_maps_json(j, stage_efficiency, stage_fixed_ms, stage_bag_ns, stage_launch_us, stage_overlap);
  return j;
}

ProcessorProfile* cpu_processor(HardwareProfile& h) {
  if (h.host) return &*h.host;
  return h.kernels == "cpu" ? &h.device : nullptr;
}
const ProcessorProfile* cpu_processor(const HardwareProfile& h) { return cpu_processor(const_cast<HardwareProfile&>(h)); }

void apply_placement(HardwareProfile& h, const std::string& tables_in, double cache_GB, const std::string& policy) {
  if (!tables_in.empty()) {
    if (tables_in != "device" && tables_in != "host")
      throw InputError(fmt::format("--tables-in {}: expected device or host", tables_in));
    if (tables_in == "host" && !h.host)
      throw InputError(fmt::format("--tables-in host: hardware profile {} describes no host and link", h.name));
    h.tables_in = tables_in;
    if (tables_in == "device") h.device_cache.reset();
  }
  if (!policy.empty() && policy != "lru" && policy != "lfu")
    throw InputError(fmt::format("--cache-policy {}: expected lru or lfu", policy));
  if (cache_GB >= 0) {
    if (cache_GB > 0 && h.tables_in != "host")
      throw InputError(fmt::format("--device-cache {} GB: a device cache serves tables in host memory (add --tables-in host)", cache_GB));
    if (cache_GB > h.device.memory_GB)
      throw InputError(fmt::format("--device-cache {} GB: larger than {}'s device memory ({} GB)", cache_GB, h.name, h.device.memory_GB));
    if (cache_GB > 0 && !h.device.caches.empty() && !(cache_GB * 1e3 > h.device.caches.back().capacity_MB))
      throw InputError(fmt::format("--device-cache {} GB: not more than {}'s {} ({} MB), which sits in front of it",
                                   cache_GB, h.name, h.device.caches.back().name, h.device.caches.back().capacity_MB));
    const std::string kept = h.device_cache ? h.device_cache->policy : "lru";  // the profile's policy stays
    if (cache_GB == 0) h.device_cache.reset();
    else h.device_cache = DeviceCache{cache_GB, kept};
  }
  if (!policy.empty()) {
    if (!h.device_cache) throw InputError(fmt::format("--cache-policy {}: no device cache (give --device-cache)", policy));
    h.device_cache->policy = policy;
  }
}

bool measured_on(const HardwareProfile& h, const std::string& cpu, const std::string& cpu_id, int64_t threads) {
  const nlohmann::json& p = h.provenance;
  if (cpu.empty() || cpu == "unknown" || !p.is_object() || p.value("source", nlohmann::json()) != "measured") return false;
  const auto machine = p.find("machine");
  if (machine == p.end() || !machine->is_object() || machine->value("cpu", nlohmann::json()) != cpu) return false;
  const auto t = machine->find("hardware_threads");
  if (t == machine->end() || !t->is_number_integer() || t->get<int64_t>() != threads) return false;
  // A VM names only the vendor ("AMD EPYC") across processor generations whose rates differ by 2x:
  // where both the profile and the host record the family/model/stepping, they must agree.
  const auto id = machine->find("cpu_id");
  const bool known = !cpu_id.empty() && cpu_id != "unknown";
  return id == machine->end() || !id->is_string() || !known || id->get<std::string>() == cpu_id;
}

std::string measured_profile_for_cpu(const std::string& cpu, const std::string& cpu_id, int64_t threads,
                                     const std::string& kernels, const std::vector<HardwareProfile>& profiles,
                                     const std::string& fallback) {
  // Among the profiles measured on this processor, one recording its cpu_id ranks above one that
  // records none (made before profiles recorded it); within a rank the backend's default wins,
  // else the first.
  auto rank = [&](const HardwareProfile& h) {
    const nlohmann::json& machine = h.provenance.at("machine");  // measured_on checked it is there
    const auto id = machine.find("cpu_id");
    return id != machine.end() && id->is_string() && id->get<std::string>() == cpu_id ? 2 : 1;
  };
  std::string found;
  int best = 0;
  for (const HardwareProfile& h : profiles) {
    if (h.kernels != kernels || !measured_on(h, cpu, cpu_id, threads)) continue;
    const int r = rank(h);
    if (r > best || (r == best && h.name == fallback)) found = h.name, best = r;
  }
  return found.empty() ? fallback : found;
}

std::vector<std::string> hardware_preset_names() { return preset_names(builtin_hardware_presets()); }

HardwareProfile load_hardware_profile(const std::string& name_or_file) {
  const PresetJson p = preset_or_file_json(builtin_hardware_presets(), "hardware", "--hardware", name_or_file);
  return parse_hardware_profile(p.json, p.file);
}

}  // namespace privrec::sim
