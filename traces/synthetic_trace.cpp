#include "traces/synthetic_trace.hpp"

#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "models/rng/gaussian.hpp"

namespace privrec {

namespace {
constexpr uint32_t kDenseTable = 0xFFFF;  // table field of the dense-feature stream
double uniform53(uint32_t hi, uint32_t lo) {
  return (static_cast<double>((static_cast<uint64_t>(hi) << 21) ^ (lo >> 11)) + 0.5) * 0x1p-53;
}
}  // namespace

float planted_dense_weight(size_t feature) { return (feature % 2 == 0 ? 0.8f : -0.8f) / (1.0f + feature / 4); }

float planted_row_effect(uint64_t seed, size_t table, int64_t row) {
  const Philox4 r = philox4x32_10(0x5EED, static_cast<uint32_t>(row), static_cast<uint32_t>(row >> 32),
                                  static_cast<uint32_t>(table), static_cast<uint32_t>(seed),
                                  static_cast<uint32_t>(seed >> 32));
  return (r.v[0] & 1) ? 0.5f : -0.5f;
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

int64_t SyntheticTrace::draw_row(size_t table, int64_t batch_index, int64_t example, int64_t lookup) const {
  const int64_t rows = workload_.tables[table].rows;
  const NoiseCounter n = noise_counter(RngDomain::index, static_cast<uint64_t>(batch_index),
                                       static_cast<uint32_t>(table), static_cast<uint64_t>(example));
  const uint32_t k0 = static_cast<uint32_t>(seed_), k1 = static_cast<uint32_t>(seed_ >> 32);
  if (!zipf_[table]) {
    const Philox4 r = philox4x32_10(static_cast<uint32_t>(lookup), n.c1, n.c2, n.c3, k0, k1);
    const uint64_t x = (static_cast<uint64_t>(r.v[0]) << 32) | r.v[1];
    return static_cast<int64_t>((static_cast<unsigned __int128>(x) * static_cast<uint64_t>(rows)) >> 64);
  }
  // Up to 2^16 attempts per lookup; rejection-inversion accepts with probability > 0.9.
  for (uint32_t attempt = 0;; ++attempt) {
    const Philox4 r = philox4x32_10(static_cast<uint32_t>(lookup) | (attempt << 16), n.c1, n.c2, n.c3, k0, k1);
    for (int half = 0; half < 2; ++half) {
      const int64_t rank = zipf_[table]->try_sample(uniform53(r.v[2 * half], r.v[2 * half + 1]));
      if (rank > 0) {
        return zipf_row_of_rank(rows, rank_multiplier_[table], rank);
      }
    }
  }
}

Batch SyntheticTrace::batch(int64_t index) const {
  Batch b;
  const int64_t B = workload_.batch_size, D = workload_.dense_features;
  const size_t T = workload_.tables.size();
  b.size = B;
  b.num_dense = D;
  b.dense.resize(B * D);
  b.labels.resize(B);
  b.tables.resize(T);
  for (size_t t = 0; t < T; ++t) {
    const int64_t L = workload_.tables[t].pooling;
    b.tables[t].offsets.resize(B + 1);
    for (int64_t i = 0; i <= B; ++i) b.tables[t].offsets[i] = i * L;
    b.tables[t].indices.resize(B * L);
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < B; ++i) {
    float logit = 0;
    for (int64_t f = 0; f < D; ++f) {
      const float x = noise_normal(seed_, RngDomain::data, static_cast<uint64_t>(index), kDenseTable,
                                   static_cast<uint64_t>(i), static_cast<uint32_t>(f));
      b.dense[i * D + f] = x;
      logit += planted_dense_weight(f) * x;
    }
    for (size_t t = 0; t < T; ++t) {
      const int64_t L = workload_.tables[t].pooling;
      for (int64_t j = 0; j < L; ++j) {
        const int64_t row = draw_row(t, index, i, j);
        b.tables[t].indices[i * L + j] = row;
        logit += planted_row_effect(seed_, t, row) / static_cast<float>(L * T);
      }
    }
    // Label ~ Bernoulli(sigmoid(3 * logit)).
    const Philox4 r = philox4x32_10(0xFFFFFFFFu, static_cast<uint32_t>(i), kDenseTable << 8 | (5u << 24),
                                    static_cast<uint32_t>(index), static_cast<uint32_t>(seed_),
                                    static_cast<uint32_t>(seed_ >> 32));
    const double u = uniform53(r.v[0], r.v[1]);
    b.labels[i] = u < 1.0 / (1.0 + std::exp(-3.0 * logit)) ? 1.0f : 0.0f;
  }
  return b;
}

}  // namespace privrec
