#pragma once
// An algorithm as data (DESIGN.md "Plan"): what one training step does, stage by stage, and per
// stage the operations it runs with their parameters. Backends implement the operations
// (kernels/step_ops.hpp), one driver sequences them (kernels/step_driver.hpp), and the performance
// model walks the same plan with each backend's work formulas (models/kernel_work/). Adding an
// algorithm is a plan (models/algorithms/) and a registration line (models/algorithm.cpp).
#include <string>
#include <vector>

#include "models/stage.hpp"

namespace privrec {

// How per-example gradient norms are found (REFERENCE.md section 1).
enum class Norms {
  ghost,              // |a_i|^2 |g_i|^2 per layer and |g_i|^2 sum count^2 per bag: nothing materialized
  materialized,       // every example's gradient written out one layer at a time, for its norm only (dpsgd-r)
  materialized_kept,  // all layers written out and kept for the clipped sum (dpsgd-b)
};

// Which embedding rows an update adds noise to.
enum class NoiseTarget {
  none,             // no noise (sgd)
  every_row,        // every row of every table, every step (dense DP-SGD)
  touched_rows,     // the rows the batch touched (eana)
  selected_rows,    // the rows of the current selection (adafest's per step, dp-fest's fixed set)
  next_batch_rows,  // lazily: the update owes this step's noise to every row, paid when the next batch reads it
};

enum class OpKind {
  embedding_forward,  // sum-pooled bags
  dense_forward,      // bottom MLP, interaction, top MLP, loss
  backward_deltas,    // deltas of every layer and of the pooled embeddings
  weight_grads,       // MLP weight gradients (clipped: reweighted by the clip factors)
  clip_norms,         // per-example norms (`norms`) and the clip factors min(1, C / norm)
  clipped_sum,        // dpsgd-b: sum of clipped materialized gradients (MLP and tables)
  coalesce,           // the tables' sparse gradients (clipped: reweighted by the clip factors)
  select_rows,        // adafest: this step's private selection of rows
  choose_fixed_rows,  // dp-fest: the fixed rows, from a noisy histogram of the whole trace, once
  mlp_update,         // MLP parameters (noise: every_row or none)
  table_update,       // the tables' update, with noise on `noise`'s rows
  lazy_catchup,       // lazydp: the next batch's rows receive their pending noise
  lazy_flush,         // lazydp: every row's pending noise, before the model is released
  // Between devices when tables are sharded (the comm.* stages of models/stage.hpp).
  exchange_ids,               // each table's ids of the batch to the devices that own its rows
  exchange_pooled,            // pooled embeddings all-to-all back to the examples' devices
  exchange_pooled_grads,      // pooled-embedding gradients all-to-all to the owners
  reduce_example_norms,       // per-example squared norms summed over shards (all-reduce of B floats)
  reduce_contribution_norms,  // adafest: per-example contribution norms summed over shards
  reduce_dense_grads,         // all-reduce of the data-parallel gradients (MLPs, replicated tables)
  route_next_ids,             // lazydp: the next batch's ids to their owners, before the catch-up
};

// Where an operation's work is done in a sharded step: on every device for its share of the batch (the MLPs,
// data-parallel), at the owners of the table rows (for the whole batch's lookups of the rows they own), on both
// (per-example norms: MLP part and table part), or between devices.
enum class OpSide { dense, tables, both, communication };
OpSide op_side(OpKind k);

struct Op {
  OpKind kind;
  bool clipped = false;                   // weight_grads, coalesce
  Norms norms = Norms::ghost;             // clip_norms
  NoiseTarget noise = NoiseTarget::none;  // mlp_update, table_update
};

struct PlanStage {
  Stage stage;
  std::vector<Op> ops;
};

// Whether a stage runs: not when one of its operations needs a next batch and there is none.
bool stage_runs(const PlanStage& stage, bool has_next);
// Whether every operation of a stage is communication between devices: such a stage does nothing
// on one device, and the step driver and the work model skip it there.
bool communicates_only(const PlanStage& stage);

struct Plan {
  std::vector<PlanStage> setup;   // once, before the first step
  std::vector<PlanStage> step;    // every step, in order
  std::vector<PlanStage> finish;  // once, after the last step and before the model is released

  bool has(OpKind kind) const;       // in any phase
  std::string describe() const;      // one line per stage: "dp.update: table_update(noise=every_row)"
};

const char* op_name(OpKind kind);
// Operations that read the next step's batch: a stage of them is skipped on the last step.
inline bool needs_next_batch(OpKind kind) { return kind == OpKind::lazy_catchup || kind == OpKind::route_next_ids; }
const char* noise_target_name(NoiseTarget t);
const char* norms_name(Norms n);

}  // namespace privrec
