#include "models/work_counters.hpp"

namespace privrec {

WorkCounters& WorkCounters::operator+=(const WorkCounters& o) {
  bytes_read_seq += o.bytes_read_seq;
  bytes_written_seq += o.bytes_written_seq;
  bytes_read_rand += o.bytes_read_rand;
  bytes_written_rand += o.bytes_written_rand;
  rows_read_rand += o.rows_read_rand;
  rows_written_rand += o.rows_written_rand;
  rng_samples += o.rng_samples;
  flops += o.flops;
  gemm_flops += o.gemm_flops;
  launches += o.launches;
  sort_ops += o.sort_ops;
  return *this;
}

WorkCounters WorkCounters::divided_by(uint64_t n) const {
  WorkCounters m;
  if (n == 0) return m;
  m.bytes_read_seq = bytes_read_seq / n;
  m.bytes_written_seq = bytes_written_seq / n;
  m.bytes_read_rand = bytes_read_rand / n;
  m.bytes_written_rand = bytes_written_rand / n;
  m.rows_read_rand = rows_read_rand / n;
  m.rows_written_rand = rows_written_rand / n;
  m.rng_samples = rng_samples / n;
  m.flops = flops / n;
  m.gemm_flops = gemm_flops / n;
  m.launches = launches / n;
  m.sort_ops = sort_ops / n;
  return m;
}

nlohmann::json WorkCounters::to_json() const {
  return {{"bytes_read_seq", bytes_read_seq},     {"bytes_written_seq", bytes_written_seq},
          {"bytes_read_rand", bytes_read_rand},   {"bytes_written_rand", bytes_written_rand},
          {"rows_read_rand", rows_read_rand},     {"rows_written_rand", rows_written_rand},
          {"rng_samples", rng_samples},           {"flops", flops},
          {"gemm_flops", gemm_flops},             {"launches", launches},                 {"sort_ops", sort_ops},
          {"bytes_read", bytes_read()},
          {"bytes_written", bytes_written()}};
}

}  // namespace privrec
