#pragma once
// adafest's private row selection on the device (plain C++ interface; kernels in
// adafest_selection.cu), the CPU backend's adafest_select step for step:
//  - per example, the contribution map's clip factor min(1, C1 / sqrt(distinct rows over all tables));
//  - per table, each touched row's count (the factors of the distinct examples that touched it,
//    summed in example order) plus sigma1 z (z keyed by select_noise, the row, column 0), kept if
//    at least tau;
//  - the untouched rows that pass anyway (false positives), drawn as geometric gaps by the CPU
//    backend's own function (models/rng/geometric_gap.hpp: the same Philox stream, IEEE-only log,
//    ln(1-p) from the host). Gap j depends on j alone, so chunks of draws are drawn in parallel and
//    prefix-summed into positions (kernels/cuda/false_positive_plan.hpp): the same rows, in the same
//    order, and the same draw count as the CPU's walk.
#include <cstdint>

#include "kernels/cuda/device_memory.hpp"
#include "kernels/cuda/false_positive_plan.hpp"
#include "kernels/cuda/embedding_bag.hpp"
#include "kernels/cuda/noisy_update.hpp"

namespace privrec::cuda {

// factor[i] for B examples; offsets[t] and indices[t] are device arrays of T device pointers.
void adafest_example_factors(const int64_t* const* offsets, const int64_t* const* indices, int64_t T, int64_t B,
                             double c1, float* factor);

struct TableSelection {
  int64_t touched = 0, selected_touched = 0, false_positives = 0, draws = 0;
  int64_t count = 0;          // selected rows (touched ones plus false positives)
  const int64_t* rows = nullptr;  // device, ascending, valid until the next select() on this object
};

class AdafestSelector {
 public:
  AdafestSelector() = default;
  AdafestSelector(const AdafestSelector&) = delete;
  AdafestSelector& operator=(const AdafestSelector&) = delete;
  // `sorted`: the table's batch as sorted by CoalesceWorkspace::coalesce (rows only is enough).
  // p: the probability that an untouched row passes (AlgorithmConfig::zero_count_selection_probability).
  TableSelection select(const SortedLookups& sorted, const float* factor, int64_t table_rows, uint32_t table,
                        double sigma1, double tau, double p, uint64_t seed, DeviceNoise noise, uint64_t step);
  // At most this many false-positive draws per chunk (tests use small chunks, so that many chunks
  // carry their last position over to the next).
  void limit_chunk_draws(int64_t draws) { max_chunk_ = draws < 1 ? 1 : draws; }

 private:
  // The false positives of one table into fp_ (ascending); returns how many. `host` receives the
  // counters as last read (the draw count among them).
  int64_t draw_false_positives(const int64_t* touched, int64_t n_touched, int64_t rows,
                               const false_positives::GapStream& g, double p, int64_t* counters, int64_t* host);

  DeviceArray<char> flags_, chosen_, fp_, pos_, merged_, sorted_, temp_, counters_;
  int64_t max_chunk_ = false_positives::kMaxChunk;
};

}  // namespace privrec::cuda
