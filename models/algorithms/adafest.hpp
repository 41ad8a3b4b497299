#pragma once
// adafest's own parameters: its selection mechanism (models/algorithms/adafest.cpp has its plan).
// The gradient mechanism's C2 and sigma2 are the common clip and sigma.
#include <nlohmann/json.hpp>

namespace privrec {

enum class NoiseSource;

struct AdafestParams {
  double c1 = 1.0;      // contribution-map clip norm C1
  double sigma1 = 1.0;  // stddev of the noise on a row's count
  double tau = 3.0;     // selection threshold
  void validate() const;  // throws InputError naming the flag
  // The probability that a row whose clipped count is `count` passes the noisy threshold,
  // count + sigma1 z >= tau, under `noise` (z Gaussian, or the deterministic 1 or 0).
  double pass_probability(double count, NoiseSource noise) const;
  // The same for a row no example touched.
  double zero_count_selection_probability(NoiseSource noise) const { return pass_probability(0.0, noise); }
};

}  // namespace privrec
