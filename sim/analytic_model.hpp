#pragma once
// The analytic model: a step's inputs as expectations, without drawing a batch, so any table size
// is predicted in milliseconds. Uniform access has closed forms (the expected distinct rows of k
// draws from N rows is N (1 - (1 - 1/N)^k)); zipf sums over ranks exactly for the hottest rows and
// over log-spaced rank buckets for the rest. Agrees with the trace-driven model on the same
// workload (tests/sim/analytic_model_test.cpp).
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "models/algorithm.hpp"
#include "models/workload.hpp"
#include "sim/work_model.hpp"

namespace privrec::sim {

// The probabilities with which one lookup hits each row of a table, grouped: (probability, rows).
class RowProbabilities {
 public:
  RowProbabilities(int64_t rows, const AccessDistribution& access);
  // sum over the table's rows of g(p_row).
  double sum(const std::function<double(double)>& g) const;
  const std::vector<std::pair<double, double>>& groups() const { return groups_; }

 private:
  std::vector<std::pair<double, double>> groups_;
};

// Expected distinct rows among k independent lookups: sum_r 1 - (1 - p_r)^k.
double expected_distinct(const RowProbabilities& rows, double k);
// Expected rows exactly one of k independent lookups touched: sum_r k p_r (1 - p_r)^(k-1).
double expected_single(const RowProbabilities& rows, double k);
// The same counted over the `n` most probable rows only (dp-fest's fixed rows, as expected).
double expected_distinct_hottest(const RowProbabilities& rows, double n, double k);

class AnalyticModel {
 public:
  AnalyticModel(const Workload& w, const AlgorithmConfig& cfg);
  // Expected inputs of step t (1-based); `has_next`: lazydp catches up rows of a next batch.
  StepSizes step(int64_t t, bool has_next) const;
  // The sizes of the once-per-run setup of a run of `steps` steps.
  StepSizes setup(int64_t steps) const;
  // Expected flush after `last_step` steps.
  StepSizes flush(int64_t last_step) const;

 private:
  StepSizes expected_fixed_sizes() const;
  Workload w_;
  AlgorithmConfig cfg_;
  std::vector<RowProbabilities> rows_;
  std::vector<double> batch_distinct_, batch_single_, bag_distinct_;  // per table
  StepSizes fixed_;  // what does not depend on the step: batch statistics, adafest's selection
};

}  // namespace privrec::sim
