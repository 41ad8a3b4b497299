// Trace generators, file formats (round trips and every kind of damage), stats, Criteo conversion.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "models/config_error.hpp"
#include "models/rng/gaussian.hpp"
#include "tests/test_helpers.hpp"
#include "traces/row_map.hpp"
#include "traces/criteo_converter.hpp"
#include "traces/row_sort.hpp"
#include "traces/trace_file.hpp"
#include "traces/trace_stats.hpp"
#include "traces/zipf_sampler.hpp"
#include "tests/temp_dir.hpp"

using namespace privrec;

namespace {
std::string tmp(const std::string& name) {
  return test::temp_path(name);
}
TraceData small_trace(int64_t batches) {
  const Workload w = test::small_workload(5);
  SyntheticTrace gen(w, 9);
  TraceData d{static_cast<int64_t>(w.tables.size()), w.dense_features, {}};
  for (int64_t b = 0; b < batches; ++b) d.batches.push_back(gen.batch(b));
  return d;
}
void expect_same(const TraceData& a, const TraceData& b) {
  ASSERT_EQ(a.batches.size(), b.batches.size());
  for (size_t i = 0; i < a.batches.size(); ++i) {
    EXPECT_EQ(a.batches[i].dense, b.batches[i].dense);
    EXPECT_EQ(a.batches[i].labels, b.batches[i].labels);
    for (size_t t = 0; t < a.batches[i].tables.size(); ++t) {
      EXPECT_EQ(a.batches[i].tables[t].offsets, b.batches[i].tables[t].offsets);
      EXPECT_EQ(a.batches[i].tables[t].indices, b.batches[i].tables[t].indices);
    }
  }
}
std::string error_reading(const std::string& path) {
  try {
    read_trace(path);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(SyntheticTrace, ReproducibleAndInRange) {
  const Workload w = test::small_workload(16, "zipf:1.2");
  SyntheticTrace a(w, 5), b(w, 5), c(w, 6);
  const Batch x = a.batch(3), y = b.batch(3), z = c.batch(3);
  EXPECT_EQ(x.tables[0].indices, y.tables[0].indices);
  EXPECT_NE(x.tables[0].indices, z.tables[0].indices);
  for (size_t t = 0; t < w.tables.size(); ++t)
    for (int64_t id : x.tables[t].indices) EXPECT_TRUE(id >= 0 && id < w.tables[t].rows);
}

// A batch made into buffers that held another batch (of another workload's shape too) is the batch
// made fresh, every value: the step loop refills its two batches (traces/step_walk.hpp).
TEST(SyntheticTrace, BatchRefilledIntoOldBuffersIsTheFreshBatch) {
  const Workload w = test::small_workload(16, "zipf:1.2");
  Workload wider = test::small_workload(16);
  wider.batch_size = w.batch_size * 3;
  for (auto& t : wider.tables) t.pooling += 2;
  const SyntheticTrace gen(w, 5), other(wider, 6);
  for (const TraceSource* before : {static_cast<const TraceSource*>(&gen), static_cast<const TraceSource*>(&other)}) {
    Batch reused = before->batch(1);
    gen.batch_into(4, reused);
    const Batch fresh = gen.batch(4);
    EXPECT_EQ(reused.size, fresh.size);
    EXPECT_EQ(reused.num_dense, fresh.num_dense);
    EXPECT_EQ(reused.dense, fresh.dense);
    EXPECT_EQ(reused.labels, fresh.labels);
    ASSERT_EQ(reused.tables.size(), fresh.tables.size());
    for (size_t t = 0; t < fresh.tables.size(); ++t) {
      EXPECT_EQ(reused.tables[t].offsets, fresh.tables[t].offsets);
      EXPECT_EQ(reused.tables[t].indices, fresh.tables[t].indices);
    }
  }
}

// The vectorized batch is its scalar definition, bit for bit: a uniform table's lookup j of example
// i is the top of Philox block (j, counter(index, table, i)) times the rows, and the label's logit
// adds the dense features' weights, then every lookup's planted effect table by table.
TEST(SyntheticTrace, BatchIsItsScalarDefinition) {
  Workload w = test::small_workload(37);
  const std::vector<int64_t> pooling = {1, 5, 37};
  w.tables.resize(4, w.tables[0]);
  for (size_t t = 0; t < 3; ++t) w.tables[t].pooling = pooling[t], w.tables[t].rows = 1000 + 977 * t;
  w.tables[3].access = AccessDistribution::parse("zipf:1.1");  // drawn one at a time, by rejection
  const uint64_t seed = 0x123456789ABCDEFull;
  const SyntheticTrace trace(w, seed);
  for (const int64_t index : {0, 7}) {
    const Batch b = trace.batch(index);
    const size_t T = w.tables.size();
    for (int64_t i = 0; i < w.batch_size; ++i) {
      float logit = 0;
      for (int64_t f = 0; f < w.dense_features; ++f)
        logit += planted_dense_weight(f) * noise_normal(seed, RngDomain::data, index, 0xFFFF, i, static_cast<uint32_t>(f));
      for (size_t t = 0; t < T; ++t) {
        const int64_t L = w.tables[t].pooling;
        const NoiseCounter c = noise_counter(RngDomain::index, index, static_cast<uint32_t>(t), i);
        for (int64_t j = 0; j < L; ++j) {
          const int64_t row = b.tables[t].indices[i * L + j];
          if (t < 3) {
            const Philox4 r = philox4x32_10(static_cast<uint32_t>(j), c.c1, c.c2, c.c3, static_cast<uint32_t>(seed),
                                            static_cast<uint32_t>(seed >> 32));
            const uint64_t x = (static_cast<uint64_t>(r.v[0]) << 32) | r.v[1];
            ASSERT_EQ(row, static_cast<int64_t>((static_cast<unsigned __int128>(x) * w.tables[t].rows) >> 64))
                << "batch " << index << " example " << i << " table " << t << " lookup " << j;
          }
          logit += planted_row_effect(seed, t, row) / static_cast<float>(L * T);
        }
      }
      const Philox4 r = philox4x32_10(0xFFFFFFFFu, static_cast<uint32_t>(i), 0xFFFFu << 8 | (5u << 24),
                                      static_cast<uint32_t>(index), static_cast<uint32_t>(seed),
                                      static_cast<uint32_t>(seed >> 32));
      const double u = (static_cast<double>((static_cast<uint64_t>(r.v[0]) << 21) ^ (r.v[1] >> 11)) + 0.5) * 0x1p-53;
      EXPECT_EQ(b.labels[i], u < 1.0 / (1.0 + std::exp(-3.0 * logit)) ? 1.0f : 0.0f) << "example " << i;
    }
  }
}

TEST(ZipfSampler, FrequenciesFollowPowerLaw) {
  const int64_t n = 1000;
  const double s = 1.1;
  ZipfSampler z(n, s);
  double h = 0;
  for (int64_t k = 1; k <= n; ++k) h += std::pow(k, -s);
  std::vector<int64_t> count(n + 1);
  int64_t draws = 0;
  std::mt19937_64 gen(12345);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  while (draws < 400000) {
    const int64_t k = z.try_sample(u(gen));
    if (k > 0) ++count[k], ++draws;
  }
  for (int64_t k : {1, 2, 5, 50}) {
    const double p = std::pow(k, -s) / h, expected = p * draws;
    EXPECT_NEAR(count[k], expected, 5 * std::sqrt(expected * (1 - p)) + 2) << "rank " << k;
  }
}

TEST(TraceFile, BinaryAndTextRoundTrip) {
  const TraceData d = small_trace(3);
  for (const char* name : {"rt.prvt", "rt.txt"}) {
    const std::string p = tmp(name);
    write_trace(p, d);
    const TraceData back = read_trace(p);
    if (std::string(name).find(".txt") != std::string::npos) {
      // Text keeps row ids and labels exactly; dense values through their shortest decimal form.
      ASSERT_EQ(back.batches.size(), 3u);
      for (size_t b = 0; b < 3; ++b)
        for (size_t t = 0; t < d.batches[b].tables.size(); ++t)
          EXPECT_EQ(back.batches[b].tables[t].indices, d.batches[b].tables[t].indices);
    } else {
      expect_same(d, back);
    }
    std::filesystem::remove(p);
  }
}

TEST(TraceFile, DamagedBinaryIsRefusedWithThePlace) {
  const std::string p = tmp("bad.prvt");
  write_trace(p, small_trace(2));
  const auto size = std::filesystem::file_size(p);
  std::filesystem::resize_file(p, size - 5);
  EXPECT_NE(error_reading(p).find("truncated"), std::string::npos);
  {
    std::ofstream o(p, std::ios::binary | std::ios::trunc);
    o << "NOTATRACEFILE...........";
  }
  EXPECT_NE(error_reading(p).find("bad magic"), std::string::npos);
  EXPECT_NE(error_reading(tmp("missing.prvt")).find("cannot open"), std::string::npos);
  std::filesystem::remove(p);
}

TEST(TraceFile, TextErrorsNameTheLine) {
  const std::string p = tmp("bad.txt");
  auto write = [&](const std::string& s) { std::ofstream(p, std::ios::trunc) << s; };
  write("privrec-trace-text v1 dense=1 tables=2 batch=2\n1 0.5 | 3 4 | 1\n0 x | 1 | 2\n");
  EXPECT_NE(error_reading(p).find(":3: dense value 'x'"), std::string::npos) << error_reading(p);
  write("privrec-trace-text v1 dense=1 tables=2 batch=2\n1 0.5 | 3 4\n");
  EXPECT_NE(error_reading(p).find(":2: 2 tables"), std::string::npos) << error_reading(p);
  write("privrec-trace-text v1 dense=1 tables=1 batch=2\n2 0.5 | 3\n");
  EXPECT_NE(error_reading(p).find("label"), std::string::npos);
  write("privrec-trace-text v1 dense=1 tables=1 batch=2\n# a comment\n1 0.5 | 3 3\n0 1.5 | -1\n");
  EXPECT_NE(error_reading(p).find("negative"), std::string::npos);
  write("privrec-trace-text v1 dense=1 tables=1 batch=2\n1 0.5 | 3 3\n0 1.5 |\n1 2 | 7\n");
  const TraceData ok = read_trace(p);
  ASSERT_EQ(ok.batches.size(), 2u);  // the last batch is partial
  EXPECT_EQ(ok.batches[0].tables[0].offsets, (std::vector<int64_t>{0, 2, 2}));
  EXPECT_EQ(ok.batches[1].size, 1);
  Workload w = test::small_workload();
  w.tables.resize(1);
  w.dense_features = 1;
  w.tables[0].rows = 5;
  try {
    check_trace_against(ok, w, p);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("batch 1, table 0 (t0), example 0: row 7 >= the table's 5 rows"), std::string::npos)
        << e.what();
  }
  std::filesystem::remove(p);
}

TEST(TraceStats, CountsUniqueRowsAndReuseGaps) {
  const std::string p = tmp("stats.txt");
  // Row 1 in batches 0, 1 and 3 (gaps 1 and 2); row 2 only in batch 0; duplicates inside a bag.
  std::ofstream(p, std::ios::trunc) << "privrec-trace-text v1 dense=0 tables=1 batch=2\n"
                                       "1 | 1 1\n0 | 2\n1 | 1\n0 | 3\n1 | 4\n0 | 4\n1 | 1\n0 | 5\n";
  FileTrace trace(read_trace(p), p);
  const TraceStats s = compute_trace_stats(trace, 4, {10});
  const auto& t = s.tables[0];
  EXPECT_EQ(t.lookups, 9);
  EXPECT_EQ(t.distinct_rows, 5);
  EXPECT_DOUBLE_EQ(t.unique_per_batch_mean, (2 + 2 + 1 + 2) / 4.0);
  EXPECT_EQ(t.reuse_count, 2);
  EXPECT_DOUBLE_EQ(t.reuse_gap_mean, 1.5);
  ASSERT_EQ(t.reuse_gap_hist.size(), 2u);
  EXPECT_EQ(t.reuse_gap_hist[0], 1);  // gap 1
  EXPECT_EQ(t.reuse_gap_hist[1], 1);  // gap 2
  std::filesystem::remove(p);
}

TEST(Criteo, ConvertsTsvAndCsvTheSameWay) {
  std::string tsv, csv = "label";
  for (int i = 1; i <= 13; ++i) csv += ",I" + std::to_string(i);
  for (int i = 1; i <= 26; ++i) csv += ",C" + std::to_string(i);
  csv += "\n";
  for (int r = 0; r < 3; ++r) {
    std::string line = std::to_string(r % 2);
    for (int i = 0; i < 13; ++i) line += "\t" + (i == 2 ? std::string() : std::to_string(r * 10 + i));
    for (int i = 0; i < 26; ++i) line += "\t" + (i == 5 ? std::string() : "a" + std::to_string(r * 7 + i) + "f0");
    tsv += line + "\n";
    std::replace(line.begin(), line.end(), '\t', ',');
    csv += line + "\n";
  }
  const std::string pt = tmp("c.tsv"), pc = tmp("c.csv");
  std::ofstream(pt) << tsv;
  std::ofstream(pc) << csv;
  Workload w = load_workload("mlperf-dlrm");
  w.scale_tables(0.001);
  w.batch_size = 2;
  const auto a = convert_criteo(pt, w), b = convert_criteo(pc, w);
  EXPECT_EQ(a.examples, 3);
  EXPECT_EQ(a.missing_dense, 3);
  EXPECT_EQ(a.missing_categorical, 3);
  ASSERT_EQ(a.trace.batches.size(), 2u);
  expect_same(a.trace, b.trace);
  EXPECT_FLOAT_EQ(a.trace.batches[0].dense[1], std::log1p(1.0f));
  EXPECT_EQ(a.trace.batches[0].tables[3].indices[0], criteo_row("a3f0", 3, w.tables[3].rows));
  check_trace_against(a.trace, w, pt);
  std::ofstream(pt, std::ios::trunc) << "1\t2\t3\n";
  EXPECT_THROW(convert_criteo(pt, w), InputError);
  std::filesystem::remove(pt);
  std::filesystem::remove(pc);
}

// The radix sort is a stable sort on a bit field: same result as std::stable_sort, for sizes
// below and above its small-input cutoff, field widths that split into partial digits, and
// keys whose other bits must ride along untouched.
TEST(RowSort, RadixEqualsStableSortOnTheField) {
  std::mt19937_64 gen(7);
  for (const size_t n : {0, 1, 2, 100, 255, 256, 5000, 70000})
    for (const int bits : {1, 5, 11, 12, 23, 33}) {
      const int shift = 7;
      std::vector<uint64_t> keys(n);
      for (auto& k : keys) k = gen() & ((1ull << (shift + bits + 3)) - 1);  // 3 bits above the field too
      std::vector<uint64_t> want = keys;
      const uint64_t mask = (1ull << bits) - 1;
      std::stable_sort(want.begin(), want.end(),
                       [&](uint64_t a, uint64_t b) { return ((a >> shift) & mask) < ((b >> shift) & mask); });
      radix_sort_bits(keys, shift, bits);
      ASSERT_EQ(keys, want) << "n=" << n << " bits=" << bits;
    }
  EXPECT_EQ(bits_for(0), 0);
  EXPECT_EQ(bits_for(1), 1);
  EXPECT_EQ(bits_for(1ull << 40), 41);
}

TEST(RowSort, UniqueRowsAreSortedAndDistinct) {
  TableBatch tb;
  tb.offsets = {0, 5};
  tb.indices = {9, 3, 9, 0, 3};
  EXPECT_EQ(unique_rows(tb), (std::vector<int64_t>{0, 3, 9}));
  int64_t singles = -1;
  unique_rows(tb, nullptr, &singles);
  EXPECT_EQ(singles, 1);  // row 0
  tb.indices = {4, 1, 7, 1, 8};
  unique_rows(tb, nullptr, &singles);
  EXPECT_EQ(singles, 3);  // rows 4, 7 and 8, the last at the end
}

TEST(RowMap, StoresEveryRowAndVisitsEachOnce) {
  RowMap<uint32_t> m;
  for (int64_t r = 0; r < 100000; r += 3) m[r * 7919] = static_cast<uint32_t>(r);
  EXPECT_EQ(m.size(), 33334u);
  for (int64_t r = 0; r < 100000; r += 3) ASSERT_EQ(m[r * 7919], static_cast<uint32_t>(r));
  uint64_t visits = 0, sum = 0;
  bool rows_match = true;
  m.for_each([&](int64_t row, uint32_t& v) {
    ++visits, sum += v;
    rows_match = rows_match && row == int64_t{v} * 7919;
  });
  EXPECT_TRUE(rows_match);
  EXPECT_EQ(visits, 33334u);
  EXPECT_EQ(sum, 3ull * 33333 * 33334 / 2);
}

// Once the map would take more than an array over every row, it becomes that array: the same
// values, every row present (untouched ones at V{}), visited once each.
TEST(RowMap, TurnsDenseWhenThatIsSmaller) {
  RowMap<uint32_t> m(5000);
  for (int64_t r = 0; r < 5000; r += 2) m[r] = static_cast<uint32_t>(r + 1);
  EXPECT_TRUE(m.dense());
  EXPECT_EQ(m.size(), 5000u);
  for (int64_t r = 0; r < 5000; ++r) ASSERT_EQ(m[r], r % 2 == 0 ? static_cast<uint32_t>(r + 1) : 0u) << r;
  uint64_t visits = 0;
  m.for_each([&](int64_t, uint32_t&) { ++visits; });
  EXPECT_EQ(visits, 5000u);
  RowMap<uint32_t> sparse(int64_t{1} << 40);  // a huge table touched a little stays a hash map
  for (int64_t r = 0; r < 100000; ++r) sparse[r * 1000003] = 1;
  EXPECT_FALSE(sparse.dense());
  EXPECT_EQ(sparse.size(), 100000u);
}
