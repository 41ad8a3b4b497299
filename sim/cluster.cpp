#include "sim/preset_json.hpp"
#include "sim/cluster.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <system_error>

#include <fmt/format.h>

#include "models/config_error.hpp"
#include "models/json_reader.hpp"
#include "models/suggest.hpp"
#include "sim/collectives.hpp"

namespace privrec::sim {

// Generated from configs/clusters/*.json at configure time (sim/CMakeLists.txt).
const std::map<std::string, std::string>& builtin_cluster_presets();

namespace {
// Bounds that keep devices() (their product) and every count far from overflow; the largest
// machines we model are a few thousand nodes of 8.
constexpr int64_t kMaxNodes = 4096;
constexpr int64_t kMaxDevicesPerNode = 4096;
// The model evaluates every device's shards: beyond this a run would take minutes and gigabytes.
constexpr int64_t kMaxDevices = 65536;

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::string quoted(const std::string& s) { return nlohmann::json(s).dump(); }

bool file_exists(const std::filesystem::path& p) {
  std::error_code ec;  // an unreadable or malformed path is "not there", never an exception
  return std::filesystem::exists(p, ec);
}

double positive(JsonObjectReader& r, const std::string& key, const char* unit) {
  const double v = r.required_number(key);
  if (!(v > 0 && std::isfinite(v)))
    throw config_error(r.file(), r.key_path(key), fmt::format("{}", v), std::string("a positive ") + unit);
  return v;
}

double non_negative(JsonObjectReader& r, const std::string& key, const char* unit) {
  const double v = r.required_number(key);
  if (!(v >= 0 && std::isfinite(v)))
    throw config_error(r.file(), r.key_path(key), fmt::format("{}", v), std::string("a number of ") + unit + " >= 0");
  return v;
}

int64_t count_up_to(JsonObjectReader& r, const std::string& key, int64_t max) {
  const int64_t v = r.required_positive_int(key);
  if (v > max)
    throw config_error(r.file(), r.key_path(key), fmt::format("{}", v), fmt::format("a whole number from 1 to {}", max));
  return v;
}

// A hardware preset, or a profile file: a relative path is looked up beside the cluster file
// first, so a cluster file and its device file can travel together.
HardwareProfile load_device(const std::string& name, const std::string& file) {
  const std::vector<std::string> presets = hardware_preset_names();
  std::string path = name;
  if (std::find(presets.begin(), presets.end(), name) == presets.end()) {
    const std::filesystem::path beside = std::filesystem::path(file).parent_path() / name;
    if (!name.empty() && std::filesystem::path(name).is_relative() && file_exists(beside)) path = beside.string();
    else if (name.empty() || !file_exists(name))
      throw config_error(file, "device", quoted(name),
                         "a hardware preset (" + join(presets) +
                             "), a hardware profile file, or an inline hardware-profile object");
  }
  try {
    return load_hardware_profile(path);
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: device = {}: {}", file, quoted(name), e.what()));
  }
}

// "device": a name (preset or file) or an inline profile. The hardware parser names key paths from
// its own root, so its complaints about an inline profile get "device." put in front of the path.
HardwareProfile parse_device(JsonObjectReader& r, const nlohmann::json& top) {
  const std::string& file = r.file();
  const char* kinds = "a hardware preset name, a hardware profile file, or an inline hardware-profile object";
  if (!top.contains("device")) throw config_error(file, "device", "(missing)", kinds);
  const nlohmann::json& d = top.at("device");
  if (d.is_string()) return load_device(r.required_string("device"), file);
  if (!d.is_object()) throw config_error(file, "device", json_value_text(d), kinds);
  r.required_object("device");  // marks the key as read
  try {
    return parse_hardware_profile(d, file);
  } catch (const InputError& e) {
    const std::string message = e.what(), head = file + ": ";
    if (message.rfind(head, 0) != 0) throw;
    throw InputError(head + "device." + message.substr(head.size()));
  }
}

LinkProfile parse_intra_node(JsonObjectReader& r, int64_t devices_per_node) {
  const std::string expected = fmt::format(
      "an object {{\"name\", \"GBps_per_device\", \"latency_us\"}} (devices_per_node is {})", devices_per_node);
  JsonObjectReader l(r.required_object("intra_node", expected.c_str()), r.file(), r.key_path("intra_node"));
  LinkProfile link;
  link.name = l.required_string("name");
  link.GBps = positive(l, "GBps_per_device", "GB/s");
  link.latency_us = non_negative(l, "latency_us", "us");
  l.reject_unknown_keys();
  return link;
}

// The network as one device sees it: the node's NICs shared by its devices.
void parse_network(JsonObjectReader& r, ClusterProfile& c) {
  const std::string fields = "an object {\"name\", \"nics_per_node\", \"GBps_per_nic\", \"latency_us\"}";
  const std::string expected = c.nodes > 1 ? fmt::format("{} (nodes is {}: the nodes need a network)", fields, c.nodes) : fields;
  JsonObjectReader l(r.required_object("network", expected.c_str()), r.file(), r.key_path("network"));
  c.inter_node.name = l.required_string("name");
  c.nics_per_node = count_up_to(l, "nics_per_node", kMaxDevicesPerNode);
  c.nic_GBps = positive(l, "GBps_per_nic", "GB/s");
  c.inter_node.latency_us = non_negative(l, "latency_us", "us");
  c.inter_node.GBps = static_cast<double>(c.nics_per_node) * c.nic_GBps / static_cast<double>(c.devices_per_node);
  // to_json writes the derived figure for readers; reading it back must not contradict the NICs.
  if (l.has("GBps_per_device")) {
    const double given = l.required_number("GBps_per_device");
    if (!(std::abs(given - c.inter_node.GBps) <= 1e-9 * c.inter_node.GBps))
      throw config_error(r.file(), l.key_path("GBps_per_device"), fmt::format("{}", given),
                         fmt::format("{} (derived: nics_per_node x GBps_per_nic / devices_per_node), or leave it out",
                                     c.inter_node.GBps));
  }
  l.reject_unknown_keys();
}

std::string algorithm(JsonObjectReader& k, const std::string& key, const std::string& fallback,
                      const std::vector<std::string>& known) {
  const std::string name = k.optional_string(key).value_or(fallback);
  if (std::find(known.begin(), known.end(), name) == known.end())
    throw config_error(k.file(), k.key_path(key), quoted(name), "one of " + join(known));
  return name;
}

void parse_collectives(JsonObjectReader& r, ClusterProfile& c) {
  if (!r.has("collectives")) return;
  JsonObjectReader k(r.required_object("collectives", "an object {\"all_reduce\", \"all_to_all\"}"), r.file(),
                     r.key_path("collectives"));
  c.all_reduce = algorithm(k, "all_reduce", c.all_reduce, all_reduce_algorithms());
  c.all_to_all = algorithm(k, "all_to_all", c.all_to_all, all_to_all_algorithms());
  k.reject_unknown_keys();
}
}  // namespace

ClusterProfile parse_cluster_profile(const nlohmann::json& j, const std::string& file) {
  if (!j.is_object()) throw config_error(file, "(top level)", json_value_text(j), "a JSON object");
  JsonObjectReader r(j, file, "");
  ClusterProfile c;
  c.name = r.required_string("name");
  c.description = r.optional_string("description").value_or("");
  c.provenance = r.required_object("provenance", "an object saying where the numbers come from");
  const auto source = c.provenance.find("source");
  if (source == c.provenance.end() || !source->is_string())
    throw config_error(file, "provenance.source", source == c.provenance.end() ? "(missing)" : json_value_text(*source),
                       "a string: datasheet, measured, estimate, ...");
  c.device = parse_device(r, j);
  c.devices_per_node = count_up_to(r, "devices_per_node", kMaxDevicesPerNode);
  c.nodes = count_up_to(r, "nodes", kMaxNodes);
  if (c.devices() > kMaxDevices)
    throw config_error(file, "nodes", fmt::format("{} (x {} devices_per_node = {} devices)", c.nodes, c.devices_per_node,
                                                  c.devices()),
                       fmt::format("at most {} devices in all", kMaxDevices));
  if (c.devices_per_node > 1 || r.has("intra_node")) c.intra_node = parse_intra_node(r, c.devices_per_node);
  if (c.nodes > 1 || r.has("network")) parse_network(r, c);
  parse_collectives(r, c);
  if (r.has("price_per_device_hour_usd")) c.price_per_device_hour = positive(r, "price_per_device_hour_usd", "price in USD");
  c.devices_share_processor = r.optional_bool("devices_share_processor").value_or(false);
  r.reject_unknown_keys();
  return c;
}

nlohmann::json ClusterProfile::to_json() const {
  nlohmann::json j = {{"name", name},
                      {"description", description},
                      {"provenance", provenance},
                      {"device", device.to_json()},
                      {"devices_per_node", devices_per_node},
                      {"nodes", nodes},
                      {"collectives", {{"all_reduce", all_reduce}, {"all_to_all", all_to_all}}}};
  if (intra_node.GBps > 0)
    j["intra_node"] = {{"name", intra_node.name}, {"GBps_per_device", intra_node.GBps}, {"latency_us", intra_node.latency_us}};
  if (nics_per_node > 0)
    j["network"] = {{"name", inter_node.name},         {"nics_per_node", nics_per_node},
                    {"GBps_per_nic", nic_GBps},        {"latency_us", inter_node.latency_us},
                    {"GBps_per_device", inter_node.GBps}};
  if (price_per_device_hour > 0) j["price_per_device_hour_usd"] = price_per_device_hour;
  if (devices_share_processor) j["devices_share_processor"] = true;
  return j;
}

ClusterProfile single_device_cluster(const HardwareProfile& h) {
  ClusterProfile c;
  c.name = h.name;
  c.description = h.description;
  c.provenance = {{"source", "derived"}, {"derivation", "hardware profile " + h.name + " alone: one device, one node, no links"}};
  c.device = h;
  return c;
}

void set_nodes(ClusterProfile& c, int64_t nodes) {
  if (nodes < 1 || nodes > kMaxNodes)
    throw InputError(fmt::format("--nodes {}: expected a whole number of nodes from 1 to {}", nodes, kMaxNodes));
  if (nodes * c.devices_per_node > kMaxDevices)
    throw InputError(fmt::format("--nodes {}: {} devices per node make {} devices; the model takes at most {}", nodes,
                                 c.devices_per_node, nodes * c.devices_per_node, kMaxDevices));
  if (nodes > 1 && c.nics_per_node == 0)
    throw InputError(fmt::format("--nodes {}: cluster {} has no network between nodes (its file gives no \"network\")",
                                 nodes, c.name));
  c.nodes = nodes;
}

std::vector<std::string> cluster_preset_names() { return preset_names(builtin_cluster_presets()); }

ClusterProfile load_cluster_profile(const std::string& name_or_file) {
  const PresetJson p = preset_or_file_json(builtin_cluster_presets(), "clusters", "--cluster", name_or_file);
  return parse_cluster_profile(p.json, p.file);
}

}  // namespace privrec::sim
