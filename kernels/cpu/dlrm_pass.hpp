#pragma once
// Forward and backward of the dense part of DLRM on the host: bottom MLP, dot interaction, top
// MLP, sigmoid + binary cross-entropy; per-layer deltas kept so that DP algorithms can form
// per-example norms and reweighted weight gradients from them.
#include <vector>

#include "kernels/cpu/dlrm_model.hpp"
#include "kernels/host_allocator.hpp"
#include "models/work_counters.hpp"
#include "traces/batch.hpp"

namespace privrec::cpu {

struct PassBuffers {
  int64_t batch = 0, features = 0, dim = 0;     // F = tables + 1 feature vectors of dim d per example
  std::vector<std::vector<float>> layer_input;  // per layer (bottom then top): B x in
  std::vector<std::vector<float>> layer_delta;  // per layer: B x out, gradient of the loss w.r.t. pre-activation
  std::vector<float> bottom_out;                // B x d (after ReLU)
  // B x F x d: [bottom_out, pooled table 0, ...], and its gradient. On huge pages: a table's
  // pooled rows are an example (F x d floats, 14 KB for mlperf-dlrm) apart, a page apart at 4 KB.
  HugePageVector<float> feat;
  HugePageVector<float> dfeat;
  std::vector<float> logits, probs, example_loss, dlogit;
  // B x interaction width: the gradient of the interaction's output, kept from step to step. Made
  // fresh in bwd.mlp, its 7 MB (rmc2 at batch 2048) were faulted in again every step: rmc2 x0.01
  // sgd, three alternating pairs, bwd.mlp 53.4, 56.9, 46.0 -> 39.2, 32.4, 32.8 ms a step.
  std::vector<float> dz;

  void resize(const DlrmModel& m, int64_t batch);
  float* pooled(int64_t example, int64_t table) { return feat.data() + (example * features + 1 + table) * dim; }
  const float* pooled_grad(int64_t example, int64_t table) const {
    return dfeat.data() + (example * features + 1 + table) * dim;
  }
};

struct MlpGrads {
  std::vector<std::vector<float>> weight, bias;  // per layer (bottom then top)
  void resize(const DlrmModel& m);
};

// Bottom MLP, interaction and top MLP on feat's pooled part (filled by the embedding forward),
// then the loss; returns the mean loss.
double forward_dense(const DlrmModel& m, const Batch& batch, PassBuffers& buf, WorkCounters& work);
// Deltas of every layer and dfeat, for the per-example losses (dlogit = p - y, not divided by B).
void backward_deltas(const DlrmModel& m, PassBuffers& buf, WorkCounters& work);
// grads = sum_i scale_i * (per-example gradient of example i); scale == nullptr means all ones.
void weight_grads(const DlrmModel& m, const PassBuffers& buf, const std::vector<float>* scale, MlpGrads& grads,
                  WorkCounters& work);
// norm2[i] += sum over layers of |a_i|^2 |delta_i|^2 + |delta_i|^2 (ghost clipping, no materialization).
void ghost_norms_mlp(const DlrmModel& m, const PassBuffers& buf, std::vector<double>& norm2, WorkCounters& work);
// Per-example gradient of one layer materialized: example i's [dW_i, db_i] (out*in + out floats)
// at out + i * stride; norm2[i] += its squared norm.
void materialize_layer_grads(const DenseLayer& layer, const std::vector<float>& input, const std::vector<float>& delta,
                             int64_t batch, float* out, int64_t stride, std::vector<double>& norm2, WorkCounters& work);

}  // namespace privrec::cpu
