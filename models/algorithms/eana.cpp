// eana: dpsgd-f with noise on the batch's rows only. Cheap, but which rows change reveals which
// feature values occurred: no DP guarantee for the tables (REFERENCE.md section 1).
#include "models/algorithm.hpp"
#include "models/algorithms/plan_parts.hpp"

namespace privrec {

AlgorithmInfo eana_algorithm() {
  Plan p;
  p.step = plan_parts::ghost_clipped_step(plan_parts::table_update(Stage::dp_update, NoiseTarget::touched_rows));
  return {AlgorithmKind::eana, "eana", "dpsgd-f with noise on the batch's rows only (no DP guarantee for tables)",
          false, std::move(p)};
}

}  // namespace privrec
