// WorkCounters' generated operations cover every counter, and the shared median/spread helper.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "models/sample_stats.hpp"
#include "models/work_counters.hpp"

using namespace privrec;

namespace {
// Distinct, nonzero values per field so a field left out of (or swapped in) an operation shows.
WorkCounters numbered(uint64_t base) {
  WorkCounters w;
  uint64_t k = 0;
#define PRIVREC_TEST_SET(name, doc) w.name = base * 1000 + 37 * ++k;
  PRIVREC_WORK_COUNTER_FIELDS(PRIVREC_TEST_SET)
#undef PRIVREC_TEST_SET
  return w;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string cell; std::getline(in, cell, ',');) out.push_back(cell);
  return out;
}
}  // namespace

TEST(WorkCounters, FieldListIsTheWholeStruct) {
  // A member declared outside PRIVREC_WORK_COUNTER_FIELDS would escape +=, to_json and the CSV.
  EXPECT_EQ(sizeof(WorkCounters), WorkCounters::field_names().size() * sizeof(uint64_t));
  EXPECT_EQ(work_counter_docs().size(), WorkCounters::field_names().size());
  for (const auto& doc : work_counter_docs()) EXPECT_FALSE(doc.empty());
}

TEST(WorkCounters, CsvColumnsKeepTheirOrder) {
  // The train and simulate CSVs splice these columns in; their order is part of the output format.
  EXPECT_EQ(WorkCounters::csv_header(),
            "bytes_read_seq,bytes_written_seq,bytes_read_rand,bytes_written_rand,rows_read_rand,rows_written_rand,"
            "rng_samples,flops,gemm_flops,launches,sort_ops,bags,comm_bytes,comm_messages,host_link_bytes,"
            "bytes_first_touch");
}

TEST(WorkCounters, AddAndDivideEveryField) {
  const WorkCounters a = numbered(5), b = numbered(11);
  WorkCounters sum = a;
  sum += b;
  const WorkCounters third = sum.divided_by(3);
#define PRIVREC_TEST_CHECK(name, doc)              \
  EXPECT_EQ(sum.name, a.name + b.name) << #name;   \
  EXPECT_EQ(third.name, (a.name + b.name) / 3) << #name;
  PRIVREC_WORK_COUNTER_FIELDS(PRIVREC_TEST_CHECK)
#undef PRIVREC_TEST_CHECK
  EXPECT_EQ(sum.divided_by(1), sum);
  EXPECT_EQ(sum.divided_by(0), WorkCounters{});  // no steps: zeros, not a crash
  EXPECT_NE(a, b);
}

TEST(WorkCounters, JsonHasEveryField) {
  const WorkCounters w = numbered(3);
  const nlohmann::json j = w.to_json();
  EXPECT_EQ(j.size(), WorkCounters::field_names().size() + 2);  // plus bytes_read, bytes_written
#define PRIVREC_TEST_JSON(name, doc)          \
  ASSERT_TRUE(j.contains(#name)) << #name;    \
  EXPECT_EQ(j[#name].get<uint64_t>(), w.name) << #name;
  PRIVREC_WORK_COUNTER_FIELDS(PRIVREC_TEST_JSON)
#undef PRIVREC_TEST_JSON
  EXPECT_EQ(j["bytes_read"].get<uint64_t>(), w.bytes_read_seq + w.bytes_read_rand);
  EXPECT_EQ(j["bytes_written"].get<uint64_t>(), w.bytes_written_seq + w.bytes_written_rand);
  EXPECT_EQ(w.bytes(), w.bytes_read() + w.bytes_written());
}

TEST(WorkCounters, CsvValuesLineUpWithHeader) {
  const WorkCounters w = numbered(7);
  const auto names = split_commas(WorkCounters::csv_header());
  const auto values = split_commas(w.csv_values());
  ASSERT_EQ(names, WorkCounters::field_names());
  ASSERT_EQ(values.size(), names.size());
  const nlohmann::json j = w.to_json();
  for (size_t i = 0; i < names.size(); ++i)
    EXPECT_EQ(values[i], std::to_string(j[names[i]].get<uint64_t>())) << names[i];
  EXPECT_EQ(WorkCounters{}.csv_values(), "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0");
}

TEST(SampleStats, OddEvenAndEmpty) {
  EXPECT_EQ(median({3.0, 1.0, 2.0}), 2.0);
  EXPECT_EQ(median({4.0, 1.0, 3.0, 2.0}), 2.5);  // mean of the two middle values
  EXPECT_EQ(median({5.0}), 5.0);
  EXPECT_EQ(median({7.0, 1.0}), 4.0);
  EXPECT_EQ(median({}), 0.0);

  const SampleStats odd = summarize({9.0, 1.0, 5.0, 3.0, 7.0});
  EXPECT_EQ(odd.median, 5.0);
  EXPECT_EQ(odd.min, 1.0);
  EXPECT_EQ(odd.max, 9.0);
  EXPECT_EQ(odd.n, 5u);
  EXPECT_EQ(odd.spread_pct(), 160.0);  // (9 - 1) / 5 * 100

  const SampleStats even = summarize({8.0, 2.0, 6.0, 4.0});
  EXPECT_EQ(even.median, 5.0);
  EXPECT_EQ(even.min, 2.0);
  EXPECT_EQ(even.max, 8.0);
  EXPECT_EQ(even.n, 4u);
  EXPECT_EQ(even.spread_pct(), 120.0);

  const SampleStats empty = summarize({});
  EXPECT_EQ(empty.median, 0.0);
  EXPECT_EQ(empty.min, 0.0);
  EXPECT_EQ(empty.max, 0.0);
  EXPECT_EQ(empty.n, 0u);
  EXPECT_EQ(empty.spread_pct(), 0.0);  // no division by a zero median
  EXPECT_EQ(summarize({0.0, 0.0, 1.0}).spread_pct(), 0.0);
}

TEST(SampleStats, DuplicatesAndUnsortedInput) {
  EXPECT_EQ(median({2.0, 2.0, 2.0, 2.0}), 2.0);
  EXPECT_EQ(median({10.0, -1.0, 3.0, 3.0, 0.0, 100.0}), 3.0);
  EXPECT_EQ(median({6.0, 5.0, 4.0, 3.0, 2.0, 1.0}), 3.5);
}

TEST(SampleStats, NonIncreasingFitPoolsRisingRuns) {
  using V = std::vector<double>;
  EXPECT_EQ(non_increasing_fit({}), V{});
  EXPECT_EQ(non_increasing_fit({3.0, 2.0, 2.0, 1.0}), (V{3.0, 2.0, 2.0, 1.0}));  // already non-increasing
  EXPECT_EQ(non_increasing_fit({1.0, 3.0}), (V{2.0, 2.0}));
  // The calibrate curve of 2026-12-01 (128 B rows, densities 1/128 .. 1): the rises at 1/16 and
  // 1/4 pool with their left neighbours; 3.38 2.94 2.39 | 3.10 2.20 -> (2.39 + 3.10) / 2 = 2.745
  // then 2.745 2.20 2.75 -> 2.20 and 2.75 pool (2.475) below 2.745.
  const V fit = non_increasing_fit({3.38, 2.94, 2.39, 3.10, 2.20, 2.75, 1.75, 1.04});
  const V want = {3.38, 2.94, 2.745, 2.745, 2.475, 2.475, 1.75, 1.04};
  ASSERT_EQ(fit.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_DOUBLE_EQ(fit[i], want[i]) << i;
  // A rise across several blocks merges them all: the result is the mean of the whole.
  EXPECT_EQ(non_increasing_fit({1.0, 2.0, 3.0}), (V{2.0, 2.0, 2.0}));
  // Pooling keeps the sum (least squares under the constraint keeps each block's mean).
  double in = 0, out = 0;
  for (const double x : {3.38, 2.94, 2.39, 3.10, 2.20, 2.75, 1.75, 1.04}) in += x;
  for (const double x : fit) out += x;
  EXPECT_NEAR(in, out, 1e-12);
}
