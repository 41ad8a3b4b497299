#pragma once
// The sharding planner (after TorchRec's: enumerate placements, estimate each with the model,
// explain the choice): candidate plans are built greedily under several preferences (table-wise
// with the largest tables first onto the least-loaded device, row-wise everywhere, hot tables
// row-wise and the rest table-wise, small tables replicated, column-wise inside a node), each is
// timed by the scale-out model, the best is improved table by table, and every candidate that
// does not fit every device's memory is discarded.
#include <cstdint>
#include <optional>
#include <string>

#include "sim/scale_out.hpp"

namespace privrec::sim {

struct PlannedSharding {
  ShardingPlan plan;
  double step_ms = 0;
  std::string how;  // the preference that built it, and any improvements
};

struct PlannerResult {
  PlannedSharding best;
  std::optional<PlannedSharding> runner_up;  // the best plan of another preference
  int64_t evaluated = 0;                     // plans timed
};

// Throws InputError when no plan fits, naming the table that cannot be placed and the shortfall.
PlannerResult plan_sharding(const ClusterModel& model);

// A prediction on a cluster with the sharding `sharding` names: "auto" (the planner) or a plan file
// (sim/sharding.hpp). Throws InputError when a given plan overfills a device (naming the file, the
// device, what it needs and has).
struct ClusterPrediction {
  ShardingPlan plan;
  std::optional<PlannerResult> planner;  // with "auto"
  ClusterReport report;
};
ClusterPrediction predict_on_cluster(const ClusterModel& model, const std::string& sharding);

}  // namespace privrec::sim
