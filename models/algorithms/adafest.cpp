// adafest (DP-AdaFEST, Ghazi et al., NeurIPS 2023): each step a private selection of the rows that
// receive a noisy update; gradients of unselected rows are dropped, noise goes to selected rows.
#include <cmath>

#include <fmt/format.h>

#include "models/algorithm.hpp"
#include "models/algorithms/plan_parts.hpp"
#include "models/config_error.hpp"

namespace privrec {

void AdafestParams::validate() const {
  auto bad = [](const char* flag, double v, const char* expected) {
    return InputError(fmt::format("{} {}: expected {}", flag, v, expected));
  };
  if (!(c1 > 0) || !std::isfinite(c1)) throw bad("--adafest-c1", c1, "a positive finite number");
  if (!(sigma1 > 0) || !std::isfinite(sigma1)) throw bad("--adafest-sigma1", sigma1, "a positive finite number");
  if (std::isnan(tau)) throw bad("--adafest-tau", tau, "a number");
}

double AdafestParams::pass_probability(double count, NoiseSource noise) const {
  // count + sigma1 z passes when sigma1 z >= tau - count: Q((tau - count) / sigma1) for Gaussian z,
  // and a certainty either way for the deterministic stand-ins (z = 1 or z = 0).
  switch (noise) {
    case NoiseSource::gaussian: return 0.5 * std::erfc((tau - count) / (sigma1 * std::sqrt(2.0)));
    case NoiseSource::ones: return count + sigma1 >= tau ? 1.0 : 0.0;
    case NoiseSource::zero: return count >= tau ? 1.0 : 0.0;
  }
  return 0.0;
}

AlgorithmInfo adafest_algorithm() {
  using namespace plan_parts;
  Plan p;
  p.step = concat(forward(), deltas(), clip_norms(Norms::ghost), select_rows(),
                  reweighted_backward(), noisy_mlp_update(), table_update(Stage::dp_update, NoiseTarget::selected_rows));
  return {AlgorithmKind::adafest,
          "adafest",
          "DP-AdaFEST: private row selection, noise on selected rows only",
          true,
          std::move(p),
          [](const AlgorithmConfig& c) { c.adafest.validate(); },
          [](const AlgorithmConfig& c, nlohmann::json& j) {
            j["adafest"] = {{"c1", c.adafest.c1}, {"sigma1", c.adafest.sigma1}, {"tau", c.adafest.tau},
                            {"c2", j["clip"]},    {"sigma2", c.sigma}};
          }};
}

}  // namespace privrec
