#include "sim/scale_out.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "models/config_error.hpp"
#include "models/kernel_work/kernel_work.hpp"
#include "models/kernel_work/working_memory.hpp"
#include "sim/analytic_model.hpp"
#include "sim/memory_levels.hpp"
#include "sim/row_traffic.hpp"

namespace privrec::sim {

namespace {
constexpr double kF = sizeof(float), kI = sizeof(int64_t);

// A device's work for one phase of the plan: each operation's parts on the sides it runs on.
StepRecord walk_device(const KernelWork& family, const AlgorithmConfig& cfg, const std::vector<PlanStage>& stages,
                       const DeviceSizes& sizes, bool has_next) {
  StepRecord out;
  for (const PlanStage& st : stages) {
    if (!stage_runs(st, has_next) || is_communication(st.stage)) continue;
    WorkCounters& w = out.at(st.stage);
    for (const Op& op : st.ops) {
      const OpSide side = op_side(op.kind);
      if (side == OpSide::dense || side == OpSide::both) w += family.part(op, sizes.dense, cfg, WorkSide::dense);
      if (side == OpSide::tables || side == OpSide::both)
        for (const StepSizes& g : sizes.tables) w += family.part(op, g, cfg, WorkSide::tables);
    }
  }
  return out;
}

// The workload a device's table stages see (for their memory levels): its shards as tables, each
// with its share of the lookups as its pooling (at least one).
Workload device_workload(const Workload& w, const std::vector<Shard>& shards) {
  Workload d = w;
  d.tables.clear();
  for (const Shard& s : shards) {
    TableSpec t = w.tables[s.table];
    if (s.lookup_share != 1 || s.row_share != 1 || s.dim != t.dim) {
      t.name += fmt::format("[{}x{}]", s.rows, s.dim);
      t.rows = std::max<int64_t>(1, s.rows), t.dim = s.dim;
      t.pooling = std::max<int64_t>(1, std::llround(static_cast<double>(t.pooling) * s.lookup_share));
    }
    d.tables.push_back(t);
  }
  return d;
}

std::string shards_key(const std::vector<Shard>& shards) {
  std::string k;
  for (const Shard& s : shards) k += fmt::format("{}:{}:{}:{:.9g}:{:.9g};", s.table, s.rows, s.dim, s.lookup_share, s.row_share);
  return k;
}

double max_of(const std::vector<double>& v) { return v.empty() ? 0.0 : *std::max_element(v.begin(), v.end()); }
}  // namespace

namespace {
// 1/g of a processor: its memory, bandwidths, rates and caches (g sharers running at once).
void share(ProcessorProfile& p, double g) {
  for (double* x : {&p.memory_GB, &p.stream_GBps, &p.random_GBps, &p.gemm_GFLOPps, &p.vector_GFLOPps,
                    &p.rng_normals_per_s, &p.sort_ops_per_s})
    *x /= g;
  for (auto& [row_B, GBps] : p.random_GBps_by_row_B) GBps /= g;
  for (CacheLevel& l : p.caches) {
    l.capacity_MB /= g, l.stream_GBps /= g, l.random_GBps /= g;
    for (auto& [row_B, GBps] : l.random_GBps_by_row_B) GBps /= g;
  }
}
}  // namespace

HardwareProfile per_device_profile(const ClusterProfile& c) {
  HardwareProfile h = c.device;
  const double g = static_cast<double>(c.devices_per_node);
  if (g == 1) return h;
  if (c.devices_share_processor) {
    share(h.device, g);
    h.name += fmt::format(" (1/{} of the processor)", c.devices_per_node);
    return h;
  }
  if (h.tables_in != "host" || !h.host) return h;
  share(*h.host, g);
  h.name += fmt::format(" (1/{} of the node's host)", c.devices_per_node);
  return h;
}

ClusterModel::ClusterModel(const Workload& w, const AlgorithmConfig& cfg, const ClusterProfile& c, int64_t steps,
                           int64_t first_counted_step)
    : w_(w), cfg_(cfg), c_(c), h_(per_device_profile(c)), steps_(steps) {
  if (steps < 1) throw InputError(fmt::format("--steps {}: expected at least 1", steps));
  if (first_counted_step > steps) first_counted_step = 1;  // as train: with only warm-up steps, count them all
  const AnalyticModel expected(w, cfg);
  for (int64_t t = first_counted_step; t <= steps; ++t) {
    counted_.push_back(expected.step(t, t < steps));
    has_next_.push_back(t < steps);
  }
  setup_ = expected.setup(steps);
  flush_ = expected.flush(steps);
}

ClusterModel::DeviceResult ClusterModel::evaluate(const std::vector<Shard>& shards) const {
  const KernelWork& family = kernel_work(h_.kernels);
  const Plan& plan = plan_of(cfg_.kind);
  const int64_t n = c_.devices();
  std::array<WorkCounters, kStages> total{};
  std::array<int64_t, kStages> counted{};
  StageBytes working{};
  for (size_t i = 0; i < counted_.size(); ++i) {
    const StepRecord r = walk_device(family, cfg_, plan.step, device_sizes(w_, shards, counted_[i], n), has_next_[i]);
    if (i == 0) working = working_bytes_by_stage(plan, r, h_);
    for (size_t s = 0; s < kStages; ++s)
      if (r.ran[s]) total[s] += r.work[s], ++counted[s];
  }
  const Workload wd = device_workload(w_, shards);
  const std::vector<MemoryLevel> levels = table_row_levels(h_);
  const uint64_t table_bytes = static_cast<uint64_t>(wd.table_bytes());
  auto timed = [&](Stage st, const WorkCounters& work, uint64_t link, bool before) {
    SimStage x{st, work, link, {}, before};
    const LevelSplit split = analytic_split(wd, plan, levels, st, work, working);
    x.time = stage_time(st, work, link, h_, table_bytes, &split);
    return x;
  };
  DeviceResult out;
  for (size_t s = 0; s < kStages; ++s) {
    if (counted[s] == 0) continue;
    const Stage st = static_cast<Stage>(s);
    const uint64_t link = link_bytes(st, wd, w_.batch_size, h_);
    out.ran[s] = true;
    out.stages[s] = timed(st, total[s].divided_by(static_cast<uint64_t>(counted[s])), link, false);
  }
  const StepRecord setup = walk_device(family, cfg_, plan.setup, device_sizes(w_, shards, setup_, n), false);
  const StepRecord fin = walk_device(family, cfg_, plan.finish, device_sizes(w_, shards, flush_, n, true), false);
  for (const auto& [rec, before] : {std::pair{&setup, true}, std::pair{&fin, false}})
    for (size_t s = 0; s < kStages; ++s)
      if (rec->ran[s]) out.once.push_back(timed(static_cast<Stage>(s), rec->work[s], 0, before));
  return out;
}

const ClusterModel::DeviceResult& ClusterModel::device(const std::vector<Shard>& shards) const {
  const std::string key = shards_key(shards);
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  return cache_.emplace(key, evaluate(shards)).first->second;
}

std::vector<DeviceMemory> ClusterModel::memory(const ShardingPlan& plan) const {
  std::vector<DeviceMemory> out;
  for (const auto& shards : device_shards(w_, plan, c_.devices())) out.push_back(shard_memory(shards));
  return out;
}

std::vector<ClusterStage> ClusterModel::comm_stages(const std::vector<std::vector<Shard>>& shards,
                                                    const ShardingPlan& plan) const {
  const int64_t n = c_.devices();
  if (n == 1) return {};
  const double B = static_cast<double>(w_.batch_size), b = static_cast<double>(local_batch(w_.batch_size, n));
  // What each device sends of its examples' ids and receives as an owner; the pooled embeddings
  // (and, backward, their gradients) the owners send and each device receives.
  double ids_send = 0, pooled_recv = 0, replicated_bytes = 0;
  for (size_t t = 0; t < w_.tables.size(); ++t) {
    const TableSpec& spec = w_.tables[t];
    const TablePlacement& p = plan.tables[t];
    const double k = static_cast<double>(p.devices.size()), L = static_cast<double>(spec.pooling);
    const double d = static_cast<double>(spec.dim);
    switch (p.scheme) {
      case ShardScheme::data_parallel: replicated_bytes += static_cast<double>(spec.rows) * d * kF; break;
      case ShardScheme::table_wise: ids_send += b * (L + 1) * kI, pooled_recv += b * d * kF; break;
      case ShardScheme::row_wise: ids_send += b * (L + k) * kI, pooled_recv += k * b * d * kF; break;
      case ShardScheme::column_wise: ids_send += k * b * (L + 1) * kI, pooled_recv += b * d * kF; break;
    }
  }
  std::vector<double> ids_recv, pooled_send;
  for (const auto& dev : shards) {
    double ids = 0, pooled = 0;
    for (const Shard& s : dev) {
      if (plan.tables[s.table].scheme == ShardScheme::data_parallel) continue;
      ids += B * (static_cast<double>(w_.tables[s.table].pooling) * s.lookup_share + 1) * kI;
      pooled += B * static_cast<double>(s.dim) * kF;
    }
    ids_recv.push_back(ids), pooled_send.push_back(pooled);
  }
  const double ids_bytes = std::max(ids_send, max_of(ids_recv)), pooled_bytes = std::max(pooled_recv, max_of(pooled_send));
  const double dense_bytes = static_cast<double>(dense_shape(w_, 1).mlp_parameters()) * kF + replicated_bytes;
  auto cost_of = [&](Stage s) -> std::optional<CollectiveCost> {
    switch (s) {
      case Stage::comm_ids:
      case Stage::comm_next: return ids_bytes > 0 ? std::optional(all_to_all(c_, ids_bytes)) : std::nullopt;
      case Stage::comm_fwd:
      case Stage::comm_bwd: return pooled_bytes > 0 ? std::optional(all_to_all(c_, pooled_bytes)) : std::nullopt;
      case Stage::comm_norm:
      case Stage::comm_contrib: return all_reduce(c_, B * kF);
      case Stage::comm_grads: return all_reduce(c_, dense_bytes);
      default: return std::nullopt;
    }
  };
  std::vector<ClusterStage> out;
  const Plan& pl = plan_of(cfg_.kind);
  for (const PlanStage& st : pl.step) {
    if (!is_communication(st.stage)) continue;
    const bool runs = std::any_of(has_next_.begin(), has_next_.end(), [&](bool next) { return stage_runs(st, next); });
    const std::optional<CollectiveCost> cost = runs ? cost_of(st.stage) : std::nullopt;
    if (!cost) continue;
    ClusterStage x;
    x.stage.stage = st.stage;
    x.stage.work.comm_bytes = static_cast<uint64_t>(std::llround(cost->device.bytes));
    x.stage.work.comm_messages = static_cast<uint64_t>(std::llround(cost->device.messages));
    x.stage.time.ms = x.stage.time.link_ms = cost->ms;
    x.stage.time.bound = Bound::link;
    x.mean_ms = cost->ms;
    x.comm = cost;
    out.push_back(x);
  }
  return out;
}

ClusterReport ClusterModel::run(const ShardingPlan& plan) const {
  const int64_t n = c_.devices();
  const auto shards = device_shards(w_, plan, n);
  std::vector<const DeviceResult*> dev;
  for (const auto& s : shards) dev.push_back(&device(s));
  ClusterReport r;
  r.devices = n, r.batch_size = w_.batch_size, r.steps = steps_;
  r.table_GB = static_cast<double>(w_.table_bytes()) / 1e9;
  const std::vector<ClusterStage> comm = comm_stages(shards, plan);
  std::array<bool, kStages> done{};
  for (const PlanStage& ps : plan_of(cfg_.kind).step) {  // in plan order, each stage once
    const size_t s = static_cast<size_t>(ps.stage);
    if (done[s]) continue;
    done[s] = true;
    if (is_communication(ps.stage)) {
      for (const ClusterStage& c : comm)
        if (c.stage.stage == ps.stage) r.stages.push_back(c), r.comm_ms += c.stage.time.ms;
      continue;
    }
    ClusterStage x;
    bool any = false;
    double sum = 0;
    for (int64_t d = 0; d < n; ++d) {
      if (!dev[d]->ran[s]) continue;
      const SimStage& ds = dev[d]->stages[s];
      sum += ds.time.ms;
      if (!any || ds.time.ms > x.stage.time.ms) x.stage = ds, x.slowest_device = d;
      any = true;
    }
    if (!any) continue;
    x.mean_ms = sum / static_cast<double>(n);
    r.stages.push_back(x);
  }
  // Summed in vocabulary order, as the single-device model sums (the same bits on one device).
  std::vector<double> ms(kStages, 0.0);
  for (const ClusterStage& s : r.stages) ms[static_cast<size_t>(s.stage.stage)] = s.stage.time.ms;
  for (const double x : ms) r.step_ms += x;
  // Once-per-run stages: the slowest device's, in the first device's order.
  for (size_t i = 0; i < dev[0]->once.size(); ++i) {
    ClusterStage x{dev[0]->once[i], 0, 0, std::nullopt};
    double sum = 0;
    for (int64_t d = 0; d < n; ++d) {
      const SimStage& o = dev[d]->once[i];
      sum += o.time.ms;
      if (o.time.ms > x.stage.time.ms) x.stage = o, x.slowest_device = d;
    }
    x.mean_ms = sum / static_cast<double>(n);
    r.once.push_back(x);
  }
  r.throughput_examples_per_s = r.step_ms > 0 ? 1e3 * static_cast<double>(w_.batch_size) / r.step_ms : 0;
  for (const auto& s : shards) r.memory.push_back(shard_memory(s));
  // What the devices hold: a replicated table, and a column-sharded table's per-row state, once on
  // each device that has a copy or a shard of its rows.
  double held = 0, row_state = 0;
  for (const DeviceMemory& m : r.memory) held += m.tables + m.row_state, row_state += m.row_state;
  r.row_state_GB = row_state / 1e9, r.noise_GB = beside_tables(w_, cfg_, h_).noise_GB;
  r.tables_fit = held / 1e9 + r.noise_GB <= static_cast<double>(n) * h_.table_capacity_GB();
  for (const DeviceMemory& m : r.memory) r.fits = r.fits && fits(m);
  return r;
}

double ClusterModel::step_ms(const ShardingPlan& plan) const { return run(plan).step_ms; }

DeviceMemory ClusterModel::shard_memory(const std::vector<Shard>& shards) const {
  return device_memory(w_, cfg_, shards, c_.devices(), kernel_work(h_.kernels).row_state_bytes(cfg_.kind));
}

double ClusterModel::table_side_bytes(const DeviceMemory& m) const {
  return h_.tables_in == "host" ? m.tables + m.row_state : m.total();
}

// Device memory as the backends plan it (kUsableDeviceMemory of it); a host's share as it is.
double ClusterModel::table_side_capacity() const {
  return h_.table_capacity_GB() * 1e9;
}

double ClusterModel::device_side_capacity() const {
  const double cache = h_.tables_in == "host" && h_.device_cache ? h_.device_cache->capacity_GB * 1e9 : 0.0;
  return kUsableDeviceMemory * h_.device.memory_GB * 1e9 - cache;
}

double ClusterModel::device_side_bytes(const DeviceMemory& m) const {
  return h_.tables_in == "host" ? m.mlp + m.buffers : m.total();
}

bool ClusterModel::fits(const DeviceMemory& m) const {
  return table_side_bytes(m) <= table_side_capacity() && device_side_bytes(m) <= device_side_capacity();
}

double ClusterModel::device_step_ms(const std::vector<Shard>& shards) const {
  const DeviceResult& d = device(shards);
  double ms = 0;
  for (size_t s = 0; s < kStages; ++s)
    if (d.ran[s]) ms += d.stages[s].time.ms;
  return ms;
}

SimReport ClusterReport::as_sim_report() const {
  SimReport r;
  for (const ClusterStage& s : stages) r.stages.push_back(s.stage);
  std::stable_sort(r.stages.begin(), r.stages.end(), [](const SimStage& a, const SimStage& b) { return a.stage < b.stage; });
  for (const ClusterStage& s : once) r.once.push_back(s.stage);
  r.step_ms = step_ms;
  r.throughput_examples_per_s = throughput_examples_per_s;
  r.batch_size = batch_size;
  r.steps = steps;
  r.table_GB = table_GB;
  r.row_state_GB = row_state_GB, r.noise_GB = noise_GB;
  r.tables_fit = tables_fit;
  return r;
}

nlohmann::json ClusterReport::to_json(const Workload& w, const ShardingPlan& plan) const {
  nlohmann::json j;
  j["devices"] = devices;
  j["sharding"] = plan.to_json(w);
  j["sharding_summary"] = plan.summary();
  j["step_ms"] = step_ms;
  j["communication_ms"] = comm_ms;
  j["throughput_examples_per_s"] = throughput_examples_per_s;
  j["fits_in_memory"] = fits;
  nlohmann::json mem = nlohmann::json::array();
  for (const DeviceMemory& m : memory) mem.push_back(m.to_json());
  j["device_memory"] = mem;
  auto stage = [](const ClusterStage& s) {
    nlohmann::json x = s.stage.work.to_json();
    x["name"] = stage_name(s.stage.stage);
    x["ms_per_step"] = s.stage.time.ms;
    x["bound"] = bound_name(s.stage.time.bound);
    x["slowest_device"] = s.slowest_device;
    x["mean_device_ms"] = s.mean_ms;
    if (s.comm) x["collective"] = s.comm->to_json();
    return x;
  };
  for (const ClusterStage& s : stages) j["stages"].push_back(stage(s));
  for (const ClusterStage& s : once) j["once"].push_back(stage(s));
  return j;
}

}  // namespace privrec::sim
