#include "kernels/step_driver.hpp"

#include <stdexcept>
#include <string>

namespace privrec {

namespace {
void run_op(StepOps& ops, const Op& op, const OpContext& c, WorkCounters& w) {
  switch (op.kind) {
    case OpKind::embedding_forward: return ops.embedding_forward(c, w);
    case OpKind::dense_forward: return ops.dense_forward(c, w);
    case OpKind::backward_deltas: return ops.backward_deltas(c, w);
    case OpKind::weight_grads: return ops.weight_grads(c, op.clipped, w);
    case OpKind::clip_norms: return ops.clip_norms(c, op.norms, w);
    case OpKind::clipped_sum: return ops.clipped_sum(c, w);
    case OpKind::coalesce: return ops.coalesce(c, op.clipped, w);
    case OpKind::select_rows: return ops.select_rows(c, w);
    case OpKind::choose_fixed_rows: return ops.choose_fixed_rows(c, w);
    case OpKind::mlp_update: return ops.mlp_update(c, op.noise, w);
    case OpKind::table_update: return ops.table_update(c, op.noise, w);
    case OpKind::lazy_catchup: return ops.lazy_catchup(c, w);
    case OpKind::lazy_flush: return ops.lazy_flush(c, w);
    case OpKind::exchange_ids:
    case OpKind::exchange_pooled:
    case OpKind::exchange_pooled_grads:
    case OpKind::reduce_example_norms:
    case OpKind::reduce_contribution_norms:
    case OpKind::reduce_dense_grads:
    case OpKind::route_next_ids:
      // One rank holds every table and every example: there is nothing to exchange.
      if (ops.ranks() == 1) return;
      return ops.communicate(c, op.kind, w);
  }
}
}  // namespace

void StepOps::communicate(const OpContext&, OpKind op, WorkCounters&) {
  throw std::logic_error(std::string(op_name(op)) + " between " + std::to_string(ranks()) +
                         " ranks: this backend runs one rank");
}

void run_stages(StepOps& ops, const std::vector<PlanStage>& stages, const OpContext& c) {
  for (const PlanStage& s : stages) {
    if (!stage_runs(s, c.next != nullptr)) continue;
    // Not run, so neither marked nor timed: one process's record is what it was before sharding.
    if (ops.ranks() == 1 && communicates_only(s)) continue;
    WorkCounters& w = c.rec->at(s.stage);
    ops.start_stage(s.stage);
    for (const Op& op : s.ops) run_op(ops, op, c, w);
    c.rec->seconds[static_cast<size_t>(s.stage)] += ops.stop_stage_seconds(s.stage);
  }
}

void PlanRunner::setup(const TraceSource& trace, int64_t steps, StepRecord& rec) {
  OpContext c;
  c.trace = &trace, c.steps = steps, c.rec = &rec;
  run_stages(ops_, plan_.setup, c);
}

void PlanRunner::step(int64_t t, const Batch& batch, const Batch* next, StepRecord& rec) {
  OpContext c;
  c.step = t, c.batch = &batch, c.next = next, c.rec = &rec;
  c.scale = static_cast<float>(cfg_.lr_at(t) / static_cast<double>(batch.size));
  run_stages(ops_, plan_.step, c);
}

void PlanRunner::finish(int64_t last_step, StepRecord& rec) {
  OpContext c;
  c.step = last_step, c.rec = &rec;
  run_stages(ops_, plan_.finish, c);
}

}  // namespace privrec
