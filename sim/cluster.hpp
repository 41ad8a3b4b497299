#pragma once
// A cluster as the scale-out model sees it: identical devices grouped into nodes, one kind of link
// between the devices of a node and a network between nodes, and the collective algorithms run on
// them. Presets live in configs/clusters/ (compiled into the binary, like the hardware presets);
// a multi-node cluster is a preset with `--nodes N` (set_nodes).
//
// JSON schema (every key carries its unit; unknown keys are refused; 1 GB = 1e9 bytes):
// {
//   "name": "dgx-h100",                    required
//   "description": "...",                  optional
//   "provenance": {"source": "...", ...},  required: where each figure comes from
//   "device": "h100-sxm",                  required: a hardware preset name, a hardware profile file
//                                          (a relative path is looked up beside the cluster file
//                                          first), or an inline hardware-profile object
//   "devices_per_node": 8,                 required, 1 .. 4096
//   "nodes": 1,                            required, 1 .. 4096 (--nodes overrides it)
//   "intra_node": {                        required when devices_per_node > 1
//     "name": "NVLink 4 through NVSwitch",
//     "GBps_per_device": 450,              per device and direction, > 0
//     "latency_us": 2},                    per message, >= 0
//   "network": {                           optional; required when nodes > 1
//     "name": "InfiniBand NDR 400 Gb/s",
//     "nics_per_node": 8,                  positive integer
//     "GBps_per_nic": 50,                  per NIC and direction, > 0
//     "latency_us": 5,                     per message, >= 0
//     "GBps_per_device": 50},              optional, derived (nics x GBps_per_nic / devices_per_node):
//                                          to_json writes it; when given it must equal the derivation
//   "collectives": {                       optional, each key optional, these defaults
//     "all_reduce": "hierarchical",        sim/collectives.hpp: all_reduce_algorithms()
//     "all_to_all": "direct"},             sim/collectives.hpp: all_to_all_algorithms()
//   "price_per_device_hour_usd": 3.5,      optional, > 0
//   "devices_share_processor": false       optional: the devices of a node are ranks on one
//                                          processor (MPI ranks on one CPU), each with 1 /
//                                          devices_per_node of its cores, bandwidth and caches
// }
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/hardware_profile.hpp"

namespace privrec::sim {

// One kind of link as the devices see it: bandwidth per device and direction, and a message's latency.
struct LinkProfile {
  std::string name;        // "NVLink 4 through NVSwitch", "InfiniBand NDR 400 Gb/s"
  double GBps = 0;         // per device, per direction (1 GB = 1e9 bytes)
  double latency_us = 0;   // per message
};

struct ClusterProfile {
  std::string name, description;
  nlohmann::json provenance;
  HardwareProfile device;          // every device's profile (all devices alike)
  int64_t devices_per_node = 1;
  int64_t nodes = 1;
  LinkProfile intra_node;          // between devices of one node (unused when devices_per_node == 1)
  LinkProfile inter_node;          // the network, per device: nics_per_node x nic GBps / devices_per_node (unused when nodes == 1)
  int64_t nics_per_node = 0;       // 0: the cluster has no network (one node only)
  double nic_GBps = 0;             // per NIC, per direction
  std::string all_reduce = "hierarchical";  // collective algorithm names, from the registry in sim/collectives.hpp
  std::string all_to_all = "direct";
  double price_per_device_hour = 0;         // USD, 0 when not given
  bool devices_share_processor = false;     // the node's devices split one processor (per_device_profile)

  int64_t devices() const { return devices_per_node * nodes; }
  // Every field, units in keys, the device profile's to_json() under "device": the schema above,
  // so parse_cluster_profile(c.to_json(), ...) gives c back.
  nlohmann::json to_json() const;
};

// A preset name (configs/clusters/NAME.json, compiled in) or a JSON file path. Throws InputError.
ClusterProfile load_cluster_profile(const std::string& name_or_file);
ClusterProfile parse_cluster_profile(const nlohmann::json& j, const std::string& file);
// The one-device cluster of a hardware profile: 1 device, 1 node, no links; name = the profile's.
ClusterProfile single_device_cluster(const HardwareProfile& h);
// --nodes N: any N >= 1 up to 4096 (InputError naming --nodes and the value otherwise, and when
// N > 1 on a cluster without a network).
void set_nodes(ClusterProfile& c, int64_t nodes);
std::vector<std::string> cluster_preset_names();

}  // namespace privrec::sim
