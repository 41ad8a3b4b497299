#pragma once
// The work a stage does, counted by the kernels from what they actually touch and predicted by sim/.
#include <cstdint>

#include <nlohmann/json.hpp>

namespace privrec {

struct WorkCounters {
  // Streaming (sequential) traffic: activations, weights, index arrays, whole-table passes.
  uint64_t bytes_read_seq = 0;
  uint64_t bytes_written_seq = 0;
  // Row-random traffic: embedding rows gathered or scattered by index.
  uint64_t bytes_read_rand = 0;
  uint64_t bytes_written_rand = 0;
  uint64_t rows_read_rand = 0;
  uint64_t rows_written_rand = 0;
  uint64_t rng_samples = 0;  // normal (or uniform) variates drawn
  uint64_t flops = 0;        // floating-point operations (a fused multiply-add counts 2)
  // The part of `flops` done inside matrix-multiply kernels (the MLP GEMMs), which run at the
  // machine's GEMM rate; the rest are vector flops (elementwise loops, reductions, interaction).
  uint64_t gemm_flops = 0;
  uint64_t launches = 0;     // kernel launches (cuda) or parallel regions (cpu)
  // Sorting work in key-steps: a radix sort of n keys in p passes counts n p; a comparison sort of
  // k keys counts k ceil(log2 k) (traces/row_sort.hpp defines both).
  uint64_t sort_ops = 0;

  uint64_t bytes_read() const { return bytes_read_seq + bytes_read_rand; }
  uint64_t bytes_written() const { return bytes_written_seq + bytes_written_rand; }
  uint64_t bytes() const { return bytes_read() + bytes_written(); }

  WorkCounters& operator+=(const WorkCounters& o);
  WorkCounters divided_by(uint64_t n) const;  // every counter / n (integer division): a mean per step
  bool operator==(const WorkCounters&) const = default;
  nlohmann::json to_json() const;
};

}  // namespace privrec
