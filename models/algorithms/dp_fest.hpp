#pragma once
// dp-fest's own parameters (models/algorithms/dp_fest.cpp has its plan): the one-shot private
// choice of a fixed set of rows per table (REFERENCE.md section 9).
#include <cstdint>

namespace privrec {

struct FestParams {
  double c1 = 1.0;     // contribution-map clip norm of an example (over all tables), as adafest's C1
  double sigma = 1.0;  // stddev of the Gaussian noise on every row's count (noise multiplier sigma / C1)
  int64_t k = 10000;   // rows kept per table: the k largest noisy counts
  void validate() const;  // throws InputError naming the flag
};

}  // namespace privrec
