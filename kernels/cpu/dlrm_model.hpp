#pragma once
// The parameters of a DLRM model on the host: embedding tables (rows x dim, row-major, one
// allocation each) and the bottom and top MLP layers (weights out x in, row-major, and biases).
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <vector>

#include "models/workload.hpp"

namespace privrec::cpu {

// An uninitialised, 64-byte aligned float array (tables can be tens of GB: no serial zeroing).
class FloatArray {
 public:
  FloatArray() = default;
  explicit FloatArray(int64_t n);
  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  int64_t size() const { return size_; }
  float& operator[](int64_t i) { return data_[i]; }
  const float& operator[](int64_t i) const { return data_[i]; }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float[], Free> data_;
  int64_t size_ = 0;
};

struct EmbeddingTable {
  int64_t rows = 0, dim = 0;
  FloatArray weights;
  // Where these rows sit in the workload: its table number and the first row's number there (a
  // row block of a sharded table starts past 0). Noise and initial values are keyed by them, so a
  // shard holds exactly the values the whole table would.
  uint32_t id = 0;
  int64_t first_row = 0;
  int64_t table_rows = 0;  // the whole table's rows (== rows unless a row block)
  float* row(int64_t r) { return weights.data() + r * dim; }
  const float* row(int64_t r) const { return weights.data() + r * dim; }
};

struct DenseLayer {
  int64_t in = 0, out = 0;
  bool relu = true;
  std::vector<float> weight;  // out x in
  std::vector<float> bias;    // out
};

struct DlrmModel {
  Workload workload;
  std::vector<EmbeddingTable> tables;
  std::vector<DenseLayer> bottom, top;

  // Allocates and initialises (tables U(-1/sqrt(rows), 1/sqrt(rows)); weights N(0, 2/(in+out));
  // biases N(0, 1/out)), all from the counter-based RNG, so the result is independent of threads.
  // `progress` (if set) hears the bytes of tables initialised so far and in all, a few times a
  // second on large tables. First touch of the memory is most of the time: 2-10 s a GB on the
  // development VM, whose host backs the memory again on first touch (perf: clear_page).
  using Progress = std::function<void(int64_t done, int64_t total)>;
  static DlrmModel create(const Workload& workload, uint64_t seed, const Progress& progress = {});
  // Allocates only (for loading a saved model).
  static DlrmModel allocate(const Workload& workload);
  // Part of create()'s model: the MLPs (with_mlps) and the given row blocks of tables, each holding
  // the values create() gives those rows. `workload` lists the blocks as its tables (rows = the
  // block's) unless with_mlps, where it is the whole workload and the tables not held are absent.
  struct Block {
    uint32_t table = 0;
    int64_t first_row = 0, rows = 0;
  };
  static DlrmModel create_part(const Workload& whole, uint64_t seed, const std::vector<Block>& blocks, bool with_mlps);

  std::vector<DenseLayer*> layers();  // bottom then top; the index is the layer id in noise keys
  std::vector<const DenseLayer*> layers() const;
};

// Host memory the model's parameters need, in bytes.
int64_t model_parameter_bytes(const Workload& w);
// Memory available to this process (MemAvailable), in bytes; 0 if unknown.
int64_t available_memory_bytes();

}  // namespace privrec::cpu
