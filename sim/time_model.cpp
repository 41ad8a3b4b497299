#include "sim/time_model.hpp"

#include <algorithm>

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
  if (h.tables_in != "host") return 0;
  const uint64_t pooled = static_cast<uint64_t>(batch) * w.tables.size() * static_cast<uint64_t>(w.embedding_dim()) * 4;
  return s == Stage::fwd_emb || s == Stage::bwd_emb ? pooled : 0;
}

double combine_terms(double memory_ms, double compute_ms, double rng_ms, double overlap) {
  const double roof = std::max({memory_ms, compute_ms, rng_ms});
  return roof + (1.0 - overlap) * (memory_ms + compute_ms + rng_ms - roof);
}

Bound roofline_bound(const StageTime& t) {
  const double roof = std::max({t.memory_ms, t.compute_ms, t.rng_ms});
  return roof == t.memory_ms ? Bound::memory : roof == t.compute_ms ? Bound::compute : Bound::rng;
}

StageTime stage_time(Stage s, const WorkCounters& work, uint64_t link, const HardwareProfile& h, uint64_t table_bytes) {
  const ProcessorProfile& p = runs_with_tables(s) ? h.table_side() : h.device;
  StageTime t;
  const double seq = static_cast<double>(work.bytes_read_seq + work.bytes_written_seq);
  const double rnd = static_cast<double>(work.bytes_read_rand + work.bytes_written_rand);
  const uint64_t rows = work.rows_read_rand + work.rows_written_rand;
  const double row_bytes = rows > 0 ? rnd / static_cast<double>(rows) : 128.0;
  double random_s = rnd / (p.random_GBps_for(row_bytes) * 1e9);
  if (visits_rows_in_order(s)) {
    // Rows in ascending order read and write at most every table once: dense batches stream.
    const double written = static_cast<double>(work.bytes_written_rand) > 0 ? 2.0 : 1.0;
    random_s = std::min(random_s, written * static_cast<double>(table_bytes) / (p.stream_GBps * 1e9));
  }
  t.memory_ms = 1e3 * (seq / (p.stream_GBps * 1e9) + random_s);
  // GEMM flops at the GEMM rate, the rest at the vector rate; sorting is instruction work too: it
  // adds to the arithmetic, not to the memory side.
  const double vector_flops = static_cast<double>(work.flops - std::min(work.flops, work.gemm_flops));
  t.compute_ms = 1e3 * static_cast<double>(work.gemm_flops) / (p.gemm_GFLOPps * 1e9) +
                 1e3 * vector_flops / (p.vector_GFLOPps * 1e9) +
                 1e3 * static_cast<double>(work.sort_ops) / p.sort_ops_per_s;
  t.rng_ms = 1e3 * static_cast<double>(work.rng_samples) / p.rng_normals_per_s;
  t.overhead_ms = 1e-3 * static_cast<double>(work.launches) * p.launch_overhead_us;
  if (link > 0) t.link_ms = 1e3 * static_cast<double>(link) / (h.link_GBps * 1e9) + 1e-3 * h.link_latency_us;
  const double roof = std::max({t.memory_ms, t.compute_ms, t.rng_ms});
  // Calibration: the stage's factors for the bound it hits, else the stage's, else none.
  const std::string stage = stage_name(s), keyed = stage + ":" + bound_name(roofline_bound(t));
  auto lookup = [&](const std::map<std::string, double>& m, double none) {
    if (const auto it = m.find(keyed); it != m.end()) return it->second;
    if (const auto it = m.find(stage); it != m.end()) return it->second;
    return none;
  };
  t.efficiency = lookup(h.stage_efficiency, 1.0);
  t.overhead_ms += lookup(h.stage_fixed_ms, 0.0);
  t.roofline_ms = combine_terms(t.memory_ms, t.compute_ms, t.rng_ms, p.overlap_fraction);
  t.ms = t.roofline_ms * t.efficiency + t.overhead_ms + t.link_ms;
  t.bound = roof == t.memory_ms ? Bound::memory : roof == t.compute_ms ? Bound::compute : Bound::rng;
  if (t.overhead_ms > roof && t.overhead_ms >= t.link_ms) t.bound = Bound::overhead;
  if (t.link_ms > roof && t.link_ms > t.overhead_ms) t.bound = Bound::link;
  return t;
}

}  // namespace privrec::sim
