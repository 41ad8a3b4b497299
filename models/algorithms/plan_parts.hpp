#pragma once
// Stages several plans share: the forward pass, the backward pass to the deltas, and ghost
// clipping with the reweighted second backward (the dpsgd-f trunk that eana, lazydp, adafest and
// dp-fest keep).
#include <vector>

#include "models/plan.hpp"

namespace privrec::plan_parts {

inline std::vector<PlanStage> forward() {
  return {{Stage::fwd_emb, {{OpKind::embedding_forward}}}, {Stage::fwd_mlp, {{OpKind::dense_forward}}}};
}

inline PlanStage deltas() { return {Stage::bwd_mlp, {{OpKind::backward_deltas}}}; }

inline PlanStage clip_norms(Norms n) { return {Stage::dp_norm, {{.kind = OpKind::clip_norms, .norms = n}}}; }

// The reweighted second backward: MLP weight gradients and the tables' sparse gradients, each
// example scaled by its clip factor.
inline std::vector<PlanStage> reweighted_backward() {
  return {{Stage::dp_clip, {{.kind = OpKind::weight_grads, .clipped = true}}},
          {Stage::bwd_emb, {{.kind = OpKind::coalesce, .clipped = true}}}};
}

inline PlanStage noisy_mlp_update() {
  return {Stage::update_mlp, {{.kind = OpKind::mlp_update, .noise = NoiseTarget::every_row}}};
}

inline PlanStage table_update(Stage stage, NoiseTarget noise) {
  return {stage, {{.kind = OpKind::table_update, .noise = noise}}};
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
