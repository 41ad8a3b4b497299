#pragma once
// The stage vocabulary: the named phases of one training step, shared by kernels/ and sim/.
#include <array>
#include <string>

namespace privrec {

enum class Stage {
  fwd_emb,         // embedding-bag lookups and sum pooling
  fwd_mlp,         // bottom MLP, dot interaction, top MLP, loss
  bwd_mlp,         // backward through top MLP, interaction and bottom MLP (deltas; sgd also weight grads)
  bwd_emb,         // embedding gradients: sort and coalesce duplicate rows, segment sums
  dp_norm,         // per-example gradient norms (materialized or ghost)
  dp_clip,         // clipping: scaled sum of per-example gradients, or the reweighted weight gradients
  dp_update,       // noisy embedding update (dense over every row, or sparse over chosen rows)
  update_mlp,      // MLP parameter update (with its per-step noise for DP algorithms)
  update_sparse,   // sgd's row-wise embedding update
  lazydp_catchup,  // lazydp: pending noise for the next batch's rows, history table update
  lazydp_flush,    // lazydp: all pending noise, once, before the model is released
  adafest_select,  // adafest: contribution counts, clip, noisy threshold, false-positive sampling
  fest_select,     // dp-fest: the fixed rows per table, from a noisy histogram of the run's data, once
  // Communication between devices when tables are sharded (REFERENCE.md section 7). One process
  // has no one to talk to: the driver and the work model skip these stages, and only the scale-out
  // model (sim/scale_out) gives them a cost.
  comm_ids,      // each table's ids of the batch routed to the devices that own its rows
  comm_fwd,      // pooled embeddings all-to-all back to the examples' devices
  comm_bwd,      // pooled-embedding gradients all-to-all to the owners
  comm_norm,     // per-example squared norms summed over shards: an all-reduce of B floats
  comm_contrib,  // adafest's per-example contribution norms summed over shards
  comm_grads,    // all-reduce of the data-parallel gradients: MLPs, replicated tables
  comm_next,     // lazydp: the next batch's ids routed to their owners before the catch-up
  count
};

constexpr size_t kStages = static_cast<size_t>(Stage::count);
// The stages that compute come first, the communication stages after them (from comm_ids on):
// what only compute stages index (the reuse analysis' per-stage tags) sizes itself by this.
constexpr size_t kComputeStages = static_cast<size_t>(Stage::comm_ids);

constexpr std::array<const char*, kStages> kStageNames = {
    "fwd.emb", "fwd.mlp", "bwd.mlp", "bwd.emb", "dp.norm", "dp.clip", "dp.update", "update.mlp",
    "update.sparse", "lazydp.catchup", "lazydp.flush", "adafest.select", "fest.select", "comm.ids", "comm.fwd",
    "comm.bwd", "comm.norm", "comm.contrib", "comm.grads", "comm.next"};

inline const char* stage_name(Stage s) { return kStageNames[static_cast<size_t>(s)]; }
// Whether s moves data between devices rather than computing on one.
bool is_communication(Stage s);
Stage parse_stage(const std::string& name);  // throws InputError

}  // namespace privrec
