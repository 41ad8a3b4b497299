// adafest (DP-AdaFEST, Ghazi et al., NeurIPS 2023): each step a private selection of the rows that
// receive a noisy update; gradients of unselected rows are dropped, noise goes to selected rows.
#include "models/algorithm.hpp"
#include "models/algorithms/plan_parts.hpp"

namespace privrec {

AlgorithmInfo adafest_algorithm() {
  using namespace plan_parts;
  Plan p;
  p.step = concat(forward(), deltas(), clip_norms(Norms::ghost), PlanStage{Stage::adafest_select, {{OpKind::select_rows}}},
                  reweighted_backward(), noisy_mlp_update(), table_update(Stage::dp_update, NoiseTarget::selected_rows));
  return {AlgorithmKind::adafest, "adafest", "DP-AdaFEST: private row selection, noise on selected rows only", true,
          std::move(p)};
}

}  // namespace privrec
