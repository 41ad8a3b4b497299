#include "kernels/cpu/noisy_update.hpp"

#include <algorithm>

#include "kernels/cpu/row_width.hpp"
#include "models/kernel_work/cpu_work.hpp"

namespace privrec::cpu {

namespace {
constexpr int64_t kRowsPerChunk = 512;
constexpr int64_t kMaxDim = 4096;
constexpr int64_t kNoiseFloats = 1024;  // noise generated per fill: 4 KB

// Rows of D floats (0: d at run time). A row, its gradient and its noise never overlap. The
// gradient is f x g (SparseRows::factor and values; f * g is g where f is 1).
template <int64_t D>
inline void noisy_row(float* __restrict w, const float* __restrict g, float f, const float* __restrict z, float scale,
                      float stddev, int64_t d) {
  const int64_t n = D > 0 ? D : d;
  if (g) {
    for (int64_t c = 0; c < n; ++c) w[c] -= scale * (f * g[c] + stddev * z[c]);
  } else {
    for (int64_t c = 0; c < n; ++c) w[c] -= scale * (stddev * z[c]);
  }
}

// The first element of the ascending [it, end) not below r, by steps that double from `it` and a
// binary search in the last one: O(log gap) probes. A walk steps over every gradient row between
// two listed ones (adafest lists about 230 rows per table of rmc1 x0.002 against 100k gradient
// rows), a search from the start takes 17 dependent probes per row (eana lists the gradient's own
// rows: a gap of 0, one probe here).
template <class It>
It advance_to(It it, It end, int64_t r) {
  for (size_t step = 1; it != end && *it < r; step *= 2) {
    if (step >= static_cast<size_t>(end - it)) return std::lower_bound(it, end, r);
    if (it[step] >= r) return std::lower_bound(it + 1, it + step + 1, r);
    it += step;
  }
  return it;
}

// Asks for the cache lines of the n bytes at p, to be written (kWrite) or only read.
template <bool kWrite>
inline void prefetch_bytes(const void* p, int64_t n) {
  const char* c = static_cast<const char*>(p);
  for (int64_t b = 0; b < n; b += 64) __builtin_prefetch(c + b, kWrite ? 1 : 0, 2);
}
}  // namespace

void dense_noisy_update(EmbeddingTable& table, uint32_t t, const SparseRows& grad, float scale, float stddev,
                        const NoiseGenerator& noise, uint64_t step, WorkCounters& work) {
  const int64_t rows = table.rows, d = table.dim;
  const int64_t chunks = (rows + kRowsPerChunk - 1) / kRowsPerChunk;
  const int64_t rows_per_fill = std::max<int64_t>(1, kNoiseFloats / d);  // noise of several rows stays in L1
#pragma omp parallel
  {
    alignas(64) float z[kNoiseFloats > kMaxDim ? kNoiseFloats : kMaxDim];
    int64_t ids[kNoiseFloats];
#pragma omp for schedule(static)
    for (int64_t ch = 0; ch < chunks; ++ch) {
      const int64_t r0 = ch * kRowsPerChunk, r1 = std::min(rows, r0 + kRowsPerChunk);
      size_t u = std::lower_bound(grad.rows.begin(), grad.rows.end(), r0) - grad.rows.begin();
      size_t v = u;  // the first gradient row not yet asked for
      for (int64_t f0 = r0; f0 < r1; f0 += rows_per_fill) {
        const int64_t nf = std::min(rows_per_fill, r1 - f0);
        // The next fill's rows are asked for now and arrive while this fill's noise is drawn; left
        // to the hardware prefetcher, a fill's rows start coming only when it touches them.
        const int64_t p0 = f0 + nf, p1 = std::min(rows, p0 + rows_per_fill);
        if (p0 < p1) prefetch_bytes<true>(table.row(p0), (p1 - p0) * d * static_cast<int64_t>(sizeof(float)));
        // So are their gradients: a row one lookup touched points into the batch's pooled
        // gradients (SparseRows::src), read at random. rmc2 x0.01 dpsgd-f, 12 steps, the median
        // step's dp.update in seven alternating pairs: 120, 127, 128 -> 119, 122, 120 ms while the VM
        // was quiet, 172, 166, 162, 169 -> 151, 153, 160, 142 ms while it was not.
        for (; v < grad.rows.size() && grad.rows[v] < p1; ++v)
          prefetch_bytes<false>(grad.values(v, d), d * static_cast<int64_t>(sizeof(float)));
        for (int64_t j = 0; j < nf; ++j) ids[j] = table.first_row + f0 + j;  // noise follows the table's row
        noise.fill_rows(RngDomain::table_noise, step, t, ids, nf, d, z);
        with_row_width<16, 32, 64, 128>(d, [&](auto D) {
          for (int64_t j = 0; j < nf; ++j) {
            const int64_t r = f0 + j;
            const float* g = nullptr;
            float f = 1.0f;
            if (u < grad.rows.size() && grad.rows[u] == r) g = grad.values(u, d), f = grad.factor(u), ++u;
            noisy_row<D>(table.row(r), g, f, z + j * d, scale, stddev, d);
          }
        });
      }
    }
  }
  work += cpu_work::dense_noisy_update(static_cast<uint64_t>(rows), static_cast<uint64_t>(d), grad.rows.size(),
                                      noise.source() == NoiseSource::gaussian);
}

void sparse_noisy_update(EmbeddingTable& table, uint32_t t, const std::vector<int64_t>& rows, const SparseRows& grad,
                         float scale, float stddev, const NoiseGenerator& noise, uint64_t step, WorkCounters& work) {
  const int64_t n = static_cast<int64_t>(rows.size()), d = table.dim;
  const int64_t rows_per_fill = std::max<int64_t>(1, kNoiseFloats / d);
  const int64_t fills = (n + rows_per_fill - 1) / rows_per_fill;
  const int64_t row_bytes = d * static_cast<int64_t>(sizeof(float));
  // eana lists the gradient's own rows: row k's gradient is the gradient's k-th, with no search.
  const bool own_rows = &rows == &grad.rows;
  uint64_t with_grad = 0;
#pragma omp parallel reduction(+ : with_grad)
  {
    alignas(64) float z[kNoiseFloats > kMaxDim ? kNoiseFloats : kMaxDim];
#pragma omp for schedule(static)
    for (int64_t f = 0; f < fills; ++f) {
      const int64_t k0 = f * rows_per_fill, nf = std::min(rows_per_fill, n - k0);
      // The rows come from anywhere in the table: ask for them now, and they arrive while their
      // noise is drawn (adafest's dp.update on rmc1 x0.002, 2287 rows of 192 MB: 0.74 ms a step
      // before, 0.59-0.66 ms after; the model's roofline is 0.13 ms).
      for (int64_t j = 0; j < nf; ++j) prefetch_bytes<true>(table.row(rows[k0 + j]), row_bytes);
      // So are their gradients (the gradient's own rows; other lists, such as adafest's few
      // selected rows, find theirs one by one below).
      if (own_rows)
        for (int64_t j = 0; j < nf; ++j) prefetch_bytes<false>(grad.values(k0 + j, d), row_bytes);
      if (table.first_row == 0) {
        noise.fill_rows(RngDomain::table_noise, step, t, rows.data() + k0, nf, d, z);
      } else {  // a row block: the noise of the rows' places in the whole table
        int64_t ids[kNoiseFloats];
        for (int64_t j = 0; j < nf; ++j) ids[j] = table.first_row + rows[k0 + j];
        noise.fill_rows(RngDomain::table_noise, step, t, ids, nf, d, z);
      }
      with_row_width<16, 32, 64, 128>(d, [&](auto D) {
        if (own_rows) {
          for (int64_t j = 0; j < nf; ++j)
            noisy_row<D>(table.row(rows[k0 + j]), grad.values(k0 + j, d), grad.factor(k0 + j), z + j * d, scale, stddev,
                         d);
          with_grad += static_cast<uint64_t>(nf);
          return;
        }
        // Both lists ascend: one search per batch of rows, then each row's gradient from the last.
        auto it = std::lower_bound(grad.rows.begin(), grad.rows.end(), rows[k0]);
        for (int64_t j = 0; j < nf; ++j) {
          const int64_t r = rows[k0 + j];
          it = advance_to(it, grad.rows.end(), r);
          const float* g = nullptr;
          float f = 1.0f;
          if (it != grad.rows.end() && *it == r) {
            const size_t u = static_cast<size_t>(it - grad.rows.begin());
            g = grad.values(u, d), f = grad.factor(u), ++with_grad;
          }
          noisy_row<D>(table.row(r), g, f, z + j * d, scale, stddev, d);
        }
      });
    }
  }
  work += cpu_work::sparse_noisy_update(static_cast<uint64_t>(n), static_cast<uint64_t>(d), with_grad,
                                       noise.source() == NoiseSource::gaussian);
}

namespace {
// w[k] -= scale * (g[k] + stddev * z[k]) for k < n, z the parameter row's noise; without noise
// z = 0, and g + 0 keeps the noisy formula's bits (a -0 gradient becomes +0) without drawing zeros.
void mlp_row_update(float* w, const float* g, const float* z, int64_t n, float scale, float stddev) {
  if (z)
    for (int64_t k = 0; k < n; ++k) w[k] -= scale * (g[k] + stddev * z[k]);
  else
    for (int64_t k = 0; k < n; ++k) w[k] -= scale * (g[k] + 0.0f);
}
}  // namespace

void mlp_update(DlrmModel& m, const MlpGrads& grads, float scale, float stddev, const NoiseGenerator* noise,
                uint64_t step, WorkCounters& work) {
  auto layers = m.layers();
  for (size_t l = 0; l < layers.size(); ++l) {
    DenseLayer& L = *layers[l];
    const float* gw = grads.weight[l].data();
#pragma omp parallel if (L.out * L.in > 65536)
    {
      std::vector<float> z(noise ? L.in : 0);  // one row's noise, per thread
#pragma omp for schedule(static)
      for (int64_t o = 0; o < L.out; ++o) {
        if (noise) noise->fill(RngDomain::mlp_noise, step, static_cast<uint32_t>(2 * l), static_cast<uint64_t>(o), L.in, z.data());
        mlp_row_update(L.weight.data() + o * L.in, gw + o * L.in, noise ? z.data() : nullptr, L.in, scale, stddev);
      }
    }
    std::vector<float> zb(noise ? L.out : 0);
    if (noise) noise->fill(RngDomain::mlp_noise, step, static_cast<uint32_t>(2 * l + 1), 0, L.out, zb.data());
    mlp_row_update(L.bias.data(), grads.bias[l].data(), noise ? zb.data() : nullptr, L.out, scale, stddev);
  }
  work += cpu_work::mlp_update(dense_shape(m.workload, 0), noise != nullptr,
                               noise && noise->source() == NoiseSource::gaussian);
}

}  // namespace privrec::cpu
