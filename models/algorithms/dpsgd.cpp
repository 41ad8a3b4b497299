// The DP-SGD family with dense noise on every row of every table (REFERENCE.md section 1): they
// differ only in how per-example norms are found and how the clipped gradient is formed.
#include "models/algorithm.hpp"
#include "models/algorithms/plan_parts.hpp"

namespace privrec {

using namespace plan_parts;

// dpsgd-b: every example's gradient over all parameters materialized and kept; the clipped sum is
// taken over the copies (MLP and table rows), so there is no separate embedding backward.
AlgorithmInfo dpsgd_b_algorithm() {
  Plan p;
  p.step = concat(forward(), deltas(), clip_norms(Norms::materialized_kept),
                  PlanStage{Stage::dp_clip, {{OpKind::clipped_sum}}}, noisy_mlp_update(),
                  table_update(Stage::dp_update, NoiseTarget::every_row));
  return {AlgorithmKind::dpsgd_b, "dpsgd-b", "DP-SGD, per-example gradients materialized, dense noise", true,
          std::move(p)};
}

// dpsgd-r: per-example gradients materialized one layer at a time for their norms only, then the
// reweighted second backward.
AlgorithmInfo dpsgd_r_algorithm() {
  Plan p;
  p.step = concat(forward(), deltas(), clip_norms(Norms::materialized), reweighted_backward(), noisy_mlp_update(),
                  table_update(Stage::dp_update, NoiseTarget::every_row));
  return {AlgorithmKind::dpsgd_r, "dpsgd-r", "DP-SGD, per-example norms then reweighted second backward, dense noise",
          true, std::move(p)};
}

// dpsgd-f: ghost norms, nothing materialized.
AlgorithmInfo dpsgd_f_algorithm() {
  Plan p;
  p.step = ghost_clipped_step(table_update(Stage::dp_update, NoiseTarget::every_row));
  return {AlgorithmKind::dpsgd_f, "dpsgd-f", "DP-SGD, ghost-clipping norms, reweighted backward, dense noise", true,
          std::move(p)};
}

}  // namespace privrec
