#include "traces/synthetic_trace.hpp"

#include <cmath>
#include <numeric>
#include <vector>

#include <fmt/format.h>

#include "models/rng/gaussian.hpp"

namespace privrec {

namespace {
constexpr uint32_t kDenseTable = 0xFFFF;  // table field of the dense-feature stream
double uniform53(uint32_t hi, uint32_t lo) {
  return (static_cast<double>((static_cast<uint64_t>(hi) << 21) ^ (lo >> 11)) + 0.5) * 0x1p-53;
}

// A uniform table's row from its draw's first two words: the 64-bit fraction they make, times rows.
int64_t uniform_row(uint32_t w0, uint32_t w1, int64_t rows) {
  const uint64_t x = (static_cast<uint64_t>(w0) << 32) | w1;
  return static_cast<int64_t>((static_cast<unsigned __int128>(x) * static_cast<uint64_t>(rows)) >> 64);
}

// The Philox block of a row's planted effect, and the effect from the block's first word.
struct EffectBlock {
  uint32_t c0, c1, c2, c3;
};
EffectBlock effect_block(size_t table, int64_t row) {
  return {0x5EED, static_cast<uint32_t>(row), static_cast<uint32_t>(row >> 32), static_cast<uint32_t>(table)};
}
float effect_of(uint32_t w0) { return (w0 & 1) ? 0.5f : -0.5f; }
}  // namespace

float planted_dense_weight(size_t feature) { return (feature % 2 == 0 ? 0.8f : -0.8f) / (1.0f + feature / 4); }

float planted_row_effect(uint64_t seed, size_t table, int64_t row) {
  const EffectBlock b = effect_block(table, row);
  const Philox4 r = philox4x32_10(b.c0, b.c1, b.c2, b.c3, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  return effect_of(r.v[0]);
}

int64_t zipf_rank_multiplier(int64_t rows) {
  // An odd multiplier coprime with rows makes rank -> (a*rank) mod rows a bijection.
  int64_t a = (rows / 2) | 1;
  if (a <= 1) a = 1;
  while (std::gcd(a, rows) != 1) a += 2;
  return a % std::max<int64_t>(rows, 1);
}

int64_t zipf_row_of_rank(int64_t rows, int64_t multiplier, int64_t rank) {
  return static_cast<int64_t>((static_cast<unsigned __int128>(rank - 1) * static_cast<uint64_t>(multiplier)) %
                              static_cast<unsigned __int128>(rows));
}

SyntheticTrace::SyntheticTrace(const Workload& workload, uint64_t seed) : workload_(workload), seed_(seed) {
  for (const auto& t : workload_.tables) {
    if (t.access.kind == AccessDistribution::Kind::zipf) {
      zipf_.push_back(std::make_unique<ZipfSampler>(t.rows, t.access.zipf_exponent));
      rank_multiplier_.push_back(zipf_rank_multiplier(t.rows));
    } else {
      zipf_.push_back(nullptr);
      rank_multiplier_.push_back(1);
    }
  }
}

std::string SyntheticTrace::describe() const {
  std::string dists;
  for (const auto& t : workload_.tables) {
    if (dists.find(t.access.name()) == std::string::npos) dists += (dists.empty() ? "" : ",") + t.access.name();
  }
  return fmt::format("synthetic({}, seed {})", dists, seed_);
}

// A zipf table's row: rank by rejection-inversion, up to 2^16 attempts of two draws a lookup
// (each accepted with probability > 0.9), spread over the table by the rank multiplier.
int64_t SyntheticTrace::draw_zipf_row(size_t table, int64_t batch_index, int64_t example, int64_t lookup) const {
  const int64_t rows = workload_.tables[table].rows;
  const NoiseCounter n = noise_counter(RngDomain::index, static_cast<uint64_t>(batch_index),
                                       static_cast<uint32_t>(table), static_cast<uint64_t>(example));
  const uint32_t k0 = static_cast<uint32_t>(seed_), k1 = static_cast<uint32_t>(seed_ >> 32);
  for (uint32_t attempt = 0;; ++attempt) {
    const Philox4 r = philox4x32_10(static_cast<uint32_t>(lookup) | (attempt << 16), n.c1, n.c2, n.c3, k0, k1);
    for (int half = 0; half < 2; ++half) {
      const int64_t rank = zipf_[table]->try_sample(uniform53(r.v[2 * half], r.v[2 * half + 1]));
      if (rank > 0) return zipf_row_of_rank(rows, rank_multiplier_[table], rank);
    }
  }
}

namespace {
// Words 0 and 1 of Philox blocks (c0[l], c1[l], c2[l], c3[l]) under key (k0, k1), for every lane
// l < n: the loop over lanes vectorizes (philox4x32_10_words keeps every word in registers), about
// five times the scalar rate of one block at a time.
void philox_words01(const uint32_t* c0, const uint32_t* c1, const uint32_t* c2, const uint32_t* c3, uint32_t k0,
                    uint32_t k1, int64_t n, uint32_t* w0, uint32_t* w1) {
#pragma omp simd
  for (int64_t l = 0; l < n; ++l) {
    uint32_t o0, o1, o2, o3;
    philox4x32_10_words(c0[l], c1[l], c2[l], c3[l], k0, k1, o0, o1, o2, o3);
    w0[l] = o0, w1[l] = o1;
  }
}

// One example's lookups of every table, in table then lookup order, as the lanes of its draws.
struct ExampleLanes {
  std::vector<uint32_t> c0, c1, c2, c3, w0, w1;
  void resize(size_t n) {
    for (auto* v : {&c0, &c1, &c2, &c3, &w0, &w1}) v->resize(n);
  }
};
}  // namespace

// Example by example: the Philox blocks of its uniform tables' lookups in one vectorized pass (a
// lookup's row is uniform_row of its block), the zipf tables' rows one at a time (rejection), then
// the blocks of all its rows' planted effects in another pass, summed into the logit in the order
// of the definition (table by table, lookup by lookup): every bit is planted_row_effect's and the
// scalar draw's (tests/traces/trace_test.cpp holds them to it).
Batch SyntheticTrace::batch(int64_t index) const {
  Batch b;
  batch_into(index, b);
  return b;
}

// Every value of the batch is written below, so buffers kept from an earlier batch (resized, not
// cleared) give the same batch as fresh ones. rmc2 x0.01 at batch 2048 makes 53 MB of ids a step:
// made fresh, `privrec train --model rmc2 --table-scale 0.01 --batch 2048 --algo sgd` faulted in
// 84.3k pages in 5 steps and 95.4k in 25 (/usr/bin/time), refilled 73.5k and 79.9k.
void SyntheticTrace::batch_into(int64_t index, Batch& b) const {
  const int64_t B = workload_.batch_size, D = workload_.dense_features;
  const size_t T = workload_.tables.size();
  b.size = B;
  b.num_dense = D;
  b.dense.resize(B * D);
  b.labels.resize(B);
  b.tables.resize(T);
  size_t lookups = 0;
  for (size_t t = 0; t < T; ++t) {
    const int64_t L = workload_.tables[t].pooling;
    b.tables[t].offsets.resize(B + 1);
    for (int64_t i = 0; i <= B; ++i) b.tables[t].offsets[i] = i * L;
    b.tables[t].indices.resize(B * L);
    lookups += static_cast<size_t>(L);
  }
  const uint32_t k0 = static_cast<uint32_t>(seed_), k1 = static_cast<uint32_t>(seed_ >> 32);
#pragma omp parallel
  {
    ExampleLanes x;
    x.resize(lookups);
    std::vector<int64_t> rows(lookups);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < B; ++i) {
      float logit = 0;
      for (int64_t f = 0; f < D; ++f) {
        const float v = noise_normal(seed_, RngDomain::data, static_cast<uint64_t>(index), kDenseTable,
                                     static_cast<uint64_t>(i), static_cast<uint32_t>(f));
        b.dense[i * D + f] = v;
        logit += planted_dense_weight(f) * v;
      }
      // The uniform tables' draws: lookup j of table t is block (j, counter of (index, t, i)).
      size_t n = 0;
      for (size_t t = 0; t < T; ++t) {
        if (zipf_[t]) continue;
        const NoiseCounter c = noise_counter(RngDomain::index, static_cast<uint64_t>(index), static_cast<uint32_t>(t),
                                             static_cast<uint64_t>(i));
        for (int64_t j = 0; j < workload_.tables[t].pooling; ++j, ++n)
          x.c0[n] = static_cast<uint32_t>(j), x.c1[n] = c.c1, x.c2[n] = c.c2, x.c3[n] = c.c3;
      }
      philox_words01(x.c0.data(), x.c1.data(), x.c2.data(), x.c3.data(), k0, k1, static_cast<int64_t>(n), x.w0.data(),
                     x.w1.data());
      size_t u = 0, k = 0;  // u: the next uniform draw; k: the lookup in table then lookup order
      for (size_t t = 0; t < T; ++t) {
        const int64_t L = workload_.tables[t].pooling, R = workload_.tables[t].rows;
        for (int64_t j = 0; j < L; ++j, ++k) {
          rows[k] = zipf_[t] ? draw_zipf_row(t, index, i, j) : uniform_row(x.w0[u], x.w1[u], R);
          if (!zipf_[t]) ++u;
          b.tables[t].indices[i * L + j] = rows[k];
          const EffectBlock e = effect_block(t, rows[k]);
          x.c0[k] = e.c0, x.c1[k] = e.c1, x.c2[k] = e.c2, x.c3[k] = e.c3;
        }
      }
      philox_words01(x.c0.data(), x.c1.data(), x.c2.data(), x.c3.data(), k0, k1, static_cast<int64_t>(k), x.w0.data(),
                     x.w1.data());
      k = 0;
      for (size_t t = 0; t < T; ++t) {
        const int64_t L = workload_.tables[t].pooling;
        for (int64_t j = 0; j < L; ++j, ++k) logit += effect_of(x.w0[k]) / static_cast<float>(L * T);
      }
      // Label ~ Bernoulli(sigmoid(3 * logit)).
      const Philox4 r = philox4x32_10(0xFFFFFFFFu, static_cast<uint32_t>(i), kDenseTable << 8 | (5u << 24),
                                      static_cast<uint32_t>(index), static_cast<uint32_t>(seed_),
                                      static_cast<uint32_t>(seed_ >> 32));
      const double u53 = uniform53(r.v[0], r.v[1]);
      b.labels[i] = u53 < 1.0 / (1.0 + std::exp(-3.0 * logit)) ? 1.0f : 0.0f;
    }
  }
}

}  // namespace privrec
