#include "sim/time_model.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace privrec::sim {

const char* bound_name(Bound b) {
  switch (b) {
    case Bound::memory: return "memory";
    case Bound::compute: return "compute";
    case Bound::rng: return "rng";
    case Bound::overhead: return "overhead";
    case Bound::link: return "link";
  }
  return "?";
}

bool runs_with_tables(Stage s) {
  switch (s) {
    case Stage::fwd_emb:
    case Stage::bwd_emb:
    case Stage::dp_update:
    case Stage::update_sparse:
    case Stage::lazydp_catchup:
    case Stage::lazydp_flush:
    case Stage::adafest_select: return true;
    default: return false;
  }
}

bool visits_rows_in_order(Stage s) {
  return s == Stage::update_sparse || s == Stage::dp_update || s == Stage::lazydp_catchup;
}

uint64_t link_bytes(Stage s, const Workload& w, int64_t batch, const HardwareProfile& h) {
  if (!h.table_stages_on_host()) return 0;  // a device cache: pooling happens on the device
  uint64_t dims = 0;  // a column-wise shard pools its own columns
  for (const TableSpec& t : w.tables) dims += static_cast<uint64_t>(t.dim);
  const uint64_t pooled = static_cast<uint64_t>(batch) * dims * 4;
  return s == Stage::fwd_emb || s == Stage::bwd_emb ? pooled : 0;
}

std::string levels_summary(const StageTime& t) {
  std::string text;
  for (const auto& l : t.levels) {
    text += fmt::format("{}{} {:.1f} %", text.empty() ? "" : "  ", l.name, 100 * l.share);
    if (l.miss_cost_factor != 1.0 && l.share > 0) text += fmt::format(" (x{:.2f} sparse)", l.miss_cost_factor);
  }
  return text;
}

nlohmann::json levels_json(const StageTime& t) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& l : t.levels) {
    j.push_back({{"name", l.name}, {"share", l.share}, {"rows", l.rows}, {"bytes", l.bytes}, {"ms", l.ms}});
    if (l.miss_cost_factor != 1.0 && l.share > 0) j.back()["miss_cost_factor"] = l.miss_cost_factor;
  }
  return j;
}

double combine_terms(double memory_ms, double compute_ms, double rng_ms, double overlap) {
  const double roof = std::max({memory_ms, compute_ms, rng_ms});
  return roof + (1.0 - overlap) * (memory_ms + compute_ms + rng_ms - roof);
}

Bound roofline_bound(const StageTime& t) {
  const double roof = std::max({t.memory_ms, t.compute_ms, t.rng_ms});
  return roof == t.memory_ms ? Bound::memory : roof == t.compute_ms ? Bound::compute : Bound::rng;
}

namespace {
// The sorted-visit curve's factor at `density`. Below the sparsest density measured (1/128 on the
// CPU), visits lose what the curve measured: the factor rises in log(density) to the row-random
// rate's (stream over row-random), reached at one row visited per 2 MiB, where no two visited rows
// share a huge page. That end point is an assumption, not a measurement.
double sorted_visit_factor(const MemoryLevel& l, double row_bytes, double density) {
  const double q_min = l.sorted_visit_cost.smallest_fraction();
  const double measured = l.sorted_visit_cost.factor(row_bytes, std::max(density, q_min));
  if (density >= q_min) return measured;
  const double random = l.stream_GBps / l.random_GBps_for(row_bytes);
  const double q_end = row_bytes / double(2 << 20);
  if (density <= q_end || q_end >= q_min) return random;
  return measured + (random - measured) * std::log(q_min / density) / std::log(q_min / q_end);
}

// The memory term of a table stage: its row traffic level by level, its streaming traffic from
// where the tables live (whole-table passes across the link for host tables under a device cache).
double table_memory_s(Stage s, const WorkCounters& work, const HardwareProfile& h, uint64_t table_bytes,
                      const LevelSplit* split, StageTime& t) {
  const ProcessorProfile& p = h.table_side();
  const std::vector<MemoryLevel> levels = table_row_levels(h);
  const double rnd = static_cast<double>(work.bytes_read_rand + work.bytes_written_rand);
  const double rows = static_cast<double>(work.rows_read_rand + work.rows_written_rand);
  const double row_bytes = rows > 0 ? rnd / rows : 128.0;
  std::vector<double> share(levels.size(), 0.0);
  if (split && split->share.size() == levels.size()) share = split->share;
  else share.back() = 1.0;
  double random_s = 0;
  for (size_t i = 0; i < levels.size(); ++i) {
    const MemoryLevel& l = levels[i];
    const bool last = i + 1 == levels.size();
    // The curve was measured through the forward bag kernel's gathers: it prices the forward's row
    // reads only (the updates visit rows in order, and write rows they have just read).
    const double factor = last && s == Stage::fwd_emb && split && split->share.size() == levels.size()
                              ? last_level_miss_factor(l, *split, row_bytes)
                              : 1.0;
    const double read = static_cast<double>(work.bytes_read_rand), written = rnd - read;
    double s_level = share[i] * (read * factor + written) / (l.random_GBps_for(row_bytes) * 1e9);
    if (last && visits_rows_in_order(s)) {
      // Rows in ascending order read and write at most every table once: dense batches stream.
      const double written = work.bytes_written_rand > 0 ? 2.0 : 1.0;
      s_level = std::min(s_level, share[i] * written * static_cast<double>(table_bytes) / (l.stream_GBps * 1e9));
      // Where measured, what such visits cost at the density the stage visits the tables with:
      // between streaming (every row) and the row-random rate (a few rows far apart).
      if (!l.sorted_visit_cost.empty() && table_bytes > 0) {
        const double visited = static_cast<double>(std::max(work.rows_read_rand, work.rows_written_rand));
        const double density = std::min(1.0, visited * row_bytes / static_cast<double>(table_bytes));
        if (density > 0)
          s_level = std::min(s_level, share[i] * rnd * sorted_visit_factor(l, row_bytes, density) / (l.stream_GBps * 1e9));
      }
    }
    if (rows > 0) t.levels.push_back({l.name, share[i], share[i] * rows, share[i] * rnd, 1e3 * s_level, factor});
    random_s += s_level;
  }
  double seq = static_cast<double>(work.bytes_read_seq + work.bytes_written_seq);
  double pass_s = 0;
  if (split && split->dense_pass_bytes > 0 && levels.back().over_link) {
    const double pass = std::min(seq, split->dense_pass_bytes);
    pass_s = pass / (levels.back().stream_GBps * 1e9);
    seq -= pass;
  }
  return seq / (p.stream_GBps * 1e9) + pass_s + random_s;
}
}  // namespace

StageTime stage_time(Stage s, const WorkCounters& work, uint64_t link, const HardwareProfile& h, uint64_t table_bytes,
                     const LevelSplit* split) {
  const ProcessorProfile& p = runs_with_tables(s) ? h.table_side() : h.device;
  StageTime t;
  // A stage that does nothing costs nothing: no calibrated fixed cost for an operation an
  // implementation folds into another stage (the framework way's lazydp update).
  if (work == WorkCounters{} && link == 0) return t;
  if (runs_with_tables(s)) {
    t.memory_ms = 1e3 * table_memory_s(s, work, h, table_bytes, split, t);
  } else {
    const double seq = static_cast<double>(work.bytes_read_seq + work.bytes_written_seq);
    const double rnd = static_cast<double>(work.bytes_read_rand + work.bytes_written_rand);
    t.memory_ms = 1e3 * (seq / (p.stream_GBps * 1e9) + rnd / (p.random_GBps_for(128.0) * 1e9));
  }
  // GEMM flops at the GEMM rate, the rest at the vector rate; sorting is instruction work too: it
  // adds to the arithmetic, not to the memory side.
  const double vector_flops = static_cast<double>(work.flops - std::min(work.flops, work.gemm_flops));
  t.sort_ms = 1e3 * static_cast<double>(work.sort_ops) / p.sort_ops_per_s;
  t.compute_ms = 1e3 * static_cast<double>(work.gemm_flops) / (p.gemm_GFLOPps * 1e9) +
                 1e3 * vector_flops / (p.vector_GFLOPps * 1e9) + t.sort_ms;
  t.rng_ms = 1e3 * static_cast<double>(work.rng_samples) / p.rng_normals_per_s;
  t.overhead_ms = 1e-3 * static_cast<double>(work.launches) * p.launch_overhead_us;
  // Fresh memory: the operating system's page faults, serial work beside the stage's own, where the
  // profile measured them; otherwise one more write pass over it.
  if (work.bytes_first_touch > 0) {
    const double fresh = static_cast<double>(work.bytes_first_touch);
    if (p.first_touch_GBps > 0) {
      t.first_touch_ms = 1e3 * fresh / (p.first_touch_GBps * 1e9);
      t.overhead_ms += t.first_touch_ms;
    } else {
      t.memory_ms += 1e3 * fresh / (p.stream_GBps * 1e9);
    }
  }
  t.bags = static_cast<double>(work.bags);
  t.launches = static_cast<double>(work.launches);
  // The link: pooled embeddings of host tables (link) and what the kernels send up themselves (the
  // CUDA backend's batch); a profile that describes no link prices the latter at nothing, and
  // table stages on the host send no ids up (the host looks them up itself).
  const bool ids_stay_on_host = runs_with_tables(s) && h.table_stages_on_host();
  const uint64_t crossing = link + (h.link_GBps > 0 && !ids_stay_on_host ? work.host_link_bytes : 0);
  if (crossing > 0) t.link_ms = 1e3 * static_cast<double>(crossing) / (h.link_GBps * 1e9) + 1e-3 * h.link_latency_us;
  const double roof = std::max({t.memory_ms, t.compute_ms, t.rng_ms});
  // Calibration: the stage's factors for the bound it hits, else the stage's, else none.
  const std::string stage = stage_name(s), keyed = stage + ":" + bound_name(roofline_bound(t));
  auto lookup = [&](const std::map<std::string, double>& m, double none) {
    if (const auto it = m.find(keyed); it != m.end()) return it->second;
    if (const auto it = m.find(stage); it != m.end()) return it->second;
    return none;
  };
  t.efficiency = lookup(h.stage_efficiency, 1.0);
  t.overhead_ms += lookup(h.stage_fixed_ms, 0.0) + 1e-6 * t.bags * lookup(h.stage_bag_ns, 0.0) +
                   1e-3 * t.launches * lookup(h.stage_launch_us, 0.0);
  const auto overlap = h.stage_overlap.find(stage);
  t.roofline_ms = combine_terms(t.memory_ms, t.compute_ms, t.rng_ms,
                                overlap != h.stage_overlap.end() ? overlap->second : p.overlap_fraction);
  t.ms = t.roofline_ms * t.efficiency + t.overhead_ms + t.link_ms;
  t.bound = roof == t.memory_ms ? Bound::memory : roof == t.compute_ms ? Bound::compute : Bound::rng;
  if (t.overhead_ms > roof && t.overhead_ms >= t.link_ms) t.bound = Bound::overhead;
  if (t.link_ms > roof && t.link_ms > t.overhead_ms) t.bound = Bound::link;
  return t;
}

}  // namespace privrec::sim
