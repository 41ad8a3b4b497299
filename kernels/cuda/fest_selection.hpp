#pragma once
// dp-fest's fixed rows on the device (plain C++ interface; kernels in fest_selection.cu), the CPU
// backend's choice (kernels/cpu/fest_selection.cpp) bit for bit: per table every row's noisy count
// count * 2^-32 + sigma z (z keyed by fest_noise, step 0, the row, column 0), and the k rows of
// largest score, ties to the lower row, ascending. The histogram itself is the host's
// (traces/row_histogram.hpp): the run's data lives there.
#include <cstdint>
#include <utility>
#include <vector>

#include "kernels/cuda/device_memory.hpp"
#include "kernels/cuda/noisy_update.hpp"

namespace privrec::cuda {

// `counts`: the table's (row, fixed-point count) pairs, ascending by row (RowHistogram::tables[t]).
// Writes the min(k, rows) chosen rows into `out` (device, ascending) and returns how many.
// k == 0 and k >= rows need no scores: none, or every row.
int64_t choose_fixed_rows_on_device(const std::vector<std::pair<int64_t, uint64_t>>& counts, int64_t rows, int64_t k,
                                    uint32_t table, double sigma, uint64_t seed, DeviceNoise noise,
                                    DeviceArray<int64_t>& out);

}  // namespace privrec::cuda
