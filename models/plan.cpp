#include "models/plan.hpp"

namespace privrec {

const char* op_name(OpKind kind) {
  switch (kind) {
    case OpKind::embedding_forward: return "embedding_forward";
    case OpKind::dense_forward: return "dense_forward";
    case OpKind::backward_deltas: return "backward_deltas";
    case OpKind::weight_grads: return "weight_grads";
    case OpKind::clip_norms: return "clip_norms";
    case OpKind::clipped_sum: return "clipped_sum";
    case OpKind::coalesce: return "coalesce";
    case OpKind::select_rows: return "select_rows";
    case OpKind::choose_fixed_rows: return "choose_fixed_rows";
    case OpKind::mlp_update: return "mlp_update";
    case OpKind::table_update: return "table_update";
    case OpKind::lazy_catchup: return "lazy_catchup";
    case OpKind::lazy_flush: return "lazy_flush";
    case OpKind::exchange_ids: return "exchange_ids";
    case OpKind::exchange_pooled: return "exchange_pooled";
    case OpKind::exchange_pooled_grads: return "exchange_pooled_grads";
    case OpKind::reduce_example_norms: return "reduce_example_norms";
    case OpKind::reduce_contribution_norms: return "reduce_contribution_norms";
    case OpKind::reduce_dense_grads: return "reduce_dense_grads";
    case OpKind::route_next_ids: return "route_next_ids";
  }
  return "?";
}

OpSide op_side(OpKind k) {
  switch (k) {
    // The dense half is data-parallel: each device runs it on its own examples.
    case OpKind::dense_forward:
    case OpKind::backward_deltas:
    case OpKind::weight_grads:
    case OpKind::mlp_update: return OpSide::dense;
    // Table work follows the rows: their owner does it for every example of the batch.
    case OpKind::embedding_forward:
    case OpKind::coalesce:
    case OpKind::select_rows:
    case OpKind::choose_fixed_rows:
    case OpKind::table_update:
    case OpKind::lazy_catchup:
    case OpKind::lazy_flush: return OpSide::tables;
    // An example's norm and its clipped sum span every parameter: the MLP part and each shard's part.
    case OpKind::clip_norms:
    case OpKind::clipped_sum: return OpSide::both;
    case OpKind::exchange_ids:
    case OpKind::exchange_pooled:
    case OpKind::exchange_pooled_grads:
    case OpKind::reduce_example_norms:
    case OpKind::reduce_contribution_norms:
    case OpKind::reduce_dense_grads:
    case OpKind::route_next_ids: return OpSide::communication;
  }
  return OpSide::communication;
}

const char* noise_target_name(NoiseTarget t) {
  switch (t) {
    case NoiseTarget::none: return "none";
    case NoiseTarget::every_row: return "every_row";
    case NoiseTarget::touched_rows: return "touched_rows";
    case NoiseTarget::selected_rows: return "selected_rows";
    case NoiseTarget::next_batch_rows: return "next_batch_rows";
  }
  return "?";
}

const char* norms_name(Norms n) {
  switch (n) {
    case Norms::ghost: return "ghost";
    case Norms::materialized: return "materialized";
    case Norms::materialized_kept: return "materialized_kept";
  }
  return "?";
}

bool stage_runs(const PlanStage& stage, bool has_next) {
  for (const Op& op : stage.ops)
    if (!has_next && needs_next_batch(op.kind)) return false;
  return true;
}

bool communicates_only(const PlanStage& stage) {
  for (const Op& op : stage.ops)
    if (op_side(op.kind) != OpSide::communication) return false;
  return !stage.ops.empty();
}

bool Plan::has(OpKind kind) const {
  for (const auto* phase : {&setup, &step, &finish})
    for (const PlanStage& s : *phase)
      for (const Op& op : s.ops)
        if (op.kind == kind) return true;
  return false;
}

namespace {
std::string describe_op(const Op& op) {
  std::string s = op_name(op.kind);
  switch (op.kind) {
    case OpKind::weight_grads:
    case OpKind::coalesce: return op.clipped ? s + "(clipped)" : s;
    case OpKind::clip_norms: return s + "(" + norms_name(op.norms) + ")";
    case OpKind::mlp_update:
    case OpKind::table_update: return s + "(noise=" + noise_target_name(op.noise) + ")";
    default: return s;
  }
}
}  // namespace

std::string Plan::describe() const {
  std::string out;
  auto phase = [&](const std::vector<PlanStage>& stages, const char* when) {
    for (const PlanStage& s : stages) {
      out += std::string(when) + stage_name(s.stage) + ":";
      for (const Op& op : s.ops) out += " " + describe_op(op);
      out += "\n";
    }
  };
  phase(setup, "once before training, ");
  phase(step, "");
  phase(finish, "once after training, ");
  return out;
}

}  // namespace privrec
