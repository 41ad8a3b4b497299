#include "kernels/cpu/lazydp_history.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "models/kernel_work/cpu_work.hpp"

namespace privrec::cpu {

namespace {

// The scale of the one draw that settles steps (h, now] in aggregated mode: the sum of the skipped
// steps' N(0, (scale_s stddev)^2) is one N(0, stddev^2 sum scale_s^2). With `ones`, the per-step
// samples are all 1 and their sum is exactly sum scale_s.
float aggregated_scale(uint32_t h, uint32_t now, const LazyNoiseParams& p) {
  if (p.noise->source() == NoiseSource::ones) return static_cast<float>(p.schedule->sum(h, now)) * p.stddev;
  return static_cast<float>(std::sqrt(p.schedule->sum_sq(h, now))) * p.stddev;
}

// Exact mode: applies the very values dpsgd-f drew at each skipped step (h, now] to one row, each
// with that step's scale; returns RNG samples drawn.
uint64_t apply_pending_exact(float* w, int64_t d, uint32_t t, int64_t r, uint32_t h, uint32_t now,
                             const LazyNoiseParams& p, float* z) {
  for (uint32_t s = h + 1; s <= now; ++s) {
    p.noise->fill(RngDomain::table_noise, s, t, static_cast<uint64_t>(r), d, z);
    const float a = static_cast<float>(p.schedule->scale(s)) * p.stddev;
    for (int64_t c = 0; c < d; ++c) w[c] -= a * z[c];
  }
  return p.noise->samples_for(d) * (now - h);
}
}  // namespace

void NoiseSchedule::push(double s) {
  scale_.push_back(s);
  cum_.push_back(cum_.back() + s);
  cum_sq_.push_back(cum_sq_.back() + s * s);
}

namespace {
struct Settled {
  int64_t owed = 0;        // rows that had pending noise
  uint64_t samples = 0;    // RNG samples drawn
  uint64_t steps = 0;      // pending steps applied, summed over those rows
};

// Applies the pending noise of rows row_of(0 .. n) up to `now` and marks them current. In
// aggregated mode the owing rows of a block of kBlock candidates draw their noise in one call (all
// at step `now`), so short rows fill the generator's vectors (one 32-wide row a call left the
// AVX-512 width 1/8 used); each row then gets its own scale, the same values in the same order.
template <class RowOf>
Settled settle_rows(EmbeddingTable& table, uint32_t t, int64_t n, RowOf row_of, HugePageVector<uint32_t>& history,
                    uint32_t now, const LazyNoiseParams& p) {
  constexpr int64_t kBlock = 64;
  const int64_t d = table.dim;
  const bool draws = p.noise->source() != NoiseSource::zero && p.stddev != 0.0f;
  const bool exact = p.mode == LazyNoiseMode::exact;
  int64_t owed = 0;
  uint64_t samples = 0, steps = 0;
#pragma omp parallel reduction(+ : owed, samples, steps)
  {
    std::vector<float> z(draws ? static_cast<size_t>((exact ? 1 : kBlock) * d) : 0);
    int64_t local[kBlock], global[kBlock];
    float scale[kBlock];
#pragma omp for schedule(static)
    for (int64_t k0 = 0; k0 < n; k0 += kBlock) {
      int64_t m = 0;  // owing rows of this block
      for (int64_t k = k0; k < std::min(n, k0 + kBlock); ++k) {
        const int64_t r = row_of(k);
        const uint32_t h = history[r];
        if (h >= now) continue;
        steps += now - h;
        history[r] = now;
        ++owed;
        if (!draws) continue;
        if (exact) {
          samples += apply_pending_exact(table.row(r), d, t, table.first_row + r, h, now, p, z.data());
        } else {
          local[m] = r, global[m] = table.first_row + r, scale[m] = aggregated_scale(h, now, p);
          ++m;
        }
      }
      if (m == 0) continue;
      p.noise->fill_rows(RngDomain::table_noise, now, t, global, m, d, z.data());
      samples += p.noise->samples_for(d) * static_cast<uint64_t>(m);
      for (int64_t j = 0; j < m; ++j) {
        float* w = table.row(local[j]);
        const float* zj = z.data() + j * d;
        const float a = scale[j];
        for (int64_t c = 0; c < d; ++c) w[c] -= a * zj[c];
      }
    }
  }
  return {owed, samples, steps};
}

// What the formulas count as draws: one per owed row (aggregated) or per pending step (exact).
uint64_t settle_draws(const Settled& s, const LazyNoiseParams& p) {
  return p.mode == LazyNoiseMode::exact ? s.steps : static_cast<uint64_t>(s.owed);
}
bool draws_gaussian(const LazyNoiseParams& p) { return p.noise->source() == NoiseSource::gaussian && p.stddev != 0.0f; }
}  // namespace

int64_t lazy_catch_up(EmbeddingTable& table, uint32_t t, const std::vector<int64_t>& rows,
                      HugePageVector<uint32_t>& history, uint32_t now, const LazyNoiseParams& p, WorkCounters& work) {
  const int64_t n = static_cast<int64_t>(rows.size()), d = table.dim;
  const Settled s = settle_rows(table, t, n, [&](int64_t k) { return rows[k]; }, history, now, p);
  work += cpu_work::lazy_catch_up(static_cast<uint64_t>(n), static_cast<uint64_t>(s.owed), settle_draws(s, p),
                                 static_cast<uint64_t>(d), draws_gaussian(p));
  return s.owed;
}

int64_t lazy_flush(EmbeddingTable& table, uint32_t t, HugePageVector<uint32_t>& history, uint32_t now,
                   const LazyNoiseParams& p, WorkCounters& work) {
  const int64_t rows = table.rows, d = table.dim;
  const Settled s = settle_rows(table, t, rows, [](int64_t k) { return k; }, history, now, p);
  work += cpu_work::lazy_flush(static_cast<uint64_t>(rows), static_cast<uint64_t>(s.owed), settle_draws(s, p),
                              static_cast<uint64_t>(d), draws_gaussian(p));
  return s.owed;
}

}  // namespace privrec::cpu
