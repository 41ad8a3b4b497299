// sgd: minibatch SGD; the embedding update touches only the batch's rows.
#include "models/algorithm.hpp"
#include "models/algorithms/plan_parts.hpp"

namespace privrec {

AlgorithmInfo sgd_algorithm() {
  using namespace plan_parts;
  Plan p;
  p.step = concat(forward(), PlanStage{Stage::bwd_mlp, {{OpKind::backward_deltas}, {OpKind::weight_grads}}},
                  pooled_grads_to_owners(), PlanStage{Stage::bwd_emb, {{OpKind::coalesce}}},
                  mlp_update(NoiseTarget::none), table_update(Stage::update_sparse, NoiseTarget::none));
  return {AlgorithmKind::sgd, "sgd", "minibatch SGD, sparse embedding update", false, std::move(p)};
}

}  // namespace privrec
