#include "sim/analytic_model.hpp"

#include <algorithm>
#include <cmath>

#include "traces/row_sort.hpp"

namespace privrec::sim {

namespace {
constexpr int64_t kExactRanks = 4096;  // zipf ranks summed one by one
constexpr int kTailBuckets = 4096;     // log-spaced buckets for the rest

// Integral of x^-s.
double power_integral(double a, double b, double s) {
  if (std::abs(s - 1.0) < 1e-12) return std::log(b / a);
  return (std::pow(b, 1.0 - s) - std::pow(a, 1.0 - s)) / (1.0 - s);
}

// 1 - (1 - p)^k, accurate for tiny p and huge k.
double hit_at_least_once(double p, double k) {
  if (p >= 1.0) return 1.0;
  return -std::expm1(k * std::log1p(-p));
}

uint64_t round_count(double x) { return static_cast<uint64_t>(std::llround(std::max(0.0, x))); }

// log of the binomial probability of m successes in n trials of probability p.
double log_binomial(double n, double m, double p) {
  return std::lgamma(n + 1) - std::lgamma(m + 1) - std::lgamma(n - m + 1) + m * std::log(p) + (n - m) * std::log1p(-p);
}
}  // namespace

RowProbabilities::RowProbabilities(int64_t rows, const AccessDistribution& access) {
  const double n = static_cast<double>(rows);
  if (access.kind == AccessDistribution::Kind::uniform) {
    groups_.emplace_back(1.0 / n, n);
    return;
  }
  const double s = access.zipf_exponent;
  const int64_t exact = std::min<int64_t>(rows, kExactRanks);
  double norm = 0;
  for (int64_t r = 1; r <= exact; ++r) norm += std::pow(static_cast<double>(r), -s);
  if (rows > exact) norm += power_integral(exact + 0.5, n + 0.5, s);  // midpoint rule for the tail
  for (int64_t r = 1; r <= exact; ++r) groups_.emplace_back(std::pow(static_cast<double>(r), -s) / norm, 1.0);
  if (rows > exact) {
    const double lo = static_cast<double>(exact), ratio = std::pow(n / lo, 1.0 / kTailBuckets);
    double a = lo;  // the bucket covers ranks (a, b]
    for (int i = 0; i < kTailBuckets && a < n; ++i) {
      const double b = i + 1 == kTailBuckets ? n : std::max(a + 1, std::floor(lo * std::pow(ratio, i + 1)));
      const double count = b - a;
      groups_.emplace_back(power_integral(a + 0.5, b + 0.5, s) / norm / count, count);
      a = b;
    }
  }
}

double RowProbabilities::sum(const std::function<double(double)>& g) const {
  double total = 0;
  for (const auto& [p, count] : groups_) total += count * g(p);
  return total;
}

double expected_distinct(const RowProbabilities& rows, double k) {
  return rows.sum([k](double p) { return hit_at_least_once(p, k); });
}

double expected_single(const RowProbabilities& rows, double k) {
  if (k < 1) return 0;
  return rows.sum([k](double p) { return p >= 1.0 ? (k == 1 ? 1.0 : 0.0) : k * p * std::exp((k - 1) * std::log1p(-p)); });
}

double expected_distinct_hottest(const RowProbabilities& rows, double n, double k) {
  double total = 0;
  for (const auto& [p, count] : rows.groups()) {  // most probable first
    const double take = std::min(count, n);
    total += take * hit_at_least_once(p, k);
    if ((n -= take) <= 0) break;
  }
  return total;
}

AnalyticModel::AnalyticModel(const Workload& w, const AlgorithmConfig& cfg) : w_(w), cfg_(cfg) {
  const double B = static_cast<double>(w.batch_size);
  for (const auto& t : w.tables) {
    rows_.emplace_back(t.rows, t.access);
    const double L = static_cast<double>(t.pooling);
    batch_distinct_.push_back(expected_distinct(rows_.back(), B * L));
    batch_single_.push_back(expected_single(rows_.back(), B * L));
    bag_distinct_.push_back(B * expected_distinct(rows_.back(), L));
  }
  fixed_ = expected_fixed_sizes();
}

StepSizes AnalyticModel::expected_fixed_sizes() const {
  BatchStats stats;
  const int64_t B = w_.batch_size;
  stats.batch = B;
  stats.dense_values = B * w_.dense_features;
  for (size_t i = 0; i < w_.tables.size(); ++i) {
    const auto& spec = w_.tables[i];
    TableBatchStats s;
    s.lookups = B * spec.pooling;
    s.unique_rows = static_cast<int64_t>(round_count(batch_distinct_[i]));
    s.single_rows = std::min(s.unique_rows, static_cast<int64_t>(round_count(batch_single_[i])));
    s.bag_distinct = static_cast<int64_t>(round_count(bag_distinct_[i]));
    s.max_row = spec.rows - 1;  // over a batch of many lookups the largest id is all but surely near the top
    s.bag_sort_ops = static_cast<uint64_t>(B) * comparison_sort_ops(static_cast<uint64_t>(spec.pooling));
    s.bag_lookups_sq = static_cast<uint64_t>(B * spec.pooling * spec.pooling);
    stats.tables.push_back(s);
  }
  StepSizes sizes = step_sizes(w_, stats);
  if (plan_of(cfg_.kind).has(OpKind::select_rows)) {
    std::vector<TableSelection> selection;
    // Rows touched by exactly m examples, each adding a clipped contribution f: the per-example
    // factor min(1, C1 / sqrt(distinct rows of the example over all tables)).
    double per_example_distinct = 0;
    for (size_t i = 0; i < w_.tables.size(); ++i) per_example_distinct += bag_distinct_[i] / static_cast<double>(B);
    const double f = static_cast<float>(std::min(1.0, cfg_.adafest.c1 / std::sqrt(std::max(1.0, per_example_distinct))));
    auto pass = [&](double count) { return cfg_.adafest.pass_probability(count, cfg_.noise); };
    const double p0 = cfg_.zero_count_selection_probability();
    for (size_t i = 0; i < w_.tables.size(); ++i) {
      const double L = static_cast<double>(w_.tables[i].pooling), n = static_cast<double>(w_.tables[i].rows);
      TableSelection sel;
      sel.selected_touched = rows_[i].sum([&](double p) {
        const double pi = hit_at_least_once(p, L);  // an example touches the row
        if (pi <= 0) return 0.0;
        const double mean = B * pi, sd = std::sqrt(B * pi * (1 - pi));
        const double lo = std::max(1.0, std::floor(mean - 12 * sd - 2)), hi = std::min<double>(B, std::ceil(mean + 12 * sd + 2));
        double e = 0;
        for (double m = lo; m <= hi; ++m)
          e += (pi >= 1.0 ? (m == B ? 1.0 : 0.0) : std::exp(log_binomial(B, m, pi))) * pass(m * f);
        return e;
      });
      sel.false_positives = p0 * (n - batch_distinct_[i]);
      sel.draws = p0 > 0 ? p0 * n + 1 : 0;
      selection.push_back(sel);
    }
    add_selection(selection, sizes);
  }
  if (plan_of(cfg_.kind).has(OpKind::choose_fixed_rows)) {
    for (size_t i = 0; i < w_.tables.size(); ++i) {
      const double n = static_cast<double>(std::min<int64_t>(std::max<int64_t>(0, cfg_.fest.k), w_.tables[i].rows));
      sizes.tables[i].selected = static_cast<uint64_t>(n);
      sizes.tables[i].selected_touched =
          round_count(expected_distinct_hottest(rows_[i], n, static_cast<double>(B * w_.tables[i].pooling)));
    }
  }
  return sizes;
}

StepSizes AnalyticModel::step(int64_t t, bool has_next) const {
  StepSizes in = fixed_;
  const int64_t B = w_.batch_size;
  if (plan_of(cfg_.kind).has(OpKind::lazy_catchup) && has_next) {
    // Every row of the next batch is owed (no row is caught up twice in a step). Its pending steps:
    // sum_r P(r in the next batch) E[t - h_r | ...] = sum_r 1 - (1 - q_r)^t, q_r = P(r in a batch).
    for (size_t i = 0; i < w_.tables.size(); ++i) {
      const auto& spec = w_.tables[i];
      const double k = static_cast<double>(B * spec.pooling);
      TableSizes& c = in.tables[i];
      c.next_lookups = static_cast<uint64_t>(B * spec.pooling);
      c.next_unique = round_count(batch_distinct_[i]);
      c.owed = c.next_unique;
      c.next_sort_ops = radix_sort_ops(c.next_lookups, bits_for(static_cast<uint64_t>(spec.rows - 1)));
      c.owed_steps = round_count(rows_[i].sum([&](double p) {
        const double q = hit_at_least_once(p, k);
        return hit_at_least_once(q, static_cast<double>(t));
      }));
    }
  }
  return in;
}

StepSizes AnalyticModel::setup(int64_t steps) const {
  StepSizes out;
  out.dense = fixed_.dense;
  for (size_t i = 0; i < w_.tables.size(); ++i) {
    const auto& spec = w_.tables[i];
    const TableSizes& step = fixed_.tables[i];
    out.tables.push_back({.rows = static_cast<uint64_t>(spec.rows),
                          .trace_lookups = static_cast<uint64_t>(steps) * step.lookups,
                          .trace_bag_distinct = static_cast<uint64_t>(steps) * step.bag_distinct,
                          .trace_bag_sort_ops = static_cast<uint64_t>(steps) * step.bag_sort_ops});
    out.tables.back().selected = step.selected;
  }
  return out;
}

StepSizes AnalyticModel::flush(int64_t last_step) const {
  StepSizes out;
  out.dense = fixed_.dense;
  const double T = static_cast<double>(last_step);
  for (size_t i = 0; i < w_.tables.size(); ++i) {
    const auto& spec = w_.tables[i];
    const double k = static_cast<double>(w_.batch_size * spec.pooling);
    TableSizes f;
    f.rows = static_cast<uint64_t>(spec.rows);
    f.owed = f.rows;  // the last step catches nothing up: every row has pending noise
    // E[T - h_r] = sum_{j < T} (1 - q_r)^j = (1 - (1 - q_r)^T) / q_r (T when q_r = 0).
    f.owed_steps = round_count(rows_[i].sum([&](double p) {
      const double q = hit_at_least_once(p, k);
      return q > 0 ? hit_at_least_once(q, T) / q : T;
    }));
    out.tables.push_back(f);
  }
  return out;
}

}  // namespace privrec::sim
