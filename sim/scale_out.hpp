#pragma once
// The scale-out model: a training step on a cluster of devices with sharded tables (analytic).
// Every device runs the plan's stages on its own work -- the MLPs at its share of the batch, the
// table stages for the rows it owns over the whole batch (sim/sharding.hpp) -- and the plan's
// communication stages move ids, pooled embeddings, their gradients, per-example norms and the
// data-parallel gradients between devices (sim/collectives.hpp). Stages are separated by the
// collectives, so each stage takes as long as its slowest device. One device with every table on
// it is exactly the single-device model (simulate_analytic).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/algorithm.hpp"
#include "models/workload.hpp"
#include "sim/cluster.hpp"
#include "sim/collectives.hpp"
#include "sim/sharding.hpp"
#include "sim/simulation.hpp"

namespace privrec::sim {

struct ClusterStage {
  SimStage stage;                      // the slowest device's work and time
  int64_t slowest_device = 0;
  double mean_ms = 0;                  // over the devices (imbalance: stage.time.ms / mean_ms)
  std::optional<CollectiveCost> comm;  // communication stages
};

struct ClusterReport {
  std::vector<ClusterStage> stages;  // the step's, in plan order
  std::vector<ClusterStage> once;    // setup and finish
  double step_ms = 0, comm_ms = 0;   // comm_ms: the communication stages' part of step_ms
  double throughput_examples_per_s = 0;
  int64_t devices = 1, batch_size = 0, steps = 0;
  // The workload's tables (one copy); the per-row state all devices hold (a replica's and each column
  // shard's own); the materialized noise (sim::BesideTables).
  double table_GB = 0, row_state_GB = 0, noise_GB = 0;
  std::vector<DeviceMemory> memory;  // per device
  bool fits = true;                  // every device's footprint within its memory
  bool tables_fit = true;  // the tables with what is beside them within the devices' memory (the single-device model's test)
  // The single-device view (stages in vocabulary order, as simulate_analytic reports them).
  SimReport as_sim_report() const;
  nlohmann::json to_json(const Workload& w, const ShardingPlan& plan) const;
};

// The profile one device of the cluster sees. With tables in host memory (a placement), the node's
// host -- its memory, bandwidth and cores -- is shared by the node's devices: each gets
// 1/devices_per_node of it; its own link to the host is its own. Devices that are ranks on one
// processor (devices_share_processor) likewise each get 1/devices_per_node of the processor.
HardwareProfile per_device_profile(const ClusterProfile& c);

class ClusterModel {
 public:
  // Models steps first_counted_step .. steps (their mean per step) from the analytic model's
  // expected sizes.
  ClusterModel(const Workload& w, const AlgorithmConfig& cfg, const ClusterProfile& c, int64_t steps,
               int64_t first_counted_step = 1);

  ClusterReport run(const ShardingPlan& plan) const;
  // The step time alone (for the planner): devices with the same shards are evaluated once.
  double step_ms(const ShardingPlan& plan) const;
  std::vector<DeviceMemory> memory(const ShardingPlan& plan) const;
  // One device's footprint if it held `shards` (sharding.hpp device_memory, with these kernels' row state).
  DeviceMemory shard_memory(const std::vector<Shard>& shards) const;
  // Whether a device's footprint fits: everything in device memory, or with tables in host memory
  // the tables and their per-row state in its share of the host and the rest (and any device
  // cache) in device memory.
  bool fits(const DeviceMemory& m) const;
  // The bytes of a footprint that count against the table side's capacity, and that capacity
  // (device memory: the share the backends plan to fill, less a device cache; host: its share).
  double table_side_bytes(const DeviceMemory& m) const;
  double table_side_capacity() const;
  // The same for device memory (with tables in device memory: the table side itself).
  double device_side_bytes(const DeviceMemory& m) const;
  double device_side_capacity() const;
  const HardwareProfile& device_profile() const { return h_; }
  // One device's step time (its stages without communication) if it held `shards`.
  double device_step_ms(const std::vector<Shard>& shards) const;

  const Workload& workload() const { return w_; }
  const ClusterProfile& cluster() const { return c_; }
  const AlgorithmConfig& config() const { return cfg_; }

 private:
  struct DeviceResult {
    std::array<SimStage, kStages> stages{};  // per step (mean over the counted steps)
    std::array<bool, kStages> ran{};
    std::vector<SimStage> once;
  };
  const DeviceResult& device(const std::vector<Shard>& shards) const;
  DeviceResult evaluate(const std::vector<Shard>& shards) const;
  std::vector<ClusterStage> comm_stages(const std::vector<std::vector<Shard>>& shards, const ShardingPlan& plan) const;

  Workload w_;
  AlgorithmConfig cfg_;
  ClusterProfile c_;
  HardwareProfile h_;  // per_device_profile(c_)
  int64_t steps_;
  std::vector<StepSizes> counted_;  // expected sizes of each counted step
  std::vector<bool> has_next_;
  StepSizes setup_, flush_;
  mutable std::map<std::string, DeviceResult> cache_;
};

}  // namespace privrec::sim
