#pragma once
// The memory levels that serve a table stage's row traffic, nearest first: the caches of the
// processor the stage runs on, then the memory behind them; for host tables with a device cache,
// the device's caches, the cache in device memory, then host memory across the link. The share of
// row accesses each level serves comes from the reuse analysis of the trace (sim/row_traffic.hpp)
// or from Che's approximation (analytic mode).
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "sim/hardware_profile.hpp"

namespace privrec::sim {

struct MemoryLevel {
  std::string name;
  double capacity_bytes = std::numeric_limits<double>::infinity();  // the last level holds everything
  double stream_GBps = 0;
  double random_GBps = 0;
  std::vector<std::pair<double, double>> random_GBps_by_row_B;
  bool over_link = false;      // host memory reached across the link: the link's bandwidth binds
  std::string policy = "lru";  // how the level chooses what it keeps ("lfu": a device cache)
  // A processor's own memory (a device cache included: the device's memory): what a row costs
  // against random_GBps_by_row_B when the stage's misses are sparse among its cache hits
  // (ProcessorProfile::memory_miss_cost); empty for host memory across the link.
  CostCurve miss_cost;
  // A processor's own memory: rows visited in ascending order against streaming the same bytes,
  // by density (ProcessorProfile::sorted_visit_cost); empty across the link, where the link binds.
  CostCurve sorted_visit_cost;

  double random_GBps_for(double row_bytes) const { return random_GBps_at(random_GBps_by_row_B, random_GBps, row_bytes); }
};

// The levels of the table stages on `h`: never empty, the last one unbounded.
std::vector<MemoryLevel> table_row_levels(const HardwareProfile& h);

// How a stage's row-random traffic splits over the levels: the share of its rows each level serves
// (summing to 1), and the bytes of whole-table passes it makes (streamed from where the tables
// live: across the link for host tables under a device cache).
struct LevelSplit {
  std::vector<double> share;
  double dense_pass_bytes = 0;
  // How sparse the last level's rows are among the stage's accesses where they happen: (the local
  // miss fraction, the share of the last level's rows missed at it), shares summing to 1. Empty:
  // at the stage's average (the last share).
  std::vector<std::pair<double, double>> last_level_miss_fractions;
};

// The factor by which the last level's row time grows when its misses are that sparse (1 where the
// level has no miss-cost curve): the curve's factor averaged over the split's local fractions.
double last_level_miss_factor(const MemoryLevel& last, const LevelSplit& split, double row_bytes);

// Shares per level from cumulative hit rates: hit[i] is the share of accesses that a cache of
// level i's capacity would hit (non-decreasing; the last level, unbounded, serves the rest).
std::vector<double> shares_from_hit_rates(const std::vector<double>& cumulative_hits);

}  // namespace privrec::sim
