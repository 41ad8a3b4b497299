#include "sim/sharding.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "models/config_error.hpp"
#include "models/json_reader.hpp"
#include "models/kernel_work/working_memory.hpp"
#include "models/plan.hpp"
#include "traces/synthetic_trace.hpp"

namespace privrec::sim {

namespace {
constexpr double kF = sizeof(float), kI = sizeof(int64_t);

uint64_t scaled(uint64_t n, double share) { return static_cast<uint64_t>(std::llround(static_cast<double>(n) * share)); }

// A shard's sizes from its table's: lookups and what follows them by the lookup share, rows and the
// selection's false positives by the row share. Bags keep their count (a shard sees every bag of
// the batch, with fewer ids in each): the squares of the bag sizes follow a binomial split. A
// replica's update side (the batch's rows, the selection, lazydp's owed rows) is the whole
// batch's; a flush owes every row, so its owed counts go by rows.
TableSizes shard_sizes(const TableSizes& t, const Shard& s, uint64_t batch, bool flush) {
  if (s.lookup_share == 1 && s.row_share == 1) return t;
  const double p = s.lookup_share, f = s.row_share, u = s.replica ? 1.0 : p;
  TableSizes o;
  o.rows = static_cast<uint64_t>(s.rows);
  o.lookups = scaled(t.lookups, p);
  o.unique_rows = scaled(t.unique_rows, u);
  o.single_rows = scaled(t.single_rows, p);  // the coalesce runs over the shard's own lookups
  o.bag_distinct = scaled(t.bag_distinct, p);
  const double L = batch > 0 ? static_cast<double>(t.lookups) / static_cast<double>(batch) : 0;
  const double bags = static_cast<double>(batch) * (s.replica ? p : 1.0), q = s.replica ? 1.0 : p;
  o.bags = s.replica ? static_cast<uint64_t>(std::llround(bags)) : 0;
  o.bag_lookups_sq = static_cast<uint64_t>(std::llround(bags * (L * q * (1 - q) + L * L * q * q)));
  o.bag_sort_ops = scaled(t.bag_sort_ops, p);
  o.lookup_sort_ops = scaled(t.lookup_sort_ops, p);
  o.bag_distinct_sort_ops = scaled(t.bag_distinct_sort_ops, p);
  o.selected_touched = scaled(t.selected_touched, u);
  o.selected = o.selected_touched + scaled(t.selected - std::min(t.selected, t.selected_touched), f);
  o.selection_draws = scaled(t.selection_draws, f);
  o.next_lookups = scaled(t.next_lookups, u);
  o.next_unique = scaled(t.next_unique, u);
  o.next_sort_ops = scaled(t.next_sort_ops, u);
  o.owed = scaled(t.owed, flush ? f : u);
  o.owed_steps = scaled(t.owed_steps, flush ? f : u);
  o.trace_lookups = scaled(t.trace_lookups, p);
  o.trace_bag_distinct = scaled(t.trace_bag_distinct, p);
  o.trace_bag_sort_ops = scaled(t.trace_bag_sort_ops, p);
  return o;
}

void check_devices(const TablePlacement& p, const std::string& file, const std::string& path, int64_t devices) {
  std::vector<int64_t> seen = p.devices;
  std::sort(seen.begin(), seen.end());
  for (size_t i = 0; i < seen.size(); ++i) {
    if (seen[i] < 0 || seen[i] >= devices)
      throw config_error(file, path + ".devices", std::to_string(seen[i]), fmt::format("device numbers 0 .. {}", devices - 1));
    if (i > 0 && seen[i] == seen[i - 1])
      throw config_error(file, path + ".devices", std::to_string(seen[i]), "each device at most once");
  }
  const size_t n = p.devices.size();
  if (p.scheme == ShardScheme::table_wise && n != 1)
    throw config_error(file, path + ".devices", fmt::format("{} devices", n), "exactly one device for table_wise");
  if (p.scheme == ShardScheme::data_parallel && static_cast<int64_t>(n) != devices)
    throw config_error(file, path + ".devices", fmt::format("{} devices", n),
                       fmt::format("every device ({}) for data_parallel", devices));
  if (n == 0) throw config_error(file, path + ".devices", "[]", "at least one device");
}

TablePlacement parse_placement(JsonObjectReader& r, const std::string& path, const Workload& w, int64_t devices,
                               const TableSpec& t) {
  TablePlacement p;
  p.scheme = parse_shard_scheme(r.required_string("scheme"), r.file() + ": " + path + ".scheme");
  if (r.has("devices")) {
    const nlohmann::json& list = r.required_array("devices");
    for (size_t i = 0; i < list.size(); ++i) {
      const bool ok = list[i].is_number_integer() && list[i].get<double>() >= 0 && list[i].get<double>() < static_cast<double>(devices);
      if (!ok)
        throw config_error(r.file(), fmt::format("{}.devices[{}]", path, i), json_value_text(list[i]),
                           fmt::format("a device number from 0 to {}", devices - 1));
      p.devices.push_back(list[i].get<int64_t>());
    }
  } else if (p.scheme == ShardScheme::table_wise) {
    p.devices = {0};
  } else {
    for (int64_t d = 0; d < devices; ++d) p.devices.push_back(d);
  }
  check_devices(p, r.file(), path, devices);
  const int64_t k = static_cast<int64_t>(p.devices.size());
  if (p.scheme == ShardScheme::column_wise && t.dim % k != 0)
    throw config_error(r.file(), path + ".devices", fmt::format("{} devices", k),
                       fmt::format("a count that divides table {}'s dimension {}", t.name, t.dim));
  if (p.scheme == ShardScheme::row_wise && k > t.rows)
    throw config_error(r.file(), path + ".devices", fmt::format("{} devices", k),
                       fmt::format("at most table {}'s {} rows", t.name, t.rows));
  (void)w;
  return p;
}
}  // namespace

const char* shard_scheme_name(ShardScheme s) {
  switch (s) {
    case ShardScheme::table_wise: return "table_wise";
    case ShardScheme::row_wise: return "row_wise";
    case ShardScheme::column_wise: return "column_wise";
    case ShardScheme::data_parallel: return "data_parallel";
  }
  return "?";
}

ShardScheme parse_shard_scheme(const std::string& name, const std::string& where) {
  for (ShardScheme s : {ShardScheme::table_wise, ShardScheme::row_wise, ShardScheme::column_wise, ShardScheme::data_parallel})
    if (name == shard_scheme_name(s)) return s;
  throw InputError(fmt::format("{}: \"{}\": expected table_wise, row_wise, column_wise or data_parallel", where, name));
}

nlohmann::json ShardingPlan::to_json(const Workload& w) const {
  nlohmann::json j = nlohmann::json::array();
  for (size_t t = 0; t < tables.size(); ++t)
    j.push_back({{"table", w.tables[t].name}, {"scheme", shard_scheme_name(tables[t].scheme)}, {"devices", tables[t].devices}});
  return {{"tables", j}};
}

std::string ShardingPlan::summary() const {
  std::map<std::string, int> count;
  for (const TablePlacement& p : tables) {
    std::string key = shard_scheme_name(p.scheme);
    if (p.scheme == ShardScheme::row_wise || p.scheme == ShardScheme::column_wise)
      key += fmt::format(" ({} shards)", p.devices.size());
    ++count[key];
  }
  std::string out;
  for (const auto& [k, n] : count) out += fmt::format("{}{} x{}", out.empty() ? "" : ", ", k, n);
  return out;
}

ShardingPlan single_device_plan(const Workload& w) {
  ShardingPlan p;
  p.tables.assign(w.tables.size(), {ShardScheme::table_wise, {0}});
  return p;
}

ShardingPlan parse_sharding_plan(const nlohmann::json& j, const std::string& file, const Workload& w, int64_t devices) {
  JsonObjectReader r(j, file, "");
  const nlohmann::json& list = r.required_array("tables");
  r.reject_unknown_keys();
  ShardingPlan plan;
  plan.tables.resize(w.tables.size());
  std::vector<bool> given(w.tables.size(), false);
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string path = fmt::format("tables[{}]", i);
    JsonObjectReader e = r.child(list[i], "tables", i);
    const std::string name = e.required_string("table");
    const auto it = std::find_if(w.tables.begin(), w.tables.end(), [&](const TableSpec& t) { return t.name == name; });
    if (it == w.tables.end())
      throw config_error(file, path + ".table", "\"" + name + "\"", "the name of one of workload " + w.name + "'s tables");
    const size_t t = static_cast<size_t>(it - w.tables.begin());
    if (given[t]) throw config_error(file, path + ".table", "\"" + name + "\"", "each table listed once");
    given[t] = true;
    plan.tables[t] = parse_placement(e, path, w, devices, *it);
    e.reject_unknown_keys();
  }
  for (size_t t = 0; t < w.tables.size(); ++t)
    if (!given[t]) throw config_error(file, "tables", "(table " + w.tables[t].name + " missing)", "every table of the workload");
  return plan;
}

ShardingPlan load_sharding_plan(const std::string& file, const Workload& w, int64_t devices) {
  return parse_sharding_plan(parse_json_file(file), file, w, devices);
}

std::vector<double> row_block_lookup_shares(const TableSpec& t, int64_t k) {
  std::vector<double> share(static_cast<size_t>(k));
  auto rows_in = [&](int64_t b) { return static_cast<double>(row_block_rows(t.rows, k, b)) / static_cast<double>(t.rows); };
  if (t.access.kind != AccessDistribution::Kind::zipf) {
    for (int64_t b = 0; b < k; ++b) share[b] = rows_in(b);
    return share;
  }
  // The hottest ranks where the generator puts them; the tail spread by rows (its map scatters them).
  const double s = t.access.zipf_exponent;
  const int64_t exact = std::min<int64_t>(t.rows, 1 << 16), a = zipf_rank_multiplier(t.rows);
  double head = 0, total = 0;
  for (int64_t r = 1; r <= exact; ++r) {
    const double m = std::pow(static_cast<double>(r), -s);
    share[row_block_of(t.rows, k, zipf_row_of_rank(t.rows, a, r))] += m, head += m;
  }
  total = head;
  if (t.rows > exact) {  // the tail's mass by the integral of x^-s (Euler-Maclaurin to first order)
    const double lo = static_cast<double>(exact) + 0.5, hi = static_cast<double>(t.rows) + 0.5;
    total += s == 1 ? std::log(hi / lo) : (std::pow(hi, 1 - s) - std::pow(lo, 1 - s)) / (1 - s);
  }
  const double tail = total - head;
  for (int64_t b = 0; b < k; ++b) share[b] = (share[b] + tail * rows_in(b)) / total;
  return share;
}

std::vector<std::vector<Shard>> device_shards(const Workload& w, const ShardingPlan& plan, int64_t devices) {
  std::vector<std::vector<Shard>> out(static_cast<size_t>(devices));
  for (size_t t = 0; t < w.tables.size(); ++t) {
    const TableSpec& spec = w.tables[t];
    const TablePlacement& p = plan.tables[t];
    const int64_t k = static_cast<int64_t>(p.devices.size());
    switch (p.scheme) {
      case ShardScheme::table_wise: out[p.devices[0]].push_back({t, spec.rows, spec.dim, 1, 1}); break;
      case ShardScheme::column_wise:
        for (int64_t d : p.devices) out[d].push_back({t, spec.rows, spec.dim / k, 1, 1});
        break;
      case ShardScheme::data_parallel:
        for (int64_t d : p.devices)
          out[d].push_back({t, spec.rows, spec.dim, 1.0 / static_cast<double>(devices), 1, true});
        break;
      case ShardScheme::row_wise: {
        const std::vector<double> share = row_block_lookup_shares(spec, k);
        for (int64_t b = 0; b < k; ++b) {
          const int64_t rows = row_block_rows(spec.rows, k, b);
          out[p.devices[b]].push_back({t, rows, spec.dim, share[b], static_cast<double>(rows) / static_cast<double>(spec.rows)});
        }
        break;
      }
    }
  }
  for (auto& shards : out)
    std::stable_sort(shards.begin(), shards.end(), [](const Shard& a, const Shard& b) { return a.table < b.table; });
  return out;
}

int64_t local_batch(int64_t batch, int64_t devices) { return (batch + devices - 1) / devices; }

DeviceSizes device_sizes(const Workload& w, const std::vector<Shard>& shards, const StepSizes& whole, int64_t devices,
                         bool flush) {
  DeviceSizes out;
  out.dense = StepSizes{whole.dense, {}};
  const uint64_t B = whole.dense.batch;
  if (devices > 1) {
    out.dense.dense.batch = static_cast<uint64_t>(local_batch(static_cast<int64_t>(B), devices));
    out.dense.dense.dense_values = out.dense.dense.batch * static_cast<uint64_t>(w.dense_features);
  }
  std::map<int64_t, StepSizes> by_dim;  // ascending shard dimension
  for (const Shard& s : shards) {
    StepSizes& g = by_dim[s.dim];
    if (g.tables.empty()) g.dense = whole.dense, g.dense.dim = static_cast<uint64_t>(s.dim);
    g.tables.push_back(shard_sizes(whole.tables[s.table], s, B, flush));
  }
  for (auto& [dim, g] : by_dim) {
    g.dense.tables = g.tables.size();
    out.tables.push_back(std::move(g));
  }
  return out;
}

nlohmann::json DeviceMemory::to_json() const {
  return {{"tables_GB", tables / 1e9}, {"row_state_GB", row_state / 1e9}, {"mlp_GB", mlp / 1e9},
          {"buffers_GB", buffers / 1e9}, {"total_GB", total() / 1e9}};
}

DeviceMemory device_memory(const Workload& w, const AlgorithmConfig& cfg, const std::vector<Shard>& shards,
                           int64_t devices, uint64_t row_state_bytes) {
  DeviceMemory m;
  const int64_t B = w.batch_size, b = local_batch(w.batch_size, devices);
  for (const Shard& s : shards) {
    const TableSpec& t = w.tables[s.table];
    const double rows = static_cast<double>(s.rows), dim = static_cast<double>(s.dim);
    m.tables += rows * dim * kF;
    m.row_state += rows * static_cast<double>(row_state_bytes);
    // A replica looks up its local batch and all-reduces a dense gradient of the table; an owner
    // serves the whole batch and sends and receives its pooled vectors and their gradients.
    const int64_t examples = s.replica ? b : B;
    const double per_example = static_cast<double>(t.pooling) * (s.replica ? 1.0 : s.lookup_share);
    m.buffers += table_working_bytes(per_example, s.dim, cfg.kind, examples) + static_cast<double>(examples) * kI;
    m.buffers += s.replica ? rows * dim * kF : 2 * static_cast<double>(B) * dim * kF;
  }
  m.mlp = 2 * static_cast<double>(w.mlp_parameters()) * kF;  // parameters and their gradients
  m.buffers += dense_working_bytes(w, cfg.kind, b);
  return m;
}

}  // namespace privrec::sim
