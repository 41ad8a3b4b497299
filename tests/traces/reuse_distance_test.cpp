// Reuse (stack) distances against a plain LRU cache simulator (integer-exact), the histogram's hit
// rate between listed capacities, perfect LFU from counts, sampled-mode mechanics, the sample-rate
// rule, and Che's approximation against closed forms. The statistical checks (SHARDS within its
// reported error, Che against the synthetic traces) are in reuse_validation_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <list>
#include <map>
#include <numeric>
#include <unordered_map>
#include <unordered_set>

#include "tests/traces/reuse_streams.hpp"
#include "traces/che_approximation.hpp"

using namespace privrec;
using privrec::test::Event;
using privrec::test::ReferenceLru;
using privrec::test::RankStream;
using privrec::test::feed;
using privrec::test::rank_events;

namespace {


struct Counts {
  std::vector<uint64_t> accesses, cold;
  std::vector<std::vector<uint64_t>> hits;  // [tag][capacity]
};

// The reference: one simulated cache per capacity; a spacer is one object of its bytes, never reused;
// other data (touch_other) an object of its bytes under its own key, never counted.
Counts simulate(const std::vector<Event>& events, const std::vector<uint64_t>& caps, int tags) {
  std::vector<ReferenceLru> lru;
  for (uint64_t c : caps) lru.emplace_back(c);
  Counts r{std::vector<uint64_t>(tags), std::vector<uint64_t>(tags),
           std::vector<std::vector<uint64_t>>(tags, std::vector<uint64_t>(caps.size()))};
  std::unordered_set<uint64_t> seen;
  bool counting = true;
  uint64_t spacer_key = uint64_t{1} << 63;
  for (const Event& e : events) {
    if (e.kind == Event::count_on || e.kind == Event::count_off) {
      counting = e.kind == Event::count_on;
      continue;
    }
    const uint64_t key = e.kind == Event::spacer ? spacer_key++ : e.key;
    if (e.kind == Event::other) {
      for (auto& c : lru) c.access(key, e.bytes);
      continue;
    }
    const bool first = seen.insert(key).second;
    for (size_t j = 0; j < caps.size(); ++j) {
      const bool hit = lru[j].access(key, e.bytes);
      if (counting && e.kind == Event::access && hit) ++r.hits[e.tag][j];
    }
    if (counting && e.kind == Event::access) ++r.accesses[e.tag], r.cold[e.tag] += first;
  }
  return r;
}

void expect_equal_to_reference(const std::vector<Event>& ev, const std::vector<uint64_t>& caps, int tags,
                               uint32_t min_slots = 16) {
  ReuseOptions o;
  o.capacities_bytes = caps;
  o.tags = tags;
  o.min_time_slots = min_slots;
  ReuseAnalyzer a(o);
  feed(a, ev);
  const Counts ref = simulate(ev, caps, tags);
  EXPECT_GE(a.compactions(), 3u) << "the stream should renumber the tree several times";
  for (int t = 0; t < tags; ++t) {
    const TagHits h = a.hits(t);
    EXPECT_EQ(h.accesses, static_cast<double>(ref.accesses[t])) << "tag " << t;
    EXPECT_EQ(h.cold, static_cast<double>(ref.cold[t])) << "tag " << t;
    ASSERT_EQ(h.at.size(), caps.size());
    for (size_t j = 0; j < caps.size(); ++j) {
      EXPECT_EQ(h.at[j].hits, static_cast<double>(ref.hits[t][j])) << "tag " << t << " capacity " << caps[j];
      EXPECT_EQ(h.at[j].stderr_hits, 0.0);
      if (ref.accesses[t]) {
        EXPECT_EQ(a.lru_hit_rate(caps[j], t), static_cast<double>(ref.hits[t][j]) / ref.accesses[t]);
      }
    }
  }
}

const std::vector<uint64_t> kRowCaps = {0, 64, 128, 100 * 128, 1000 * 128 + 5, 5000 * 128, 19999 * 128, 20000 * 128};

}  // namespace

TEST(ReuseAnalyzer, ExactEqualsLruSimulatorUniform) {
  expect_equal_to_reference(rank_events(200000, 20000, 0.0, 1), kRowCaps, 1);
}

TEST(ReuseAnalyzer, ExactEqualsLruSimulatorZipf) {
  expect_equal_to_reference(rank_events(200000, 20000, 1.05, 2), kRowCaps, 1);
}

// Rows of 40 .. 1000 bytes (fixed per row), two tags, capacities between and across row sizes.
TEST(ReuseAnalyzer, ExactEqualsLruSimulatorMixedRowSizes) {
  std::vector<Event> ev = rank_events(200000, 20000, 0.9, 3);
  for (auto& e : ev) {
    const uint64_t h = reuse_detail::mix64(e.key * 7);
    e.bytes = 40 + h % 961;
    e.tag = static_cast<int>((h >> 20) % 2);
  }
  expect_equal_to_reference(ev, {0, 39, 40, 999, 1000, 65536, 1000003, 4u << 20, 12u << 20}, 2);
}

// Warm-up not counted, then spacers of 0 .. 300 kB (some larger than small capacities) between
// accesses; a short burst of counting switched off in the middle too.
TEST(ReuseAnalyzer, ExactEqualsLruSimulatorWithSpacersAndWarmup) {
  const std::vector<Event> base = rank_events(150000, 10000, 1.05, 4);
  std::mt19937_64 gen(5);
  std::vector<Event> ev{{Event::count_off}};
  for (size_t i = 0; i < base.size(); ++i) {
    if (i == 30000 || i == 100500) ev.push_back({Event::count_on});
    if (i == 100000) ev.push_back({Event::count_off});
    if (gen() % 500 == 0) ev.push_back({Event::spacer, 0, gen() % 300000});
    ev.push_back(base[i]);
  }
  expect_equal_to_reference(ev, {128, 64 * 128, 1000 * 128, 3000 * 128, 9000 * 128, 20000 * 128}, 1);
}

// Working buffers rewritten every step (touch_other) stand between reuses like spacers, but a
// reuse spanning several steps spans their bytes once: against the LRU simulator with the same
// data as objects of their own, every count exact. Each "step" touches 6 chunks of 0 .. 200 kB.
TEST(ReuseAnalyzer, ExactEqualsLruSimulatorWithWorkingData) {
  const std::vector<Event> base = rank_events(150000, 10000, 0.9, 14);
  std::mt19937_64 gen(15);
  std::vector<uint64_t> chunk(6);
  for (auto& c : chunk) c = 1 + gen() % 200000;
  std::vector<Event> ev;
  for (size_t i = 0; i < base.size(); ++i) {
    if (i % 5000 == 0)
      for (size_t c = 0; c < chunk.size(); ++c) ev.push_back({Event::other, (uint64_t{1} << 62) + c, chunk[c]});
    ev.push_back(base[i]);
  }
  expect_equal_to_reference(ev, {128, 64 * 128, 1000 * 128, 3000 * 128, 9000 * 128, 20000 * 128}, 1);
}

// Between histogram bin edges the hit rate is interpolated: the capacity's bin [lo, lo + w) has
// w <= capacity / 32, and the estimate lies between the true hit rates at lo - 1 and lo + w - 1, so
// within the true rates at capacity x 31/32 and x 33/32.
TEST(ReuseAnalyzer, HitRateAtAnyCapacityWithinBinResolution) {
  std::vector<Event> ev = rank_events(200000, 20000, 1.05, 6);
  for (auto& e : ev) e.bytes = 64 + reuse_detail::mix64(e.key) % 512;
  ReuseOptions o;
  o.capacities_bytes = {1u << 20};
  ReuseAnalyzer a(o);
  feed(a, ev);
  for (uint64_t c : {100u, 3000u, 77777u, 300001u, 1234567u, 4000000u}) {
    const uint64_t lo = c - c / 32, hi = c + (c + 31) / 32;
    const Counts ref = simulate(ev, {lo, c, hi}, 1);
    const double n = static_cast<double>(ref.accesses[0]), est = a.lru_hit_rate(c, 0);
    EXPECT_GE(est, ref.hits[0][0] / n - 1e-12) << c;
    EXPECT_LE(est, ref.hits[0][2] / n + 1e-12) << c;
    EXPECT_NEAR(est, ref.hits[0][1] / n, (ref.hits[0][2] - ref.hits[0][0]) / n + 1e-12) << c;
  }
}

TEST(ReuseAnalyzer, PerfectLfuFromCounts) {
  std::vector<Event> ev = rank_events(5000, 500, 1.05, 7);
  for (auto& e : ev) e.bytes = 16 + reuse_detail::mix64(e.key) % 200;
  ev.insert(ev.begin() + 1000, Event{Event::count_on});
  ev.insert(ev.begin(), Event{Event::count_off});
  ReuseAnalyzer a(ReuseOptions{});
  feed(a, ev);
  std::map<uint64_t, std::pair<uint64_t, uint64_t>> rows;  // key -> (count, bytes)
  uint64_t n = 0;
  bool counting = true;
  for (const Event& e : ev) {
    if (e.kind != Event::access) {
      counting = e.kind == Event::count_on;
      continue;
    }
    rows[e.key].second = e.bytes;
    if (counting) ++rows[e.key].first, ++n;
  }
  std::vector<std::tuple<uint64_t, uint64_t, uint64_t>> order;  // (count, key, bytes), counted rows only
  for (const auto& [key, cb] : rows)
    if (cb.first) order.emplace_back(cb.first, key, cb.second);
  std::sort(order.begin(), order.end(), [](const auto& x, const auto& y) {
    return std::get<0>(x) != std::get<0>(y) ? std::get<0>(x) > std::get<0>(y) : std::get<1>(x) < std::get<1>(y);
  });
  for (uint64_t cap : {0u, 100u, 1000u, 5000u, 20000u, 60000u, 1000000u}) {
    uint64_t used = 0, hits = 0;
    for (const auto& [count, key, bytes] : order) {
      if (used + bytes > cap) break;
      used += bytes, hits += count;
    }
    EXPECT_NEAR(a.lfu_hit_rate(cap), static_cast<double>(hits) / n, 1e-12) << cap;
  }
}

// Memory follows the tracked rows, not the accesses, and spacers fold at compaction.
TEST(ReuseAnalyzer, MemoryBoundedByRows) {
  ReuseOptions o;
  o.capacities_bytes = {1 << 16};
  o.min_time_slots = 1 << 12;
  ReuseAnalyzer a(o);
  RankStream r(1000, 0.5, 8);
  size_t early = 0;
  for (int i = 0; i < 2000000; ++i) {
    a.access(r.next(), 128);
    if (i % 3 == 0) a.spacer(1000);
    if (i == 20000) early = a.memory_bytes();  // after several compactions, every row seen
  }
  EXPECT_EQ(a.sampled_rows(), 1000u);
  EXPECT_GT(a.compactions(), 100u);
  // 100 times the accesses, not more memory (the tree's size swings with the folded spacers).
  EXPECT_LE(a.memory_bytes(), early * 5 / 4);
}

TEST(ReuseAnalyzer, RejectsBadOptionsAndInputs) {
  for (double rate : {0.0, -0.1, 1.5, std::nan("")}) {
    ReuseOptions o;
    o.sample_rate = rate;
    EXPECT_THROW(ReuseAnalyzer{o}, std::invalid_argument) << rate;
  }
  ReuseOptions o;
  o.tags = 0;
  EXPECT_THROW(ReuseAnalyzer{o}, std::invalid_argument);
  o.tags = 2;
  o.capacities_bytes = {10, 5};
  EXPECT_THROW(ReuseAnalyzer{o}, std::invalid_argument);
  o.capacities_bytes = {5, 10};
  ReuseAnalyzer a(o);
  EXPECT_THROW(a.access(1, 8, 2), std::out_of_range);
  EXPECT_THROW(a.access(1, 8, -1), std::out_of_range);
  EXPECT_THROW(a.access(1, 0, 0), std::invalid_argument);
  EXPECT_THROW(a.hits(2), std::out_of_range);
}

// The tracked rows are a binomial sample of the distinct rows.
TEST(ReuseAnalyzer, SampledRowsFollowRate) {
  ReuseOptions o;
  o.sample_rate = 0.01;
  o.seed = 9;
  ReuseAnalyzer a(o);
  for (uint64_t k = 0; k < 1000000; ++k) a.access(k, 128);
  EXPECT_NEAR(static_cast<double>(a.sampled_rows()), 10000.0, 4 * std::sqrt(10000.0 * 0.99));
  EXPECT_EQ(a.hits(0).accesses, 1e6);
  EXPECT_NEAR(a.hits(0).cold, 1e6, 4 * std::sqrt(10000.0) / 0.01);
}

// A spacer's bytes are of the full stream: in sampled mode they must reach the capacity comparison at
// face value while the sampled rows' bytes are scaled by 1/rate. 1000 rows of 128 B cycle with a 1 MiB
// spacer after each round: every reuse needs 1 MiB + 128000 B (rows, estimated) of cache. The same
// with the 1 MiB as working data (touch_other, 4 chunks touched every round): tracked whatever the
// sample, at face value too, and no row (not among the bytes of rows touched).
TEST(ReuseAnalyzer, SpacersAndWorkingDataAtFaceValueWhenSampled) {
  for (const bool working : {false, true})
    for (uint64_t seed : {1, 2, 3}) {
      ReuseOptions o;
      o.sample_rate = 0.2;
      o.seed = seed;
      o.capacities_bytes = {(1u << 20) + 64000, (1u << 20) + 192000, (1u << 20) * 10};
      ReuseAnalyzer a(o);
      for (int round = 0; round < 200; ++round) {
        a.set_counting(round > 0);
        for (uint64_t k = 0; k < 1000; ++k) a.access(k, 128);
        if (!working) a.spacer(1u << 20);
        for (uint64_t c = 0; working && c < 4; ++c) a.touch_other((uint64_t{1} << 62) + c, 1u << 18);
      }
      // 1 MiB + 64 kB is short by about 64 kB (the rows' estimate is within +-12 kB): every tracked
      // access misses, so the estimate is 0 within the error of the sampled rows' count. The others
      // hit every time: no tracked access misses, exactly.
      const TagHits h = a.hits(0);
      EXPECT_EQ(h.cold, 0.0);
      EXPECT_EQ(h.accesses, 199000.0);
      EXPECT_LE(h.at[0].hits, 4 * h.at[0].stderr_hits) << seed << working;
      EXPECT_LT(h.at[0].stderr_hits, 0.1 * h.accesses) << seed << working;
      EXPECT_EQ(h.at[1].hits, h.accesses) << seed << working;
      EXPECT_EQ(h.at[2].hits, h.accesses) << seed << working;
      EXPECT_NEAR(a.row_bytes_touched(), 128000.0, 4 * std::sqrt(1000 * 0.8 / 0.2) * 128) << seed << working;
    }
  ReuseOptions o;
  o.sample_rate = 1e-6;
  ReuseAnalyzer tiny(o);
  EXPECT_THROW(tiny.touch_other(1, uint64_t{1} << 60), std::invalid_argument);  // 2^40 tracked bytes
}

// Tracked accesses wait in a short prefetch queue: a query in the middle of the stream must see every
// access made before it, and must not change what comes after.
TEST(ReuseAnalyzer, QueriesMidStreamSeeEveryAccess) {
  const std::vector<Event> ev = rank_events(50000, 5000, 1.05, 11);
  ReuseOptions o;
  o.capacities_bytes = {64 * 128, 1000 * 128};
  o.min_time_slots = 64;
  ReuseAnalyzer queried(o), plain(o);
  for (size_t i = 0; i < ev.size(); ++i) {
    queried.access(ev[i].key, 128);
    plain.access(ev[i].key, 128);
    if (i % 997 == 0) {
      const std::vector<Event> prefix(ev.begin(), ev.begin() + static_cast<std::ptrdiff_t>(i + 1));
      const Counts ref = simulate(prefix, o.capacities_bytes, 1);
      const TagHits h = queried.hits(0);
      ASSERT_EQ(h.accesses, static_cast<double>(i + 1));
      for (size_t j = 0; j < 2; ++j) ASSERT_EQ(h.at[j].hits, static_cast<double>(ref.hits[0][j])) << i;
      ASSERT_EQ(queried.lru_hit_rate(1000 * 128, 0), static_cast<double>(ref.hits[0][1]) / (i + 1));
    }
  }
  const TagHits a = queried.hits(0), b = plain.hits(0);
  for (size_t j = 0; j < 2; ++j) EXPECT_EQ(a.at[j].hits, b.at[j].hits);
  EXPECT_EQ(queried.sampled_rows(), plain.sampled_rows());
}

// A caller that feeds only the keys samples() accepts (access_presampled): the analysis tracks the same
// rows as access() would, and the tag's accesses and hits are estimated from the sample.
TEST(ReuseAnalyzer, PresampledTagIsEstimatedFromTheSample) {
  const std::vector<Event> ev = rank_events(400000, 40000, 0.0, 12);
  ReuseOptions o;
  o.capacities_bytes = {4000 * 128, 20000 * 128};
  ReuseAnalyzer exact(o);
  feed(exact, ev);
  o.sample_rate = 0.2;
  o.seed = 5;
  ReuseAnalyzer full(o), pre(o);
  feed(full, ev);
  for (const Event& e : ev)
    if (pre.samples(e.key)) pre.access_presampled(e.key, 128);
  EXPECT_EQ(pre.sampled_rows(), full.sampled_rows());
  const TagHits t = exact.hits(0), f = full.hits(0), p = pre.hits(0);
  EXPECT_EQ(f.accesses, 400000.0);
  // About 8000 rows of about 10 accesses each: the tracked accesses scatter by 1/sqrt(8000) = 1.1 %.
  EXPECT_NEAR(p.accesses, 400000.0, 0.05 * 400000);
  for (size_t j = 0; j < 2; ++j) {
    EXPECT_GT(p.at[j].stderr_hits, 0.0);
    EXPECT_LE(std::abs(p.at[j].hits - t.at[j].hits), 4 * p.at[j].stderr_hits + 0.002 * t.accesses) << j;
    EXPECT_LE(std::abs(f.at[j].hits - t.at[j].hits), 4 * f.at[j].stderr_hits + 0.002 * t.accesses) << j;
  }
}

TEST(ChooseSampleRate, ExactBelowThresholdBoundedAbove) {
  EXPECT_EQ(choose_sample_rate(1000, 100), 1.0);
  EXPECT_EQ(choose_sample_rate(1 << 22, 1e6), 1.0);
  EXPECT_EQ(choose_sample_rate(1e9, 1e3), 1.0);  // fewer than 50k rows: all of them
  EXPECT_EQ(choose_sample_rate(1e18, 1e18), 1e-4);
  EXPECT_DOUBLE_EQ(choose_sample_rate(1e9, 1e6), 0.05);
  for (double n : {5e6, 1e8, 1e10, 1e13})
    for (double d : {0.0, 1e3, 1e5, 1e7, 1e9}) {
      const double r = choose_sample_rate(n, d);
      EXPECT_GE(r, 1e-4);
      EXPECT_LE(r, 1.0);
      EXPECT_GE(r * n, 0x1p22 * (1 - 1e-12));                  // enough tracked accesses
      EXPECT_GE(r * d, std::min(d, 5e4) * (1 - 1e-12));        // and rows
      EXPECT_LE(r, std::max({0x1p22 / n, 5e4 / d, 1e-4}) * (1 + 1e-12)) << n << " " << d;  // no more
    }
}

// ---- Che's approximation ----

namespace {

// Che's hit rate with every rank summed one by one (no buckets), T by plain bisection on log T.
double che_by_every_rank(int64_t n, double s, double capacity_rows) {
  std::vector<double> p(n);
  double h = 0;
  for (int64_t k = 1; k <= n; ++k) h += p[k - 1] = std::pow(static_cast<double>(k), -s);
  for (double& x : p) x /= h;
  double lo = std::log(capacity_rows), hi = lo + 60;
  for (int it = 0; it < 100; ++it) {
    const double T = std::exp(0.5 * (lo + hi));
    double held = 0;
    for (double x : p) held += -std::expm1(-x * T);
    (held < capacity_rows ? lo : hi) = 0.5 * (lo + hi);
  }
  double hit = 0;
  for (double x : p) hit += x * -std::expm1(-x * std::exp(0.5 * (lo + hi)));
  return hit;
}

}  // namespace

TEST(Che, UniformIsCapacityOverRows) {
  const std::vector<PopularityGroup> g = {{100000, 1.0, 128, 0.0}};
  for (double rows : {1.0, 1000.0, 50000.0, 99999.0}) {
    const CheResult r = che_lru(g, rows * 128);
    EXPECT_NEAR(r.hit_rate, rows / 100000, 1e-9) << rows;
    ASSERT_EQ(r.group_hit_rate.size(), 1u);
    EXPECT_NEAR(r.group_hit_rate[0], r.hit_rate, 1e-15);
    EXPECT_TRUE(std::isfinite(r.characteristic_time));
  }
  EXPECT_EQ(che_lru(g, 100000.0 * 128).hit_rate, 1.0);
  EXPECT_TRUE(std::isinf(che_lru(g, 1e12).characteristic_time));
  EXPECT_EQ(che_lru(g, 0).hit_rate, 0.0);
}

// The rank buckets change nothing visible: against a sum over every rank.
TEST(Che, RankBucketsMatchEveryRankSum) {
  for (double s : {0.8, 1.05, 1.3})
    for (double rows : {100.0, 3000.0, 40000.0}) {
      const double every = che_by_every_rank(100000, s, rows);
      EXPECT_NEAR(che_lru({{100000, 1.0, 64, s}}, rows * 64).hit_rate, every, 2e-6) << s << " " << rows;
    }
}

TEST(Che, HugePopulationsAreCheapAndOrdered) {
  const std::vector<PopularityGroup> g = {{10000000000, 0.7, 128, 1.05}, {10000000000, 0.3, 64, 0.0}};
  double last = 0;
  for (double cap : {1e6, 1e8, 1e10, 1e12}) {
    const CheResult r = che_lru(g, cap);
    EXPECT_GT(r.hit_rate, last);
    EXPECT_LT(r.hit_rate, 1.0);
    EXPECT_NEAR(r.hit_rate, 0.7 * r.group_hit_rate[0] + 0.3 * r.group_hit_rate[1], 1e-12);
    EXPECT_GE(static_lfu_hit_rate(g, cap), r.hit_rate);
    last = r.hit_rate;
  }
}

// bytes_at_time inverts the characteristic time: the capacity whose T is t holds bytes_at_time(t).
TEST(Che, BytesAtTimeInvertsCharacteristicTime) {
  const ChePopulation pop({{2000000, 0.7, 128, 1.05}, {300000, 0.3, 512, 0.0}});
  for (double cap : {1e5, 3e6, 1e8, 2e8}) {
    const CheResult r = pop.lru(cap);
    EXPECT_NEAR(pop.bytes_at_time(r.characteristic_time), cap, 1e-9 * cap) << cap;
    EXPECT_EQ(r.hit_rate, che_lru({{2000000, 0.7, 128, 1.05}, {300000, 0.3, 512, 0.0}}, cap).hit_rate);
  }
  EXPECT_EQ(pop.bytes_at_time(0), 0.0);
  EXPECT_EQ(pop.bytes_at_time(std::numeric_limits<double>::infinity()), 2000000.0 * 128 + 300000.0 * 512);
}

TEST(Che, StaticLfuTakesTheMostProbableRows) {
  double h500 = 0, h20000 = 0, hn = 0;
  for (int64_t k = 1; k <= 100000; ++k) {
    const double x = std::pow(static_cast<double>(k), -1.05);
    hn += x, h500 += k <= 500 ? x : 0, h20000 += k <= 20000 ? x : 0;
  }
  const std::vector<PopularityGroup> z = {{100000, 1.0, 100, 1.05}};
  EXPECT_NEAR(static_lfu_hit_rate(z, 500 * 100 + 99), h500 / hn, 1e-6);
  EXPECT_NEAR(static_lfu_hit_rate(z, 20000 * 100), h20000 / hn, 1e-6);
  // Two uniform tables: rows of the first are 4x as probable, so they go in first.
  const std::vector<PopularityGroup> two = {{1000, 0.8, 100, 0.0}, {1000, 0.2, 10, 0.0}};
  EXPECT_NEAR(static_lfu_hit_rate(two, 50000), 0.4, 1e-12);
  EXPECT_NEAR(static_lfu_hit_rate(two, 105000), 0.9, 1e-12);
  EXPECT_NEAR(static_lfu_hit_rate(two, 1e9), 1.0, 1e-12);
}

TEST(Che, RejectsBadGroups) {
  EXPECT_THROW(che_lru({}, 1e6), std::invalid_argument);
  EXPECT_THROW(che_lru({{0, 1.0, 128, 0.0}}, 1e6), std::invalid_argument);
  EXPECT_THROW(che_lru({{10, 1.0, 0, 0.0}}, 1e6), std::invalid_argument);
  EXPECT_THROW(che_lru({{10, -1.0, 128, 0.0}}, 1e6), std::invalid_argument);
  EXPECT_THROW(che_lru({{10, 0.0, 128, 0.0}}, 1e6), std::invalid_argument);
  EXPECT_THROW(che_lru({{10, 1.0, 128, -0.5}}, 1e6), std::invalid_argument);
  EXPECT_THROW(static_lfu_hit_rate({{10, 1.0, 128, 0.0}}, std::nan("")), std::invalid_argument);
}


// How sparse the misses are where they happen: each counted access that misses every capacity
// lands in the bin of the misses among the tag's last kMissWindow counted accesses (itself
// included; before the window fills, the fraction so far on the window's scale), per tag. Checked
// against a plain recount of the same flags.
TEST(ReuseAnalyzer, MissWindowCountsTheMissesAroundEachMiss) {
  constexpr int W = ReuseAnalyzer::kMissWindow;
  ReuseOptions o;
  o.capacities_bytes = {64 * 100};  // 100 rows of 64 B
  o.tags = 2;
  ReuseAnalyzer a(o);
  ReferenceLru lru(64 * 100);
  std::vector<std::vector<int>> flags(2);
  std::vector<std::vector<double>> want(2, std::vector<double>(W + 1, 0.0));
  uint64_t next = 1000;
  auto access = [&](uint64_t key, int tag) {
    a.access(key, 64, tag);
    const bool miss = !lru.access(key, 64);
    auto& f = flags[tag];
    f.push_back(miss);
    if (!miss) return;
    const size_t n = std::min<size_t>(f.size(), W);
    const int misses = std::accumulate(f.end() - static_cast<std::ptrdiff_t>(n), f.end(), 0);
    want[tag][static_cast<size_t>(std::lround(double(misses) * W / double(n)))] += 1;
  };
  // Tag 0: one new row, then three hits of row 0 (a quarter of the accesses miss); tag 1 only
  // new rows after a warm stretch; then tag 0 again, every other access new.
  for (int i = 0; i < 400; ++i) {
    access(next++, 0);
    for (int k = 0; k < 3; ++k) access(0, 0);
  }
  for (int i = 0; i < 50; ++i) access(1, 1);
  for (int i = 0; i < 300; ++i) access(next++, 1);
  for (int i = 0; i < 600; ++i) access(i % 2 ? next++ : 0, 0);
  for (int tag = 0; tag < 2; ++tag) {
    const TagHits h = a.hits(tag);
    ASSERT_EQ(h.miss_window_share.size(), static_cast<size_t>(W + 1));
    const double all = std::accumulate(want[tag].begin(), want[tag].end(), 0.0);
    for (int k = 0; k <= W; ++k) EXPECT_DOUBLE_EQ(h.miss_window_share[k], want[tag][k] / all) << tag << " " << k;
  }
  // Once the window is full, tag 0's first stretch has 64 misses in every window of 256.
  EXPECT_GT(a.hits(0).miss_window_share[W / 4], 0.2);
  // A tag that only hit has no shares.
  ReuseAnalyzer b(o);
  b.set_counting(false);
  b.access(7, 64, 1);  // warms the row, not counted
  b.set_counting(true);
  for (int i = 0; i < 10; ++i) b.access(7, 64, 1);
  EXPECT_EQ(b.hits(1).accesses, 10.0);
  EXPECT_EQ(b.hits(1).at[0].hits, 10.0);
  EXPECT_TRUE(b.hits(1).miss_window_share.empty());
}
