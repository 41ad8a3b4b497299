#pragma once
// Stages several plans share: the forward pass, the backward pass to the deltas, and ghost
// clipping with the reweighted second backward (the dpsgd-f trunk that eana, lazydp, adafest and
// dp-fest keep). Every communication stage (the comm.* of models/stage.hpp) is placed here, beside
// the stage whose data it moves, so a plan gets its exchanges by using the parts.
#include <vector>

#include "models/plan.hpp"

namespace privrec::plan_parts {

inline PlanStage communication(Stage stage, OpKind kind) { return {stage, {{kind}}}; }

// The owners need the batch's ids of their rows before the lookups, and the examples' devices need
// the pooled embeddings before the MLPs.
inline std::vector<PlanStage> forward() {
  return {communication(Stage::comm_ids, OpKind::exchange_ids),
          {Stage::fwd_emb, {{OpKind::embedding_forward}}},
          communication(Stage::comm_fwd, OpKind::exchange_pooled),
          {Stage::fwd_mlp, {{OpKind::dense_forward}}}};
}

// The pooled embeddings' gradients (the deltas bwd.mlp ends with) go back to the owners.
inline PlanStage pooled_grads_to_owners() { return communication(Stage::comm_bwd, OpKind::exchange_pooled_grads); }

inline std::vector<PlanStage> deltas() { return {{Stage::bwd_mlp, {{OpKind::backward_deltas}}}, pooled_grads_to_owners()}; }

// Each device finds its parameters' part of every example's squared norm; the clip factors need
// their sum over all of them.
inline std::vector<PlanStage> clip_norms(Norms n) {
  return {{Stage::dp_norm, {{.kind = OpKind::clip_norms, .norms = n}}},
          communication(Stage::comm_norm, OpKind::reduce_example_norms)};
}

// adafest's selection: an example's contribution map is clipped over the rows of all its bags,
// which lie on every shard, so the per-example contribution norms are summed first.
inline std::vector<PlanStage> select_rows() {
  return {communication(Stage::comm_contrib, OpKind::reduce_contribution_norms),
          {Stage::adafest_select, {{OpKind::select_rows}}}};
}

// The reweighted second backward: MLP weight gradients and the tables' sparse gradients, each
// example scaled by its clip factor.
inline std::vector<PlanStage> reweighted_backward() {
  return {{Stage::dp_clip, {{.kind = OpKind::weight_grads, .clipped = true}}},
          {Stage::bwd_emb, {{.kind = OpKind::coalesce, .clipped = true}}}};
}

// The MLP update, after the data-parallel gradients are summed over the devices.
inline std::vector<PlanStage> mlp_update(NoiseTarget noise) {
  return {communication(Stage::comm_grads, OpKind::reduce_dense_grads),
          {Stage::update_mlp, {{.kind = OpKind::mlp_update, .noise = noise}}}};
}

inline std::vector<PlanStage> noisy_mlp_update() { return mlp_update(NoiseTarget::every_row); }

inline PlanStage table_update(Stage stage, NoiseTarget noise) {
  return {stage, {{.kind = OpKind::table_update, .noise = noise}}};
}

// lazydp's catch-up: the owners settle the rows of the next batch, so they must know its ids first.
inline std::vector<PlanStage> lazy_catchup() {
  return {communication(Stage::comm_next, OpKind::route_next_ids), {Stage::lazydp_catchup, {{OpKind::lazy_catchup}}}};
}

// Stages in order, from parts.
template <typename... Parts>
std::vector<PlanStage> concat(Parts&&... parts) {
  std::vector<PlanStage> out;
  auto add = [&](auto&& p) {
    if constexpr (std::is_same_v<std::decay_t<decltype(p)>, PlanStage>)
      out.push_back(p);
    else
      out.insert(out.end(), p.begin(), p.end());
  };
  (add(parts), ...);
  return out;
}

// dpsgd-f's step with the tables' update given: ghost norms, the reweighted backward, the noisy
// MLP update, then `update`.
inline std::vector<PlanStage> ghost_clipped_step(const PlanStage& update) {
  return concat(forward(), deltas(), clip_norms(Norms::ghost), reweighted_backward(), noisy_mlp_update(), update);
}

}  // namespace privrec::plan_parts
