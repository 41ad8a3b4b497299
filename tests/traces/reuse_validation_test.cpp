// Statistical validation of the reuse analysis: SHARDS sampling within its own reported error on
// streams over 10^6 rows, and Che's approximation against the steady-state LRU hit rates of the
// repository's synthetic traces (which draw every lookup independently, as Che assumes).
#include <gtest/gtest.h>

#include <cmath>

#include "tests/traces/reuse_streams.hpp"
#include "traces/che_approximation.hpp"
#include "traces/synthetic_trace.hpp"

using namespace privrec;
using privrec::test::Event;
using privrec::test::feed;
using privrec::test::rank_events;

namespace {

TableSpec table(const char* name, int64_t rows, int64_t dim, int64_t pooling, double zipf_s) {
  TableSpec t;
  t.name = name, t.rows = rows, t.dim = dim, t.pooling = pooling;
  if (zipf_s > 0) t.access.kind = AccessDistribution::Kind::zipf, t.access.zipf_exponent = zipf_s;
  return t;
}

// Steady-state LRU hit rates of the repository's synthetic trace (lookups fed example by example,
// table by table within an example, each table's rows tagged with the table): the first `warm`
// lookups only fill the cache.
struct TraceHitRates {
  std::vector<double> overall;               // per capacity
  std::vector<std::vector<double>> table;    // [table][capacity]
};
TraceHitRates trace_hit_rates(const std::vector<TableSpec>& tables, const std::vector<uint64_t>& caps, int64_t warm,
                              int64_t measured) {
  Workload w;
  w.batch_size = 4096;  // large batches: the generator's parallel loop starts seldom
  w.tables = tables;
  const SyntheticTrace trace(w, 21);
  ReuseOptions o;
  o.capacities_bytes = caps;
  o.tags = static_cast<int>(tables.size());
  ReuseAnalyzer a(o);
  a.set_counting(false);
  int64_t done = 0;
  for (int64_t b = 0; done < warm + measured; ++b) {
    if (done >= warm) a.set_counting(true);
    const Batch batch = trace.batch(b);
    for (int64_t i = 0; i < w.batch_size; ++i)
      for (size_t t = 0; t < tables.size(); ++t)
        for (int64_t j = 0; j < tables[t].pooling; ++j, ++done)
          a.access(uint64_t{t} << 40 | batch.tables[t].indices[i * tables[t].pooling + j],
                   static_cast<uint32_t>(tables[t].dim * 4), static_cast<int>(t));
  }
  TraceHitRates r{std::vector<double>(caps.size()), {}};
  double n = 0;
  for (size_t t = 0; t < tables.size(); ++t) {
    const TagHits h = a.hits(static_cast<int>(t));
    n += h.accesses;
    r.table.emplace_back();
    for (size_t j = 0; j < caps.size(); ++j) r.overall[j] += h.at[j].hits, r.table[t].push_back(h.at[j].hits / h.accesses);
  }
  for (double& x : r.overall) x /= n;
  return r;
}

}  // namespace

// SHARDS on streams over 10^6 rows: 4 M accesses of 128 B rows, capacities 2 MB and 32 MB (16k and
// 256k rows), rate 0.05 (about 50k tracked rows), 12 seeds. Each estimate is within 4 reported
// standard errors of the exact count, plus a slack of 0.2 % of the accesses for the bias of scaling
// sampled distances (at 2 MB the capacity holds about 800 sampled rows, so the distance estimate
// near the capacity scatters by 1/sqrt(800) = 3.5 %, which smears the hit-rate curve over that
// width; the measured bias is well below the slack). And the reported errors are right: the spread of
// the 12 estimates agrees with their root-mean-square within a factor of 2.
TEST(ReuseSampling, WithinReportedErrorOverMillionRows) {
  const std::vector<uint64_t> caps = {2000000, 32000000};
  for (double s : {0.0, 1.05}) {
    const std::vector<Event> ev = rank_events(4000000, 1000000, s, 10);
    ReuseOptions o;
    o.capacities_bytes = caps;
    ReuseAnalyzer exact(o);
    feed(exact, ev);
    const TagHits truth = exact.hits(0);
    std::vector<std::vector<double>> est(caps.size()), se(caps.size());
    for (uint64_t seed = 1; seed <= 12; ++seed) {
      o.sample_rate = 0.05;
      o.seed = seed;
      ReuseAnalyzer a(o);
      feed(a, ev);
      const TagHits h = a.hits(0);
      EXPECT_EQ(h.accesses, truth.accesses);
      for (size_t j = 0; j < caps.size(); ++j) {
        EXPECT_LE(std::abs(h.at[j].hits - truth.at[j].hits), 4 * h.at[j].stderr_hits + 0.002 * truth.accesses)
            << "zipf " << s << " capacity " << caps[j] << " seed " << seed;
        est[j].push_back(h.at[j].hits), se[j].push_back(h.at[j].stderr_hits);
      }
    }
    for (size_t j = 0; j < caps.size(); ++j) {
      double mean = 0, var = 0, ms = 0;
      for (size_t i = 0; i < est[j].size(); ++i) mean += est[j][i] / est[j].size(), ms += se[j][i] * se[j][i] / se[j].size();
      for (double x : est[j]) var += (x - mean) * (x - mean) / (est[j].size() - 1);
      const double ratio = std::sqrt(var / ms);
      EXPECT_GT(ratio, 0.5) << "zipf " << s << " capacity " << caps[j];
      EXPECT_LT(ratio, 2.0) << "zipf " << s << " capacity " << caps[j];
      EXPECT_LT(std::abs(mean - truth.at[j].hits), 0.002 * truth.accesses) << "bias, zipf " << s << " capacity " << caps[j];
    }
  }
}

// The steady-state (Kaplan-Meier) estimate from a sample against the same estimate over every
// row: within 4 of its reported standard errors plus 0.5 % over 12 seeds, and the reported errors
// agree with the spread over seeds within a factor of 2.5 (8 groups estimate a spread loosely).
// 2 M accesses over 10^6 rows: most first accesses are censored, so the estimate leans on them.
TEST(ReuseSampling, SteadyStateWithinReportedError) {
  const std::vector<uint64_t> caps = {2000000, 32000000};
  for (double s : {0.0, 1.05}) {
    const std::vector<Event> ev = rank_events(2000000, 1000000, s, 11);
    ReuseOptions o;
    o.capacities_bytes = caps;
    ReuseAnalyzer exact(o);
    feed(exact, ev);
    for (size_t j = 0; j < caps.size(); ++j) {
      double none = -1;
      const double truth = exact.steady_hit_rate(caps[j], 0, &none);
      EXPECT_EQ(none, 0.0);  // nothing sampled, no sampling error
      std::vector<double> est, se;
      for (uint64_t seed = 1; seed <= 12; ++seed) {
        o.sample_rate = 0.05, o.seed = seed;
        ReuseAnalyzer a(o);
        feed(a, ev);
        double err = 0;
        est.push_back(a.steady_hit_rate(caps[j], 0, &err)), se.push_back(err);
        EXPECT_LE(std::abs(est.back() - truth), 4 * err + 0.005) << "zipf " << s << " capacity " << caps[j] << " seed " << seed;
      }
      double mean = 0, var = 0, ms = 0;
      for (size_t i = 0; i < est.size(); ++i) mean += est[i] / est.size(), ms += se[i] * se[i] / se.size();
      for (double x : est) var += (x - mean) * (x - mean) / (est.size() - 1);
      const double ratio = std::sqrt(var / ms);
      EXPECT_GT(ratio, 0.4) << "zipf " << s << " capacity " << caps[j];
      EXPECT_LT(ratio, 2.5) << "zipf " << s << " capacity " << caps[j];
    }
  }
}

// Che against the trace-driven steady state of one table (10^5 rows of 128 B, bags of 4 lookups that
// may repeat a row) at 1 %, 10 % and 50 % of the rows: 2 M warm-up lookups see over 80 % of the rows
// even under zipf, so the cache is full before counting starts; the 2 M counted lookups put the
// trace's own noise near 0.1 %. Che is asymptotically exact for large caches and within 0.1 % here
// (uniform: exactly capacity / rows), so 0.5 % absolute (the brief allowed 2 %) leaves room for noise.
TEST(CheVsSyntheticTrace, OneTable) {
  const int64_t rows = 100000;
  const std::vector<uint64_t> caps = {rows * 128 / 100, rows * 128 / 10, rows * 128 / 2};
  for (double s : {0.0, 1.05}) {
    const TraceHitRates trace = trace_hit_rates({table("t", rows, 32, 4, s)}, caps, 2000000, 2000000);
    for (size_t j = 0; j < caps.size(); ++j) {
      const double che = che_lru({{rows, 1.0, 128, s}}, static_cast<double>(caps[j])).hit_rate;
      EXPECT_NEAR(che, trace.overall[j], 0.005) << "zipf " << s << " capacity " << caps[j];
    }
  }
}

// Two tables sharing one cache: 3 lookups a example into 50k zipf rows of 64 B, 1 into 20k uniform
// rows of 256 B (shares 0.75 and 0.25).
TEST(CheVsSyntheticTrace, TwoTables) {
  const std::vector<PopularityGroup> groups = {{50000, 0.75, 64, 1.05}, {20000, 0.25, 256, 0.0}};
  const double all = 50000 * 64 + 20000 * 256;
  const std::vector<uint64_t> caps = {static_cast<uint64_t>(all / 100), static_cast<uint64_t>(all / 10),
                                      static_cast<uint64_t>(all / 2)};
  const TraceHitRates trace =
      trace_hit_rates({table("a", 50000, 16, 3, 1.05), table("b", 20000, 64, 1, 0.0)}, caps, 2000000, 2000000);
  for (size_t j = 0; j < caps.size(); ++j) {
    const CheResult che = che_lru(groups, static_cast<double>(caps[j]));
    EXPECT_NEAR(che.hit_rate, trace.overall[j], 0.005) << "capacity " << caps[j];
    for (size_t t = 0; t < 2; ++t) EXPECT_NEAR(che.group_hit_rate[t], trace.table[t][j], 0.005) << "table " << t << " capacity " << caps[j];
  }
}
