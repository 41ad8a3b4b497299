// Exact properties of single kernels: duplicate rows in a bag, lazydp's delayed-noise variance,
// counted work, memory planning.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/cpu/cpu_training.hpp"
#include "kernels/cuda/dense_ops.hpp"
#include "kernels/cpu/embedding_bag.hpp"
#include "kernels/cpu/gemm.hpp"
#include "kernels/cpu/lazydp_history.hpp"
#include "kernels/training_run.hpp"
#include "models/config_error.hpp"
#include "tests/test_helpers.hpp"

using namespace privrec;
using namespace privrec::cpu;

TEST(EmbeddingBag, DuplicatesInABagAreSummedBeforeTheNorm) {
  // One example, one table, ids [1, 1], upstream (0.2, 0.2): one row gradient (0.4, 0.4).
  Batch b;
  b.size = 1;
  b.tables.resize(1);
  b.tables[0].offsets = {0, 2};
  b.tables[0].indices = {1, 1};
  PassBuffers buf;
  buf.batch = 1, buf.features = 2, buf.dim = 2;
  buf.dfeat = {0, 0, 0.2f, 0.2f};
  std::vector<ExampleRows> rows;
  std::vector<double> norm2(1, 0.0);
  WorkCounters w;
  materialize_embedding_grads(b, buf, rows, norm2, w);
  ASSERT_EQ(rows[0].rows, std::vector<int64_t>{1});
  EXPECT_FLOAT_EQ(rows[0].grads[0], 0.4f);
  EXPECT_FLOAT_EQ(rows[0].grads[1], 0.4f);
  EXPECT_NEAR(norm2[0], 0.32, 1e-7);  // not 2 * 0.08
  // The ghost norm agrees: |g|^2 * sum count^2 = 0.08 * 4.
  std::vector<double> ghost(1, 0.0);
  ghost_norms_embedding(buf, bag_count_square_sums(b, w), ghost, w);
  EXPECT_NEAR(ghost[0], 0.32, 1e-7);
}

TEST(LazyDp, AggregatedDelayedNoiseHasVarianceKSigmaSquaredCSquared) {
  // Rows that skipped k steps receive one draw of variance stddev^2 * sum of scale^2 = k s^2 here.
  const int64_t rows = 6000, dim = 32;
  EmbeddingTable t;
  t.rows = rows, t.dim = dim, t.weights = FloatArray(rows * dim);
  std::fill(t.weights.data(), t.weights.data() + rows * dim, 0.0f);
  NoiseSchedule sched;
  for (int s = 0; s < 16; ++s) sched.push(0.5);  // scale lr/B = 0.5 every step
  NoiseGenerator noise(99, NoiseSource::gaussian);
  const float stddev = 0.8f;  // sigma * C
  std::vector<uint32_t> history(rows);
  for (int64_t r = 0; r < rows; ++r) history[r] = static_cast<uint32_t>(16 - (1 + r % 3 * 5));  // k = 1, 6, 11
  std::vector<int64_t> all(rows);
  for (int64_t r = 0; r < rows; ++r) all[r] = r;
  WorkCounters w;
  lazy_catch_up(t, 0, all, history, 16, {stddev, LazyNoiseMode::aggregated, &noise, &sched}, w);
  for (int k : {1, 6, 11}) {
    double sum = 0, sq = 0;
    int64_t n = 0;
    for (int64_t r = 0; r < rows; ++r) {
      if (1 + r % 3 * 5 != k) continue;
      for (int64_t c = 0; c < dim; ++c) sum += t.row(r)[c], sq += double(t.row(r)[c]) * t.row(r)[c], ++n;
    }
    const double var = sq / n - (sum / n) * (sum / n);
    const double expected = k * 0.25 * stddev * stddev;
    // Sample variance of n normals has standard error expected * sqrt(2 / (n - 1)); 5 of them.
    EXPECT_NEAR(var, expected, 5 * expected * std::sqrt(2.0 / (n - 1))) << "k=" << k;
  }
  for (uint32_t h : history) ASSERT_EQ(h, 16u);
  EXPECT_EQ(w.rows_written_rand, static_cast<uint64_t>(rows));
  EXPECT_EQ(w.rng_samples, static_cast<uint64_t>(rows * dim));
}

TEST(Counters, SgdCountsWhatItTouches) {
  const Workload w = test::small_workload(8);
  std::vector<StepRecord> recs;
  test::train(w, test::algo(AlgorithmKind::sgd, 0, INFINITY), 1, nullptr, &recs);
  SyntheticTrace trace(w, 3);
  const Batch b = trace.batch(0);
  uint64_t unique = 0;
  for (const auto& tb : b.tables) unique += unique_rows(tb).size();
  const auto& upd = recs[0].work[static_cast<size_t>(Stage::update_sparse)];
  EXPECT_EQ(upd.rows_written_rand, unique);
  EXPECT_EQ(upd.bytes_written_rand, unique * 8 * 4);
  const auto& fwd = recs[0].work[static_cast<size_t>(Stage::fwd_emb)];
  EXPECT_EQ(fwd.rows_read_rand, static_cast<uint64_t>(b.lookups()));
  EXPECT_EQ(recs[0].work[static_cast<size_t>(Stage::update_mlp)].rng_samples, 0u);
}

TEST(Counters, DenseNoisyUpdateMovesEachTableOnceInOnceOut) {
  const Workload w = test::small_workload(8);
  std::vector<StepRecord> recs;
  test::train(w, test::algo(AlgorithmKind::dpsgd_f, 1.0, 1.0), 1, nullptr, &recs);
  const auto& upd = recs[0].work[static_cast<size_t>(Stage::dp_update)];
  EXPECT_EQ(upd.bytes_written_seq, static_cast<uint64_t>(w.table_bytes()));
  EXPECT_EQ(upd.rng_samples, static_cast<uint64_t>(w.table_bytes() / 4));
  EXPECT_EQ(upd.bytes_read_rand + upd.bytes_written_rand, 0u);
}

TEST(MemoryPlan, DpsgdBShrinksTheBatchToWhatFitsAndSaysSo) {
  const Workload w = load_workload("mlperf-dlrm");
  Workload small = w;
  small.scale_tables(0.001);
  const MemoryPlan plan = plan_cpu_memory(small, AlgorithmKind::dpsgd_b, 8LL << 30);
  EXPECT_LT(plan.batch, 2048);
  EXPECT_GT(plan.batch, 0);
  EXPECT_NE(plan.note.find("running batch"), std::string::npos);
  EXPECT_EQ(plan_cpu_memory(small, AlgorithmKind::sgd, 8LL << 30).batch, 2048);
  EXPECT_THROW(plan_cpu_memory(w, AlgorithmKind::sgd, 8LL << 30), InputError);  // 96 GB of tables
}

// The blocked GEMM against the definition, on small integers so every sum is exact in float
// whatever the order: shapes that leave edge tiles, K past one K-block, N past one N-block,
// strided operands, and accumulation into C.
TEST(Gemm, EqualsTheDefinitionExactly) {
  struct Shape { int64_t m, n, k; bool acc; };
  for (const Shape s : {Shape{1, 1, 1, false}, Shape{6, 16, 5, false}, Shape{7, 17, 3, true}, Shape{13, 530, 600, true},
                        Shape{64, 33, 257, false}, Shape{0, 5, 5, false}, Shape{3, 4, 0, false}}) {
    const int64_t lda = s.k + 3, ldb = s.n + 5, ldc = s.n + 2;
    std::vector<float> A(s.m * lda + 1), B(s.k * ldb + 1), C(s.m * ldc + 1), want(C.size());
    uint32_t x = 12345;
    auto small = [&x] { x = x * 1664525u + 1013904223u; return static_cast<float>(static_cast<int>(x >> 29) - 4); };
    for (auto& v : A) v = small();
    for (auto& v : B) v = small();
    for (auto& v : C) v = small();
    want = C;
    for (int64_t i = 0; i < s.m; ++i)
      for (int64_t j = 0; j < s.n; ++j) {
        double sum = s.acc ? want[i * ldc + j] : 0.0;
        for (int64_t k = 0; k < s.k; ++k) sum += double(A[i * lda + k]) * B[k * ldb + j];
        want[i * ldc + j] = static_cast<float>(sum);
      }
    sgemm_nn(s.m, s.n, s.k, A.data(), lda, B.data(), ldb, C.data(), ldc, s.acc);
    for (size_t i = 0; i < C.size(); ++i)
      ASSERT_EQ(C[i], want[i]) << s.m << "x" << s.n << "x" << s.k << " at " << i;  // padding untouched too
  }
}

// The blocked transpose (8 x 8 register blocks, 64 x 64 tiles) against the definition, on shapes
// with ragged edges in both directions and on either side of the parallel threshold.
TEST(Gemm, TransposeMatchesTheDefinition) {
  for (auto [rows, cols] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {7, 9}, {8, 8}, {65, 130}, {300, 257}, {2048, 13}}) {
    std::vector<float> in(rows * cols), out(rows * cols, -1.0f);
    for (size_t k = 0; k < in.size(); ++k) in[k] = static_cast<float>(k);
    privrec::cpu::transpose(rows, cols, in.data(), out.data());
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) ASSERT_EQ(out[j * rows + i], in[i * cols + j]) << rows << "x" << cols;
  }
}

// The CUDA launch geometry is plain arithmetic, checked here on the host (no device needed).
// The SGEMM's launch geometry, on the host (no device needed): every 64 x 64 tile of C is computed
// by exactly one block, and the one-dimensional grid stays within the x limit and the cap, from a
// single tile up to the workloads' 2^24-row batches with wide layers. The old grid put the row
// tiles on gridDim.y (at most 65535), so batches above 65535 * 64 = 4,194,240 rows failed to launch.
TEST(CudaGeometry, GemmTilesCoverCExactlyOnce) {
  struct Shape {
    int64_t M, N;
  };
  const int64_t big = int64_t{1} << 24;
  for (Shape s : {Shape{1, 1}, Shape{64, 64}, Shape{65, 130}, Shape{(int64_t{1} << 22) + 1000, 70}, Shape{big, 13},
                  Shape{big, 4096}}) {
    SCOPED_TRACE(std::to_string(s.M) + " x " + std::to_string(s.N));
    const cuda::GemmGrid g = cuda::gemm_grid(s.M, s.N);
    ASSERT_EQ(g.row_tiles, (s.M + 63) / 64);
    ASSERT_EQ(g.col_tiles, (s.N + 63) / 64);
    ASSERT_GE(g.blocks(), 1);
    ASSERT_LE(g.blocks(), std::min<int64_t>(cuda::GemmGrid::kMaxBlocks, std::numeric_limits<int32_t>::max()));
    std::vector<uint8_t> seen(static_cast<size_t>(g.tiles()), 0);
    for (int64_t b = 0; b < g.blocks(); ++b)  // the kernel's tile loop, block by block
      for (int64_t t = b; t < g.tiles(); t += g.blocks()) {
        const int64_t r = g.row0(t), c = g.col0(t);
        ASSERT_TRUE(r >= 0 && r < s.M && c >= 0 && c < s.N && r % 64 == 0 && c % 64 == 0) << "tile " << t;
        ASSERT_EQ(seen[static_cast<size_t>(r / 64 * g.col_tiles + c / 64)]++, 0) << "tile " << t;
      }
    ASSERT_EQ(std::count(seen.begin(), seen.end(), uint8_t{1}), g.tiles());
  }
  EXPECT_GT(cuda::gemm_grid((int64_t{1} << 22) + 1000, 70).row_tiles, 65535);  // past the old y limit
}

// The loss's first pass: a grid that depends on the batch size alone (so the summation order, and
// the bits, do too), never more blocks than the scratch has partials.
TEST(CudaGeometry, LossBlocksDependOnTheBatchAlone) {
  for (int64_t B : {int64_t{0}, int64_t{1}, int64_t{255}, int64_t{256}, int64_t{257}, int64_t{1024 * 256},
                    int64_t{1024 * 256 + 1}, int64_t{1} << 24}) {
    const int64_t n = cuda::bce_loss_blocks(B, 256);
    EXPECT_EQ(n, std::clamp<int64_t>((B + 255) / 256, 1, cuda::kBceLossBlocks)) << B;
    EXPECT_LE(n + 1, cuda::kBceLossScratch) << B;
  }
}
