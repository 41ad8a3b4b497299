#pragma once
// What privacy a training run buys: the run's sampling rate and length, its noise multipliers per
// algorithm, epsilon at delta from the RDP accountant, and the reverse (a target epsilon sets the
// noise). Shared by train, simulate and sweep.
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "models/algorithm.hpp"
#include "models/workload.hpp"

namespace privrec::privacy {

// The accounting settings of a run (flags of train, simulate, sweep). Zero means "not given".
struct PrivacySettings {
  double delta = 1e-5;
  double sampling_rate = 0;       // q; else batch / dataset examples
  int64_t dataset_examples = 0;   // else the workload's dataset_examples
  double epochs = 1;              // training length in epochs (steps = ceil(epochs / q)) ...
  int64_t train_steps = 0;        // ... unless the steps are given
  double target_epsilon = 0;      // when set, the noise multipliers are derived from it
  double adafest_selection_budget = 0.5;  // adafest: share of the budget (in sigma^-2) spent on selection

  void validate() const;  // InputError naming the flag
};

struct PrivacyReport {
  bool accounted = false;       // false: no epsilon (see note)
  bool dp_guarantee = true;     // false for sgd (no noise) and eana (tables unprotected)
  std::string note;             // why there is no epsilon, or what it covers
  double epsilon = 0, delta = 0, optimal_order = 0;
  double sampling_rate = 0;
  int64_t steps = 0;
  double noise_multiplier = 0;  // the effective one (adafest: both mechanisms composed)
  std::optional<double> target_epsilon;

  nlohmann::json to_json() const;
  std::string summary() const;  // one line for a table
};

// Resolves the sampling rate and steps for `w` at batch `batch`, applies a target epsilon to
// `cfg` (sets sigma; adafest: sigma2 and sigma1 by the selection budget), and accounts the result.
// Throws InputError for settings that cannot be met (for example a target with no sampling rate).
PrivacyReport account(const PrivacySettings& s, const Workload& w, int64_t batch, AlgorithmConfig& cfg);

}  // namespace privrec::privacy
