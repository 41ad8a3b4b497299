#pragma once
// dp-fest's one-shot choice of fixed rows on the host: every row's clipped count (the run's
// contribution histogram, traces/row_histogram.hpp) plus Gaussian noise, and per table the k rows
// with the largest noisy counts (ties to the lower row id).
#include <cstdint>
#include <vector>

#include "models/algorithm.hpp"
#include "models/work_counters.hpp"
#include "traces/row_histogram.hpp"

namespace privrec::cpu {

// The chosen rows per table, ascending. The noise of (table t, row r) is the Philox normal at
// (seed, fest_noise, step 0, t, r, column 0), so every backend draws the same value.
std::vector<std::vector<int64_t>> choose_fixed_rows(const RowHistogram& h, const std::vector<int64_t>& table_rows,
                                                    const AlgorithmConfig& cfg, WorkCounters& work);

}  // namespace privrec::cpu
