// dp-fest (DP-FEST, Ghazi et al., NeurIPS 2023): before training, per table a fixed set of the k
// rows with the largest noisy counts is chosen once from a Gaussian noisy histogram of the run's
// data (each example's contribution map clipped to C1 as adafest's; every row's count noised,
// rows never seen included). Every step then drops the gradients of rows outside the set and adds
// noise only to the rows of the set: dpsgd-f's step with a fixed, not a per-step, selection.
#include <cmath>

#include <fmt/format.h>

#include "models/algorithm.hpp"
#include "models/algorithms/plan_parts.hpp"
#include "models/config_error.hpp"

namespace privrec {

void FestParams::validate() const {
  if (!(c1 > 0) || !std::isfinite(c1)) throw InputError(fmt::format("--fest-c1 {}: expected a positive finite number", c1));
  if (!(sigma > 0) || !std::isfinite(sigma))
    throw InputError(fmt::format("--fest-sigma {}: expected a positive finite number", sigma));
  if (k < 0) throw InputError(fmt::format("--fest-k {}: expected a number of rows >= 0", k));
}

AlgorithmInfo dp_fest_algorithm() {
  using namespace plan_parts;
  Plan p;
  p.setup = {{Stage::fest_select, {{OpKind::choose_fixed_rows}}}};
  p.step = ghost_clipped_step(table_update(Stage::dp_update, NoiseTarget::selected_rows));
  return {AlgorithmKind::dp_fest,
          "dp-fest",
          "DP-FEST: a fixed set of rows per table chosen once from a noisy histogram, noise on those rows only",
          true,
          std::move(p),
          [](const AlgorithmConfig& c) { c.fest.validate(); },
          [](const AlgorithmConfig& c, nlohmann::json& j) {
            j["dp_fest"] = {{"c1", c.fest.c1}, {"sigma", c.fest.sigma}, {"k", c.fest.k}};
          }};
}

}  // namespace privrec
