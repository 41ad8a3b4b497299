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
  // The probability that a row no example touched passes the noisy threshold under `noise`.
  double zero_count_selection_probability(NoiseSource noise) const;
};

}  // namespace privrec
