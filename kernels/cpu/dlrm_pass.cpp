#include "kernels/cpu/dlrm_pass.hpp"

#include <cmath>

#include "kernels/cpu/gemm.hpp"
#include "models/kernel_work/cpu_work.hpp"

namespace privrec::cpu {

namespace {

// Y (B x out) = X W^T + b, then ReLU if the layer has one.
void dense_forward(const DenseLayer& l, const float* X, int64_t B, float* Y) {
  std::vector<float> wt(l.in * l.out);
  transpose(l.out, l.in, l.weight.data(), wt.data());
  sgemm_nn(B, l.out, l.in, X, l.in, wt.data(), l.out, Y, l.out, false);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < B; ++i)
    for (int64_t o = 0; o < l.out; ++o) {
      const float v = Y[i * l.out + o] + l.bias[o];
      Y[i * l.out + o] = l.relu ? std::max(v, 0.0f) : v;
    }
}

// dX (B x in) = delta W; then masked by the ReLU of the layer below (whose output is X).
void dense_backward_input(const DenseLayer& l, const float* delta, int64_t B, const float* X_below, float* dX) {
  sgemm_nn(B, l.in, l.out, delta, l.out, l.weight.data(), l.in, dX, l.in, false);
  if (X_below) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < B * l.in; ++i)
      if (!(X_below[i] > 0.0f)) dX[i] = 0.0f;
  }
}

double dot(const float* a, const float* b, int64_t n) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t k = 0; k < n; ++k) s += a[k] * b[k];
  return s;
}
}  // namespace

void PassBuffers::resize(const DlrmModel& m, int64_t B) {
  batch = B;
  features = static_cast<int64_t>(m.workload.tables.size()) + 1;  // a shard's MLP side holds no table
  dim = m.workload.embedding_dim();
  const auto layers = m.layers();
  layer_input.resize(layers.size());
  layer_delta.resize(layers.size());
  for (size_t l = 0; l < layers.size(); ++l) {
    layer_input[l].resize(B * layers[l]->in);
    layer_delta[l].resize(B * layers[l]->out);
  }
  bottom_out.resize(B * dim);
  feat.resize(B * features * dim);
  dfeat.resize(B * features * dim);
  logits.resize(B), probs.resize(B), example_loss.resize(B), dlogit.resize(B);
  dz.resize(B * m.workload.interaction_width());
}

void MlpGrads::resize(const DlrmModel& m) {
  const auto layers = m.layers();
  weight.resize(layers.size());
  bias.resize(layers.size());
  for (size_t l = 0; l < layers.size(); ++l) {
    weight[l].assign(layers[l]->in * layers[l]->out, 0.0f);
    bias[l].assign(layers[l]->out, 0.0f);
  }
}

double forward_dense(const DlrmModel& m, const Batch& batch, PassBuffers& buf, WorkCounters& work) {
  const int64_t B = batch.size, F = buf.features, d = buf.dim;
  const size_t nb = m.bottom.size(), nt = m.top.size();
  std::copy(batch.dense.begin(), batch.dense.end(), buf.layer_input[0].begin());
  work += cpu_work::forward_dense(dense_shape(m.workload, B));
  for (size_t l = 0; l < nb; ++l) {
    float* out = l + 1 < nb ? buf.layer_input[l + 1].data() : buf.bottom_out.data();
    dense_forward(m.bottom[l], buf.layer_input[l].data(), B, out);
  }
  // Dot interaction: z_i = [x_i, <f_a, f_b> for a > b] over f = [x, pooled tables].
  float* z = buf.layer_input[nb].data();
  const int64_t width = m.workload.interaction_width();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < B; ++i) {
    float* fi = buf.feat.data() + i * F * d;
    std::copy(buf.bottom_out.data() + i * d, buf.bottom_out.data() + (i + 1) * d, fi);
    float* zi = z + i * width;
    std::copy(fi, fi + d, zi);
    int64_t p = d;
    for (int64_t a = 1; a < F; ++a)
      for (int64_t b = 0; b < a; ++b) zi[p++] = static_cast<float>(dot(fi + a * d, fi + b * d, d));
  }
  for (size_t l = 0; l < nt; ++l) {
    float* out = l + 1 < nt ? buf.layer_input[nb + l + 1].data() : buf.logits.data();
    dense_forward(m.top[l], buf.layer_input[nb + l].data(), B, out);
  }
  double loss = 0;
#pragma omp parallel for schedule(static) reduction(+ : loss)
  for (int64_t i = 0; i < B; ++i) {
    const double x = buf.logits[i], y = batch.labels[i];
    const double li = std::max(x, 0.0) - x * y + std::log1p(std::exp(-std::abs(x)));
    buf.example_loss[i] = static_cast<float>(li);
    buf.probs[i] = static_cast<float>(1.0 / (1.0 + std::exp(-x)));
    buf.dlogit[i] = buf.probs[i] - static_cast<float>(y);
    loss += li;
  }
  return loss / static_cast<double>(B);
}

void backward_deltas(const DlrmModel& m, PassBuffers& buf, WorkCounters& work) {
  const int64_t B = buf.batch, F = buf.features, d = buf.dim;
  const size_t nb = m.bottom.size(), nt = m.top.size();
  std::copy(buf.dlogit.begin(), buf.dlogit.end(), buf.layer_delta[nb + nt - 1].begin());
  const int64_t width = m.workload.interaction_width();
  std::vector<float>& dz = buf.dz;  // every value written by the top MLP's first layer below
  for (size_t l = nt; l-- > 0;) {
    const size_t g = nb + l;
    if (l > 0)
      dense_backward_input(m.top[l], buf.layer_delta[g].data(), B, buf.layer_input[g].data(),
                           buf.layer_delta[g - 1].data());
    else
      dense_backward_input(m.top[l], buf.layer_delta[g].data(), B, nullptr, dz.data());
  }
  // Interaction backward: d f_a += dz_p f_b, d f_b += dz_p f_a; the direct copy of x.
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < B; ++i) {
    const float* fi = buf.feat.data() + i * F * d;
    float* gi = buf.dfeat.data() + i * F * d;
    const float* dzi = dz.data() + i * width;
    std::copy(dzi, dzi + d, gi);
    std::fill(gi + d, gi + F * d, 0.0f);
    int64_t p = d;
    for (int64_t a = 1; a < F; ++a)
      for (int64_t b = 0; b < a; ++b) {
        const float g = dzi[p++];
        for (int64_t k = 0; k < d; ++k) {
          gi[a * d + k] += g * fi[b * d + k];
          gi[b * d + k] += g * fi[a * d + k];
        }
      }
  }
  // Bottom MLP: its output had a ReLU.
  float* top_delta = buf.layer_delta[nb - 1].data();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < B; ++i)
    for (int64_t k = 0; k < d; ++k)
      top_delta[i * d + k] = buf.bottom_out[i * d + k] > 0.0f ? buf.dfeat[i * F * d + k] : 0.0f;
  for (size_t l = nb; l-- > 1;)
    dense_backward_input(m.bottom[l], buf.layer_delta[l].data(), B, buf.layer_input[l].data(),
                         buf.layer_delta[l - 1].data());
  work += cpu_work::backward_deltas(dense_shape(m.workload, B));
}

void weight_grads(const DlrmModel& m, const PassBuffers& buf, const std::vector<float>* scale, MlpGrads& grads,
                  WorkCounters& work) {
  const auto layers = m.layers();
  const int64_t B = buf.batch;
  const float* factors = scale ? scale->data() : nullptr;
  for (size_t l = 0; l < layers.size(); ++l) {
    const DenseLayer& L = *layers[l];
    const float* delta = buf.layer_delta[l].data();  // B x out: the GEMM reads it transposed, no copy
    sgemm(L.out, L.in, B, {.data = delta, .ld = L.out, .transposed = true}, factors, buf.layer_input[l].data(), L.in,
          grads.weight[l].data(), L.in, false);
    // Bias: the (scaled) deltas summed over the batch, example by example, 16 columns per task.
    constexpr int64_t kCols = 16;
    const int64_t blocks = (L.out + kCols - 1) / kCols;
#pragma omp parallel for schedule(static) if (L.out * B > 65536)
    for (int64_t cb = 0; cb < blocks; ++cb) {
      const int64_t o0 = cb * kCols, n = std::min(kCols, L.out - o0);
      float s[kCols] = {};
      for (int64_t i = 0; i < B; ++i) {
        const float* row = delta + i * L.out + o0;
        const float f = factors ? factors[i] : 1.0f;  // x 1 is exact: the unscaled sum is unchanged
        for (int64_t o = 0; o < n; ++o) s[o] += row[o] * f;
      }
      std::copy(s, s + n, grads.bias[l].data() + o0);
    }
  }
  work += cpu_work::weight_grads(dense_shape(m.workload, B), scale != nullptr);
}

void ghost_norms_mlp(const DlrmModel& m, const PassBuffers& buf, std::vector<double>& norm2, WorkCounters& work) {
  const auto layers = m.layers();
  const int64_t B = buf.batch;
  for (size_t l = 0; l < layers.size(); ++l) {
    const int64_t in = layers[l]->in, out = layers[l]->out;
    const float* A = buf.layer_input[l].data();
    const float* D = buf.layer_delta[l].data();
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < B; ++i) {
      const double a2 = dot(A + i * in, A + i * in, in);
      const double d2 = dot(D + i * out, D + i * out, out);
      norm2[i] += a2 * d2 + d2;
    }
  }
  work += cpu_work::ghost_norms_mlp(dense_shape(m.workload, B));
}

void materialize_layer_grads(const DenseLayer& L, const std::vector<float>& input, const std::vector<float>& delta,
                             int64_t B, float* out, int64_t stride, std::vector<double>& norm2, WorkCounters& work) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < B; ++i) {
    float* g = out + i * stride;
    const float* a = input.data() + i * L.in;
    const float* dl = delta.data() + i * L.out;
    double s = 0;
    for (int64_t o = 0; o < L.out; ++o) {
      float* row = g + o * L.in;
      float rs = 0;
      // A vector reduction (summed in lanes, then across): a single running sum would make this
      // write-bound kernel wait on one add's latency per element.
#pragma omp simd reduction(+ : rs)
      for (int64_t k = 0; k < L.in; ++k) {
        row[k] = dl[o] * a[k];
        rs += row[k] * row[k];
      }
      s += rs;
    }
    float bs = 0;
#pragma omp simd reduction(+ : bs)
    for (int64_t o = 0; o < L.out; ++o) {
      g[L.out * L.in + o] = dl[o];
      bs += dl[o] * dl[o];
    }
    norm2[i] += s + bs;
  }
  work += cpu_work::materialize_layer_grads({static_cast<uint64_t>(L.in), static_cast<uint64_t>(L.out)},
                                           static_cast<uint64_t>(B));
}

}  // namespace privrec::cpu
