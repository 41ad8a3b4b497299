#pragma once
// Seeded synthetic traces: row ids drawn from each table's access distribution, dense features
// N(0, 1), and labels with a planted signal (a fixed linear function of the dense features plus a
// per-row effect) so that training has something to learn. Batch b is a pure function of
// (seed, b): any batch can be made in any order, on any thread count.
#include <memory>

#include "models/workload.hpp"
#include "traces/trace_source.hpp"
#include "traces/zipf_sampler.hpp"

namespace privrec {

class SyntheticTrace : public TraceSource {
 public:
  SyntheticTrace(const Workload& workload, uint64_t seed);
  int64_t num_batches() const override { return -1; }
  Batch batch(int64_t index) const override;
  void batch_into(int64_t index, Batch& out) const override;
  int64_t num_tables() const override { return static_cast<int64_t>(workload_.tables.size()); }
  int64_t num_dense() const override { return workload_.dense_features; }
  std::string describe() const override;

 private:
  int64_t draw_zipf_row(size_t table, int64_t batch_index, int64_t example, int64_t lookup) const;
  Workload workload_;
  uint64_t seed_;
  std::vector<std::unique_ptr<ZipfSampler>> zipf_;  // per table, null for uniform
  std::vector<int64_t> rank_multiplier_;            // zipf rank -> row bijection (hot rows spread out)
};

// Where the zipf generator puts rank r (1-based) of a table of `rows` rows: rank -> (a (r - 1)) mod
// rows with an odd multiplier a near rows / 2 coprime with rows, a bijection that spreads hot rows.
int64_t zipf_rank_multiplier(int64_t rows);
int64_t zipf_row_of_rank(int64_t rows, int64_t multiplier, int64_t rank);  // multiplier: zipf_rank_multiplier(rows)

// The planted per-row effect and dense weights used for labels (exposed for tests).
float planted_row_effect(uint64_t seed, size_t table, int64_t row);
float planted_dense_weight(size_t feature);

}  // namespace privrec
