#include "sim/sharding_planner.hpp"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

#include "models/config_error.hpp"
#include "models/human_bytes.hpp"
#include "models/kernel_work/working_memory.hpp"

namespace privrec::sim {

namespace {
enum class Preference { table_wise, row_wise, hot_row_wise, hot_row_groups, hot_row_shares, small_replicated, hot_column_wise };

const char* preference_name(Preference p) {
  switch (p) {
    case Preference::table_wise: return "table-wise, largest first onto the least-loaded device";
    case Preference::row_wise: return "row-wise over every device";
    case Preference::hot_row_wise: return "costly tables row-wise, the rest table-wise";
    case Preference::hot_row_groups:
      return "costly tables row-wise over the fewest least-loaded devices that hold them, the rest table-wise";
    case Preference::hot_row_shares:
      return "costly tables row-wise over an equal share of the devices each, the rest table-wise";
    case Preference::small_replicated: return "small tables replicated, costly ones row-wise, the rest table-wise";
    case Preference::hot_column_wise: return "costly tables column-wise inside a node, the rest table-wise";
  }
  return "?";
}

// Places tables one at a time, keeping every device's estimated load (its table stages' modeled
// time) and memory; a placement that would overfill a device is refused.
class Placer {
 public:
  explicit Placer(const ClusterModel& m) : m_(m), w_(m.workload()), n_(m.cluster().devices()) {
    capacity_ = m.table_side_capacity();
    base_ms_ = m.device_step_ms({});
    mem_.assign(n_, m.table_side_bytes(m.shard_memory({})));
    load_.assign(n_, 0.0);
    plan_.tables.resize(w_.tables.size());
    for (size_t t = 0; t < w_.tables.size(); ++t) cost_.push_back(shard_ms({t, w_.tables[t].rows, w_.tables[t].dim, 1, 1}));
  }

  double cost(size_t t) const { return cost_[t]; }
  double total_cost() const { return std::accumulate(cost_.begin(), cost_.end(), 0.0); }
  const ShardingPlan& plan() const { return plan_; }
  double capacity() const { return capacity_; }

  bool table_wise(size_t t) {
    const Shard s{t, w_.tables[t].rows, w_.tables[t].dim, 1, 1};
    const double need = shard_memory(s);
    int64_t best = -1;
    for (int64_t d = 0; d < n_; ++d)
      if (mem_[d] + need <= capacity_ && (best < 0 || load_[d] < load_[best])) best = d;
    if (best < 0) return false;
    return commit(t, {ShardScheme::table_wise, {best}});
  }

  bool row_wise(size_t t) {
    if (w_.tables[t].rows < n_) return false;
    std::vector<int64_t> all(static_cast<size_t>(n_));
    std::iota(all.begin(), all.end(), 0);
    return commit(t, {ShardScheme::row_wise, all});
  }

  // Over the fewest least-loaded devices (a power of two) whose free memory holds the row blocks:
  // a device holding fewer row-wise shards sends fewer partial pooled sums.
  // `from`: the smallest group tried.
  bool row_group(size_t t, int64_t from = 2) {
    std::vector<int64_t> order(static_cast<size_t>(n_));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return load_[a] < load_[b]; });
    for (int64_t k = std::max<int64_t>(2, from); k <= n_ && k <= w_.tables[t].rows; k *= 2) {
      std::vector<int64_t> devs(order.begin(), order.begin() + k);
      if (commit(t, {ShardScheme::row_wise, devs})) return true;
    }
    return false;
  }

  // Over the devices of the least-loaded node, when they divide the dimension.
  bool column_wise(size_t t) {
    const int64_t g = m_.cluster().devices_per_node;
    if (g < 2 || w_.tables[t].dim % g != 0) return false;
    int64_t best = 0;
    double best_load = -1;
    for (int64_t node = 0; node < m_.cluster().nodes; ++node) {
      double l = 0;
      for (int64_t d = node * g; d < (node + 1) * g; ++d) l = std::max(l, load_[d]);
      if (best_load < 0 || l < best_load) best = node, best_load = l;
    }
    std::vector<int64_t> devs;
    for (int64_t d = best * g; d < (best + 1) * g; ++d) devs.push_back(d);
    return commit(t, {ShardScheme::column_wise, devs});
  }

  bool replicated(size_t t) {
    std::vector<int64_t> all(static_cast<size_t>(n_));
    std::iota(all.begin(), all.end(), 0);
    return commit(t, {ShardScheme::data_parallel, all});
  }

  // The first device a placement of t would overfill, with what it needs and has left (or -1).
  struct Shortfall {
    int64_t device = -1;
    double need = 0, left = 0;
  };
  Shortfall shortfall(size_t t, const TablePlacement& p) const {
    for (const auto& [d, s] : shards_of(t, p))
      if (mem_[d] + shard_memory(s) > capacity_) return {d, shard_memory(s), capacity_ - mem_[d]};
    return {};
  }

 private:
  // Table t's shards under placement p, with the device holding each.
  std::vector<std::pair<int64_t, Shard>> shards_of(size_t t, const TablePlacement& p) const {
    ShardingPlan one;
    one.tables.assign(w_.tables.size(), {ShardScheme::table_wise, {0}});
    one.tables[t] = p;
    const auto shards = device_shards(w_, one, n_);
    std::vector<std::pair<int64_t, Shard>> out;
    for (int64_t d = 0; d < n_; ++d)
      for (const Shard& s : shards[d])
        if (s.table == t) out.emplace_back(d, s);
    return out;
  }
  double shard_memory(const Shard& s) const {
    return m_.table_side_bytes(m_.shard_memory({s})) -
           m_.table_side_bytes(m_.shard_memory({}));
  }
  double shard_ms(const Shard& s) const { return m_.device_step_ms({s}) - base_ms_; }

  bool commit(size_t t, const TablePlacement& p) {
    if (shortfall(t, p).device >= 0) return false;
    for (const auto& [d, s] : shards_of(t, p)) mem_[d] += shard_memory(s), load_[d] += shard_ms(s);
    plan_.tables[t] = p;
    return true;
  }

  const ClusterModel& m_;
  const Workload& w_;
  int64_t n_;
  double capacity_ = 0, base_ms_ = 0;
  std::vector<double> mem_, load_, cost_;
  ShardingPlan plan_;
};

// The tables in the order the greedy places them: costliest first.
std::vector<size_t> by_cost(const Placer& p, size_t tables) {
  std::vector<size_t> order(tables);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p.cost(a) > p.cost(b); });
  return order;
}

// A plan under one preference, or nothing when some table finds no room.
std::optional<ShardingPlan> build(const ClusterModel& m, Preference pref) {
  Placer p(m);
  const Workload& w = m.workload();
  const int64_t n = m.cluster().devices();
  const double hot = p.total_cost() / static_cast<double>(n);
  int64_t costly_tables = 0, share = 1;  // hot_row_shares: the devices split evenly among the costly tables
  for (size_t t = 0; t < w.tables.size(); ++t) costly_tables += p.cost(t) > hot;
  while (share * 2 * std::max<int64_t>(1, costly_tables) <= n) share *= 2;
  for (size_t t : by_cost(p, w.tables.size())) {
    const bool costly = p.cost(t) > hot;
    const bool small = static_cast<double>(w.tables[t].bytes()) < 1e-3 * p.capacity();
    bool ok = false;
    switch (pref) {
      case Preference::table_wise: ok = p.table_wise(t) || p.row_wise(t); break;
      case Preference::row_wise: ok = p.row_wise(t) || p.table_wise(t); break;
      case Preference::hot_row_wise: ok = (costly && p.row_wise(t)) || p.table_wise(t) || p.row_wise(t); break;
      case Preference::hot_row_groups:
        ok = (costly && p.row_group(t)) || p.table_wise(t) || p.row_group(t) || p.row_wise(t);
        break;
      case Preference::hot_row_shares:
        ok = (costly && p.row_group(t, share)) || p.table_wise(t) || p.row_group(t) || p.row_wise(t);
        break;
      case Preference::small_replicated:
        ok = (small && p.replicated(t)) || (costly && p.row_wise(t)) || p.table_wise(t) || p.row_wise(t);
        break;
      case Preference::hot_column_wise:
        ok = (costly && p.column_wise(t)) || p.table_wise(t) || p.row_wise(t);
        break;
    }
    if (!ok) return std::nullopt;
  }
  return p.plan();
}

// What to try instead, for this cluster and placement.
std::string advice(const ClusterModel& m, bool host) {
  std::string a;
  if (m.cluster().nics_per_node > 0) a += "more nodes (--nodes), ";
  if (!host && m.device_profile().host) a += "tables in host memory (--tables-in host), ";
  return a + "fewer rows (--table-scale)";
}

[[noreturn]] void refuse_table(const ClusterModel& m, Placer& p, size_t t) {
  const Workload& w = m.workload();
  const int64_t n = m.cluster().devices();
  std::vector<int64_t> all(static_cast<size_t>(n));
  std::iota(all.begin(), all.end(), 0);
  const bool rows = w.tables[t].rows >= n;
  const auto s = p.shortfall(t, {rows ? ShardScheme::row_wise : ShardScheme::table_wise, rows ? all : std::vector<int64_t>{0}});
  const bool host = m.device_profile().tables_in == "host";
  const std::string where = n == 1 ? fmt::format("on the one device of {}", m.cluster().name)
                                   : fmt::format("even row-wise over all {} devices of {}", n, m.cluster().name);
  throw InputError(fmt::format(
      "no sharding fits: table {} ({}) does not fit {}: its shard on device {} needs {}, and the {} available to device "
      "{}'s tables ({}) has {} left after the larger tables placed before it{}: {} short; use {}",
      w.tables[t].name, human_bytes(static_cast<double>(w.tables[t].bytes())), where, s.device, human_bytes(s.need),
      human_bytes(p.capacity()), s.device, host ? "its share of the node's host memory" : "usable device memory",
      human_bytes(std::max(0.0, s.left)), host ? "" : ", the MLPs and the buffers", human_bytes(s.need - std::max(0.0, s.left)),
      advice(m, host)));
}

[[noreturn]] void refuse(const ClusterModel& m) {
  // Row-wise over every device spreads memory most evenly: name the first table that finds no room.
  Placer p(m);
  const Workload& w = m.workload();
  std::vector<size_t> order(w.tables.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return w.tables[a].bytes() > w.tables[b].bytes(); });
  for (size_t t : order)
    if (!p.row_wise(t) && !p.table_wise(t)) refuse_table(m, p, t);
  // Every table found room: what overflows is device memory itself (MLPs, buffers, a device cache).
  const std::vector<DeviceMemory> mem = m.memory(p.plan());
  size_t worst = 0;
  for (size_t d = 0; d < mem.size(); ++d)
    if (m.device_side_bytes(mem[d]) > m.device_side_bytes(mem[worst])) worst = d;
  const HardwareProfile& h = m.device_profile();
  const double cache = h.tables_in == "host" && h.device_cache ? h.device_cache->capacity_GB * 1e9 : 0.0;
  throw InputError(fmt::format(
      "no sharding fits: device {} needs {} of {} for the MLPs ({}) and the step's buffers ({}){}, and "
      "{:.0f} % of its {} ({}) is usable{}: {} short; use a smaller --batch{}",
      worst, human_bytes(m.device_side_bytes(mem[worst]) + cache), h.device_memory_name(), human_bytes(mem[worst].mlp), human_bytes(mem[worst].buffers),
      cache > 0 ? fmt::format(" beside a {} device cache", human_bytes(cache)) : std::string(), 100 * kUsableDeviceMemory,
      human_bytes(h.device.memory_GB * 1e9), human_bytes(kUsableDeviceMemory * h.device.memory_GB * 1e9),
      h.tables_in == "host" ? "" : " (with the tables)",
      human_bytes(m.device_side_bytes(mem[worst]) - m.device_side_capacity()), cache > 0 ? " or --device-cache" : ""));
}

bool fits(const ClusterModel& m, const ShardingPlan& plan) {
  for (const DeviceMemory& d : m.memory(plan))
    if (!m.fits(d)) return false;
  return true;
}
}  // namespace

namespace {
// One pass over the costliest tables: move each to another placement when the model says the
// step gets faster and every device still fits.
int64_t improve(const ClusterModel& m, PlannedSharding& best) {
  const Workload& w = m.workload();
  const int64_t n = m.cluster().devices();
  std::vector<size_t> order(w.tables.size());
  std::iota(order.begin(), order.end(), 0);
  std::vector<double> bytes;
  for (const TableSpec& t : w.tables) bytes.push_back(static_cast<double>(t.bytes()) * static_cast<double>(t.pooling));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return bytes[a] > bytes[b]; });
  order.resize(std::min<size_t>(order.size(), 8));
  std::vector<int64_t> all(static_cast<size_t>(n));
  std::iota(all.begin(), all.end(), 0);
  int64_t evaluated = 0;
  for (size_t t : order) {
    const auto shards = device_shards(w, best.plan, n);
    int64_t idle = 0;
    std::vector<double> ms;
    for (const auto& s : shards) ms.push_back(m.device_step_ms(s));
    idle = std::min_element(ms.begin(), ms.end()) - ms.begin();
    std::vector<TablePlacement> options = {{ShardScheme::table_wise, {idle}}};
    if (w.tables[t].rows >= n) options.push_back({ShardScheme::row_wise, all});
    for (const TablePlacement& o : options) {
      if (o.scheme == best.plan.tables[t].scheme && o.devices == best.plan.tables[t].devices) continue;
      ShardingPlan trial = best.plan;
      trial.tables[t] = o;
      ++evaluated;
      if (!fits(m, trial)) continue;
      const double ms_trial = m.step_ms(trial);
      if (ms_trial < best.step_ms * (1 - 1e-3)) {
        best.plan = trial, best.step_ms = ms_trial;
        best.how += fmt::format("; then table {} {}", w.tables[t].name, shard_scheme_name(o.scheme));
      }
    }
  }
  return evaluated;
}
}  // namespace

PlannerResult plan_sharding(const ClusterModel& m) {
  PlannerResult r;
  if (m.cluster().devices() == 1) {  // nothing to choose: every table on the one device
    const ShardingPlan one = single_device_plan(m.workload());
    if (!fits(m, one)) refuse(m);
    r.best = {one, m.step_ms(one), "one device"};
    r.evaluated = 1;
    return r;
  }
  std::vector<PlannedSharding> found;
  for (Preference p : {Preference::hot_row_wise, Preference::hot_row_groups, Preference::hot_row_shares,
                       Preference::table_wise, Preference::row_wise,
                       Preference::small_replicated, Preference::hot_column_wise}) {
    const std::optional<ShardingPlan> plan = build(m, p);
    if (!plan) continue;
    ++r.evaluated;
    if (!fits(m, *plan)) continue;
    const double ms = m.step_ms(*plan);
    bool same = false;  // two preferences may build the same plan
    for (const PlannedSharding& f : found) same = same || f.plan.to_json(m.workload()) == plan->to_json(m.workload());
    if (!same) found.push_back({*plan, ms, preference_name(p)});
  }
  if (found.empty()) refuse(m);
  std::stable_sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.step_ms < b.step_ms; });
  r.best = found[0];
  r.evaluated += improve(m, r.best);
  if (found.size() > 1) r.runner_up = found[1];
  return r;
}

ClusterPrediction predict_on_cluster(const ClusterModel& m, const std::string& sharding) {
  ClusterPrediction p;
  if (sharding == "auto") {
    p.planner = plan_sharding(m);
    p.plan = p.planner->best.plan;
  } else {
    p.plan = load_sharding_plan(sharding, m.workload(), m.cluster().devices());
    const std::vector<DeviceMemory> mem = m.memory(p.plan);
    const HardwareProfile& h = m.device_profile();
    for (size_t d = 0; d < mem.size(); ++d)
      if (!m.fits(mem[d]))
        throw InputError(fmt::format("{}: device {} needs {} (tables {}, per-row state {}, MLPs {}, buffers {}); "
                                     "its tables may use {} of {}{}",
                                     sharding, d, human_bytes(mem[d].total()), human_bytes(mem[d].tables),
                                     human_bytes(mem[d].row_state), human_bytes(mem[d].mlp), human_bytes(mem[d].buffers),
                                     human_bytes(m.table_side_capacity()), h.table_memory_name(),
                                     h.tables_in == "host" ? fmt::format(" and the rest {} of {}",
                                                                         human_bytes(h.device.memory_GB * 1e9),
                                                                         h.device_memory_name())
                                                           : std::string()));
  }
  p.report = m.run(p.plan);
  return p;
}

}  // namespace privrec::sim
