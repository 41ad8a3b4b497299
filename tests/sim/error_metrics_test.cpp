// The spread of repeated measurements (what validate reports beside the model's error), on inputs
// whose answers are exact in binary floating point, so every value is asserted with ==.
#include <gtest/gtest.h>

#include "sim/error_metrics.hpp"

using namespace privrec::sim;

// Odd count: median the middle value; range 100 (6 - 3) / 4 = 75 %; deviations {1, 0, 2}, MAD 1,
// 25 %. The order of the repeats does not matter.
TEST(MeasurementSpread, OddRepeatsMedianRangeMad) {
  for (const std::vector<double>& v : {std::vector<double>{3, 4, 6}, std::vector<double>{6, 3, 4}}) {
    const Spread s = summarize_repeats(v);
    EXPECT_EQ(s.repeats, 3);
    EXPECT_EQ(s.median, 4.0);
    EXPECT_EQ(s.min, 3.0);
    EXPECT_EQ(s.max, 6.0);
    EXPECT_EQ(s.range_pct, 75.0);
    EXPECT_EQ(s.mad_pct, 25.0);
  }
}

// Even count: median the mean of the two middle values (4); range 100 (8 - 2) / 4 = 150 %;
// deviations {2, 0, 0, 4}, their median (0 + 2) / 2 = 1, 25 %.
TEST(MeasurementSpread, EvenRepeatsMedianIsMeanOfMiddlePair) {
  const Spread s = summarize_repeats({8, 2, 4, 4});
  EXPECT_EQ(s.repeats, 4);
  EXPECT_EQ(s.median, 4.0);
  EXPECT_EQ(s.min, 2.0);
  EXPECT_EQ(s.max, 8.0);
  EXPECT_EQ(s.range_pct, 150.0);
  EXPECT_EQ(s.mad_pct, 25.0);
}

// Two repeats (validate --repeats 2): the MAD is half the range.
TEST(MeasurementSpread, TwoRepeatsMadIsHalfTheRange) {
  const Spread s = summarize_repeats({3, 5});
  EXPECT_EQ(s.median, 4.0);
  EXPECT_EQ(s.range_pct, 50.0);
  EXPECT_EQ(s.mad_pct, 25.0);
}

// One repeat has no spread; none gives zeros; a zero median divides nothing.
TEST(MeasurementSpread, DegenerateInputsGiveZeroSpread) {
  const Spread one = summarize_repeats({5});
  EXPECT_EQ(one.repeats, 1);
  EXPECT_EQ(one.median, 5.0);
  EXPECT_EQ(one.min, 5.0);
  EXPECT_EQ(one.max, 5.0);
  EXPECT_EQ(one.range_pct, 0.0);
  EXPECT_EQ(one.mad_pct, 0.0);
  const Spread none = summarize_repeats({});
  EXPECT_EQ(none.repeats, 0);
  EXPECT_EQ(none.median, 0.0);
  EXPECT_EQ(none.range_pct, 0.0);
  EXPECT_EQ(none.mad_pct, 0.0);
  const Spread zeros = summarize_repeats({0, 0, 0});
  EXPECT_EQ(zeros.median, 0.0);
  EXPECT_EQ(zeros.range_pct, 0.0);
  EXPECT_EQ(zeros.mad_pct, 0.0);
}

// The JSON keys carry the repeats' unit.
TEST(MeasurementSpread, JsonKeysCarryTheUnit) {
  const nlohmann::json j = summarize_repeats({3, 4, 6}).to_json("ms");
  EXPECT_EQ(j.at("repeats").get<int64_t>(), 3);
  EXPECT_EQ(j.at("median_ms").get<double>(), 4.0);
  EXPECT_EQ(j.at("min_ms").get<double>(), 3.0);
  EXPECT_EQ(j.at("max_ms").get<double>(), 6.0);
  EXPECT_EQ(j.at("spread_pct").get<double>(), 75.0);
  EXPECT_EQ(j.at("mad_pct").get<double>(), 25.0);
  EXPECT_EQ(j.size(), 6u);
}

// Over quantities: the median and worst range, the median MAD. Ranges {75, 150, 50} -> median 75,
// worst 150; MADs {25, 25, 25} -> 25.
TEST(MeasurementSpread, SummaryOverQuantities) {
  const SpreadSummary s =
      summarize_spreads({summarize_repeats({3, 4, 6}), summarize_repeats({8, 2, 4, 4}), summarize_repeats({3, 5})});
  EXPECT_EQ(s.quantities, 3);
  EXPECT_EQ(s.median_range_pct, 75.0);
  EXPECT_EQ(s.worst_range_pct, 150.0);
  EXPECT_EQ(s.median_mad_pct, 25.0);
  const nlohmann::json j = s.to_json();
  EXPECT_EQ(j.at("median_spread_pct").get<double>(), 75.0);
  EXPECT_EQ(j.at("worst_spread_pct").get<double>(), 150.0);
  const SpreadSummary empty = summarize_spreads({});
  EXPECT_EQ(empty.quantities, 0);
  EXPECT_EQ(empty.median_range_pct, 0.0);
  EXPECT_EQ(empty.worst_range_pct, 0.0);
}

// The model's error against a median measurement: signed, relative to the measurement.
TEST(MeasurementSpread, ErrorAgainstTheMedian) {
  const Spread s = summarize_repeats({3, 4, 6});
  EXPECT_EQ(error_pct(s.median, 5.0), 25.0);
  EXPECT_EQ(error_pct(s.median, 3.0), -25.0);
}
