#include "sim/memory_levels.hpp"

#include <algorithm>

namespace privrec::sim {

namespace {
MemoryLevel from_cache(const CacheLevel& c) {
  MemoryLevel l;
  l.name = c.name;
  l.capacity_bytes = c.capacity_bytes();
  l.stream_GBps = c.stream_GBps;
  l.random_GBps = c.random_GBps;
  l.random_GBps_by_row_B = c.random_GBps_by_row_B;
  return l;
}

MemoryLevel from_memory(const std::string& name, const ProcessorProfile& p) {
  MemoryLevel l;
  l.name = name;
  l.stream_GBps = p.stream_GBps;
  l.random_GBps = p.random_GBps;
  l.random_GBps_by_row_B = p.random_GBps_by_row_B;
  l.miss_cost = p.memory_miss_cost;
  l.sorted_visit_cost = p.sorted_visit_cost;
  return l;
}
}  // namespace

std::vector<MemoryLevel> table_row_levels(const HardwareProfile& h) {
  std::vector<MemoryLevel> out;
  const ProcessorProfile& p = h.table_side();
  for (const CacheLevel& c : p.caches) out.push_back(from_cache(c));
  if (!h.device_cache || h.tables_in != "host") {
    out.push_back(from_memory("memory", p));
    return out;
  }
  MemoryLevel cache = from_memory("device cache", h.device);
  cache.capacity_bytes = h.device_cache->capacity_GB * 1e9;
  cache.policy = h.device_cache->policy;
  out.push_back(cache);
  // Misses read host memory across the link: the slower of the two binds.
  MemoryLevel host = from_memory("host via link", *h.host);
  host.over_link = true;
  host.miss_cost = {};  // the link binds, not the latency of a host row
  host.sorted_visit_cost = {};
  host.stream_GBps = std::min(host.stream_GBps, h.link_GBps);
  host.random_GBps = std::min(host.random_GBps, h.link_GBps);
  for (auto& [bytes, gbps] : host.random_GBps_by_row_B) gbps = std::min(gbps, h.link_GBps);
  out.push_back(host);
  return out;
}

double last_level_miss_factor(const MemoryLevel& last, const LevelSplit& split, double row_bytes) {
  if (last.miss_cost.empty() || split.share.empty()) return 1.0;
  if (split.last_level_miss_fractions.empty()) return last.miss_cost.factor(row_bytes, split.share.back());
  double f = 0, w = 0;
  for (const auto& [fraction, share] : split.last_level_miss_fractions)
    f += share * last.miss_cost.factor(row_bytes, fraction), w += share;
  return w > 0 ? f / w : 1.0;
}

std::vector<double> shares_from_hit_rates(const std::vector<double>& cumulative_hits) {
  std::vector<double> share;
  double below = 0;
  for (double hit : cumulative_hits) {
    const double h = std::clamp(hit, below, 1.0);
    share.push_back(h - below);
    below = h;
  }
  share.push_back(1.0 - below);
  return share;
}

}  // namespace privrec::sim
