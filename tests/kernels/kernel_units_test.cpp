// Exact properties of single kernels: duplicate rows in a bag, lazydp's delayed-noise variance,
// counted work, memory planning.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/cpu/adafest_selection.hpp"
#include "kernels/cpu/bag_sum.hpp"
#include "kernels/cpu/cpu_training.hpp"
#include "kernels/cuda/cublas_loader.hpp"
#include "kernels/cuda/dense_ops.hpp"
#include "kernels/cuda/false_positive_plan.hpp"
#include "kernels/cpu/embedding_bag.hpp"
#include "kernels/cpu/gemm.hpp"
#include "kernels/cpu/lazydp_history.hpp"
#include "kernels/cpu/noisy_update.hpp"
#include "models/kernel_work/cpu_work.hpp"
#include "models/kernel_work/cuda_coalesce_plan.hpp"
#include "models/kernel_work/cuda_table_group.hpp"
#include "models/kernel_work/cuda_work.hpp"
#include "kernels/noise_rows.hpp"
#include "kernels/training_run.hpp"
#include "models/config_error.hpp"
#include "models/parallel_each.hpp"
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

// The bags' sums of count^2 (counted in a hash table per bag) against sorting each bag and squaring
// its runs, exactly: empty bags, bags of one id repeated, ids that collide in the table (a small
// id range), ids near the int64 limits, and bags far larger than the table any earlier bag sized
// (1000 and 5000 ids), over enough bags on every thread for their generation stamps to be reused.
TEST(EmbeddingBag, BagCountSquareSumsEqualTheSortedRunsSquared) {
  const int64_t B = 700, T = 3;
  Batch b;
  b.size = B;
  b.tables.resize(T);
  uint64_t state = 99;
  auto next = [&state] { return state = state * 6364136223846793005ull + 1442695040888963407ull, state >> 17; };
  for (int64_t t = 0; t < T; ++t) {
    auto& tb = b.tables[t];
    tb.offsets = {0};
    for (int64_t i = 0; i < B; ++i) {
      const int64_t n = i % 97 == 5 ? 5000 : i % 53 == 7 ? 1000 : i % 11 == 0 ? 0 : static_cast<int64_t>(next() % 90);
      const int64_t range = t == 0 ? 7 : t == 1 ? 1000 : int64_t{1} << 40;
      for (int64_t k = 0; k < n; ++k) {
        int64_t id = static_cast<int64_t>(next() % static_cast<uint64_t>(range));
        if (t == 2 && k % 5 == 0) id = std::numeric_limits<int64_t>::max() - id % 3;
        if (i % 13 == 1) id = 42;  // one id repeated
        tb.indices.push_back(id);
      }
      tb.offsets.push_back(static_cast<int64_t>(tb.indices.size()));
    }
  }
  WorkCounters w;
  const std::vector<float> got = bag_count_square_sums(b, w);
  ASSERT_EQ(got.size(), static_cast<size_t>(B * T));
  for (int64_t i = 0; i < B; ++i)
    for (int64_t t = 0; t < T; ++t) {
      const auto& tb = b.tables[t];
      std::vector<int64_t> bag(tb.indices.begin() + tb.offsets[i], tb.indices.begin() + tb.offsets[i + 1]);
      std::sort(bag.begin(), bag.end());
      double want = 0;
      for (size_t k = 0; k < bag.size();) {
        size_t e = k;
        while (e < bag.size() && bag[e] == bag[k]) ++e;
        want += static_cast<double>((e - k) * (e - k));
        k = e;
      }
      ASSERT_EQ(got[i * T + t], static_cast<float>(want)) << "example " << i << " table " << t;
    }
  // One probe a lookup, counted as a sort step.
  uint64_t lookups = 0;
  for (const auto& tb : b.tables) lookups += tb.indices.size();
  EXPECT_EQ(w.sort_ops, lookups);
}

// The forward bag sum is a plain loop's, bit for bit, through every row width's path (registers
// for 16, 32 and 64 floats, the output itself for any other): a zeroed sum plus each row in lookup
// order. Bags of 0, 1 and several lookups (repeats included), and a row of negative zeros, whose
// sum alone is +0 (0 + -0), not -0.
TEST(EmbeddingBag, ForwardSumsEachBagInLookupOrderExactly) {
  for (int64_t d : {8, 16, 24, 32, 64, 128}) {
    SCOPED_TRACE(d);
    const int64_t R = 40;
    std::vector<float> rows(R * d);
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<float>(std::sin(0.71 * static_cast<double>(i)) * 3.1);
    for (int64_t c = 0; c < d; ++c) rows[7 * d + c] = -0.0f;
    const std::vector<int64_t> offsets = {0, 0, 1, 4, 4, 5, 13, 14, 20};
    const std::vector<int64_t> idx = {3, 5, 5, 9, 7, 1, 2, 3, 1, 39, 0, 11, 12, 7, 7, 7, 30, 31, 2, 2};
    const int64_t bags = static_cast<int64_t>(offsets.size()) - 1;
    std::vector<float> out(bags * d, 123.0f);
    sum_bags_any(rows.data(), d, idx.data(), offsets.data(), 0, bags, [&](int64_t i) { return out.data() + i * d; });
    for (int64_t i = 0; i < bags; ++i)
      for (int64_t c = 0; c < d; ++c) {
        float ref = 0.0f;
        for (int64_t k = offsets[i]; k < offsets[i + 1]; ++k) ref += rows[idx[k] * d + c];
        ASSERT_EQ(std::signbit(out[i * d + c]), std::signbit(ref)) << "bag " << i << " col " << c;
        ASSERT_EQ(out[i * d + c], ref) << "bag " << i << " col " << c;
      }
  }
}

// Coalescing is a sort and a segment sum: each distinct row, in ascending order, gets s_i x g_i of
// its lookups added in lookup order (the CUDA backend sums in that order too). A plain reference
// of that definition equals it bit for bit, on skewed bags (rows repeated within and across bags)
// with and without the clip factors, through both paths (lookups, and materialized per-example
// rows, keyed by example and by entry).
TEST(EmbeddingBag, CoalescingSumsEachRowInLookupOrderExactly) {
  // 300 x 9 lookups a table go through the radix sort, 4 x 12 through the comparison sort of short
  // lists (traces/row_sort.hpp), when the tables are declared too large for the slot map; at their
  // own size, through the slot map (cpu_work::coalesce_by_slots: 8 or more lookups an example).
  for (const auto& [examples, pooling, slots] : {std::tuple<int64_t, int64_t, bool>{300, 9, false}, {4, 12, false},
                                                 {300, 9, true}, {4, 12, true}}) {
    SCOPED_TRACE(::testing::Message() << examples << (slots ? " slots" : " sort"));
    Workload w = test::small_workload(examples, "zipf:1.1");
    w.set_pooling(pooling);
    const Batch batch = SyntheticTrace(w, 5).batch(0);
    const int64_t B = batch.size, T = static_cast<int64_t>(batch.tables.size()), d = w.tables[0].dim;
    PassBuffers buf;
    buf.batch = B, buf.features = T + 1, buf.dim = d;
    buf.dfeat.resize(B * (T + 1) * d);
    for (size_t i = 0; i < buf.dfeat.size(); ++i) buf.dfeat[i] = std::sin(0.37 * static_cast<double>(i)) * 1.3f;
    std::vector<float> scale(B);
    for (int64_t i = 0; i < B; ++i) scale[i] = 0.25f + 0.5f * std::cos(static_cast<double>(i));
    auto reference = [&](int64_t t, const std::vector<float>* s) {
      std::map<int64_t, std::vector<float>> rows;
      const auto& tb = batch.tables[t];
      for (int64_t i = 0; i < B; ++i)
        for (int64_t k = tb.offsets[i]; k < tb.offsets[i + 1]; ++k) {
          const float f = s ? (*s)[i] : 1.0f;
          const float* g = buf.pooled_grad(i, t);
          auto [it, fresh] = rows.try_emplace(tb.indices[k], d, 0.0f);
          for (int64_t c = 0; c < d; ++c) it->second[c] = fresh ? f * g[c] : it->second[c] + f * g[c];
        }
      return rows;
    };
    const bool by_slots = slots;  // a lambda cannot capture a structured binding (clang, C++20)
    auto expect_equal = [&](const std::vector<SparseRows>& got, const std::vector<float>* s, const char* what) {
      ASSERT_EQ(static_cast<int64_t>(got.size()), T);
      for (int64_t t = 0; t < T; ++t) {
        const auto ref = reference(t, s);
        ASSERT_EQ(got[t].rows.size(), ref.size()) << what << " table " << t;
        // The sort leaves each row one lookup touched in the pooled gradients, times its example's
        // factor, and sums only the others; the slot map sums every row.
        const auto& tb = batch.tables[t];
        std::map<int64_t, int64_t> hits;
        for (const int64_t r : tb.indices) ++hits[r];
        int64_t singles = 0;
        for (const auto& [row, n] : hits) singles += n == 1;
        EXPECT_EQ(got[t].in_place_rows, by_slots ? 0 : singles) << what << " table " << t;
        EXPECT_EQ(static_cast<int64_t>(got[t].grads.size()), (static_cast<int64_t>(ref.size()) - got[t].in_place_rows) * d);
        const std::vector<float> values = gradient_values(got[t], d);
        size_t u = 0;
        for (const auto& [row, sum] : ref) {
          ASSERT_EQ(got[t].rows[u], row) << what;
          if (!by_slots && hits[row] == 1) {  // its one lookup's pooled gradient, where it lies
            int64_t i = 0;
            while (std::find(tb.indices.begin() + tb.offsets[i], tb.indices.begin() + tb.offsets[i + 1], row) ==
                   tb.indices.begin() + tb.offsets[i + 1])
              ++i;
            EXPECT_EQ(got[t].values(u, d), buf.pooled_grad(i, t)) << what << " row " << row;
            EXPECT_EQ(got[t].factor(u), s ? (*s)[i] : 1.0f) << what << " row " << row;
          }
          for (int64_t c = 0; c < d; ++c) ASSERT_EQ(values[u * d + c], sum[c]) << what << " row " << row << " col " << c;
          ++u;
        }
      }
    };
    std::vector<int64_t> rows;
    for (const TableSpec& t : w.tables) rows.push_back(slots ? t.rows : int64_t{1} << 40);
    for (int64_t t = 0; t < T; ++t)
      ASSERT_EQ(cpu_work::coalesce_by_slots(static_cast<uint64_t>(rows[t]), static_cast<uint64_t>(d),
                                            batch.tables[t].indices.size(), static_cast<uint64_t>(B)),
                slots);
    WorkCounters work;
    std::vector<SparseRows> out;
    coalesce_embedding_grads(batch, rows, buf, nullptr, out, work);
    expect_equal(out, nullptr, "unscaled");
    if (slots) {  // each id marked and each row scanned, a key-step each; no sort
      uint64_t steps = 0;
      for (int64_t t = 0; t < T; ++t) steps += batch.tables[t].indices.size() + static_cast<uint64_t>(rows[t]);
      EXPECT_EQ(work.sort_ops, steps);
    }
    coalesce_embedding_grads(batch, rows, buf, &scale, out, work);
    expect_equal(out, &scale, "clipped");
    // Through the materialized per-example rows (dpsgd-b/r): each bag's copies of a row are first
    // one entry, count x g, and the entries sum in example order: s_i x (count x g_i), exactly.
    std::vector<ExampleRows> per_example;
    std::vector<double> norm2(B, 0.0);
    materialize_embedding_grads(batch, buf, per_example, norm2, work);
    std::vector<SparseRows> via;
    coalesce_materialized(per_example, scale, d, via, work);
    ASSERT_EQ(static_cast<int64_t>(via.size()), T);
    for (int64_t t = 0; t < T; ++t) {
      std::map<int64_t, std::vector<float>> ref;
      const auto& tb = batch.tables[t];
      for (int64_t i = 0; i < B; ++i) {
        std::map<int64_t, int> counts;
        for (int64_t k = tb.offsets[i]; k < tb.offsets[i + 1]; ++k) ++counts[tb.indices[k]];
        const float* g = buf.pooled_grad(i, t);
        for (const auto& [row, n] : counts) {
          auto [it, fresh] = ref.try_emplace(row, d, 0.0f);
          for (int64_t c = 0; c < d; ++c) {
            const float v = scale[i] * (static_cast<float>(n) * g[c]);
            it->second[c] = fresh ? v : it->second[c] + v;
          }
        }
      }
      ASSERT_EQ(via[t].rows.size(), ref.size()) << "table " << t;
      size_t u = 0;
      for (const auto& [row, sum] : ref) {
        ASSERT_EQ(via[t].rows[u], row);
        for (int64_t c = 0; c < d; ++c) ASSERT_EQ(via[t].values(u, d)[c], sum[c]) << "materialized row " << row;
        ++u;
      }
    }
  }
}

// An exception inside an OpenMP loop would end the process: parallel_each runs every body, then
// throws the first failure by index, so a bad id reaches the user as its message.
TEST(ParallelEach, RunsEveryBodyAndThrowsTheFirstFailureByIndex) {
  std::vector<int> ran(40, 0);
  try {
    parallel_each(40, [&](int64_t i) {
      ran[static_cast<size_t>(i)] = 1;
      if (i == 7 || i == 31) throw std::out_of_range("body " + std::to_string(i));
    });
    FAIL() << "no exception";
  } catch (const std::out_of_range& e) {
    EXPECT_STREQ(e.what(), "body 7");
  }
  EXPECT_EQ(std::count(ran.begin(), ran.end(), 1), 40);
  parallel_each(0, [&](int64_t) { FAIL() << "a body ran for n = 0"; });
}

TEST(EmbeddingBag, AnIdOutsideItsTableIsAnErrorNotAnAbort) {
  Workload w = test::small_workload(64, "uniform");
  w.set_pooling(12);  // the slot path (8 or more lookups an example)
  const Batch batch = SyntheticTrace(w, 5).batch(0);
  const int64_t T = static_cast<int64_t>(batch.tables.size()), d = w.tables[0].dim;
  PassBuffers buf;
  buf.batch = batch.size, buf.features = T + 1, buf.dim = d;
  buf.dfeat.assign(batch.size * (T + 1) * d, 1.0f);
  std::vector<int64_t> rows;
  for (const TableSpec& t : w.tables) rows.push_back(t.rows);
  ASSERT_TRUE(cpu_work::coalesce_by_slots(static_cast<uint64_t>(rows[1]), static_cast<uint64_t>(d),
                                          batch.tables[1].indices.size(), static_cast<uint64_t>(batch.size)));
  // Table 1's ids made even, but its last one past the table's end; then all made odd. One thread,
  // so both calls share one slot map: had the bad call marked its even rows before it threw, the
  // second call would list them among a table's rows (the first whose scan covers them).
  Batch bad = batch, odd = batch;
  for (int64_t& r : bad.tables[1].indices) r = (2 * r) % (rows[1] - 1) & ~int64_t{1};
  bad.tables[1].indices.back() = rows[1];
  for (int64_t& r : odd.tables[1].indices) r = ((2 * r) % (rows[1] - 1)) | 1;
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  WorkCounters work;
  std::vector<SparseRows> out;
  EXPECT_THROW(coalesce_embedding_grads(bad, rows, buf, nullptr, out, work), std::out_of_range);
  for (int64_t t = 0; t < T; ++t) {  // the other tables were coalesced all the same
    if (t == 1) continue;
    const std::set<int64_t> distinct(batch.tables[t].indices.begin(), batch.tables[t].indices.end());
    EXPECT_EQ(out[t].rows, std::vector<int64_t>(distinct.begin(), distinct.end())) << "table " << t;
  }
  coalesce_embedding_grads(odd, rows, buf, nullptr, out, work);
  omp_set_num_threads(threads);
  for (int64_t t = 0; t < T; ++t) {  // a stale mark would surface in whichever table scans its row first
    const std::set<int64_t> distinct(odd.tables[t].indices.begin(), odd.tables[t].indices.end());
    EXPECT_EQ(out[t].rows, std::vector<int64_t>(distinct.begin(), distinct.end())) << "table " << t;
  }
}

namespace {
// A table of `rows` rows of d floats with known weights, and a gradient on the rows r % 3 != 1.
EmbeddingTable numbered_table(int64_t rows, int64_t d) {
  EmbeddingTable table;
  table.rows = table.table_rows = rows, table.dim = d, table.weights = FloatArray(rows * d);
  for (int64_t k = 0; k < rows * d; ++k) table.weights[k] = 0.001f * static_cast<float>(k % 101);
  return table;
}
SparseRows gradient_off_every_third(int64_t rows, int64_t d) {
  SparseRows grad;
  for (int64_t r = 0; r < rows; ++r)
    if (r % 3 != 1) grad.rows.push_back(r);
  grad.grads.resize(grad.rows.size() * d);
  for (size_t k = 0; k < grad.grads.size(); ++k) grad.grads[k] = 0.01f * static_cast<float>(k % 17) - 0.07f;
  return grad;
}
// Each updated row is w - s (g + sigma z), or w - s sigma z without a gradient, with z the
// generator's own noise (step 3, table 2, s 0.05, sigma 0.4); the other rows are as they were.
void expect_noisy_rows(const EmbeddingTable& table, const SparseRows& grad, const std::vector<bool>& updated,
                       const NoiseGenerator& noise, const std::string& what) {
  const int64_t d = table.dim;
  std::vector<float> z(d);
  for (int64_t r = 0; r < table.rows; ++r) {
    const auto g = std::lower_bound(grad.rows.begin(), grad.rows.end(), r);
    const bool has = g != grad.rows.end() && *g == r;
    noise.fill(RngDomain::table_noise, 3, 2, static_cast<uint64_t>(r), d, z.data());
    for (int64_t c = 0; c < d; ++c) {
      float want = 0.001f * static_cast<float>((r * d + c) % 101);
      if (updated[r]) {
        const float gc = has ? grad.grads[(g - grad.rows.begin()) * d + c] : 0.0f;
        want -= has ? 0.05f * (gc + 0.4f * z[c]) : 0.05f * (0.4f * z[c]);
      }
      ASSERT_EQ(table.weights[r * d + c], want) << what << ", d " << d << ": row " << r << " column " << c;
    }
  }
}
}  // namespace

// The sparse noisy update finds each listed row's gradient among the gradient's rows, whatever
// the two lists' densities: a few selected rows (adafest) among many gradient rows, the gradient's
// own rows (eana, which take no search), listed rows with no gradient, and an empty gradient; at
// widths compiled as constants (16 to 128) and at others (8, 40).
TEST(NoisyUpdate, SparseRowsFindTheirGradientsAtAnyDensity) {
  const int64_t rows = 5000;
  const NoiseGenerator noise(7, NoiseSource::gaussian);
  for (const int64_t d : {8, 16, 32, 40, 64, 128}) {
    const SparseRows grad = gradient_off_every_third(rows, d);
    std::vector<int64_t> few, near_all;
    for (int64_t r = 3; r < rows; r += 97) few.push_back(r);  // both with and without a gradient
    for (int64_t r = 0; r < rows; ++r)
      if (r % 5 != 0) near_all.push_back(r);
    const std::vector<const std::vector<int64_t>*> lists = {&few, &grad.rows, &near_all};
    for (const auto* listed : lists) {
      EmbeddingTable table = numbered_table(rows, d);
      WorkCounters w;
      sparse_noisy_update(table, 2, *listed, grad, 0.05f, 0.4f, noise, 3, w);
      std::vector<bool> is_listed(rows, false);
      for (int64_t r : *listed) is_listed[r] = true;
      expect_noisy_rows(table, grad, is_listed, noise, std::to_string(listed->size()) + " listed rows");
    }
    const SparseRows none;
    EmbeddingTable table = numbered_table(rows, d);
    WorkCounters w;
    sparse_noisy_update(table, 2, near_all, none, 0.05f, 0.4f, noise, 3, w);
    std::vector<bool> is_listed(rows, false);
    for (int64_t r : near_all) is_listed[r] = true;
    expect_noisy_rows(table, none, is_listed, noise, "no gradient");
  }
}

// The dense noisy update is the same formula on every row, with a gradient and without, at
// constant and run-time widths. 5000 rows end in a partial chunk of 392, which ends in a partial
// fill at every width here but 128 (d 40 also at every chunk's end: 25 rows a fill).
TEST(NoisyUpdate, DenseUpdateIsTheFormulaOnEveryRow) {
  const int64_t rows = 5000;
  const NoiseGenerator noise(7, NoiseSource::gaussian);
  for (const int64_t d : {8, 16, 32, 40, 64, 128}) {
    const SparseRows grad = gradient_off_every_third(rows, d), none;
    for (const SparseRows* g : {&grad, &none}) {
      EmbeddingTable table = numbered_table(rows, d);
      WorkCounters w;
      dense_noisy_update(table, 2, *g, 0.05f, 0.4f, noise, 3, w);
      expect_noisy_rows(table, *g, std::vector<bool>(rows, true), noise, g == &grad ? "dense" : "dense, no gradient");
    }
  }
}

// sgd's (and lazydp's) sparse update: each gradient row becomes w - s g and the others stay, at
// every width the presets use (16 to 128) and others (8, 40).
TEST(SparseUpdate, EachGradientRowMovesByItsScaledGradient) {
  const int64_t rows = 5000;
  for (const int64_t d : {8, 16, 32, 40, 64, 128}) {
    const SparseRows grad = gradient_off_every_third(rows, d);
    EmbeddingTable table = numbered_table(rows, d);
    WorkCounters w;
    sparse_update(table, grad, 0.05f, w);
    for (int64_t r = 0; r < rows; ++r) {
      const auto g = std::lower_bound(grad.rows.begin(), grad.rows.end(), r);
      const bool has = g != grad.rows.end() && *g == r;
      for (int64_t c = 0; c < d; ++c) {
        float want = 0.001f * static_cast<float>((r * d + c) % 101);
        if (has) want -= 0.05f * grad.grads[(g - grad.rows.begin()) * d + c];
        ASSERT_EQ(table.weights[r * d + c], want) << "d " << d << ": row " << r << " column " << c;
      }
    }
  }
}

// A gradient whose rows one lookup touched are left in place (the coalesce's pooled gradients,
// times their example's factor) updates every table exactly as the same gradient written out in
// full does: each consumer multiplies the factor in first, as the coalesce would have.
TEST(SparseUpdate, RowsLeftInPlaceUpdateAsTheirValuesWrittenOut) {
  const int64_t rows = 5000;
  const NoiseGenerator noise(7, NoiseSource::gaussian);
  for (const int64_t d : {8, 40, 128}) {
    const SparseRows full = gradient_off_every_third(rows, d);
    std::vector<float> pooled(full.rows.size() * d);
    for (size_t k = 0; k < pooled.size(); ++k) pooled[k] = std::sin(0.3 * static_cast<double>(k));
    SparseRows mixed;  // every other row in place, with a factor; the rest summed in grads
    mixed.rows = full.rows;
    size_t summed = 0;
    for (size_t u = 0; u < full.rows.size(); ++u) summed += u % 2 == 0;
    mixed.grads.resize(summed * d);
    for (size_t u = 0, m = 0; u < full.rows.size(); ++u) {
      if (u % 2 == 0) {
        std::copy_n(full.grads.data() + u * d, d, mixed.grads.data() + m * d);
        mixed.src.push_back(mixed.grads.data() + (m++) * d), mixed.src_scale.push_back(1.0f);
      } else {
        mixed.src.push_back(pooled.data() + u * d), mixed.src_scale.push_back(0.3f + 0.001f * static_cast<float>(u));
        ++mixed.in_place_rows;
      }
    }
    SparseRows written;
    written.rows = mixed.rows;
    const std::vector<float> values = gradient_values(mixed, d);
    written.grads.assign(values.begin(), values.end());
    for (size_t u = 0; u < full.rows.size(); u += 2)  // the summed rows' values are their own
      for (int64_t c = 0; c < d; ++c) ASSERT_EQ(written.grads[u * d + c], full.grads[u * d + c]);
    std::vector<int64_t> few;
    for (int64_t r = 3; r < rows; r += 97) few.push_back(r);
    for (int variant = 0; variant < 4; ++variant) {
      EmbeddingTable a = numbered_table(rows, d), b = numbered_table(rows, d);
      WorkCounters w;
      for (auto [table, g] : {std::pair{&a, &mixed}, std::pair{&b, &written}}) {
        if (variant == 0) sparse_update(*table, *g, 0.05f, w);
        if (variant == 1) dense_noisy_update(*table, 2, *g, 0.05f, 0.4f, noise, 3, w);
        if (variant == 2) sparse_noisy_update(*table, 2, g->rows, *g, 0.05f, 0.4f, noise, 3, w);
        if (variant == 3) sparse_noisy_update(*table, 2, few, *g, 0.05f, 0.4f, noise, 3, w);
      }
      for (size_t k = 0; k < a.weights.size(); ++k)
        ASSERT_EQ(std::bit_cast<uint32_t>(a.weights[k]), std::bit_cast<uint32_t>(b.weights[k]))
            << "variant " << variant << ", d " << d << ", value " << k;
    }
  }
}

// Row-wise sharding (REFERENCE.md section 7): each owner computes its rows' part of every
// example's ghost norm, |pooled grad|^2 x (sum over its rows of count^2), and comm.norm sums them.
// A row lives in one block, so the count-square sums add up exactly (small integers in floats);
// the norms are sums of the same exact double products in another order, equal to within T
// roundings of 2^-53 each (1e-13 relative).
TEST(EmbeddingBag, GhostNormsSummedOverRowShardsAreTheWholeTablesNorms) {
  Workload w = test::small_workload(64, "zipf:1.2");  // skew: bags with repeated rows
  w.set_pooling(6);
  const Batch batch = SyntheticTrace(w, 9).batch(0);
  const int64_t T = static_cast<int64_t>(w.tables.size()), d = w.embedding_dim(), B = batch.size, k = 3;
  PassBuffers buf;
  buf.batch = B, buf.features = T + 1, buf.dim = d;
  buf.dfeat.resize(static_cast<size_t>(B * (T + 1) * d));
  for (size_t i = 0; i < buf.dfeat.size(); ++i) buf.dfeat[i] = std::sin(0.37 * static_cast<double>(i)) * 0.1f;
  WorkCounters work;
  const std::vector<float> whole_sq = bag_count_square_sums(batch, work);
  std::vector<double> whole(B, 0.0), summed(B, 0.0);
  ghost_norms_embedding(buf, whole_sq, whole, work);
  std::vector<float> sq_sum(whole_sq.size(), 0.0f);
  for (int64_t b = 0; b < k; ++b) {
    Batch shard = batch;  // the ids of block b of every table, bag by bag
    for (int64_t t = 0; t < T; ++t) {
      const int64_t block = (w.tables[t].rows + k - 1) / k;
      auto& tb = shard.tables[t];
      tb.indices.clear();
      for (int64_t i = 0; i < B; ++i) {
        for (int64_t j = batch.tables[t].offsets[i]; j < batch.tables[t].offsets[i + 1]; ++j)
          if (batch.tables[t].indices[j] / block == b) tb.indices.push_back(batch.tables[t].indices[j]);
        tb.offsets[i + 1] = static_cast<int64_t>(tb.indices.size());
      }
    }
    const std::vector<float> sq = bag_count_square_sums(shard, work);
    for (size_t i = 0; i < sq.size(); ++i) sq_sum[i] += sq[i];
    ghost_norms_embedding(buf, sq, summed, work);
  }
  EXPECT_EQ(sq_sum, whole_sq);
  for (int64_t i = 0; i < B; ++i) EXPECT_NEAR(summed[i], whole[i], 1e-13 * whole[i]) << "example " << i;
  EXPECT_GT(*std::max_element(whole_sq.begin(), whole_sq.end()), 6.0f);  // some bag repeats a row
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
  HugePageVector<uint32_t> history(rows);
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
  EXPECT_NE(plan.note.find("the largest batch that fits is"), std::string::npos);
  EXPECT_EQ(plan_cpu_memory(small, AlgorithmKind::sgd, 8LL << 30).batch, 2048);
  EXPECT_THROW(plan_cpu_memory(w, AlgorithmKind::sgd, 8LL << 30), InputError);  // 96 GB of tables
}

// The model's progress hears every byte of every table once, in pieces (a 77 MB table is two), and
// reporting progress changes no value.
TEST(DlrmModel, CreateReportsEveryTableByteOnceAndTheSameValues) {
  Workload w = test::small_workload(8);
  w.tables[0].rows = 300000, w.tables[0].dim = 64;  // 76.8 MB: more than one 64 MB piece
  std::vector<int64_t> done;
  int64_t total = -1;
  const cpu::DlrmModel with = cpu::DlrmModel::create(w, 3, [&](int64_t d, int64_t t) { done.push_back(d), total = t; });
  ASSERT_EQ(total, w.table_bytes());
  ASSERT_GE(done.size(), w.tables.size() + 1);
  EXPECT_TRUE(std::is_sorted(done.begin(), done.end()) && std::adjacent_find(done.begin(), done.end()) == done.end());
  EXPECT_EQ(done.back(), total);
  const cpu::DlrmModel without = cpu::DlrmModel::create(w, 3);
  for (size_t t = 0; t < w.tables.size(); ++t) {
    const auto& a = with.tables[t].weights;
    const auto& b = without.tables[t].weights;
    EXPECT_TRUE(std::equal(a.data(), a.data() + w.tables[t].rows * w.tables[t].dim, b.data())) << "table " << t;
  }
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

// The weight-gradient form: A stored transposed (K x M) and a factor per k applied to B's rows,
// against the definition. Small integers and power-of-two factors keep every sum exact, so the
// comparison is exact whichever way the threads split the product: the shapes take both the
// column-split path (few rows, long K, enough panels) and the row-split path, with ragged edges.
TEST(Gemm, TransposedAndScaledEqualsTheDefinitionExactly) {
  struct Shape { int64_t m, n, k; bool acc; };
  for (const Shape s : {Shape{1, 128, 2048, false}, Shape{7, 33, 300, true}, Shape{13, 530, 600, false},
                        Shape{256, 13, 2048, false}, Shape{64, 40, 17, true}, Shape{6, 16, 256, false}}) {
    const int64_t lda = s.m + 3, ldb = s.n + 5, ldc = s.n + 2;
    std::vector<float> At(s.k * lda), B(s.k * ldb), scale(s.k), C(s.m * ldc), want;
    uint32_t x = 777;
    auto next = [&x] { x = x * 1664525u + 1013904223u; return x >> 16; };
    for (auto& v : At) v = static_cast<float>(static_cast<int>(next() % 9) - 4);
    for (auto& v : B) v = static_cast<float>(static_cast<int>(next() % 9) - 4);
    for (auto& v : C) v = static_cast<float>(static_cast<int>(next() % 9) - 4);
    for (auto& v : scale) v = std::ldexp(1.0f, static_cast<int>(next() % 5) - 2);  // 1/4 .. 4
    want = C;
    for (int64_t i = 0; i < s.m; ++i)
      for (int64_t j = 0; j < s.n; ++j) {
        double sum = s.acc ? want[i * ldc + j] : 0.0;
        for (int64_t k = 0; k < s.k; ++k) sum += double(At[k * lda + i]) * scale[k] * B[k * ldb + j];
        want[i * ldc + j] = static_cast<float>(sum);
      }
    privrec::cpu::sgemm(s.m, s.n, s.k, {.data = At.data(), .ld = lda, .transposed = true}, scale.data(), B.data(), ldb,
                        C.data(), ldc, s.acc);
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
// The SGEMM's launch geometry: every 128 x 128 tile of C and every range of K is computed by exactly
// one work item, and the one-dimensional grid stays within the x limit and the cap, from a single
// tile up to the workloads' 2^24-row batches with wide layers. The old grid put the row tiles on
// gridDim.y (at most 65535), so batches above 65535 * 64 = 4,194,240 rows failed to launch.
TEST(CudaGeometry, GemmTilesCoverCExactlyOnce) {
  struct Shape {
    int64_t M, N, K, target;
  };
  constexpr int64_t T = cuda::GemmGrid::kTile;
  const int64_t big = int64_t{1} << 24;
  for (Shape s : {Shape{1, 1, 1, 0}, Shape{128, 128, 7, 264}, Shape{129, 260, 4096, 264}, Shape{512, 512, 2048, 264},
                  Shape{512, 512, 65536, 264}, Shape{13, 70, 65536, 264}, Shape{512, 13, 300, 264},
                  Shape{(int64_t{1} << 22) + 1000, 70, 13, 264}, Shape{big, 13, 512, 264}, Shape{big, 4096, 13, 264}}) {
    SCOPED_TRACE(std::to_string(s.M) + " x " + std::to_string(s.N) + " x " + std::to_string(s.K));
    const cuda::GemmGrid g = cuda::gemm_grid(s.M, s.N, s.K, s.target);
    ASSERT_EQ(g.row_tiles, (s.M + T - 1) / T);
    ASSERT_EQ(g.col_tiles, (s.N + T - 1) / T);
    ASSERT_GE(g.splits, 1);
    ASSERT_LE(g.splits, cuda::GemmGrid::kMaxSplits);
    ASSERT_GE(g.blocks(), 1);
    ASSERT_LE(g.blocks(), std::min<int64_t>(cuda::GemmGrid::kMaxBlocks, std::numeric_limits<int32_t>::max()));
    if (g.splits > 1) {
      ASSERT_EQ(g.split_k % cuda::GemmGrid::kSlice, 0);  // every split starts on a slice
      ASSERT_GE(g.split_k, cuda::GemmGrid::kMinSplitK);
      ASSERT_LE(g.items(), s.target + g.tiles());  // no more splits than the device holds blocks for
    }
    // The kernel's item loop, block by block: each (tile, K range) once, the ranges of a tile
    // tiling [0, K) in order, none empty unless K is.
    std::vector<int64_t> seen(static_cast<size_t>(g.tiles()), 0), next_k(static_cast<size_t>(g.tiles()), 0);
    for (int64_t b = 0; b < g.blocks(); ++b)
      for (int64_t w = b; w < g.items(); w += g.blocks()) {
        const int64_t t = g.tile(w), r = g.row0(t), c = g.col0(t);
        ASSERT_TRUE(r >= 0 && r < s.M && c >= 0 && c < s.N && r % T == 0 && c % T == 0) << "item " << w;
        const int64_t k0 = g.k_begin(w, s.K), k1 = g.k_end(w, s.K);
        ASSERT_TRUE(k0 < k1 || s.K == 0) << "item " << w;
        ASSERT_EQ(k0, w / g.tiles() * g.split_k) << "item " << w;
        if (w / g.tiles() == g.splits - 1) {
          ASSERT_EQ(k1, s.K) << "item " << w;
        }
        seen[static_cast<size_t>(r / T * g.col_tiles + c / T)]++;
        next_k[static_cast<size_t>(t)] += k1 - k0;
      }
    ASSERT_EQ(std::count(seen.begin(), seen.end(), g.splits), g.tiles());
    ASSERT_EQ(std::count(next_k.begin(), next_k.end(), s.K), g.tiles());
  }
  EXPECT_GT(cuda::gemm_grid(big, 13).row_tiles, 65535);  // past any y limit
  // The weight gradients split (512 x 512 is 16 tiles; 264 resident blocks on an H200's 132 SMs),
  // the forward's products (K = a layer's width) do not, nor does anything without a target.
  EXPECT_EQ(cuda::gemm_grid(512, 512, 65536, 264).splits, 17);
  EXPECT_EQ(cuda::gemm_grid(512, 512, 2048, 264).splits, 8);
  EXPECT_EQ(cuda::gemm_grid(65536, 512, 512, 264).splits, 1);
  EXPECT_EQ(cuda::gemm_grid(512, 512, 65536, 0).splits, 1);
}

// The backward's grouped coalesce (models/kernel_work/cuda_coalesce_plan.hpp), on the host: tables
// join one sort while their keys fit 64 bits and split into consecutive groups where they would not,
// each group with its own tables' row bits; one table that cannot fit alone is refused; the
// launches the model counts follow the groups.
TEST(CudaGeometry, CoalesceGroupsFit64KeyBits) {
  using cuda_work::plan_coalesce_groups;
  auto same = [](size_t n, int64_t v) { return std::vector<int64_t>(n, v); };
  // rmc2-like: 40 tables of 163840 lookups (18 bits each; 23 together), rows below 2^20, 6 table bits.
  auto g = plan_coalesce_groups(same(40, 163840), same(40, (int64_t{1} << 20) - 1));
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].tables, 40);
  EXPECT_EQ(g[0].lookups, 40 * 163840);
  EXPECT_EQ(g[0].shift, 23);
  EXPECT_EQ(g[0].row_bits, 20);
  EXPECT_EQ(g[0].table_bits, 6);
  EXPECT_EQ(g[0].end_bit(), 49);
  EXPECT_EQ(cuda_work::coalesce_launches(g, 64, true), 1u + 5u + 1u);
  EXPECT_EQ(cuda_work::coalesce_launches(plan_coalesce_groups(same(150, 10), same(150, 99)), 64, false), 3u + 5u);
  EXPECT_EQ(cuda_work::coalesce_launches(plan_coalesce_groups(same(3, 0), same(3, 99)), 64, true), 0u);
  // Row ids up to 2^44: a table of 2^19 lookups takes 20 + 45 bits, too many alone.
  EXPECT_THROW(plan_coalesce_groups({int64_t{1} << 19}, {int64_t{1} << 44}), std::length_error);
  EXPECT_THROW(plan_coalesce_groups({1, 2}, {3}), std::length_error);
  // Up to 2^40 (41 row bits), tables of 2^19 lookups: three with lookups and an empty one take
  // 21 + 41 + 2 = 64 bits, a fourth with lookups would take 22 + 41 + 3 = 66.
  g = plan_coalesce_groups({1 << 19, 1 << 19, 0, 1 << 19, 1 << 19, 1 << 19}, same(6, int64_t{1} << 40));
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].first_table, 0);
  EXPECT_EQ(g[0].tables, 4);  // the empty table adds to the table bits, not to the lookup bits
  EXPECT_EQ(g[0].end_bit(), 21 + 41 + 2);
  EXPECT_EQ(g[1].first_table, 4);
  EXPECT_EQ(g[1].tables, 2);
  EXPECT_EQ(g[1].lookup_base, 3 << 19);
  EXPECT_EQ(g[1].lookups, 2 << 19);
  for (const auto& x : g) EXPECT_LE(x.end_bit(), 64);
  EXPECT_EQ(cuda_work::coalesce_launches(g, 64, true), 2u * 7u);
  // A group's row bits are its own tables': a huge table does not widen a small one's keys.
  g = plan_coalesce_groups(same(4, 1 << 19), {int64_t{1} << 40, int64_t{1} << 40, 1000, 1000});
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].row_bits, 41);
  EXPECT_EQ(g[1].first_table, 3);
  EXPECT_EQ(g[1].row_bits, 10);
  EXPECT_TRUE(plan_coalesce_groups({}, {}).empty());
}

// The grouped table updates (models/kernel_work/cuda_table_group.hpp): each table's rows in tiles,
// the group's tiles end to end. Every tile finds the table that holds it, never one without rows,
// and the tiles of a table cover its rows exactly once, for lists with empty tables anywhere.
TEST(CudaGeometry, GroupedUpdateTilesFindTheirTables) {
  using cuda_work::table_of_tile;
  using cuda_work::tile_starts;
  std::vector<int64_t> first = tile_starts({5, 0, 1, 9, 0}, 4);
  EXPECT_EQ(first, (std::vector<int64_t>{0, 2, 2, 3, 6, 6}));
  std::vector<int> found;
  for (int64_t t = 0; t < first.back(); ++t) found.push_back(table_of_tile(first.data(), 5, t));
  EXPECT_EQ(found, (std::vector<int>{0, 0, 2, 3, 3, 3}));
  uint64_t state = 12345;
  auto next = [&state] { return state = state * 6364136223846793005ull + 1442695040888963407ull, state >> 33; };
  for (int round = 0; round < 200; ++round) {
    const int n = 1 + static_cast<int>(next() % 64);
    const int64_t tile_rows = 1 + static_cast<int64_t>(next() % 9);
    std::vector<int64_t> counts(static_cast<size_t>(n));
    for (auto& c : counts) c = next() % 3 == 0 ? 0 : static_cast<int64_t>(next() % 40);
    first = tile_starts(counts, tile_rows);
    std::vector<int64_t> covered(static_cast<size_t>(n), 0);
    for (int64_t t = 0; t < first.back(); ++t) {
      const int k = table_of_tile(first.data(), n, t);
      ASSERT_TRUE(k >= 0 && k < n && first[k] <= t && t < first[k + 1] && counts[k] > 0) << "round " << round;
      const int64_t base = (t - first[k]) * tile_rows;  // the kernels' first row of the tile
      ASSERT_LT(base, counts[k]);
      covered[k] += std::min(tile_rows, counts[k] - base);
    }
    ASSERT_EQ(covered, counts) << "round " << round;
  }
  EXPECT_EQ(tile_starts({}, 3), (std::vector<int64_t>{0}));
  EXPECT_EQ(cuda_work::table_groups(0), 0u);
  EXPECT_EQ(cuda_work::table_groups(64), 1u);
  EXPECT_EQ(cuda_work::table_groups(65), 2u);
}

// The model counts the table updates' and lazydp's settle launches per group of up to 64 tables,
// as the CUDA backend launches them, and the ghost norms' bag count squares once for every table.
TEST(CudaGeometry, GroupedUpdatesLaunchPerGroupOfTables) {
  for (size_t T : {1u, 26u, 40u, 64u, 65u, 130u}) {
    SCOPED_TRACE(std::to_string(T) + " tables");
    StepSizes s;
    s.dense.batch = 8, s.dense.dim = 16, s.dense.tables = T;
    for (size_t k = 0; k < T; ++k) {
      TableSizes t;
      t.rows = 100 + k, t.lookups = 8, t.unique_rows = 5, t.selected = 7, t.next_lookups = 8, t.next_unique = 6;
      t.owed = 4, t.owed_steps = 9;
      s.tables.push_back(t);
    }
    const uint64_t groups = (T + 63) / 64;
    AlgorithmConfig cfg;
    const KernelWork& cw = cuda_work::cuda_kernel_work();
    auto launches = [&](NoiseTarget n) { return cw.op({.kind = OpKind::table_update, .noise = n}, s, cfg).launches; };
    EXPECT_EQ(launches(NoiseTarget::none), groups);
    EXPECT_EQ(launches(NoiseTarget::next_batch_rows), groups);
    EXPECT_EQ(launches(NoiseTarget::touched_rows), groups);
    EXPECT_EQ(launches(NoiseTarget::every_row), 3 * groups);  // slots set, the update, slots cleared
    EXPECT_EQ(launches(NoiseTarget::selected_rows), 3 * groups);
    EXPECT_EQ(cw.op({OpKind::lazy_flush}, s, cfg).launches, groups);
    // The ghost norms' bag count squares: every table in one launch, then the embeddings' part.
    EXPECT_EQ(cw.part({.kind = OpKind::clip_norms, .norms = Norms::ghost}, s, cfg, WorkSide::tables).launches, 1u + 2u);
    EXPECT_EQ(cw.op({OpKind::lazy_catchup}, s, cfg).launches,
              groups + cuda_work::coalesce_launches(s.tables, true, false));
    // The work besides the launches is still every table's.
    WorkCounters one = cuda_work::dense_noisy_update(100, 16, 5, true);
    EXPECT_EQ(cw.op({.kind = OpKind::table_update, .noise = NoiseTarget::every_row}, s, cfg).bytes_written_seq,
              T * one.bytes_written_seq + 16 * 4 * (T * (T - 1) / 2));
  }
}

// What each family keeps per table row beside the tables, which memory plans and fit checks add up:
// lazydp's history everywhere, and on CUDA the slot map of the dense (dpsgd-b/r/f) and selected
// (adafest, dp-fest) updates.
TEST(KernelWork, RowStateIsTheHistoryAndOnCudaTheSlotMap) {
  using K = AlgorithmKind;
  const std::vector<std::pair<K, uint64_t>> cuda = {{K::sgd, 0},     {K::eana, 0},    {K::dpsgd_b, 4}, {K::dpsgd_r, 4},
                                                   {K::dpsgd_f, 4}, {K::lazydp, 4},  {K::adafest, 4}, {K::dp_fest, 4}};
  for (const auto& [kind, bytes] : cuda) {
    const std::string name = algorithm_info(kind).name;
    EXPECT_EQ(kernel_work("cuda").row_state_bytes(kind), bytes) << name;
    EXPECT_EQ(kernel_work("cpu").row_state_bytes(kind), kind == K::lazydp ? 4u : 0u) << name;
    EXPECT_EQ(kernel_work("framework").row_state_bytes(kind), kind == K::lazydp ? 4u : 0u) << name;
  }
}

// The keys of several tables sorted as the device sorts them (stably, on the table and row bits):
// every table's lookups come out together, tables in order, rows ascending, each row's lookups in
// lookup order, and the table and row read back from each key.
TEST(CudaGeometry, CoalesceKeysSortTableByTableRowByRow) {
  const std::vector<std::vector<int64_t>> ids = {{5, 1, 5, 0}, {}, {3, 3, 9, 2, 3}, {0}};
  std::vector<int64_t> lookups;
  for (const auto& t : ids) lookups.push_back(static_cast<int64_t>(t.size()));
  const auto groups = cuda_work::plan_coalesce_groups(lookups, std::vector<int64_t>(ids.size(), 9));
  ASSERT_EQ(groups.size(), 1u);
  const cuda_work::CoalesceGroup& g = groups[0];
  std::vector<uint64_t> keys;
  for (size_t t = 0, base = 0; t < ids.size(); base += ids[t].size(), ++t)
    for (size_t k = 0; k < ids[t].size(); ++k)
      keys.push_back(cuda_work::coalesce_key(t, static_cast<uint64_t>(ids[t][k]), base + k, g.shift, g.table_shift()));
  std::stable_sort(keys.begin(), keys.end(), [&](uint64_t a, uint64_t b) { return a >> g.shift < b >> g.shift; });
  std::vector<std::tuple<uint64_t, uint64_t, uint64_t>> got;  // (table, row, lookup)
  for (uint64_t key : keys)
    got.emplace_back(cuda_work::key_table(key, g.table_shift()), cuda_work::key_row(key, g.shift, g.row_mask()),
                     cuda_work::key_lookup(key, g.shift));
  const std::vector<std::tuple<uint64_t, uint64_t, uint64_t>> want = {
      {0, 0, 3}, {0, 1, 1}, {0, 5, 0}, {0, 5, 2}, {2, 2, 7}, {2, 3, 4}, {2, 3, 5}, {2, 3, 8}, {2, 9, 6}, {3, 0, 9}};
  EXPECT_EQ(got, want);
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));  // the lookup bits ascend too, within a row
  // A single table whose keys take all 64 bits: no table bits, and the shifts stay defined.
  const auto one = cuda_work::plan_coalesce_groups({3}, {(int64_t{1} << 61) + 5});
  ASSERT_EQ(one[0].end_bit(), 64);
  const uint64_t key = cuda_work::coalesce_key(0, (uint64_t{1} << 61) + 5, 2, one[0].shift, one[0].table_shift());
  EXPECT_EQ(cuda_work::key_table(key, one[0].table_shift()), 0u);
  EXPECT_EQ(cuda_work::key_row(key, one[0].shift, one[0].row_mask()), (uint64_t{1} << 61) + 5);
  EXPECT_EQ(cuda_work::key_lookup(key, one[0].shift), 2u);
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

// adafest's false positives on the device (kernels/cuda/false_positive_plan.hpp): the integer
// advances and their saturating sum, at the edges the gaps reach (p = 1 gives -0, tiny p gives
// gaps near 1e300 or +inf).
TEST(FalsePositivePlan, AdvancesSaturateAndTheSumIsAssociative) {
  namespace fpp = cuda::false_positives;
  EXPECT_EQ(fpp::advance(0.0), 1);
  EXPECT_EQ(fpp::advance(-0.0), 1);
  EXPECT_EQ(fpp::advance(41.0), 42);
  const double below = std::nextafter(static_cast<double>(fpp::kFar), 0.0);
  EXPECT_EQ(fpp::advance(below), static_cast<int64_t>(below) + 1);
  EXPECT_LT(fpp::advance(below), fpp::kFar);
  for (double g : {static_cast<double>(fpp::kFar), 1e300, HUGE_VAL, std::nan("")}) EXPECT_EQ(fpp::advance(g), fpp::kFar);
  EXPECT_EQ(fpp::saturating_add(-1, 1), 0);
  EXPECT_EQ(fpp::saturating_add(-1, fpp::kFar), fpp::kFar - 1);
  EXPECT_EQ(fpp::saturating_add(fpp::kFar - 2, 1), fpp::kFar - 1);
  EXPECT_EQ(fpp::saturating_add(fpp::kFar - 1, 1), fpp::kFar);
  EXPECT_EQ(fpp::saturating_add(fpp::kFar, fpp::kFar), fpp::kFar);
  const std::vector<int64_t> v = {0, 1, 7, fpp::kFar / 2, fpp::kFar / 2 + 1, fpp::kFar - 3, fpp::kFar - 1, fpp::kFar};
  for (int64_t a : v)
    for (int64_t b : v)
      for (int64_t c : v)
        ASSERT_EQ(fpp::saturating_add(fpp::saturating_add(a, b), c), fpp::saturating_add(a, fpp::saturating_add(b, c)))
            << a << " " << b << " " << c;
  // Positions strictly increase: exactly one draw ends the walk.
  EXPECT_TRUE(fpp::ends_walk(-1, 0, 0));
  EXPECT_TRUE(fpp::ends_walk(9, 10, 10));
  EXPECT_FALSE(fpp::ends_walk(10, 11, 10));
  EXPECT_FALSE(fpp::ends_walk(8, 9, 10));
}

// Chunks: none for p = 0, the whole walk (rows + 1 draws) when it is short, one chunk of the
// expected count (with room for its spread) in between, never above the limit, and the last chunk
// cut at the hard bound of rows + 1 draws.
TEST(FalsePositivePlan, ChunksFollowTheExpectedDrawCount) {
  namespace fpp = cuda::false_positives;
  EXPECT_EQ(fpp::chunk_draws(1000, 0.0), 0);
  EXPECT_EQ(fpp::chunk_draws(1000, -0.0), 0);
  EXPECT_EQ(fpp::chunk_draws(0, 0.5), 1);
  EXPECT_EQ(fpp::chunk_draws(1, 1.0), 2);
  EXPECT_EQ(fpp::chunk_draws(1000, 1.0), 1001);
  EXPECT_EQ(fpp::chunk_draws(1000, 1e-4), 1001);
  EXPECT_EQ(fpp::chunk_draws(3000000, 1.0), 3000001);
  EXPECT_EQ(fpp::chunk_draws(int64_t{1} << 40, 1.0), fpp::kMaxChunk);
  EXPECT_EQ(fpp::chunk_draws(10000000, 1e-4), fpp::kMinChunk);  // ~1000 draws expected
  EXPECT_EQ(fpp::chunk_draws(3000000, 1.0, 4093), 4093);
  EXPECT_EQ(fpp::chunk_draws(3000000, 1.0, 0), 1);
  for (int64_t rows : {int64_t{1}, int64_t{1000}, int64_t{3000000}, int64_t{1} << 40})
    for (double p : {1e-12, 1e-4, 0.05, 0.5, 1.0}) {
      const double mean = p * static_cast<double>(rows), sd = std::sqrt(mean * (1 - p));
      const int64_t e = fpp::draw_estimate(rows, p), c = fpp::chunk_draws(rows, p);
      EXPECT_LE(e, rows + 1);
      EXPECT_TRUE(e == rows + 1 || static_cast<double>(e) >= mean + 8 * sd) << rows << " " << p;
      EXPECT_LE(c, std::min(rows + 1, fpp::kMaxChunk));
      EXPECT_GE(c, std::min({rows + 1, fpp::kMinChunk, e}));
    }
  EXPECT_EQ(fpp::chunk_items(10, 4, 0), 4);
  EXPECT_EQ(fpp::chunk_items(10, 4, 8), 3);  // draws 8, 9, 10: the walk never needs draw 11
  EXPECT_EQ(fpp::chunk_items(10, 4, 11), 0);
}

namespace {
struct ChunkedWalk {
  std::vector<int64_t> rows;
  int64_t draws = 0;
};

// The device's false-positive walk replayed on the host with the same pieces: per chunk, the scan
// inputs, an inclusive scan in blocks of 5 (its totals scanned, then added in, so the sum is
// associated differently from the serial walk, as CUB's is), the draw that ends the walk, and the
// trials on untouched rows in order; the chunk's last position carries into the next.
ChunkedWalk replay_chunked_walk(int64_t rows, double p, const cuda::false_positives::GapStream& g,
                                const std::vector<int64_t>& touched, int64_t max_chunk) {
  namespace fpp = cuda::false_positives;
  ChunkedWalk w;
  const int64_t chunk = fpp::chunk_draws(rows, p, max_chunk);
  if (chunk == 0) return w;
  int64_t carry = -1;
  for (int64_t first = 0;; first += chunk) {
    const int64_t n = fpp::chunk_items(rows, chunk, first);
    if (n == 0) {
      ADD_FAILURE() << "the walk passed rows + 1 draws";
      return w;
    }
    std::vector<int64_t> pos(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) pos[i] = fpp::scan_input(g, first, i, carry);
    std::vector<int64_t> total;
    for (int64_t b = 0; b < n; b += 5) {
      for (int64_t i = b + 1; i < std::min(n, b + 5); ++i) pos[i] = fpp::saturating_add(pos[i - 1], pos[i]);
      total.push_back(pos[std::min(n, b + 5) - 1]);
    }
    for (size_t k = 1; k < total.size(); ++k) total[k] = fpp::saturating_add(total[k - 1], total[k]);
    for (int64_t i = 5; i < n; ++i) pos[i] = fpp::saturating_add(total[i / 5 - 1], pos[i]);
    for (int64_t i = 0; i < n; ++i) {
      if (fpp::ends_walk(i == 0 ? carry : pos[i - 1], pos[i], rows)) w.draws = first + i + 1;
      if (pos[i] < rows && !std::binary_search(touched.begin(), touched.end(), pos[i])) w.rows.push_back(pos[i]);
    }
    if (w.draws) return w;
    carry = pos[n - 1];
  }
}

}  // namespace

// The chunked walk, with chunks from one draw to the whole walk, gives the CPU backend's false
// positives and draw count: p from 0 to 1, tables from 1 row to 2^40, touched rows or none. The
// CPU's draws are its uniforms (rng_samples) less the touched rows' normals.
TEST(FalsePositivePlan, TheChunkedWalkIsTheCpuBackends) {
  namespace fpp = cuda::false_positives;
  // tau / sigma1 with Q(tau / sigma1) = p: 0, about 1e-4, about 0.05, 1; and about 1e-9.
  const std::vector<double> taus = {1e30, 3.719016485455709, 1.6448536269514729, -1e30, 5.997807015007686};
  for (int64_t rows : {int64_t{1}, int64_t{1000}, int64_t{100000}, int64_t{1} << 40})
    for (double tau : taus) {
      auto cfg = test::algo(AlgorithmKind::adafest, 0.8, 0.5, NoiseSource::gaussian);
      cfg.adafest.sigma1 = 1.0, cfg.adafest.tau = tau;
      const double p = cfg.zero_count_selection_probability();
      if (p * static_cast<double>(rows) > 1e6) continue;  // the CPU's walk would take too long
      for (bool any : {true, false}) {
        std::vector<int64_t> touched;
        if (any) touched = rows == 1 ? std::vector<int64_t>{0} : std::vector<int64_t>{0, 1, 2, rows / 3, rows - 1};
        WorkCounters work;
        const Selection want = adafest_select(test::one_table_batch(touched), {rows}, cfg, 5, work);
        std::vector<int64_t> fps;
        for (int64_t r : want.rows[0])
          if (!std::binary_search(touched.begin(), touched.end(), r)) fps.push_back(r);
        const int64_t draws = static_cast<int64_t>(work.rng_samples) - want.touched;
        const fpp::GapStream g{cfg.seed, 5, 0, std::log1p(-p)};
        for (int64_t limit : {int64_t{1}, int64_t{2}, int64_t{7}, int64_t{4093}, fpp::kMaxChunk}) {
          if (p * static_cast<double>(rows) / static_cast<double>(limit) > 2e4) continue;
          const ChunkedWalk got = replay_chunked_walk(rows, p, g, touched, limit);
          SCOPED_TRACE("rows " + std::to_string(rows) + " p " + std::to_string(p) + " limit " + std::to_string(limit));
          ASSERT_EQ(got.rows, fps);
          ASSERT_EQ(got.draws, draws);
          EXPECT_EQ(got.draws == 0, p == 0);
        }
      }
    }
}

// cuBLAS loaded at run time (kernels/cuda/cublas_loader.hpp): the loading needs no device, so it is
// checked here wherever a CUDA toolkit is installed; creating a handle is left to the gpu tests.
namespace {

// Sets an environment variable for one scope and restores what was there.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) setenv(name, value, 1);
    else unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) setenv(name_, old_->c_str(), 1);
    else unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// The toolkit's copy, where the machine has one (this project's build machines do).
std::string toolkit_cublas() {
  for (const char* p : {"/usr/local/cuda/lib64/libcublas.so.13", "/usr/local/cuda/targets/x86_64-linux/lib/libcublas.so.13"})
    if (std::filesystem::exists(p)) return p;
  return "";
}

}  // namespace

TEST(CublasLoader, FindsAndResolvesTheInstalledLibrary) {
  if (toolkit_cublas().empty()) GTEST_SKIP() << "no libcublas.so.13 under /usr/local/cuda";
  ScopedEnv off("PRIVREC_CUBLAS", nullptr), path("PRIVREC_CUBLAS_PATH", nullptr);
  const cuda::CublasApi api = cuda::load_cublas();
  ASSERT_TRUE(api.ok()) << api.why_not;
  EXPECT_FALSE(api.path.empty());
  EXPECT_NE(api.create, nullptr);
  EXPECT_NE(api.destroy, nullptr);
  EXPECT_NE(api.set_math_mode, nullptr);
  EXPECT_NE(api.sgemm, nullptr);
}

TEST(CublasLoader, PathVariableNamesTheOneFileToOpen) {
  const std::string lib = toolkit_cublas();
  if (lib.empty()) GTEST_SKIP() << "no libcublas.so.13 under /usr/local/cuda";
  ScopedEnv off("PRIVREC_CUBLAS", nullptr);
  {
    ScopedEnv path("PRIVREC_CUBLAS_PATH", lib.c_str());
    const cuda::CublasApi api = cuda::load_cublas();
    ASSERT_TRUE(api.ok()) << api.why_not;
    EXPECT_EQ(api.path, lib);
  }
  ScopedEnv path("PRIVREC_CUBLAS_PATH", "/nonexistent/libcublas.so.13");
  const cuda::CublasApi api = cuda::load_cublas();
  EXPECT_FALSE(api.ok());
  EXPECT_NE(api.why_not.find("/nonexistent/libcublas.so.13"), std::string::npos) << api.why_not;
}

TEST(CublasLoader, OffSelectsTheFallback) {
  ScopedEnv off("PRIVREC_CUBLAS", "off");
  const cuda::CublasApi api = cuda::load_cublas();
  EXPECT_FALSE(api.ok());
  EXPECT_EQ(api.why_not, "PRIVREC_CUBLAS=off");
  EXPECT_EQ(api.sgemm, nullptr);
}

// A column-major SGEMM on the host, as cuBLAS defines it, run with the arguments the mapping hands
// cuBLAS, against a row-major reference: every shape and transpose pair, padded strides, accumulate.
void column_major_sgemm(const cuda::CublasGemmArgs& g, const std::vector<float>& first, const std::vector<float>& second,
                        float beta, std::vector<float>& c) {
  auto at = [](const std::vector<float>& x, int op, int ld, int r, int col) {
    return op == cuda::kCublasOpN ? x[static_cast<size_t>(col) * ld + r] : x[static_cast<size_t>(r) * ld + col];
  };
  for (int j = 0; j < g.n; ++j)
    for (int i = 0; i < g.m; ++i) {
      double s = 0;
      for (int k = 0; k < g.k; ++k)
        s += static_cast<double>(at(first, g.op_first, g.ld_first, i, k)) * at(second, g.op_second, g.ld_second, k, j);
      float& out = c[static_cast<size_t>(j) * g.ldc + i];
      out = static_cast<float>(s + beta * out);
    }
}

TEST(CublasLoader, RowMajorMappingMatchesTheDefinition) {
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (bool acc : {false, true}) {
        const int64_t M = 5, N = 3, K = 4, pad = 2;
        const int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
        std::vector<float> A(static_cast<size_t>((ta ? K : M) * lda)), B(static_cast<size_t>((tb ? N : K) * ldb));
        std::vector<float> C(static_cast<size_t>(M * ldc));
        for (size_t i = 0; i < A.size(); ++i) A[i] = static_cast<float>(i % 7) - 3;
        for (size_t i = 0; i < B.size(); ++i) B[i] = static_cast<float>(i % 5) - 2;
        for (size_t i = 0; i < C.size(); ++i) C[i] = static_cast<float>(i % 3);
        std::vector<float> want = C;
        for (int64_t r = 0; r < M; ++r)
          for (int64_t c = 0; c < N; ++c) {
            double s = acc ? want[r * ldc + c] : 0.0;
            for (int64_t k = 0; k < K; ++k) s += (ta ? A[k * lda + r] : A[r * lda + k]) * (tb ? B[c * ldb + k] : B[k * ldb + c]);
            want[r * ldc + c] = static_cast<float>(s);
          }
        const cuda::CublasGemmArgs g = cuda::cublas_gemm_args(ta, tb, M, N, K, lda, ldb, ldc);
        ASSERT_TRUE(g.fits);
        column_major_sgemm(g, B, A, acc ? 1.0f : 0.0f, C);
        for (int64_t r = 0; r < M; ++r)
          for (int64_t c = 0; c < N; ++c)
            EXPECT_EQ(C[r * ldc + c], want[r * ldc + c]) << ta << tb << acc << " at " << r << "," << c;
      }
  EXPECT_FALSE(cuda::cublas_gemm_args(false, false, int64_t{1} << 31, 4, 4, 4, 4, 4).fits);
  EXPECT_FALSE(cuda::cublas_gemm_args(false, false, 4, 4, 0, 4, 4, 4).fits);
}
