#pragma once
// LazyDP's bookkeeping: per row the last step whose noise the row has received (the history
// table), and the schedule of per-step update scales lr_s / B_s, whose prefix sums give the
// pending noise of any delay in O(1).
#include <cstdint>
#include <vector>

#include "kernels/cpu/dlrm_model.hpp"
#include "kernels/host_allocator.hpp"
#include "kernels/noise_rows.hpp"
#include "models/algorithm.hpp"
#include "models/work_counters.hpp"

namespace privrec::cpu {

class NoiseSchedule {
 public:
  void push(double scale);  // the scale of the next step (steps are 1-based)
  int64_t steps() const { return static_cast<int64_t>(scale_.size()) - 1; }
  double scale(int64_t step) const { return scale_[step]; }
  // Sums over steps s in (from, to]: of scale_s, and of scale_s^2.
  double sum(int64_t from, int64_t to) const { return cum_[to] - cum_[from]; }
  double sum_sq(int64_t from, int64_t to) const { return cum_sq_[to] - cum_sq_[from]; }

 private:
  std::vector<double> scale_{0.0}, cum_{0.0}, cum_sq_{0.0};
};

struct LazyNoiseParams {
  float stddev;  // sigma * C
  LazyNoiseMode mode;
  const NoiseGenerator* noise;
  const NoiseSchedule* schedule;
};

// Brings the sorted distinct `rows` of table t up to date through step `now`: each row owes the
// noise of steps history[r]+1 .. now; then history[r] = now. Returns the rows that owed noise.
int64_t lazy_catch_up(EmbeddingTable& table, uint32_t t, const std::vector<int64_t>& rows,
                      HugePageVector<uint32_t>& history, uint32_t now, const LazyNoiseParams& p, WorkCounters& work);

// Every row of table t through step `now` (the flush before the model is released).
int64_t lazy_flush(EmbeddingTable& table, uint32_t t, HugePageVector<uint32_t>& history, uint32_t now,
                   const LazyNoiseParams& p, WorkCounters& work);

}  // namespace privrec::cpu
