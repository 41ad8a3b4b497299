#pragma once
// One batch of training examples: dense features, labels, and per table the CSR bag of row ids.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "models/workload.hpp"

namespace privrec {

struct TableBatch {
  std::vector<int64_t> offsets;  // size batch+1; bag of example i is indices[offsets[i] .. offsets[i+1])
  std::vector<int64_t> indices;  // row ids
};

struct Batch {
  int64_t size = 0;
  int64_t num_dense = 0;
  std::vector<float> dense;   // size x num_dense, row-major
  std::vector<float> labels;  // size, each 0 or 1
  std::vector<TableBatch> tables;

  int64_t lookups() const;
};

// The bytes one batch of `w` holds in memory (ids, offsets, dense features, labels): what a run
// that keeps batches checks against the memory it has before it makes one.
double batch_bytes(const Workload& w);

// Distinct ids within one bag, by a small open-addressing set over a buffer reused across bags
// (generations mark what the current bag inserted): O(bag) per bag where sorting a bag of 80 ids
// cost 6 comparisons per id. One per thread.
class BagDistinct {
 public:
  int64_t count(const int64_t* ids, size_t n);

 private:
  std::vector<int64_t> keys_;
  std::vector<uint32_t> gen_;
  uint32_t now_ = 0;
};

// Sorted distinct row ids of one table's bags; adds the sorting work to *sort_ops if given, and
// sets *singles to how many of those rows one lookup touched.
std::vector<int64_t> unique_rows(const TableBatch& tb, uint64_t* sort_ops = nullptr, int64_t* singles = nullptr);

// How many distinct rows one table's bags touch, and how many of them one lookup touched.
struct DistinctRows {
  int64_t distinct = 0, singles = 0;
};

// Sorting work of unique_rows on this table's bags.
uint64_t unique_rows_sort_ops(const TableBatch& tb);

// Sorting work of sorting every bag on its own (per-example duplicate counting).
uint64_t bag_sort_ops(const TableBatch& tb);

// Per-example clip factor of the contribution map (one count per distinct row the example touches,
// over all tables): min(1, C1 / sqrt(distinct rows)), rounded to float as the kernels sum it.
// adafest's selection and dp-fest's histogram clip with it; the model predicts with it.
std::vector<float> contribution_clip_factors(const Batch& batch, double c1);
// Its two halves: the distinct rows of each example over the batch's tables (over tables or row
// blocks held apart these add up: no row is in two of them), and the factors from those counts.
std::vector<int64_t> distinct_rows_per_example(const Batch& batch);
std::vector<float> contribution_clip_factors(const std::vector<int64_t>& distinct, double c1);

}  // namespace privrec
