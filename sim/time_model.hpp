#pragma once
// Time of a stage from its work and a hardware profile: a roofline per stage (the slowest of
// memory traffic, arithmetic and normal sampling), plus launch overheads, plus link transfers when
// tables live in host memory. Table stages run where the tables are; MLP stages on the device.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/stage.hpp"
#include "models/work_counters.hpp"
#include "models/workload.hpp"
#include "sim/hardware_profile.hpp"
#include "sim/memory_levels.hpp"

namespace privrec::sim {

enum class Bound { memory, compute, rng, overhead, link };
const char* bound_name(Bound b);

// One memory level's part of a stage's row-random traffic.
struct LevelTraffic {
  std::string name;
  double share = 0;  // of the stage's row accesses
  double rows = 0, bytes = 0;
  // At the level's row-random rate (times miss_cost_factor for the last level's reads); for the
  // stages that visit rows in order, at most one streaming pass and, where the profile measures
  // it, the sorted-visit cost (time_model.cpp).
  double ms = 0;
  // The last level's, fwd.emb only: what its row reads cost over random_GBps_by_row_B because the
  // stage's misses were that sparse among its hits (CostCurve; 1 elsewhere and where the
  // profile has none).
  double miss_cost_factor = 1;
};

struct StageTime {
  double ms = 0;
  Bound bound = Bound::memory;
  double memory_ms = 0, compute_ms = 0, rng_ms = 0, link_ms = 0;
  double sort_ms = 0;  // the part of compute_ms that is sorting (sort_ops at the sort rate)
  // The three terms combined by the processor's overlap fraction, before the calibrated efficiency.
  double roofline_ms = 0;
  double overhead_ms = 0;  // launches x launch overhead, first touch, plus the profile's calibrated fixed cost
  double first_touch_ms = 0;  // fresh memory faulted in (bytes_first_touch at first_touch_GBps)
  double efficiency = 1;  // the profile's calibrated factor on the roofline term
  double bags = 0;        // the work's bags (what the profile's stage_bag_ns prices)
  double launches = 0;    // its launches or parallel regions (what stage_launch_us prices)
  std::vector<LevelTraffic> levels;  // table stages: row traffic per memory level, nearest first
};

// "L2 2.0 %  L3 30.4 %  memory 67.5 % (x1.35 sparse)": where a table stage's rows came from ("" when
// none), with the last level's miss-cost factor where it is not 1.
std::string levels_summary(const StageTime& t);
// The same per level as JSON: [{"name", "share", "rows", "bytes", "ms"}, ...], and the last level's
// "miss_cost_factor" where it is not 1.
nlohmann::json levels_json(const StageTime& t);

// max(terms) + (1 - overlap) (sum(terms) - max(terms)): the roofline when the memory, arithmetic
// and sampling terms overlap fully, their sum when they do not overlap at all.
double combine_terms(double memory_ms, double compute_ms, double rng_ms, double overlap);

// True for the stages that touch embedding tables (they run on the table side).
bool runs_with_tables(Stage s);

// Bytes a stage moves over the host-device link per step (0 when tables are on the device):
// pooled embeddings to the device after fwd.emb, their gradients back for bwd.emb.
uint64_t link_bytes(Stage s, const Workload& w, int64_t batch, const HardwareProfile& h);

// True for the stages that visit rows in sorted order (sparse updates, lazydp's catch-up): their
// row-random traffic costs at most a streaming pass over the tables.
bool visits_rows_in_order(Stage s);

// Which roofline term binds (memory, compute or rng), ignoring overheads.
Bound roofline_bound(const StageTime& t);

// `table_bytes`: all tables together (bounds the sorted-row stages' traffic). `split`: how the
// stage's row traffic splits over the memory levels (table_row_levels); none: all of it from the
// last level (memory), as when no reuse is known.
StageTime stage_time(Stage s, const WorkCounters& work, uint64_t link, const HardwareProfile& h, uint64_t table_bytes,
                     const LevelSplit* split = nullptr);

}  // namespace privrec::sim
