#pragma once
// CUDA kernels of the dense half of a DLRM step (plain C++ interface; kernels in dense_ops.cu):
// the MLP GEMMs (cuBLAS loaded at run time where the GPU machine has it, else the project's own
// tiled SGEMM), bias and ReLU, the dot interaction and its backward, the loss, and the
// per-example quantities DP-SGD needs (ghost norms, bag count squares, clip factors), and the noisy
// MLP update. All pointers are device pointers; every launch is checked.
#include <cstdint>

#include "kernels/cuda/noisy_update.hpp"
#include "models/rng/philox.hpp"  // PRIVREC_HD: the geometry below runs in the kernels too

namespace privrec::cuda {

// The project's SGEMM's launch geometry, kept pure so that host tests check it without a device. C
// is cut into 128 x 128 tiles numbered row tile by row tile (a row tile's column tiles are
// neighbours and share that slice of A in cache), and K into `splits` ranges of split_k (a multiple
// of kSlice; the last one shorter): work item w is split w / tiles() of tile w % tiles(). With more
// than one split each writes its partial tile to a workspace and one more launch adds the partials
// in split order (no atomics: the same bits every run). Splitting serves the weight gradients, whose
// K is the batch and whose C is a few tiles: 512 x 512 is 16 tiles, a tenth of an H200's SMs. The
// grid is one-dimensional because gridDim.y and .z stop at 65535, which a batch of 2^24 rows
// (131,072 row tiles) exceeds; it is also capped, and block b takes items b, b + blocks, ..., so
// every M x N x K fits.
struct GemmGrid {
  static constexpr int64_t kTile = 128, kSlice = 8;
  // Dozens of waves of resident blocks on an H100/H200, so the cap costs no occupancy.
  static constexpr int64_t kMaxBlocks = int64_t{1} << 16;
  static constexpr int64_t kMaxSplits = 32, kMinSplitK = 256;  // each split at least 256 of K
  int64_t row_tiles = 0, col_tiles = 0;
  int64_t splits = 1, split_k = 0;

  PRIVREC_HD constexpr int64_t tiles() const { return row_tiles * col_tiles; }
  PRIVREC_HD constexpr int64_t items() const { return tiles() * splits; }
  constexpr int64_t blocks() const { return items() < kMaxBlocks ? items() : kMaxBlocks; }
  // First row and column of C in tile t < tiles().
  PRIVREC_HD constexpr int64_t row0(int64_t t) const { return t / col_tiles * kTile; }
  PRIVREC_HD constexpr int64_t col0(int64_t t) const { return t % col_tiles * kTile; }
  // Work item w's tile, and its range [k_begin, k_end) of K.
  PRIVREC_HD constexpr int64_t tile(int64_t w) const { return w % tiles(); }
  PRIVREC_HD constexpr int64_t k_begin(int64_t w, int64_t K) const {
    const int64_t b = w / tiles() * split_k;
    return b < K ? b : K;
  }
  PRIVREC_HD constexpr int64_t k_end(int64_t w, int64_t K) const {
    const int64_t e = (w / tiles() + 1) * split_k;
    return e < K ? e : K;
  }
};

// The grid for C = M x N over K, split in K until about `target_blocks` work items exist (the
// device's resident blocks; 0: no split), never below kMinSplitK of K a split.
constexpr GemmGrid gemm_grid(int64_t M, int64_t N, int64_t K = 0, int64_t target_blocks = 0) {
  GemmGrid g{(M + GemmGrid::kTile - 1) / GemmGrid::kTile, (N + GemmGrid::kTile - 1) / GemmGrid::kTile, 1, K};
  const int64_t tiles = g.tiles();
  if (tiles == 0 || K <= GemmGrid::kMinSplitK || target_blocks <= tiles) return g;
  int64_t s = (target_blocks + tiles - 1) / tiles;
  const int64_t by_k = K / GemmGrid::kMinSplitK;
  s = s < by_k ? s : by_k;
  s = s < GemmGrid::kMaxSplits ? s : GemmGrid::kMaxSplits;
  if (s <= 1) return g;
  const int64_t per = (K + s - 1) / s;
  g.split_k = (per + GemmGrid::kSlice - 1) / GemmGrid::kSlice * GemmGrid::kSlice;
  g.splits = (K + g.split_k - 1) / g.split_k;
  return g;
}

// The loss is reduced in a fixed order (same bits on every run): at most kBceLossBlocks blocks,
// a number that depends on B alone, each write one partial sum, and a single block adds the
// partials. loss_scratch holds the result and the partials.
constexpr int64_t kBceLossBlocks = 1024;
constexpr int64_t kBceLossScratch = kBceLossBlocks + 1;
constexpr int64_t bce_loss_blocks(int64_t B, int64_t threads_per_block) {
  const int64_t b = (B + threads_per_block - 1) / threads_per_block;
  return b < 1 ? 1 : b < kBceLossBlocks ? b : kBceLossBlocks;
}

// C (M x N, row stride ldc) = op(A) op(B) (+ C when accumulate). op(A) is M x K: A is M x K with
// row stride lda, or K x M when trans_a; likewise op(B) is K x N. Runs on cuBLAS when the process
// could load it (kernels/cuda/cublas_loader.hpp), else on gemm_privrec.
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
          int64_t ldb, float* C, int64_t ldc, bool accumulate);
// Which one gemm uses in this process: "cublas" or "privrec" (decides it on the first call).
const char* gemm_backend_name();
// The project's own tiled SGEMM, same contract as gemm: the fallback, and the reference in tests.
void gemm_privrec(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float* C, int64_t ldc, bool accumulate);

// Y[i, o] = max(Y[i, o] + bias[o], 0) (or without the max), for B rows of `out` columns.
void add_bias_act(float* Y, const float* bias, int64_t B, int64_t out, bool relu);
// out[i, :] = feat[i, slot, :] where x[i, :] > 0, else 0 (the bottom MLP's delta from dfeat).
void feature_delta(const float* dfeat, const float* x, int64_t B, int64_t F, int64_t d, int64_t slot, float* out);
// dX[k] = X[k] > 0 ? dX[k] : 0 over n elements (the ReLU of the layer that produced X).
void relu_mask(float* dX, const float* X, int64_t n);
// feat is B x F x d with feat[i, 0] = x_i (the bottom output, copied in here from `x`);
// z[i] = [x_i, <f_a, f_b> for a > b].
void interaction_forward(const float* x, float* feat, int64_t B, int64_t F, int64_t d, float* z, int64_t width);
// dfeat[i, a] = (a == 0 ? dz[i, 0:d] : 0) + sum over pairs containing a of dz_pair f_other.
void interaction_backward(const float* feat, const float* dz, int64_t B, int64_t F, int64_t d, int64_t width,
                          float* dfeat);
// Sigmoid + binary cross-entropy: dlogit = sigmoid(x) - y; returns the mean loss (synchronizes),
// the same bits on every run. loss_scratch: kBceLossScratch doubles on the device.
double bce_loss(const float* logits, const float* labels, int64_t B, float* dlogit, double* loss_scratch);
// out[o] = sum_i scale[i] delta[i, o] (scale == nullptr: 1).
void column_sums(const float* delta, const float* scale, int64_t B, int64_t out, float* sums);
// dst[i, o] = scale[i] src[i, o].
void scale_rows(const float* src, const float* scale, int64_t B, int64_t cols, float* dst);
// norm2[i] += |a_i|^2 |d_i|^2 + |d_i|^2 for a linear layer with input a (B x in), output delta d (B x out).
void ghost_norms_layer(const float* A, int64_t in, const float* D, int64_t out, int64_t B, double* norm2);
// cs[i * T + t] = sum over distinct rows of example i's bag of count^2, for every table t of T in
// one launch: offsets and indices are device arrays of T device pointers (the batch's).
void bag_count_squares(const int64_t* const* offsets, const int64_t* const* indices, int64_t B, int64_t T, float* cs);
// norm2[i] += sum_t |dfeat[i, 1 + t]|^2 cs[i * T + t].
void ghost_norms_embedding(const float* dfeat, const float* cs, int64_t B, int64_t T, int64_t d, double* norm2);
// dpsgd-b/r: every example's gradient of a linear layer written out, dst[i * stride + o * in + k] =
// d[i, o] a[i, k] then the bias part dst[i * stride + out * in + o] = d[i, o]; norm2[i] += its square.
void materialize_layer(const float* A, int64_t in, const float* D, int64_t out, int64_t B, float* dst, int64_t stride,
                       double* norm2);
// dpsgd-b/r: each example's table gradient written out, one row per distinct row of its bag
// (count x pooled gradient, at the position of the row's first lookup; dst is lookups x d), and
// its square added to norm2 (one table t of T; pooled gradients in dfeat, F = T + 1).
void materialize_embedding(const float* dfeat, int64_t B, int64_t F, int64_t d, int64_t t, const int64_t* offsets,
                           const int64_t* indices, float* dst, double* norm2);
// dpsgd-b: out[p] = sum_i c[i] src[i * stride + p] for p < P (the clipped sum of per-example gradients).
void clipped_sum(const float* src, int64_t stride, const float* c, int64_t B, int64_t P, float* out);
// c[i] = clip / sqrt(norm2[i]) where that is below 1, else 1 (clip = +inf: all 1).
void clip_factors(const double* norm2, int64_t B, double clip, float* c);
// w[o, k] -= scale * (g[o, k] + stddev z) with z = noise(mlp_noise, step, noise_table, row o, column k)
// (noise none: no noise term), for a rows x cols parameter block.
void noisy_mlp_update(float* w, const float* g, int64_t rows, int64_t cols, float scale, float stddev, uint64_t seed,
                      DeviceNoise noise, bool with_noise, uint64_t step, uint32_t noise_table);

}  // namespace privrec::cuda
