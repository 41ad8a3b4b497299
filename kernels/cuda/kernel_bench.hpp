#pragma once
// Timed runs of the CUDA kernels for the microbenchmarks (tests/benchmarks/cuda_kernels_bench.cpp)
// and calibration: each call runs the kernel once on buffers this object keeps, timed with CUDA
// events, and returns milliseconds. Plain C++ interface.
#include <cstdint>
#include <memory>

namespace privrec::cuda {

class KernelBench {
 public:
  KernelBench();
  ~KernelBench();
  KernelBench(const KernelBench&) = delete;
  KernelBench& operator=(const KernelBench&) = delete;

  // cudaMemcpy device to device of `bytes` (the ceiling: moves 2 x bytes).
  double copy_ms(int64_t bytes);
  // The fused dense noisy update of a rows x dim table with no gradient rows (moves 2 x table).
  double fused_dense_update_ms(int64_t rows, int64_t dim);
  // The same update written as a framework does it: a kernel writes the noise tensor, a second adds
  // it (moves 4 x table: noise out, noise in, table in, table out).
  double generate_then_add_ms(int64_t rows, int64_t dim);
  // Sum-pooled forward of `batch` bags of `pooling` rows each from a rows x dim table; rows drawn
  // uniformly (zipf_s == 0) or zipf(s). Moves lookups x dim x 4 bytes of rows.
  double embedding_forward_ms(int64_t rows, int64_t dim, int64_t batch, int64_t pooling, double zipf_s);
  // Backward with update: coalesce the batch's gradient rows (sort, segment sums) and apply them.
  double embedding_backward_update_ms(int64_t rows, int64_t dim, int64_t batch, int64_t pooling, double zipf_s);
  // lazydp's catch-up for one table: the batch's distinct rows (sorted on the device) each receive
  // `pending` steps of aggregated noise and have their history updated.
  double lazydp_catchup_ms(int64_t rows, int64_t dim, int64_t batch, int64_t pooling, double zipf_s, int64_t pending);
  // adafest's selection for one table: distinct rows, per-row counts over distinct examples, the
  // noisy threshold, and false positives with probability p over the untouched rows.
  double adafest_select_ms(int64_t rows, int64_t batch, int64_t pooling, double zipf_s, double p);
  // C (M x N) = op(A) B (K x N), op(A) = A (M x K) or, with trans_a, A^T (A is K x M: the weight
  // gradients' product): on gemm (cuBLAS where it loaded), or with own on the project's SGEMM.
  double gemm_ms(int64_t M, int64_t N, int64_t K, bool trans_a = false, bool own = false);
  // Philox normals written to memory (rows x dim): the sampling rate, with the writes it needs.
  double normals_ms(int64_t rows, int64_t dim);
  // `launches` empty kernel launches in a row.
  double launches_ms(int64_t launches);
  // CUB's radix sort of a batch's (row, lookup) keys: the coalescing sort alone.
  double sort_ms(int64_t rows, int64_t batch, int64_t pooling);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace privrec::cuda
