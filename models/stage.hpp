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
  count
};

constexpr size_t kStages = static_cast<size_t>(Stage::count);

constexpr std::array<const char*, kStages> kStageNames = {
    "fwd.emb", "fwd.mlp", "bwd.mlp", "bwd.emb", "dp.norm", "dp.clip", "dp.update", "update.mlp",
    "update.sparse", "lazydp.catchup", "lazydp.flush", "adafest.select", "fest.select"};

inline const char* stage_name(Stage s) { return kStageNames[static_cast<size_t>(s)]; }
Stage parse_stage(const std::string& name);  // throws InputError

}  // namespace privrec
