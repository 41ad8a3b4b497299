#pragma once
// CUDA embedding bags (plain C++ interface; kernels in embedding_bag.cu): the sum-pooled forward
// and the coalesced backward, both summing in the CPU backend's order, so their results are
// bit-identical to it. Device pointers unless a function says host.
#include <cstdint>
#include <vector>

#include "models/kernel_work/cuda_coalesce_plan.hpp"
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
// of rows[indices[k] * dim + c], added in k order from 0. Up to cuda_work::kTablesPerLaunch
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

// One table's part of a coalesce, as the adafest selection reads it (kernels/cuda/coalesce_plan.hpp):
// the sort group's keys (table << table_shift | row << shift | lookup, ascending; the low `shift` bits
// number the lookups within the group), the first sorted position of each of this table's distinct
// rows, the bag of each lookup (indexed by those low bits), the distinct rows themselves, and where
// the table's lookups end among the sorted keys.
struct SortedLookups {
  const uint64_t* keys = nullptr;
  const int64_t* starts = nullptr;
  const int32_t* example = nullptr;
  const int64_t* rows = nullptr;
  int64_t lookups = 0, distinct = 0;
  int shift = 0;
};

// One table's batch as the coalesce reads it: its offsets (bags + 1, from 0) and indices on the
// device, how many lookups it has and the largest row id it may hold (host).
struct CoalesceTable {
  const int64_t* offsets = nullptr;
  const int64_t* indices = nullptr;
  int64_t lookups = 0, max_row = 0;
};

// Scratch reused across calls (grown as needed, freed with the object).
class CoalesceWorkspace {
 public:
  CoalesceWorkspace() = default;
  ~CoalesceWorkspace();
  CoalesceWorkspace(const CoalesceWorkspace&) = delete;
  CoalesceWorkspace& operator=(const CoalesceWorkspace&) = delete;
  // Every table's sparse gradient at once: table k's lookup in bag i adds
  // scale[i] * grad[i * grad_stride + k * table_stride + c] to its row's sum (scale nullptr: 1;
  // dim 0: the distinct rows only). All tables' keys go through one stable radix sort with CUB
  // (models/kernel_work/cuda_coalesce_plan.hpp: one sort per group of tables that fits 64 key bits,
  // in practice one), the distinct rows are numbered and each table's first found on the device,
  // the host waits once (for those firsts, which size what follows), and one launch per group sums
  // its tables' segments. rows(k) and sort(k) point into this workspace and stay valid until the
  // next call; a table without lookups has none. CudaError where one table's keys alone need more
  // than 64 bits.
  void coalesce(const CoalesceTable* tables, int64_t count, int64_t bags, const float* grad, int64_t grad_stride,
                int64_t table_stride, int64_t dim, const float* scale);
  // One table: the call above for it alone, returning rows(0).
  DeviceSparseRows coalesce(const int64_t* offsets, const int64_t* indices, int64_t bags, int64_t lookups,
                            int64_t max_row, const float* grad, int64_t grad_stride, int64_t dim, const float* scale);
  // Table k of the last call (k below its count).
  const DeviceSparseRows& rows(int64_t k) const { return rows_of_.at(static_cast<size_t>(k)); }
  const SortedLookups& sort(int64_t k) const { return sorts_.at(static_cast<size_t>(k)); }

 private:
  void reserve(size_t n, size_t nfirsts, size_t groups);
  void sort_group(const cuda_work::CoalesceGroup& g, size_t gi, const CoalesceTable* tables, int64_t bags);
  std::vector<DeviceSparseRows> rows_of_;
  std::vector<SortedLookups> sorts_;
  std::vector<int64_t> lookups_, max_rows_, packed_;  // per call, kept to spare the allocations
  int64_t* host_firsts_ = nullptr;  // page-locked: every table's first distinct row, copied asynchronously
  size_t host_firsts_size_ = 0;
  void* counted_ = nullptr;  // cudaEvent_t recorded after that copy
  DeviceArray<char> keys_in_, keys_out_, example_, flags_, pos_, starts_, rows_, grads_, temp_, count_, firsts_;
};

// Host conveniences for tests: run on the device, return host vectors.
// The forward of tables[k] (rows x dim) over bags offsets[k], indices[k] (the same number of bags
// each), all in one call: bag i of table k at [(i * tables + k) * dim], as the step's feature rows.
std::vector<float> embedding_forward_on_device(const std::vector<std::vector<float>>& tables, int64_t dim,
                                               const std::vector<std::vector<int64_t>>& offsets,
                                               const std::vector<std::vector<int64_t>>& indices);
// Every table's coalesce in one CoalesceWorkspace::coalesce (row ids up to max_row in each): table
// k's lookup in bag i takes grad[(i * tables + k) * dim + c] (the step's feature-gradient layout);
// rows[k], grads[k] per table.
void coalesce_tables_on_device(const std::vector<std::vector<int64_t>>& offsets,
                               const std::vector<std::vector<int64_t>>& indices, int64_t max_row,
                               const std::vector<float>& grad, int64_t dim, const std::vector<float>* scale,
                               std::vector<std::vector<int64_t>>& rows, std::vector<std::vector<float>>& grads);
// One table (grad: bag i at [i * dim]).
void coalesce_on_device(const std::vector<int64_t>& offsets, const std::vector<int64_t>& indices, int64_t max_row,
                        const std::vector<float>& grad, int64_t dim, const std::vector<float>* scale,
                        std::vector<int64_t>& rows, std::vector<float>& grads);

}  // namespace privrec::cuda
