#include "kernels/cpu/lazydp_history.hpp"

#include <cmath>

namespace privrec::cpu {

namespace {
constexpr uint64_t kF = sizeof(float);
constexpr int64_t kMaxDim = 4096;

// Applies the pending noise of steps (h, now] to one row; returns RNG samples drawn.
uint64_t apply_pending(float* w, int64_t d, uint32_t t, int64_t r, uint32_t h, uint32_t now, const LazyNoiseParams& p,
                       float* z) {
  if (p.noise->source() == NoiseSource::zero || p.stddev == 0.0f) return 0;
  if (p.mode == LazyNoiseMode::exact) {
    // The very values dpsgd-f drew at each skipped step, each with that step's scale.
    for (uint32_t s = h + 1; s <= now; ++s) {
      p.noise->fill(RngDomain::table_noise, s, t, static_cast<uint64_t>(r), d, z);
      const float a = static_cast<float>(p.schedule->scale(s)) * p.stddev;
      for (int64_t c = 0; c < d; ++c) w[c] -= a * z[c];
    }
    return p.noise->samples_for(d) * (now - h);
  }
  // Aggregated: the sum of the skipped steps' N(0, (scale_s stddev)^2) is one N(0, stddev^2 sum scale_s^2).
  // With `ones`, the per-step samples are all 1 and their sum is exactly sum scale_s.
  float a;
  if (p.noise->source() == NoiseSource::ones) {
    a = static_cast<float>(p.schedule->sum(h, now)) * p.stddev;
  } else {
    a = static_cast<float>(std::sqrt(p.schedule->sum_sq(h, now))) * p.stddev;
  }
  p.noise->fill(RngDomain::table_noise, now, t, static_cast<uint64_t>(r), d, z);
  for (int64_t c = 0; c < d; ++c) w[c] -= a * z[c];
  return p.noise->samples_for(d);
}
}  // namespace

void NoiseSchedule::push(double s) {
  scale_.push_back(s);
  cum_.push_back(cum_.back() + s);
  cum_sq_.push_back(cum_sq_.back() + s * s);
}

int64_t lazy_catch_up(EmbeddingTable& table, uint32_t t, const std::vector<int64_t>& rows,
                      std::vector<uint32_t>& history, uint32_t now, const LazyNoiseParams& p, WorkCounters& work) {
  const int64_t n = static_cast<int64_t>(rows.size()), d = table.dim;
  int64_t owed = 0;
  uint64_t samples = 0, steps = 0;
#pragma omp parallel reduction(+ : owed, samples, steps)
  {
    alignas(64) float z[kMaxDim];
#pragma omp for schedule(static)
    for (int64_t k = 0; k < n; ++k) {
      const int64_t r = rows[k];
      const uint32_t h = history[r];
      if (h >= now) continue;
      samples += apply_pending(table.row(r), d, t, r, h, now, p, z);
      steps += now - h;
      history[r] = now;
      ++owed;
    }
  }
  work.bytes_read_seq += static_cast<uint64_t>(n) * sizeof(int64_t);
  work.bytes_read_rand += static_cast<uint64_t>(n) * sizeof(uint32_t) + static_cast<uint64_t>(owed * d) * kF;
  work.bytes_written_rand += static_cast<uint64_t>(owed) * sizeof(uint32_t) + static_cast<uint64_t>(owed * d) * kF;
  work.rows_read_rand += owed;
  work.rows_written_rand += owed;
  work.rng_samples += samples;
  work.flops += (p.mode == LazyNoiseMode::exact ? 2 * steps : 2 * static_cast<uint64_t>(owed)) * d;
  work.launches += 1;
  return owed;
}

int64_t lazy_flush(EmbeddingTable& table, uint32_t t, std::vector<uint32_t>& history, uint32_t now,
                   const LazyNoiseParams& p, WorkCounters& work) {
  const int64_t rows = table.rows, d = table.dim;
  int64_t owed = 0;
  uint64_t samples = 0, steps = 0;
#pragma omp parallel reduction(+ : owed, samples, steps)
  {
    alignas(64) float z[kMaxDim];
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const uint32_t h = history[r];
      if (h >= now) continue;
      samples += apply_pending(table.row(r), d, t, r, h, now, p, z);
      steps += now - h;
      history[r] = now;
      ++owed;
    }
  }
  work.bytes_read_seq += static_cast<uint64_t>(rows) * sizeof(uint32_t) + static_cast<uint64_t>(owed * d) * kF;
  work.bytes_written_seq += static_cast<uint64_t>(owed) * sizeof(uint32_t) + static_cast<uint64_t>(owed * d) * kF;
  work.rng_samples += samples;
  work.flops += (p.mode == LazyNoiseMode::exact ? 2 * steps : 2 * static_cast<uint64_t>(owed)) * d;
  work.launches += 1;
  return owed;
}

}  // namespace privrec::cpu
