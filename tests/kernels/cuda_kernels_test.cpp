// The CUDA kernels against the CPU backend, and their work counters against the performance
// model's CUDA formulas (label gpu). Without a device every test is reported as skipped, never as
// passed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "kernels/cpu/adafest_selection.hpp"
#include "kernels/cpu/bag_sum.hpp"
#include "kernels/cpu/embedding_bag.hpp"
#include "kernels/cpu/fest_selection.hpp"
#include "kernels/cpu/lazydp_history.hpp"
#include "kernels/cpu/noisy_update.hpp"
#include "models/kernel_work/cuda_coalesce_plan.hpp"
#include "kernels/cuda/adafest_selection.hpp"
#include "kernels/cuda/cublas_loader.hpp"
#include "kernels/cuda/cuda_step_ops.hpp"
#include "kernels/cuda/cuda_trainer.hpp"
#include "kernels/cuda/dense_ops.hpp"
#include "kernels/cuda/device.hpp"
#include "kernels/cuda/device_memory.hpp"
#include "kernels/cuda/embedding_bag.hpp"
#include "kernels/cuda/fest_selection.hpp"
#include "kernels/cuda/noisy_update.hpp"
#include "kernels/noise_rows.hpp"
#include "kernels/step_driver.hpp"
#include "models/kernel_work/kernel_work.hpp"
#include "sim/work_model.hpp"
#include "tests/test_helpers.hpp"
#include "traces/row_histogram.hpp"
#include "traces/step_walk.hpp"

namespace privrec {
namespace {

#define REQUIRE_GPU()                                                          \
  do {                                                                         \
    const cuda::DeviceInfo d_ = cuda::query_device();                          \
    if (!d_.available) GTEST_SKIP() << "no CUDA device: " << d_.reason;        \
  } while (0)

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

TEST(CudaKernels, NoiseIsBitIdenticalToTheCpuBackend) {
  REQUIRE_GPU();
  const std::vector<int64_t> rows = {0, 1, 7, 1000003, (int64_t{1} << 40) + 5};
  for (int64_t n : {1, 3, 32, 37, 128}) {
    std::vector<float> gpu, cpu(rows.size() * n);
    cuda::normal_rows_on_device(42, RngDomain::table_noise, 9, 3, rows, n, gpu);
    normal_rows(42, RngDomain::table_noise, 9, 3, rows.data(), static_cast<int64_t>(rows.size()), n, cpu.data());
    for (size_t k = 0; k < cpu.size(); ++k) ASSERT_TRUE(same_bits(gpu[k], cpu[k])) << "n " << n << " index " << k;
  }
}

TEST(CudaKernels, DenseNoisyUpdateIsBitIdenticalToTheCpuBackend) {
  REQUIRE_GPU();
  for (int64_t dim : {32, 13}) {
    const int64_t rows = 1000;
    cpu::EmbeddingTable table;
    table.rows = rows;
    table.dim = dim;
    table.weights = cpu::FloatArray(rows * dim);
    for (int64_t k = 0; k < rows * dim; ++k) table.weights[k] = 0.001f * static_cast<float>(k % 977) - 0.3f;
    cpu::SparseRows grad;
    grad.rows = {2, 17, 500, 999};
    grad.grads.resize(grad.rows.size() * dim);
    for (size_t k = 0; k < grad.grads.size(); ++k) grad.grads[k] = 0.01f * static_cast<float>(k % 13) - 0.05f;
    std::vector<float> on_gpu(table.weights.data(), table.weights.data() + rows * dim);
    const std::vector<float> values(grad.grads.begin(), grad.grads.end());
    cuda::dense_noisy_update_on_device(on_gpu, rows, dim, 4, grad.rows, values, 0.05f, 0.4f, 7, cuda::DeviceNoise::gaussian,
                                       3);
    WorkCounters w;
    cpu::dense_noisy_update(table, 4, grad, 0.05f, 0.4f, NoiseGenerator(7, NoiseSource::gaussian), 3, w);
    for (int64_t k = 0; k < rows * dim; ++k)
      ASSERT_TRUE(same_bits(on_gpu[k], table.weights[k])) << "dim " << dim << " index " << k;
  }
}

// Forward pooling (every table at once, grouped) and the coalesced backward of every table of a zipf batch (duplicate rows in a
// bag and across bags), with and without per-example scales: the same bits as the CPU backend.
TEST(CudaKernels, EmbeddingBagsAreBitIdenticalToTheCpuBackend) {
  REQUIRE_GPU();
  const Workload w = test::small_workload(64, "zipf:1.2");
  cpu::DlrmModel m = cpu::DlrmModel::create(w, 5);
  SyntheticTrace trace(w, 2);
  const Batch batch = trace.batch(0);
  cpu::PassBuffers buf;
  buf.resize(m, batch.size);
  WorkCounters work;
  cpu::embedding_forward(m, batch, buf, work);
  const int64_t d = buf.dim;
  for (size_t k = 0; k < buf.dfeat.size(); ++k) buf.dfeat[k] = 0.001f * static_cast<float>(k % 101) - 0.04f;
  std::vector<float> scale(batch.size);
  for (int64_t i = 0; i < batch.size; ++i) scale[i] = 1.0f / (1.0f + 0.1f * static_cast<float>(i));
  std::vector<cpu::SparseRows> plain, scaled;
  std::vector<int64_t> table_rows;
  for (const TableSpec& t : w.tables) table_rows.push_back(t.rows);
  cpu::coalesce_embedding_grads(batch, table_rows, buf, nullptr, plain, work);
  cpu::coalesce_embedding_grads(batch, table_rows, buf, &scale, scaled, work);
  // The forward of every table in one call, then of 150 tables (the workload's, again and again):
  // three launches of up to 64 tables, the last one partial.
  const int64_t nt = static_cast<int64_t>(m.tables.size());
  for (int64_t T : {nt, int64_t{150}}) {
    std::vector<std::vector<float>> tables;
    std::vector<std::vector<int64_t>> offsets, indices;
    for (int64_t k = 0; k < T; ++k) {
      const auto& table = m.tables[k % nt];
      tables.emplace_back(table.weights.data(), table.weights.data() + table.rows * d);
      offsets.push_back(batch.tables[k % nt].offsets), indices.push_back(batch.tables[k % nt].indices);
    }
    const std::vector<float> pooled = cuda::embedding_forward_on_device(tables, d, offsets, indices);
    ASSERT_EQ(static_cast<int64_t>(pooled.size()), batch.size * T * d);
    for (int64_t i = 0; i < batch.size; ++i)
      for (int64_t k = 0; k < T; ++k)
        for (int64_t c = 0; c < d; ++c)
          ASSERT_TRUE(same_bits(pooled[(i * T + k) * d + c], buf.pooled(i, k % nt)[c])) << "table " << k << " of " << T;
    // The one-lane-per-column kernel: the same weights read as rows of 5 floats (dim % 4 != 0), the
    // ids taken modulo the rows that gives, against the CPU's bag sum.
    const int64_t d5 = 5;
    std::vector<std::vector<int64_t>> ids5 = indices;
    std::vector<float> want(static_cast<size_t>(batch.size * T * d5));
    for (int64_t k = 0; k < T; ++k) {
      const int64_t rows5 = static_cast<int64_t>(tables[k].size()) / d5;
      for (int64_t& r : ids5[k]) r %= rows5;
      cpu::sum_bags_any(tables[k].data(), d5, ids5[k].data(), offsets[k].data(), 0, batch.size,
                        [&](int64_t i) { return want.data() + (i * T + k) * d5; });
    }
    const std::vector<float> pooled5 = cuda::embedding_forward_on_device(tables, d5, offsets, ids5);
    ASSERT_EQ(pooled5.size(), want.size());
    for (size_t q = 0; q < want.size(); ++q) ASSERT_TRUE(same_bits(pooled5[q], want[q])) << "dim 5, value " << q << " of " << T;
  }
  // Every table's coalesce in one call, plus a table without lookups at the end: in one sort, and
  // with row ids said to reach so far that the largest table's keys take all 64 bits, one sort per
  // table (the others' keys do not fit beside it, nor beside each other on this workload).
  std::vector<std::vector<int64_t>> offsets, indices;
  int64_t max_row = 0;
  for (int64_t t = 0; t < nt; ++t) {
    offsets.push_back(batch.tables[t].offsets), indices.push_back(batch.tables[t].indices);
    max_row = std::max(max_row, m.tables[t].rows - 1);
  }
  offsets.emplace_back(static_cast<size_t>(batch.size + 1), 0), indices.emplace_back();
  const int64_t T = nt + 1;
  std::vector<float> grad(static_cast<size_t>(batch.size * T * d), 7.0f);  // the empty table's: never read
  for (int64_t i = 0; i < batch.size; ++i)
    for (int64_t t = 0; t < nt; ++t)
      std::copy(buf.pooled_grad(i, t), buf.pooled_grad(i, t) + d, grad.begin() + (i * T + t) * d);
  std::vector<int64_t> lookups;
  int shift = 0;
  for (const auto& ids : indices) {
    lookups.push_back(static_cast<int64_t>(ids.size()));
    shift = std::max(shift, cuda_work::bits_for(ids.size()));
  }
  const int64_t far = int64_t{1} << (63 - shift);
  ASSERT_EQ(cuda_work::plan_coalesce_groups(lookups, std::vector<int64_t>(T, max_row)).size(), 1u);
  ASSERT_EQ(static_cast<int64_t>(cuda_work::plan_coalesce_groups(lookups, std::vector<int64_t>(T, far)).size()), T);
  for (int64_t rows_up_to : {max_row, far})
    for (const std::vector<float>* s : {static_cast<const std::vector<float>*>(nullptr), static_cast<const std::vector<float>*>(&scale)}) {
      SCOPED_TRACE((s ? "scaled, rows up to " : "rows up to ") + std::to_string(rows_up_to));
      std::vector<std::vector<int64_t>> rows;
      std::vector<std::vector<float>> grads;
      cuda::coalesce_tables_on_device(offsets, indices, rows_up_to, grad, d, s, rows, grads);
      ASSERT_EQ(static_cast<int64_t>(rows.size()), T);
      for (int64_t t = 0; t < nt; ++t) {
        const cpu::SparseRows& want = s ? scaled[t] : plain[t];
        ASSERT_EQ(rows[t], want.rows) << "table " << t;
        const std::vector<float> values = cpu::gradient_values(want, d);  // rows left in place, times their factor
        ASSERT_EQ(grads[t].size(), values.size());
        for (size_t k = 0; k < grads[t].size(); ++k) ASSERT_TRUE(same_bits(grads[t][k], values[k])) << "table " << t;
      }
      EXPECT_TRUE(rows[nt].empty());
      EXPECT_TRUE(grads[nt].empty());
    }
}

// Largest |a - b| / (1 + |b|) over every parameter of two models.
double max_rel_diff(const cpu::DlrmModel& a, const cpu::DlrmModel& b) {
  double m = 0;
  auto upd = [&](const float* x, const float* y, int64_t n) {
    for (int64_t k = 0; k < n; ++k) m = std::max(m, std::abs(double(x[k]) - y[k]) / (1.0 + std::abs(double(y[k]))));
  };
  for (size_t t = 0; t < a.tables.size(); ++t)
    upd(a.tables[t].weights.data(), b.tables[t].weights.data(), a.tables[t].rows * a.tables[t].dim);
  const auto la = a.layers();
  const auto lb = b.layers();
  for (size_t l = 0; l < la.size(); ++l) {
    upd(la[l]->weight.data(), lb[l]->weight.data(), static_cast<int64_t>(la[l]->weight.size()));
    upd(la[l]->bias.data(), lb[l]->bias.data(), static_cast<int64_t>(la[l]->bias.size()));
  }
  return m;
}

// Every algorithm the CUDA backend has, trained on the device and on the host from the same model
// and trace: equal within float tolerance (the GEMMs sum in a different order; noise is
// bit-identical). 1e-4 relative after 4 steps is far below one step's update. dp-fest keeps 37 rows
// per table (tables of 1000, 200 and 50 rows): a wrong fixed row would leave a row unchanged on one
// side and noised on the other, far above the tolerance.
TEST(CudaTrainers, MatchTheCpuBackend) {
  REQUIRE_GPU();
  const Workload w = test::small_workload(16);
  for (AlgorithmKind k : {AlgorithmKind::sgd, AlgorithmKind::dpsgd_b, AlgorithmKind::dpsgd_r, AlgorithmKind::dpsgd_f,
                          AlgorithmKind::eana, AlgorithmKind::lazydp, AlgorithmKind::adafest, AlgorithmKind::dp_fest}) {
    for (LazyNoiseMode mode : {LazyNoiseMode::aggregated, LazyNoiseMode::exact}) {
      if (mode == LazyNoiseMode::exact && k != AlgorithmKind::lazydp) continue;
      AlgorithmConfig cfg = test::algo(k, 0.8, 0.5);
      cfg.lazydp.noise = mode;
      cfg.fest.k = 37;
      SyntheticTrace trace(w, 3);
      const cpu::DlrmModel on_gpu = cuda::train_model_on_cuda(w, cfg, trace, 4, 11);
      const cpu::DlrmModel on_cpu = test::train(w, cfg, 4);
      EXPECT_LT(max_rel_diff(on_gpu, on_cpu), 1e-4) << algorithm_info(k).name << " " << lazy_noise_mode_name(mode);
    }
  }
}

// lazydp releases dpsgd-f's model on the GPU too: with noise `ones` every skipped step's sample is
// exactly 1, so after the flush the two agree up to float rounding.
TEST(CudaTrainers, LazydpEqualsDpsgdfOnTheDevice) {
  REQUIRE_GPU();
  const Workload w = test::small_workload(16);
  SyntheticTrace trace(w, 3);
  const auto f = cuda::train_model_on_cuda(w, test::algo(AlgorithmKind::dpsgd_f, 0.8, 0.5, NoiseSource::ones), trace, 6, 11);
  const auto l = cuda::train_model_on_cuda(w, test::algo(AlgorithmKind::lazydp, 0.8, 0.5, NoiseSource::ones), trace, 6, 11);
  EXPECT_LT(max_rel_diff(l, f), 1e-5);
}

// The CUDA operations' records for `steps` steps of the synthetic trace (seed 3) from the initial
// model of seed 11: the setup's, each step's, then the finish's.
std::vector<StepRecord> records_on_device(const Workload& w, const AlgorithmConfig& cfg, int64_t steps) {
  const cpu::DlrmModel host = cpu::DlrmModel::create(w, 11);
  cuda::CudaStepOps ops(host, cfg);
  PlanRunner runner(cfg, ops);
  SyntheticTrace trace(w, 3);
  std::vector<StepRecord> recs(1);
  runner.setup(trace, steps, recs[0]);
  walk_steps(trace, steps, [&](int64_t t, const Batch& b, const Batch* next) {
    StepRecord rec;
    runner.step(t, b, next, rec);
    recs.push_back(rec);
  });
  StepRecord fin;
  runner.finish(steps, fin);
  recs.push_back(fin);
  return recs;
}

// The same records as the performance model predicts them with the CUDA work formulas.
std::vector<StepRecord> records_of_model(const Workload& w, const AlgorithmConfig& cfg, int64_t steps) {
  sim::WorkModel model(w, cfg, kernel_work("cuda"));
  SyntheticTrace trace(w, 3);
  std::vector<StepRecord> recs{model.setup(trace, steps)};
  walk_steps(trace, steps, [&](int64_t t, const Batch& b, const Batch* next) { recs.push_back(model.step(t, b, next)); });
  recs.push_back(model.finish(steps));
  return recs;
}

// Every stage of the setup, of every step and of the finish: the counters the CUDA kernels counted
// equal the model's prediction, number for number (the GPU's tests/sim/work_model_test.cpp).
void expect_model_equals_device(const Workload& w, const AlgorithmConfig& cfg, int64_t steps) {
  const std::vector<StepRecord> got = records_on_device(w, cfg, steps), want = records_of_model(w, cfg, steps);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const std::string when = std::string(algorithm_info(cfg.kind).name) + " " +
                             (i == 0 ? "setup" : i + 1 == got.size() ? "finish" : "step " + std::to_string(i));
    for (size_t s = 0; s < kStages; ++s) {
      ASSERT_EQ(got[i].ran[s], want[i].ran[s]) << when << " stage " << kStageNames[s];
      EXPECT_EQ(got[i].work[s], want[i].work[s]) << when << " stage " << kStageNames[s] << "\n model:   "
                                                 << want[i].work[s].to_json().dump() << "\n kernels: "
                                                 << got[i].work[s].to_json().dump();
    }
  }
}

TEST(CudaWork, EqualsTheModelForEveryAlgorithm) {
  REQUIRE_GPU();
  for (const char* dist : {"uniform", "zipf:1.1"}) {
    const Workload w = test::small_workload(16, dist);
    for (AlgorithmKind k : {AlgorithmKind::sgd, AlgorithmKind::dpsgd_b, AlgorithmKind::dpsgd_r, AlgorithmKind::dpsgd_f,
                            AlgorithmKind::eana, AlgorithmKind::lazydp, AlgorithmKind::dp_fest}) {
      SCOPED_TRACE(std::string(algorithm_info(k).name) + " " + dist);
      expect_model_equals_device(w, test::algo(k, 0.8, 0.5), 4);
    }
  }
}

// Both lazydp modes under every noise source: the rows and steps owed are read back from the
// device, the model tracks them with its own history.
TEST(CudaWork, EqualsTheModelForLazyDpModes) {
  REQUIRE_GPU();
  const Workload w = test::small_workload(16, "zipf:1.1");
  for (LazyNoiseMode mode : {LazyNoiseMode::aggregated, LazyNoiseMode::exact})
    for (NoiseSource src : {NoiseSource::gaussian, NoiseSource::ones, NoiseSource::zero}) {
      auto cfg = test::algo(AlgorithmKind::lazydp, 0.8, 0.5, src);
      cfg.lazydp.noise = mode;
      SCOPED_TRACE(lazy_noise_mode_name(mode) + " " + noise_source_name(src));
      expect_model_equals_device(w, cfg, 5);
    }
}

// adafest's selection is deterministic under `ones` and `zero`, so the model's counts are exact:
// thresholds where some touched rows pass and some do not, none pass, or every row passes.
TEST(CudaWork, EqualsTheModelForAdaFestWhenSelectionIsDeterministic) {
  REQUIRE_GPU();
  const Workload w = test::small_workload(16, "zipf:1.1");
  for (double tau : {1.5, 2.2, 1e30, -1e30})
    for (NoiseSource src : {NoiseSource::ones, NoiseSource::zero}) {
      auto cfg = test::algo(AlgorithmKind::adafest, 0.8, 0.5, src);
      cfg.adafest.tau = tau;
      cfg.adafest.c1 = 1.0;
      SCOPED_TRACE("tau " + std::to_string(tau) + " " + noise_source_name(src));
      expect_model_equals_device(w, cfg, 3);
    }
}

// dp-fest: the CUDA formulas depend on how many rows are kept (min(k, rows), the model's too), not
// on which, so the model is exact under every noise source: no row, a few, some, every row.
TEST(CudaWork, EqualsTheModelForDpFest) {
  REQUIRE_GPU();
  const Workload w = test::small_workload(16, "zipf:1.1");
  for (int64_t k : {0, 3, 40, 1000000})
    for (NoiseSource src : {NoiseSource::gaussian, NoiseSource::ones, NoiseSource::zero}) {
      auto cfg = test::algo(AlgorithmKind::dp_fest, 0.8, 0.5, src);
      cfg.fest.k = k;
      SCOPED_TRACE("k " + std::to_string(k) + " " + noise_source_name(src));
      expect_model_equals_device(w, cfg, 3);
    }
}

// dp-fest's fixed rows on the device are the CPU backend's, row for row: Gaussian noise small
// enough that counts and noise both decide; under `ones` every row never seen ties with every
// other (score sigma), so the ties go to the lower rows on both; under `zero` the counts alone.
TEST(CudaKernels, FixedRowsAreTheCpuBackendsChoice) {
  REQUIRE_GPU();
  const Workload w = test::small_workload(64, "zipf:1.1");
  SyntheticTrace trace(w, 3);
  const int64_t steps = 4;
  std::vector<int64_t> rows;
  for (const auto& t : w.tables) rows.push_back(t.rows);
  for (NoiseSource src : {NoiseSource::gaussian, NoiseSource::ones, NoiseSource::zero})
    for (double sigma : {0.05, 0.3, 1.0}) {
      const cuda::DeviceNoise noise = src == NoiseSource::gaussian ? cuda::DeviceNoise::gaussian
                                      : src == NoiseSource::ones   ? cuda::DeviceNoise::ones
                                                                   : cuda::DeviceNoise::zero;
      auto cfg = test::algo(AlgorithmKind::dp_fest, 0.8, 0.5, src);
      cfg.fest.sigma = sigma;
      cfg.fest.c1 = 1.0;
      const RowHistogram h = contribution_histogram(trace, steps, cfg.fest.c1);
      for (int64_t k : {0, 1, 3, 40, 49, 50, 199, 999, 1000, 1000000}) {
        cfg.fest.k = k;
        WorkCounters work;
        const auto want = cpu::choose_fixed_rows(h, rows, cfg, work);
        for (size_t t = 0; t < rows.size(); ++t) {
          cuda::DeviceArray<int64_t> out;
          const int64_t n = cuda::choose_fixed_rows_on_device(h.tables[t], rows[t], k, static_cast<uint32_t>(t), sigma,
                                                              cfg.seed, noise, out);
          std::vector<int64_t> got = out.download();
          got.resize(static_cast<size_t>(n));
          ASSERT_EQ(got, want[t]) << noise_source_name(src) << " sigma " << sigma << " k " << k << " table " << t;
        }
      }
    }
}

// adafest's selection on the device is the CPU backend's, row for row. One coalesce workspace sorts
// every table of a batch at once (each table's selection reads its view of that sort), one selector
// serves every table of two batches, and the second batch's last table is empty right after
// non-empty ones: rows left over from another table or batch would show as touched rows the CPU
// does not have. `ones` with tau just above 1 selects exactly the touched rows; Gaussian noise with
// tau = 1.5 adds false positives (p = Q(1.5), about 67 in a table of 1000 rows).
TEST(CudaKernels, AdafestSelectionIsTheCpuBackendsWithAnEmptyTable) {
  REQUIRE_GPU();
  const Workload w = test::small_workload(32, "zipf:1.1");
  SyntheticTrace trace(w, 3);
  std::vector<Batch> batches = {trace.batch(0), trace.batch(1)};
  TableBatch& empty = batches[1].tables.back();
  empty.indices.clear();
  std::fill(empty.offsets.begin(), empty.offsets.end(), 0);
  std::vector<int64_t> rows;
  for (const auto& t : w.tables) rows.push_back(t.rows);
  cuda::CoalesceWorkspace ws;
  cuda::AdafestSelector selector;
  for (NoiseSource src : {NoiseSource::ones, NoiseSource::gaussian}) {
    auto cfg = test::algo(AlgorithmKind::adafest, 0.8, 0.5, src);
    cfg.adafest.tau = src == NoiseSource::ones ? 1.0 + 1e-9 : 1.5;
    const double p = cfg.zero_count_selection_probability();
    const auto noise = src == NoiseSource::ones ? cuda::DeviceNoise::ones : cuda::DeviceNoise::gaussian;
    for (size_t step = 0; step < batches.size(); ++step) {
      const Batch& b = batches[step];
      const int64_t T = static_cast<int64_t>(b.tables.size());
      WorkCounters work;
      const cpu::Selection want = cpu::adafest_select(b, rows, cfg, step, work);
      std::vector<cuda::DeviceArray<int64_t>> off(T), idx(T);
      std::vector<const int64_t*> off_ptrs(T), idx_ptrs(T);
      for (int64_t t = 0; t < T; ++t) {
        off[t].upload(b.tables[t].offsets), idx[t].upload(b.tables[t].indices);
        off_ptrs[t] = off[t].data(), idx_ptrs[t] = idx[t].data();
      }
      cuda::DeviceArray<const int64_t*> d_off, d_idx;
      d_off.upload(off_ptrs), d_idx.upload(idx_ptrs);
      cuda::DeviceArray<float> factor(static_cast<size_t>(b.size));
      cuda::adafest_example_factors(d_off.data(), d_idx.data(), T, b.size, cfg.adafest.c1, factor.data());
      int64_t touched = 0, selected_touched = 0, false_positives = 0;
      // Every table's ids in one sort, as the trainer sorts them; each table's selection from its view.
      std::vector<cuda::CoalesceTable> group;
      for (int64_t t = 0; t < T; ++t)
        group.push_back({off[t].data(), idx[t].data(), static_cast<int64_t>(b.tables[t].indices.size()), rows[t] - 1});
      ws.coalesce(group.data(), T, b.size, nullptr, 0, 0, 0, nullptr);
      for (int64_t t = 0; t < T; ++t) {
        SCOPED_TRACE(noise_source_name(src) + " step " + std::to_string(step) + " table " + std::to_string(t));
        const int64_t lookups = static_cast<int64_t>(b.tables[t].indices.size());
        const cuda::TableSelection sel = selector.select(ws.sort(t), factor.data(), rows[t], static_cast<uint32_t>(t),
                                                         cfg.adafest.sigma1, cfg.adafest.tau, p, cfg.seed, noise, step);
        std::vector<int64_t> got(static_cast<size_t>(sel.count));
        if (sel.count) cuda::copy_to_host(got.data(), sel.rows, got.size() * sizeof(int64_t));
        ASSERT_EQ(got, want.rows[t]);
        if (lookups == 0) {
          EXPECT_EQ(sel.touched, 0);
        }
        touched += sel.touched, selected_touched += sel.selected_touched, false_positives += sel.false_positives;
      }
      EXPECT_EQ(touched, want.touched);
      EXPECT_EQ(selected_touched, want.selected_touched);
      EXPECT_EQ(false_positives, want.false_positives);
      if (src == NoiseSource::gaussian) {
        EXPECT_GT(false_positives, 0);
      } else {
        EXPECT_EQ(selected_touched, touched);
      }
    }
  }
}


// Row r of C computed on the host in double: sum_k A[r, k] W[o, k] for every o.
std::vector<double> host_gemm_row(const std::vector<float>& a, const std::vector<float>& w, int64_t r, int64_t K,
                                  int64_t N, std::vector<double>& magnitude) {
  std::vector<double> c(static_cast<size_t>(N), 0.0);
  magnitude.assign(static_cast<size_t>(N), 0.0);
  for (int64_t o = 0; o < N; ++o)
    for (int64_t k = 0; k < K; ++k) {
      const double p = static_cast<double>(a[r * K + k]) * w[o * K + k];
      c[o] += p, magnitude[o] += std::abs(p);
    }
  return c;
}

// A batch of 2^22 + 1000 rows through a small layer (13 -> 70, two column tiles), as the forward
// pass calls it (W transposed) and then accumulating as the backward pass calls it (W plain): rows
// on both sides of the old grid's last reachable row (4,194,239) against a host reference.
TEST(CudaKernels, GemmTakesBatchesBeyondTheOldGridLimit) {
  REQUIRE_GPU();
  const int64_t M = (int64_t{1} << 22) + 1000, K = 13, N = 70;
  std::vector<float> a(static_cast<size_t>(M * K)), w(static_cast<size_t>(N * K)), wt(static_cast<size_t>(K * N));
  for (int64_t k = 0; k < M * K; ++k) a[k] = 0.01f * static_cast<float>(k % 97) - 0.48f;
  for (int64_t o = 0; o < N; ++o)
    for (int64_t k = 0; k < K; ++k) w[o * K + k] = wt[k * N + o] = 0.02f * static_cast<float>((o * 7 + k * 3) % 29) - 0.28f;
  cuda::DeviceArray<float> da, dw, dwt, dc(static_cast<size_t>(M * N));
  da.upload(a), dw.upload(w), dwt.upload(wt);
  auto check = [&](double factor) {
    for (int64_t r : {int64_t{0}, int64_t{1}, int64_t{4194239}, int64_t{4194240}, int64_t{4194241}, M / 2 + 12345,
                      M - 1}) {
      std::vector<float> got(static_cast<size_t>(N));
      cuda::copy_to_host(got.data(), dc.data() + r * N, static_cast<size_t>(N) * sizeof(float));
      std::vector<double> mag;
      const std::vector<double> want = host_gemm_row(a, w, r, K, N, mag);
      for (int64_t o = 0; o < N; ++o)
        ASSERT_NEAR(got[o], factor * want[o], 1e-5 * factor * (1.0 + mag[o])) << "row " << r << " column " << o;
    }
  };
  cuda::gemm(false, true, M, N, K, da.data(), K, dw.data(), K, dc.data(), N, false);
  check(1.0);
  cuda::gemm(false, false, M, N, K, da.data(), K, dwt.data(), N, dc.data(), N, true);
  check(2.0);
}

// The loss twice on the same inputs: the same bits (no atomics, a fixed summation order), and the
// host's double sum within rounding. One scratch serves every batch size, largest first, so stale
// partials of a larger batch would show.
TEST(CudaKernels, LossIsTheSameBitsOnEveryRun) {
  REQUIRE_GPU();
  cuda::DeviceArray<double> scratch(static_cast<size_t>(cuda::kBceLossScratch));
  for (int64_t B : {int64_t{3000017}, int64_t{1000}, int64_t{1}}) {
    std::vector<float> logits(static_cast<size_t>(B)), labels(static_cast<size_t>(B));
    double host = 0;
    for (int64_t i = 0; i < B; ++i) {
      logits[i] = 0.001f * static_cast<float>((i * 7919) % 16001) - 8.0f;
      labels[i] = (i * 31) % 7 < 3 ? 1.0f : 0.0f;
      const double x = logits[i], y = labels[i];
      host += std::max(x, 0.0) - x * y + std::log1p(std::exp(-std::abs(x)));
    }
    host /= static_cast<double>(B);
    cuda::DeviceArray<float> dx, dy, dlogit(static_cast<size_t>(B));
    dx.upload(logits), dy.upload(labels);
    const double first = cuda::bce_loss(dx.data(), dy.data(), B, dlogit.data(), scratch.data());
    const std::vector<float> grad_first = dlogit.download();
    const double second = cuda::bce_loss(dx.data(), dy.data(), B, dlogit.data(), scratch.data());
    EXPECT_EQ(std::memcmp(&first, &second, sizeof(double)), 0) << "B " << B << ": " << first << " then " << second;
    EXPECT_EQ(grad_first, dlogit.download()) << "B " << B;
    // A lost or doubled block would be off by ~1e-3 of the mean; the host's own serial sum of 3e6
    // terms may be off by up to ~3e-10 relative.
    EXPECT_NEAR(first, host, 1e-9 * (1.0 + std::abs(host))) << "B " << B;
  }
}


// adafest's selection of the one table of `b` on the device, its rows downloaded into `got`.
cuda::TableSelection select_one_table(const Batch& b, int64_t rows, const AlgorithmConfig& cfg, uint64_t step,
                                      cuda::CoalesceWorkspace& ws, cuda::AdafestSelector& selector,
                                      std::vector<int64_t>& got) {
  const TableBatch& tb = b.tables[0];
  cuda::DeviceArray<int64_t> off, idx;
  off.upload(tb.offsets), idx.upload(tb.indices);
  cuda::DeviceArray<const int64_t*> d_off, d_idx;
  d_off.upload(std::vector<const int64_t*>{off.data()}), d_idx.upload(std::vector<const int64_t*>{idx.data()});
  cuda::DeviceArray<float> factor(static_cast<size_t>(b.size));
  cuda::adafest_example_factors(d_off.data(), d_idx.data(), 1, b.size, cfg.adafest.c1, factor.data());
  const int64_t lookups = static_cast<int64_t>(tb.indices.size());
  ws.coalesce(off.data(), idx.data(), b.size, lookups, rows - 1, nullptr, 0, 0, nullptr);
  const cuda::TableSelection sel =
      selector.select(ws.sort(0), factor.data(), rows, 0, cfg.adafest.sigma1, cfg.adafest.tau,
                      cfg.zero_count_selection_probability(), cfg.seed, cuda::DeviceNoise::gaussian, step);
  got.assign(static_cast<size_t>(sel.count), 0);
  if (sel.count) cuda::copy_to_host(got.data(), sel.rows, got.size() * sizeof(int64_t));
  return sel;
}

// adafest's false positives, drawn in parallel chunks, are the CPU backend's serial walk: the same
// rows, counts and draws (the CPU's uniforms, rng_samples less the touched rows' normals), for p = 0,
// about 1e-9, 1e-4, 0.05 and 1, on tables of 1, 1000, 3,000,000 and 2^40 rows, with touched rows and
// without. Besides one chunk (the default), chunks of 4093 and 7 draws make many chunks carry over.
TEST(CudaKernels, AdafestFalsePositivesAreTheCpuBackendsWalkAtEveryP) {
  REQUIRE_GPU();
  // tau / sigma1 with Q(tau / sigma1) = p.
  const std::vector<double> taus = {1e30, 5.997807015007686, 3.719016485455709, 1.6448536269514729, -1e30};
  cuda::CoalesceWorkspace ws;
  cuda::AdafestSelector selector;
  for (int64_t rows : {int64_t{1}, int64_t{1000}, int64_t{3000000}, int64_t{1} << 40})
    for (double tau : taus) {
      auto cfg = test::algo(AlgorithmKind::adafest, 0.8, 0.5, NoiseSource::gaussian);
      cfg.adafest.sigma1 = 1.0, cfg.adafest.tau = tau;
      const double p = cfg.zero_count_selection_probability(), mean = p * static_cast<double>(rows);
      if (mean > 4e6) continue;  // the CPU's walk would take too long
      for (bool any : {true, false}) {
        std::vector<int64_t> touched;
        if (any) touched = rows == 1 ? std::vector<int64_t>{0} : std::vector<int64_t>{0, 1, 2, rows / 3, rows - 1};
        const Batch b = test::one_table_batch(touched);
        WorkCounters work;
        const cpu::Selection want = cpu::adafest_select(b, {rows}, cfg, 3, work);
        const int64_t draws = static_cast<int64_t>(work.rng_samples) - want.touched;
        for (int64_t limit : {cuda::false_positives::kMaxChunk, int64_t{4093}, int64_t{7}}) {
          if (mean / static_cast<double>(limit) > 2e4) continue;
          SCOPED_TRACE("rows " + std::to_string(rows) + " p " + std::to_string(p) + " limit " + std::to_string(limit) +
                       (any ? " touched" : " untouched"));
          selector.limit_chunk_draws(limit);
          std::vector<int64_t> got;
          const cuda::TableSelection sel = select_one_table(b, rows, cfg, 3, ws, selector, got);
          ASSERT_EQ(got, want.rows[0]);
          EXPECT_EQ(sel.touched, want.touched);
          EXPECT_EQ(sel.selected_touched, want.selected_touched);
          EXPECT_EQ(sel.false_positives, want.false_positives);
          EXPECT_EQ(sel.draws, draws);
          if (p == 1.0) {
            EXPECT_EQ(sel.false_positives, rows - want.touched);
          }
        }
      }
    }
}

// The parallel walk's speed where the serial one took seconds: every row of 3,000,000 a trial
// (p = 1), one chunk. Printed for the GPU check's log; the rows are checked above.
TEST(CudaKernels, AdafestFalsePositivesRate) {
  REQUIRE_GPU();
  auto cfg = test::algo(AlgorithmKind::adafest, 0.8, 0.5, NoiseSource::gaussian);
  cfg.adafest.sigma1 = 1.0, cfg.adafest.tau = -1e30;
  const int64_t rows = 3000000;
  const Batch b = test::one_table_batch({});
  cuda::CoalesceWorkspace ws;
  cuda::AdafestSelector selector;
  std::vector<int64_t> got;
  select_one_table(b, rows, cfg, 3, ws, selector, got);  // warm-up: allocations
  cuda::EventTimer timer;
  timer.start();
  const cuda::TableSelection sel = select_one_table(b, rows, cfg, 4, ws, selector, got);
  const double ms = timer.stop_ms();
  EXPECT_EQ(sel.draws, rows + 1);
  EXPECT_EQ(sel.false_positives, rows);
  std::printf("adafest selection, p = 1, %lld rows: %.3f ms, %.3g draws/s (upload, coalesce and sort included)\n",
              static_cast<long long>(rows), ms, static_cast<double>(sel.draws) / (ms * 1e-3));
}

// A rows x dim table whose values are all distinct enough to show a misplaced column.
cpu::EmbeddingTable test_table(int64_t rows, int64_t dim) {
  cpu::EmbeddingTable table;
  table.rows = rows;
  table.dim = dim;
  table.weights = cpu::FloatArray(rows * dim);
  for (int64_t k = 0; k < rows * dim; ++k) table.weights[k] = 0.001f * static_cast<float>(k % 977) - 0.3f;
  return table;
}

cuda::DeviceNoise device_noise_of(NoiseSource src) {
  return src == NoiseSource::gaussian ? cuda::DeviceNoise::gaussian
         : src == NoiseSource::ones   ? cuda::DeviceNoise::ones
                                      : cuda::DeviceNoise::zero;
}

// The dense update on the device with the table starting `offset` floats into its allocation (an
// offset of 1 takes the scalar path even when dim is a multiple of 4).
std::vector<float> dense_update_at_offset(const cpu::EmbeddingTable& table, const cpu::SparseRows& grad,
                                          cuda::DeviceNoise noise, int64_t offset) {
  const int64_t rows = table.rows, dim = table.dim;
  std::vector<float> host(static_cast<size_t>(offset), 0.0f);
  host.insert(host.end(), table.weights.data(), table.weights.data() + rows * dim);
  cuda::DeviceArray<float> t, g;
  cuda::DeviceArray<int64_t> gr;
  cuda::DeviceArray<int32_t> slots(static_cast<size_t>(rows));
  t.upload(host), g.upload(grad.grads), gr.upload(grad.rows);
  cuda::fill_bytes(slots.data(), 0xFF, static_cast<size_t>(rows) * sizeof(int32_t));
  const int64_t U = static_cast<int64_t>(grad.rows.size());
  cuda::launch_set_slots(slots.data(), gr.data(), U, true);
  cuda::launch_dense_noisy_update(t.data() + offset, rows, dim, 4, slots.data(), g.data(), 0.05f, 0.4f, 7, noise, 3);
  cuda::launch_set_slots(slots.data(), gr.data(), U, false);
  cuda::synchronize();
  host = t.download();
  return std::vector<float>(host.begin() + offset, host.end());
}

// The dense update's 2-D mapping (blocks of rows, threads over 4-column blocks) on shapes where
// it has edges: dim 37 (a partial last block, scalar accesses), dim 3 (one block a row, 512 rows a
// tile), dim 1030 (258 blocks a row: two column passes of 129 threads), dim 64 (float4), and dim
// 32 at an offset of one float (not 16-byte aligned: scalar). 1001 rows is a multiple of no
// tile's row count, so every shape ends in a partial tile; gradients on the first, some middle
// and the last row.
TEST(CudaKernels, DenseNoisyUpdateIsBitIdenticalForAnyShape) {
  REQUIRE_GPU();
  const int64_t rows = 1001;
  for (int64_t dim : {37, 3, 1030, 64, 32})
    for (NoiseSource src : {NoiseSource::gaussian, NoiseSource::ones}) {
      const int64_t offset = dim == 32 ? 1 : 0;
      cpu::EmbeddingTable table = test_table(rows, dim);
      cpu::SparseRows grad;
      grad.rows = {0, 49, 50, 511, 512, 999, 1000};
      grad.grads.resize(grad.rows.size() * dim);
      for (size_t k = 0; k < grad.grads.size(); ++k) grad.grads[k] = 0.01f * static_cast<float>(k % 13) - 0.05f;
      const std::vector<float> on_gpu = dense_update_at_offset(table, grad, device_noise_of(src), offset);
      WorkCounters w;
      cpu::dense_noisy_update(table, 4, grad, 0.05f, 0.4f, NoiseGenerator(7, src), 3, w);
      for (int64_t k = 0; k < rows * dim; ++k)
        ASSERT_TRUE(same_bits(on_gpu[k], table.weights[k]))
            << "dim " << dim << " " << noise_source_name(src) << " row " << k / dim << " column " << k % dim;
    }
}

struct SettleCase {
  int64_t dim;
  LazyNoiseMode mode;
  NoiseSource src;
  bool flush;
  int max_blocks;  // 0: a block a tile; 1: one block walks every tile
};

// lazydp's settle of one table on the device against the CPU backend's catch-up or flush: the
// table's bits, the history, and the owed rows and steps the per-warp sums add to the counters.
void expect_settle_matches_cpu(const SettleCase& c) {
  const int64_t rows = 1001;
  const uint32_t now = 6, table_id = 2;
  const float stddev = 0.4f;
  const uint64_t seed = 9;
  cpu::EmbeddingTable table = test_table(rows, c.dim);
  HugePageVector<uint32_t> history(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) history[r] = static_cast<uint32_t>((r * 5) % (now + 1));  // 0 .. now: some owe nothing
  std::vector<int64_t> list;  // catch-up: a sorted distinct subset; flush: every row
  for (int64_t r = 0; r < rows; ++r)
    if (c.flush || r % 3 != 1) list.push_back(r);
  cpu::NoiseSchedule schedule;
  std::vector<double> scale{0.0}, cum{0.0}, cum_sq{0.0};
  for (uint32_t s = 1; s <= now; ++s) {
    const double x = 0.05 + 0.01 * s;
    schedule.push(x);
    scale.push_back(x), cum.push_back(cum.back() + x), cum_sq.push_back(cum_sq.back() + x * x);
  }
  uint64_t want_steps = 0;
  for (int64_t r : list) want_steps += history[r] < now ? now - history[r] : 0;
  cuda::DeviceArray<float> t;
  cuda::DeviceArray<uint32_t> h;
  cuda::DeviceArray<int64_t> d_list;
  cuda::DeviceArray<double> d_scale, d_cum, d_cum_sq;
  cuda::DeviceArray<unsigned long long> owed(2);
  t.upload(table.weights.data(), static_cast<size_t>(rows * c.dim)), h.upload(history), d_list.upload(list);
  d_scale.upload(scale), d_cum.upload(cum), d_cum_sq.upload(cum_sq), owed.zero();
  cuda::launch_lazy_settle(t.data(), c.dim, table_id, c.flush ? nullptr : d_list.data(),
                           static_cast<int64_t>(list.size()), h.data(), now, stddev,
                           c.mode == LazyNoiseMode::exact, device_noise_of(c.src), seed, d_scale.data(), d_cum.data(),
                           d_cum_sq.data(), owed.data(), c.max_blocks);
  cuda::synchronize();
  const NoiseGenerator gen(seed, c.src);
  const cpu::LazyNoiseParams p{stddev, c.mode, &gen, &schedule};
  WorkCounters w;
  const int64_t want_owed = c.flush ? cpu::lazy_flush(table, table_id, history, now, p, w)
                                    : cpu::lazy_catch_up(table, table_id, list, history, now, p, w);
  const std::vector<float> got = t.download();
  for (int64_t k = 0; k < rows * c.dim; ++k)
    ASSERT_TRUE(same_bits(got[k], table.weights[k])) << "row " << k / c.dim << " column " << k % c.dim;
  EXPECT_EQ(h.download(), std::vector<uint32_t>(history.begin(), history.end()));
  const std::vector<unsigned long long> counters = owed.download();
  EXPECT_EQ(counters[0], static_cast<unsigned long long>(want_owed));
  EXPECT_EQ(counters[1], want_steps);
}

// Catch-up and flush with the dense update's mapping: dim 37 (25 rows of 10 threads: blocks of
// 250 threads, so the last warp has 26 lanes and rows straddle warps), dim 3 (512 rows a tile),
// dim 1030 (two column passes) and dim 32 (float4), in both noise modes under every source; with a
// block a tile and with one block for every tile (the owing rows packed tile after tile through
// the double-buffered list and its rotating counters).
TEST(CudaKernels, LazySettleIsBitIdenticalToTheCpuBackend) {
  REQUIRE_GPU();
  for (int64_t dim : {37, 3, 1030, 32})
    for (LazyNoiseMode mode : {LazyNoiseMode::aggregated, LazyNoiseMode::exact})
      for (NoiseSource src : {NoiseSource::gaussian, NoiseSource::ones, NoiseSource::zero})
        for (bool flush : {false, true})
          for (int max_blocks : {0, 1}) {
            SCOPED_TRACE("dim " + std::to_string(dim) + " " + lazy_noise_mode_name(mode) + " " +
                         noise_source_name(src) + (flush ? " flush" : " catch-up") + " max_blocks " +
                         std::to_string(max_blocks));
            expect_settle_matches_cpu({dim, mode, src, flush, max_blocks});
          }
}


// sgd's (noisy == false) and eana's row-wise updates of the listed rows on the device.
std::vector<float> sparse_update_on_device(const cpu::EmbeddingTable& table, const cpu::SparseRows& grad, bool noisy,
                                           cuda::DeviceNoise noise) {
  cuda::DeviceArray<float> t, g;
  cuda::DeviceArray<int64_t> gr;
  t.upload(table.weights.data(), static_cast<size_t>(table.rows * table.dim)), g.upload(grad.grads);
  gr.upload(grad.rows);
  const int64_t U = static_cast<int64_t>(grad.rows.size());
  if (noisy) {
    cuda::launch_sparse_noisy_update(t.data(), table.dim, 4, gr.data(), g.data(), U, 0.05f, 0.4f, 7, noise, 3);
  } else {
    cuda::launch_sparse_update(t.data(), table.dim, gr.data(), g.data(), U, 0.05f);
  }
  cuda::synchronize();
  return t.download();
}

// The sparse updates on the dense update's 2-D mapping over the row list: dim 37 (a partial last
// column block, scalar accesses), dim 1030 (two column passes of 129 threads, one list entry a
// thread row) and dim 64 (float4). 667 listed rows of 1001 end every shape in a partial tile.
TEST(CudaKernels, SparseUpdatesAreBitIdenticalToTheCpuBackend) {
  REQUIRE_GPU();
  const int64_t rows = 1001;
  for (int64_t dim : {37, 1030, 64})
    for (int variant = 0; variant < 3; ++variant) {  // sgd, eana gaussian, eana ones
      const NoiseSource src = variant == 2 ? NoiseSource::ones : NoiseSource::gaussian;
      SCOPED_TRACE("dim " + std::to_string(dim) + (variant == 0 ? " sgd" : " eana ") +
                   (variant == 0 ? "" : noise_source_name(src)));
      cpu::EmbeddingTable table = test_table(rows, dim);
      cpu::SparseRows grad;
      for (int64_t r = 0; r < rows; ++r)
        if (r % 3 != 1) grad.rows.push_back(r);
      grad.grads.resize(grad.rows.size() * dim);
      for (size_t k = 0; k < grad.grads.size(); ++k) grad.grads[k] = 0.01f * static_cast<float>(k % 13) - 0.05f;
      const std::vector<float> on_gpu = sparse_update_on_device(table, grad, variant != 0, device_noise_of(src));
      WorkCounters w;
      if (variant == 0) {
        cpu::sparse_update(table, grad, 0.05f, w);
      } else {
        cpu::sparse_noisy_update(table, 4, grad.rows, grad, 0.05f, 0.4f, NoiseGenerator(7, src), 3, w);
      }
      for (int64_t k = 0; k < rows * dim; ++k)
        ASSERT_TRUE(same_bits(on_gpu[k], table.weights[k])) << "row " << k / dim << " column " << k % dim;
    }
}

// Every table update and lazydp's settle over many tables in grouped launches (64 tables a launch,
// kernels/cuda/noisy_update.hpp) against the CPU backend table by table: 67 tables (two groups, the
// second of three) of 3 to 152 rows, so lists of one to three tiles (50 rows a tile at dim 37, 64 at
// 32), one table with no gradient rows, one listing no rows to settle; dim 37 (scalar accesses) and
// 32 (float4). The settle runs with a block a tile and with one block walking every tile of the
// group, within a table and across tables, each table's counters its own. adafest's selected rows
// (the settle's lists) find their gradients, where they have one, through the slot map.
TEST(CudaKernels, GroupedUpdatesAreBitIdenticalTableByTable) {
  REQUIRE_GPU();
  const int64_t T = 67;
  const uint32_t now = 6;
  const float scale = 0.05f, stddev = 0.4f;
  const uint64_t seed = 7, step = 3;
  for (int64_t dim : {37, 32})
    for (int variant = 0; variant < 6; ++variant) {  // sgd, eana, dense, settle, settle by one block, selected
      const bool settle = variant == 3 || variant == 4;
      SCOPED_TRACE("dim " + std::to_string(dim) + " variant " + std::to_string(variant));
      std::vector<cpu::EmbeddingTable> cpu_tables;
      std::vector<cpu::SparseRows> grads(T);
      std::vector<HugePageVector<uint32_t>> history(T);
      std::vector<std::vector<int64_t>> lists(T);
      std::vector<cuda::DeviceArray<float>> t(T), g(T);
      std::vector<cuda::DeviceArray<int64_t>> gr(T), lst(T);
      std::vector<cuda::DeviceArray<uint32_t>> h(T);
      cuda::DeviceArray<unsigned long long> owed(static_cast<size_t>(2 * T));
      int64_t all_rows = 0;
      for (int64_t k = 0; k < T; ++k) {
        const int64_t rows = 3 + (k * 37) % 150;
        cpu_tables.push_back(test_table(rows, dim));
        for (int64_t r = 0; r < rows; ++r) {
          if (k != 5 && (r + k) % 3 != 1) grads[k].rows.push_back(r);
          history[k].push_back(static_cast<uint32_t>((r * 5 + k) % (now + 1)));
          if (k != 9 && (r + k) % 4 != 2) lists[k].push_back(r);
        }
        grads[k].grads.resize(grads[k].rows.size() * dim);
        for (size_t x = 0; x < grads[k].grads.size(); ++x) grads[k].grads[x] = 0.01f * static_cast<float>((x + k) % 13) - 0.05f;
        t[k].upload(cpu_tables[k].weights.data(), static_cast<size_t>(rows * dim));
        g[k].upload(grads[k].grads), gr[k].upload(grads[k].rows), h[k].upload(history[k]), lst[k].upload(lists[k]);
        all_rows += rows;
      }
      cuda::DeviceArray<int32_t> slots(static_cast<size_t>(all_rows));
      cuda::fill_bytes(slots.data(), 0xFF, static_cast<size_t>(all_rows) * sizeof(int32_t));
      owed.zero();
      std::vector<cuda::UpdateTable> group(T);
      int64_t base = 0;
      for (int64_t k = 0; k < T; ++k) {
        cuda::UpdateTable& u = group[k];
        u.table = t[k].data(), u.table_id = static_cast<uint32_t>(k), u.grads = g[k].data();
        u.count = static_cast<int64_t>(grads[k].rows.size()), u.rows = gr[k].data();
        u.slots = slots.data() + base, u.history = h[k].data(), u.owed_steps = owed.data() + 2 * k;
        base += cpu_tables[k].rows;
      }
      std::vector<double> sched_scale{0.0}, cum{0.0}, cum_sq{0.0};
      cpu::NoiseSchedule schedule;
      for (uint32_t x = 1; x <= now; ++x) {
        const double v = 0.05 + 0.01 * x;
        schedule.push(v);
        sched_scale.push_back(v), cum.push_back(cum.back() + v), cum_sq.push_back(cum_sq.back() + v * v);
      }
      cuda::DeviceArray<double> d_scale, d_cum, d_cum_sq;
      d_scale.upload(sched_scale), d_cum.upload(cum), d_cum_sq.upload(cum_sq);
      const NoiseGenerator gen(seed, NoiseSource::gaussian);
      std::vector<int64_t> want_owed(T, 0), want_steps(T, 0);
      if (variant == 0) {
        cuda::launch_sparse_update(group.data(), T, dim, scale);
      } else if (variant == 1) {
        cuda::launch_sparse_noisy_update(group.data(), T, dim, scale, stddev, seed, cuda::DeviceNoise::gaussian, step);
      } else if (variant == 2) {
        cuda::launch_set_slots(group.data(), T, true);
        std::vector<cuda::UpdateTable> every = group;
        for (int64_t k = 0; k < T; ++k) every[k].rows = nullptr, every[k].count = cpu_tables[k].rows;
        cuda::launch_dense_noisy_update(every.data(), T, dim, scale, stddev, seed, cuda::DeviceNoise::gaussian, step);
        cuda::launch_set_slots(group.data(), T, false);
      } else {
        std::vector<cuda::UpdateTable> listed = group;  // the settle's rows, or adafest's selection
        for (int64_t k = 0; k < T; ++k) listed[k].rows = lst[k].data(), listed[k].count = static_cast<int64_t>(lists[k].size());
        if (settle) {
          cuda::launch_lazy_settle(listed.data(), T, dim, now, stddev, false, cuda::DeviceNoise::gaussian, seed,
                                   d_scale.data(), d_cum.data(), d_cum_sq.data(), variant == 4 ? 1 : 0);
        } else {
          cuda::launch_set_slots(group.data(), T, true);
          cuda::launch_selected_noisy_update(listed.data(), T, dim, scale, stddev, seed, cuda::DeviceNoise::gaussian,
                                             step);
          cuda::launch_set_slots(group.data(), T, false);
        }
      }
      cuda::synchronize();
      for (int64_t k = 0; k < T; ++k) {
        WorkCounters w;
        const uint32_t id = static_cast<uint32_t>(k);
        if (variant == 0) cpu::sparse_update(cpu_tables[k], grads[k], scale, w);
        if (variant == 1) cpu::sparse_noisy_update(cpu_tables[k], id, grads[k].rows, grads[k], scale, stddev, gen, step, w);
        if (variant == 2) cpu::dense_noisy_update(cpu_tables[k], id, grads[k], scale, stddev, gen, step, w);
        if (variant == 5) cpu::sparse_noisy_update(cpu_tables[k], id, lists[k], grads[k], scale, stddev, gen, step, w);
        if (settle) {
          for (int64_t r : lists[k]) want_steps[k] += history[k][r] < now ? now - history[k][r] : 0;
          const cpu::LazyNoiseParams p{stddev, LazyNoiseMode::aggregated, &gen, &schedule};
          want_owed[k] = cpu::lazy_catch_up(cpu_tables[k], id, lists[k], history[k], now, p, w);
        }
        const std::vector<float> got = t[k].download();
        for (int64_t x = 0; x < cpu_tables[k].rows * dim; ++x)
          ASSERT_TRUE(same_bits(got[x], cpu_tables[k].weights[x])) << "table " << k << " row " << x / dim << " column " << x % dim;
        if (settle) {
          EXPECT_EQ(h[k].download(), std::vector<uint32_t>(history[k].begin(), history[k].end())) << "table " << k;
        }
      }
      if (variant == 2 || variant == 5) {  // the slots are all cleared again
        const std::vector<int32_t> left = slots.download();
        EXPECT_EQ(std::count(left.begin(), left.end(), -1), all_rows);
      }
      const std::vector<unsigned long long> counters = owed.download();
      for (int64_t k = 0; k < T; ++k) {
        EXPECT_EQ(counters[2 * k], static_cast<unsigned long long>(want_owed[k])) << "table " << k;
        EXPECT_EQ(counters[2 * k + 1], static_cast<unsigned long long>(want_steps[k])) << "table " << k;
      }
    }
}

// A heavily skewed batch: row 4321 has 100,003 lookups (two or three per bag, not a multiple of the
// device's 32-lookup chunks), row 17 about 80, the rest a few each from 5000 rows. The device sums
// each row in lookup order like the CPU: bit-identical for every dim (below, across and at whole
// 32-column slices), with and without a per-example scale. Gradients of mixed magnitudes make any
// change of order visible.
TEST(CudaKernels, SkewedCoalesceIsBitIdenticalToTheCpuBackend) {
  REQUIRE_GPU();
  const int64_t B = 40000, hot = 4321, hot_lookups = 100003;
  uint64_t st = 0x9e3779b97f4a7c15ull;
  auto next = [&] {
    st = st * 6364136223846793005ull + 1442695040888963407ull;
    return st >> 33;
  };
  Batch batch;
  batch.size = B;
  batch.tables.resize(1);
  TableBatch& tb = batch.tables[0];
  tb.offsets.assign(1, 0);
  for (int64_t i = 0; i < B; ++i) {
    const int64_t h = i < hot_lookups - 2 * B ? 3 : 2, cold = static_cast<int64_t>(next() % 4);
    for (int64_t j = 0, hh = 0, cc = 0; j < h + cold; ++j) {  // hot and cold lookups interleaved
      const bool take_hot = cc == cold || (hh < h && j % 2 == 1);
      const int64_t r = static_cast<int64_t>(next() % 5000);
      tb.indices.push_back(take_hot ? hot : (r == hot ? hot + 1 : r));
      ++(take_hot ? hh : cc);
    }
    if (i % 997 == 0) tb.indices.insert(tb.indices.end(), {17, 17});
    tb.offsets.push_back(static_cast<int64_t>(tb.indices.size()));
  }
  ASSERT_EQ(std::count(tb.indices.begin(), tb.indices.end(), hot), hot_lookups);
  std::vector<float> scale(B);
  for (int64_t i = 0; i < B; ++i) scale[i] = 1.0f / (1.0f + 0.37f * static_cast<float>(next() % 1000));
  for (int64_t d : {16, 36, 64}) {
    cpu::PassBuffers buf;
    buf.batch = B, buf.features = 2, buf.dim = d;
    buf.dfeat.resize(static_cast<size_t>(B * 2 * d));
    for (float& x : buf.dfeat)
      x = std::ldexp(static_cast<float>(next() % 2000001) / 1e6f - 1.0f, static_cast<int>(next() % 24) - 12);
    std::vector<float> grad(static_cast<size_t>(B * d));
    for (int64_t i = 0; i < B; ++i) std::copy(buf.pooled_grad(i, 0), buf.pooled_grad(i, 0) + d, grad.begin() + i * d);
    WorkCounters work;
    const std::vector<float>* no_scale = nullptr;
    const std::vector<float>* with_scale = &scale;
    for (const std::vector<float>* s : {no_scale, with_scale}) {
      std::vector<cpu::SparseRows> want;
      cpu::coalesce_embedding_grads(batch, {5000}, buf, s, want, work);  // rows 0 .. 4999
      std::vector<int64_t> rows;
      std::vector<float> grads;
      cuda::coalesce_on_device(tb.offsets, tb.indices, 4999, grad, d, s, rows, grads);
      ASSERT_EQ(rows, want[0].rows) << "dim " << d;
      const std::vector<float> values = cpu::gradient_values(want[0], d);  // rows left in place, times their factor
      ASSERT_EQ(grads.size(), values.size());
      for (size_t k = 0; k < grads.size(); ++k)
        ASSERT_TRUE(same_bits(grads[k], values[k]))
            << "dim " << d << " row " << rows[k / d] << " column " << k % d;
    }
  }
}

// The project's own SGEMM (the fallback where cuBLAS cannot load) against a double-precision
// host product: every transpose, with and without accumulation; strides that are multiples of 4
// (16-byte loads) and strides that are not (scalar loads), C with padded rows; K not a multiple of
// the 8-value slice; K of 5000 on a C of 4 tiles, which splits K (partials added in a second
// launch, C's padding untouched); and K = 0 (C = 0, or C unchanged when accumulating).
TEST(CudaKernels, OwnGemmMatchesTheDefinition) {
  REQUIRE_GPU();
  struct Shape { int64_t M, N, K, pad; };
  for (const Shape sh : {Shape{300, 260, 77, 0}, Shape{300, 260, 77, 3}, Shape{200, 130, 5000, 0},
                         Shape{200, 130, 5000, 1}, Shape{129, 131, 0, 0}, Shape{5, 3, 2, 0}})
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (bool acc : {false, true}) {
          SCOPED_TRACE(std::to_string(sh.M) + "x" + std::to_string(sh.N) + "x" + std::to_string(sh.K) + " pad " +
                       std::to_string(sh.pad) + " ta " + std::to_string(ta) + " tb " + std::to_string(tb) + " acc " +
                       std::to_string(acc));
          const int64_t lda = (ta ? sh.M : sh.K) + sh.pad, ldb = (tb ? sh.K : sh.N) + sh.pad, ldc = sh.N + 2;
          std::vector<float> a(static_cast<size_t>((ta ? sh.K : sh.M) * lda)), b(static_cast<size_t>((tb ? sh.N : sh.K) * ldb));
          std::vector<float> c0(static_cast<size_t>(sh.M * ldc));
          for (size_t i = 0; i < a.size(); ++i) a[i] = 0.01f * static_cast<float>(i % 101) - 0.5f;
          for (size_t i = 0; i < b.size(); ++i) b[i] = 0.02f * static_cast<float>(i % 53) - 0.52f;
          for (size_t i = 0; i < c0.size(); ++i) c0[i] = 0.1f * static_cast<float>(i % 11) - 0.5f;
          cuda::DeviceArray<float> da, db, dc;
          da.upload(a), db.upload(b), dc.upload(c0);
          cuda::gemm_privrec(ta, tb, sh.M, sh.N, sh.K, da.data(), lda, db.data(), ldb, dc.data(), ldc, acc);
          std::vector<float> got(c0.size());
          cuda::copy_to_host(got.data(), dc.data(), got.size() * sizeof(float));
          const double mag = static_cast<double>(sh.K) * 0.52 * 0.52 + 0.5;
          for (int64_t r = 0; r < sh.M; ++r) {
            for (int64_t col = 0; col < sh.N; ++col) {
              double want = acc ? c0[r * ldc + col] : 0.0;
              for (int64_t k = 0; k < sh.K; ++k)
                want += static_cast<double>(ta ? a[k * lda + r] : a[r * lda + k]) * (tb ? b[col * ldb + k] : b[k * ldb + col]);
              ASSERT_NEAR(got[r * ldc + col], want, 1e-5 * mag) << "at " << r << "," << col;
            }
            for (int64_t col = sh.N; col < ldc; ++col) ASSERT_EQ(got[r * ldc + col], c0[r * ldc + col]);
          }
        }
}

// cuBLAS (loaded at run time) against the project's own kernel on the MLP's shapes and a few odd
// ones: both transposes, accumulate, padded strides, within 1e-5 relative to the magnitude of the
// sum. Skipped only where the fallback was asked for (PRIVREC_CUBLAS=off).
TEST(CudaKernels, CublasGemmMatchesTheOwnKernel) {
  REQUIRE_GPU();
  const cuda::CublasSession& s = cuda::cublas_session();
  if (const char* v = std::getenv("PRIVREC_CUBLAS"); v != nullptr && std::string(v) == "off") {
    EXPECT_STREQ(cuda::gemm_backend_name(), "privrec");
    GTEST_SKIP() << "PRIVREC_CUBLAS=off";
  }
  ASSERT_NE(s.handle, nullptr) << s.api.why_not;
  EXPECT_STREQ(cuda::gemm_backend_name(), "cublas");
  struct Shape { int64_t M, N, K; };
  for (const Shape sh : {Shape{2048, 512, 13}, Shape{4096, 256, 512}, Shape{256, 512, 4096}, Shape{67, 33, 129}})
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (bool acc : {false, true}) {
          const int64_t lda = (ta ? sh.M : sh.K) + 3, ldb = (tb ? sh.K : sh.N) + 1, ldc = sh.N + 2;
          std::vector<float> a(static_cast<size_t>((ta ? sh.K : sh.M) * lda)), b(static_cast<size_t>((tb ? sh.N : sh.K) * ldb));
          std::vector<float> c0(static_cast<size_t>(sh.M * ldc));
          for (size_t i = 0; i < a.size(); ++i) a[i] = 0.01f * static_cast<float>(i % 101) - 0.5f;
          for (size_t i = 0; i < b.size(); ++i) b[i] = 0.02f * static_cast<float>(i % 53) - 0.52f;
          for (size_t i = 0; i < c0.size(); ++i) c0[i] = 0.1f * static_cast<float>(i % 11) - 0.5f;
          cuda::DeviceArray<float> da, db, dc, dref;
          da.upload(a), db.upload(b), dc.upload(c0), dref.upload(c0);
          cuda::gemm(ta, tb, sh.M, sh.N, sh.K, da.data(), lda, db.data(), ldb, dc.data(), ldc, acc);
          cuda::gemm_privrec(ta, tb, sh.M, sh.N, sh.K, da.data(), lda, db.data(), ldb, dref.data(), ldc, acc);
          std::vector<float> got(c0.size()), want(c0.size());
          cuda::copy_to_host(got.data(), dc.data(), got.size() * sizeof(float));
          cuda::copy_to_host(want.data(), dref.data(), want.size() * sizeof(float));
          // Each term is at most 0.52^2, so K terms (plus C) bound the magnitude of the sum.
          const double mag = static_cast<double>(sh.K) * 0.52 * 0.52 + (acc ? 0.5 : 0.0);
          for (int64_t r = 0; r < sh.M; ++r)
            for (int64_t col = 0; col < sh.N; ++col)
              ASSERT_NEAR(got[r * ldc + col], want[r * ldc + col], 1e-5 * mag)
                  << sh.M << "x" << sh.N << "x" << sh.K << " ta " << ta << " tb " << tb << " acc " << acc << " at "
                  << r << "," << col;
          // The padding between rows of C is never written.
          for (int64_t r = 0; r < sh.M; ++r)
            for (int64_t col = sh.N; col < ldc; ++col) ASSERT_EQ(got[r * ldc + col], c0[r * ldc + col]);
        }
}

// The synthetic trace with some tables' bags emptied: table 0 (the largest) in every odd batch,
// the last one in batch 2. The batch upload packs every table's ids into one buffer, so an empty
// table's views sit between others' and must neither read nor shift its neighbours.
class TraceWithEmptyTables : public TraceSource {
 public:
  explicit TraceWithEmptyTables(const Workload& w) : inner_(w, 3) {}
  int64_t num_batches() const override { return -1; }
  Batch batch(int64_t index) const override {
    Batch b = inner_.batch(index);
    auto empty = [](TableBatch& t) {
      t.indices.clear();
      std::fill(t.offsets.begin(), t.offsets.end(), 0);
    };
    if (index % 2 == 1) empty(b.tables.front());
    if (index == 2) empty(b.tables.back());
    return b;
  }
  int64_t num_tables() const override { return inner_.num_tables(); }
  int64_t num_dense() const override { return inner_.num_dense(); }
  std::string describe() const override { return "synthetic with empty tables"; }

 private:
  SyntheticTrace inner_;
};

// test::train on any trace.
cpu::DlrmModel train_on_cpu(const Workload& w, const AlgorithmConfig& cfg, const TraceSource& trace, int64_t steps) {
  cpu::DlrmModel m = cpu::DlrmModel::create(w, 11);
  auto trainer = cpu::make_trainer(m, cfg);
  StepRecord setup;
  trainer->setup(trace, steps, setup);
  walk_steps(trace, steps, [&](int64_t t, const Batch& batch, const Batch* next) {
    StepRecord rec;
    trainer->step(t, batch, next, rec);
  });
  StepRecord fin;
  trainer->finish(steps, fin);
  return m;
}

// The one-copy batch upload (every table's offsets and indices, the dense features and labels in
// one pinned buffer, viewed per table on the device) with five tables of 1000, 200, 50, 5000 and 7
// rows and bags of different sizes, a batch of 13 (no piece a multiple of the packing's
// alignment), and tables emptied in some batches, which lazydp's catch-up also sees as the next
// batch: each algorithm on the device equals the CPU backend as in MatchTheCpuBackend. adafest
// and the dpsgd variants read the views through the pointer arrays, the norms and the coalesce.
TEST(CudaTrainers, MatchTheCpuBackendWithUnevenAndEmptyTables) {
  REQUIRE_GPU();
  Workload w = test::small_workload(13);
  TableSpec big = w.tables.front(), tiny = w.tables.back();
  big.name = "big", big.rows = 5000, big.pooling = 5;
  tiny.name = "seven", tiny.rows = 7, tiny.pooling = 1;
  w.tables.push_back(big), w.tables.push_back(tiny);
  const TraceWithEmptyTables trace(w);
  for (AlgorithmKind k : {AlgorithmKind::sgd, AlgorithmKind::dpsgd_b, AlgorithmKind::dpsgd_f, AlgorithmKind::lazydp,
                          AlgorithmKind::adafest}) {
    for (LazyNoiseMode mode : {LazyNoiseMode::aggregated, LazyNoiseMode::exact}) {
      if (mode == LazyNoiseMode::exact && k != AlgorithmKind::lazydp) continue;
      AlgorithmConfig cfg = test::algo(k, 0.8, 0.5);
      cfg.lazydp.noise = mode;
      const cpu::DlrmModel on_gpu = cuda::train_model_on_cuda(w, cfg, trace, 5, 11);
      const cpu::DlrmModel on_cpu = train_on_cpu(w, cfg, trace, 5);
      EXPECT_LT(max_rel_diff(on_gpu, on_cpu), 1e-4) << algorithm_info(k).name << " " << lazy_noise_mode_name(mode);
    }
  }
}

}  // namespace
}  // namespace privrec
