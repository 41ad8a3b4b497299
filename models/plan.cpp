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
  }
  return "?";
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
