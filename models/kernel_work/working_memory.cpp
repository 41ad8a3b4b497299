#include "models/kernel_work/working_memory.hpp"

#include <algorithm>
#include <cmath>

#include "models/kernel_work/step_sizes.hpp"
#include "models/plan.hpp"

namespace privrec {

namespace {
constexpr double kF = 4;

// How the plan finds per-example norms, if it does.
const Op* norms_op(const Plan& plan) {
  for (const PlanStage& s : plan.step)
    for (const Op& op : s.ops)
      if (op.kind == OpKind::clip_norms) return &op;
  return nullptr;
}
}  // namespace

double dense_working_bytes(const Workload& w, AlgorithmKind kind, int64_t batch) {
  const double f = static_cast<double>(w.tables.size()) + 1, d = static_cast<double>(w.embedding_dim());
  int64_t widest = w.interaction_width();
  for (int64_t x : w.bottom_mlp) widest = std::max(widest, x);
  for (int64_t x : w.top_mlp) widest = std::max(widest, x);
  const double B = static_cast<double>(batch);
  double bytes = B * (4 * f * d + 6 * static_cast<double>(widest)) * kF;  // activations, deltas, features
  uint64_t largest_layer = 0;
  for (const MlpLayer& l : dense_shape(w, batch).layers) largest_layer = std::max(largest_layer, l.parameters());
  const Op* norms = norms_op(plan_of(kind));
  if (norms && norms->norms == Norms::materialized_kept) bytes += B * static_cast<double>(w.mlp_parameters()) * kF;
  if (norms && norms->norms == Norms::materialized) bytes += B * static_cast<double>(largest_layer) * kF;
  return bytes;
}

double table_working_bytes(double lookups_per_example, int64_t dim, AlgorithmKind kind, int64_t batch) {
  const double B = static_cast<double>(batch), L = lookups_per_example, d = static_cast<double>(dim);
  double bytes = B * L * (d + 4) * kF;  // each lookup's gradient row and its id while coalescing
  const Op* norms = norms_op(plan_of(kind));
  if (norms && (norms->norms == Norms::materialized_kept || norms->norms == Norms::materialized)) bytes += B * L * d * kF;
  return bytes;
}

int64_t working_bytes(const Workload& w, AlgorithmKind kind, int64_t batch) {
  double lookups = 0;
  for (const auto& t : w.tables) lookups += static_cast<double>(t.pooling);
  return std::llround(dense_working_bytes(w, kind, batch) + table_working_bytes(lookups, w.embedding_dim(), kind, batch));
}

}  // namespace privrec
