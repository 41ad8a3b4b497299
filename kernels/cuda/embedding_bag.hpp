#pragma once
// CUDA embedding bags (plain C++ interface; kernels in embedding_bag.cu): the sum-pooled forward
// and the coalesced backward, both summing in the CPU backend's order, so their results are
// bit-identical to it. Device pointers unless a function says host.
#include <cstdint>
#include <vector>

#include "kernels/cuda/device_memory.hpp"

namespace privrec::cuda {

// One table's part of the forward: its rows (rows x dim), its batch's offsets and indices, and
// where its pooled bags go.
struct ForwardTable {
  const float* rows;
  const int64_t* offsets;
  const int64_t* indices;
  float* out;
};

// For each of the `count` tables: out[i * out_stride + c] = sum over k in [offsets[i], offsets[i+1])
// of rows[indices[k] * dim + c], added in k order from 0. Up to cuda_work::kForwardTablesPerLaunch
// tables a launch (mlperf-dlrm's 26 in one), a group of dim/4 lanes per bag with 16-byte row loads
// (dim % 4 == 0 and 16-byte aligned rows and outputs; otherwise one lane per column), four rows in
// flight per group.
void launch_embedding_forward(const ForwardTable* tables, int64_t count, int64_t dim, int64_t bags,
                              int64_t out_stride);

// The sparse gradient of one table: its distinct rows ascending and, for each, the sum over the
// row's lookups (example order) of scale[i] * grad[i * grad_stride + c] (scale == nullptr: 1).
struct DeviceSparseRows {
  int64_t count = 0;       // distinct rows
  int64_t* rows = nullptr;  // device, count
  float* grads = nullptr;   // device, count x dim
};

// The sorted state of the last coalesce(): keys row << shift | lookup, ascending; the first sorted
// position of each distinct row; the example of each lookup (indexed by lookup).
struct SortedLookups {
  const uint64_t* keys = nullptr;
  const int64_t* starts = nullptr;
  const int32_t* example = nullptr;
  const int64_t* rows = nullptr;
  int64_t lookups = 0, distinct = 0;
  int shift = 0;
};

// Scratch reused across calls (grown as needed, freed with the object).
class CoalesceWorkspace {
 public:
  CoalesceWorkspace() = default;
  ~CoalesceWorkspace();
  CoalesceWorkspace(const CoalesceWorkspace&) = delete;
  CoalesceWorkspace& operator=(const CoalesceWorkspace&) = delete;
  // Sorts the (row, lookup) keys of one table's batch with CUB's radix sort (stable), marks where
  // the row changes, and sums each row's contributions in lookup order. `out` points into this
  // workspace and stays valid until the next call.
  DeviceSparseRows coalesce(const int64_t* offsets, const int64_t* indices, int64_t bags, int64_t lookups,
                            int64_t max_row, const float* grad, int64_t grad_stride, int64_t dim, const float* scale);
  // coalesce() in two halves, so that many tables' halves can be queued before the host waits once:
  // begin() sorts and numbers the distinct rows on the device and sends their count to the host
  // asynchronously; finish() waits for that count (the host needs it to size what follows) and sums
  // the segments (dim 0: rows only). finish() after a begin() of no lookups returns no rows.
  void begin(const int64_t* offsets, const int64_t* indices, int64_t bags, int64_t lookups, int64_t max_row);
  DeviceSparseRows finish(const float* grad, int64_t grad_stride, int64_t dim, const float* scale);
  // The sort of the last finish() (between begin() and finish(): distinct is not known yet, 0).
  const SortedLookups& last_sort() const { return last_; }

 private:
  SortedLookups last_;
  bool pending_ = false;                    // begin() queued work that finish() has not taken
  unsigned long long* host_count_ = nullptr;  // page-locked: the distinct rows, copied asynchronously
  void* counted_ = nullptr;                   // cudaEvent_t recorded after that copy
  DeviceArray<char> keys_in_, keys_out_, example_, flags_, pos_, starts_, rows_, grads_, temp_, count_;
};

// Host conveniences for tests: run on the device, return host vectors.
// The forward of tables[k] (rows x dim) over bags offsets[k], indices[k] (the same number of bags
// each), all in one call: bag i of table k at [(i * tables + k) * dim], as the step's feature rows.
std::vector<float> embedding_forward_on_device(const std::vector<std::vector<float>>& tables, int64_t dim,
                                               const std::vector<std::vector<int64_t>>& offsets,
                                               const std::vector<std::vector<int64_t>>& indices);
void coalesce_on_device(const std::vector<int64_t>& offsets, const std::vector<int64_t>& indices, int64_t max_row,
                        const std::vector<float>& grad, int64_t dim, const std::vector<float>* scale,
                        std::vector<int64_t>& rows, std::vector<float>& grads);

}  // namespace privrec::cuda
