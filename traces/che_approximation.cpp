#include "traces/che_approximation.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

namespace privrec {

namespace {

// Ranks summed one by one. Beyond them a bucket [a, b) with b/a <= 1.01 stands for its ranks at
// their mean probability: probabilities inside vary by a factor 1.01^s, and 1 - exp(-pT) is smooth
// enough in p that the error is below (0.01 s)^2 / 24 of the bucket's term (about 5e-6 at s = 1.05);
// the midpoint rule that sums the bucket errs by s (s+1) / (24 a^2), 2e-7 at a = 1024. Summing the
// first 2^16 ranks exactly instead would make each sum 25 times dearer for no visible gain (the unit
// test against a sum over every rank agrees within 2e-6).
constexpr int64_t kExactRanks = 1024;
constexpr double kBucketRatio = 1.01;

double expm1_over(double t) { return std::abs(t) > 1e-8 ? std::expm1(t) / t : 1.0 + t * (0.5 + t / 6.0); }

// The integral of x^-s over [a, b]: (b^(1-s) - a^(1-s)) / (1-s), exact as s -> 1 (log(b/a)).
double power_integral(double a, double b, double s) {
  const double l = std::log(b / a);
  return std::exp((1.0 - s) * std::log(a)) * l * expm1_over((1.0 - s) * l);
}

void check_groups(const std::vector<PopularityGroup>& groups) {
  if (groups.empty()) throw std::invalid_argument("che: no popularity groups");
  double shares = 0;
  for (size_t i = 0; i < groups.size(); ++i) {
    const PopularityGroup& g = groups[i];
    if (g.rows < 1) throw std::invalid_argument(fmt::format("che: groups[{}].rows: {} is not at least 1", i, g.rows));
    if (g.row_bytes < 1) throw std::invalid_argument(fmt::format("che: groups[{}].row_bytes is 0", i));
    if (!(g.share >= 0 && std::isfinite(g.share)))
      throw std::invalid_argument(fmt::format("che: groups[{}].share: {} is not a finite share >= 0", i, g.share));
    if (!(g.zipf_s >= 0 && std::isfinite(g.zipf_s)))
      throw std::invalid_argument(fmt::format("che: groups[{}].zipf_s: {} is not a finite exponent >= 0", i, g.zipf_s));
    shares += g.share;
  }
  if (!(shares > 0)) throw std::invalid_argument("che: the groups' shares sum to 0");
}

void check_capacity(double capacity_bytes) {
  if (std::isnan(capacity_bytes)) throw std::invalid_argument("che: capacity_bytes is NaN");
}

}  // namespace

ChePopulation::ChePopulation(const std::vector<PopularityGroup>& groups) : groups_(groups.size()) {
  check_groups(groups);
  double shares = 0;
  for (const auto& g : groups) shares += g.share, all_bytes_ += static_cast<double>(g.rows) * g.row_bytes;
  for (size_t i = 0; i < groups.size(); ++i) add_group(groups[i], i, groups[i].share / shares);
}

void ChePopulation::add_group(const PopularityGroup& g, size_t index, double share) {
  const double bytes = g.row_bytes;
  if (g.zipf_s == 0) {
    atoms_.push_back({share / static_cast<double>(g.rows), static_cast<double>(g.rows), bytes, index});
    return;
  }
  const size_t first = atoms_.size();
  double norm = 0;  // sum of k^-s over the group's ranks, as the atoms sum it
  const int64_t exact = std::min(g.rows, kExactRanks);
  for (int64_t k = 1; k <= exact; ++k) {
    const double w = std::pow(static_cast<double>(k), -g.zipf_s);
    atoms_.push_back({w, 1.0, bytes, index});
    norm += w;
  }
  for (int64_t a = exact + 1; a <= g.rows;) {
    const int64_t b = std::min(g.rows + 1, std::max(a + 1, static_cast<int64_t>(static_cast<double>(a) * kBucketRatio)));
    const double w = power_integral(static_cast<double>(a) - 0.5, static_cast<double>(b) - 0.5, g.zipf_s);
    atoms_.push_back({w / static_cast<double>(b - a), static_cast<double>(b - a), bytes, index});
    norm += w;
    a = b;
  }
  for (size_t i = first; i < atoms_.size(); ++i) atoms_[i].p *= share / norm;
}

// Bytes the cache holds at characteristic time T, and its derivative in log T.
void ChePopulation::occupancy(double T, double& bytes, double& d_bytes_d_log_t) const {
  bytes = 0, d_bytes_d_log_t = 0;
  for (const Atom& a : atoms_) {
    // One expm1 per term: 1 - e^-x stays exact for tiny x, and e^-x = 1 + that is only weighted by x.
    const double x = a.p * T, held = -std::expm1(-x);
    bytes += a.rows * a.bytes * held;
    d_bytes_d_log_t += a.rows * a.bytes * x * (1.0 - held);
  }
}

double ChePopulation::bytes_at_time(double references) const {
  if (!(references > 0)) return 0.0;
  if (std::isinf(references)) return all_bytes_;
  double bytes, slope;
  occupancy(references, bytes, slope);
  return bytes;
}

double ChePopulation::hit_rate_at_time(double references) const {
  if (!(references > 0)) return 0.0;
  double hit = 0, all = 0;
  for (const Atom& a : atoms_) {
    hit += a.rows * a.p * (std::isinf(references) ? 1.0 : -std::expm1(-a.p * references));
    all += a.rows * a.p;
  }
  return all > 0 ? hit / all : 0.0;
}

// T with occupancy(T) = capacity, for 0 < capacity < all bytes: Newton on log T, safeguarded by a
// bracket that bisection shrinks whenever a Newton step leaves it.
double ChePopulation::characteristic_time(double capacity) const {
  double pb = 0;
  for (const Atom& a : atoms_) pb += a.rows * a.p * a.bytes;
  // occupancy(T) <= T x sum p b, so T = capacity / sum p b is at or below the root.
  double lo = std::log(capacity / pb), hi = lo, bytes, slope;
  do {
    hi += std::log(2.0);
    occupancy(std::exp(hi), bytes, slope);
  } while (bytes < capacity);
  double u = hi;
  for (int it = 0; it < 200 && hi - lo > 1e-13 * std::max(1.0, std::abs(hi)); ++it) {
    occupancy(std::exp(u), bytes, slope);
    if (std::abs(bytes - capacity) <= 1e-12 * capacity) break;
    (bytes < capacity ? lo : hi) = u;
    const double newton = slope > 0 ? u - (bytes - capacity) / slope : lo - 1.0;
    u = newton > lo && newton < hi ? newton : 0.5 * (lo + hi);
  }
  return std::exp(u);
}

CheResult ChePopulation::lru(double capacity_bytes) const {
  check_capacity(capacity_bytes);
  CheResult r;
  r.group_hit_rate.assign(groups_, 0.0);
  if (capacity_bytes <= 0) return r;
  r.characteristic_time = capacity_bytes >= all_bytes_ ? std::numeric_limits<double>::infinity()
                                                       : characteristic_time(capacity_bytes);
  std::vector<double> group_share(groups_, 0.0);
  for (const Atom& a : atoms_) {
    const double hit = std::isinf(r.characteristic_time) ? 1.0 : -std::expm1(-a.p * r.characteristic_time);
    r.hit_rate += a.rows * a.p * hit;
    r.group_hit_rate[a.group] += a.rows * a.p * hit;
    group_share[a.group] += a.rows * a.p;
  }
  for (size_t g = 0; g < groups_; ++g) r.group_hit_rate[g] = group_share[g] > 0 ? r.group_hit_rate[g] / group_share[g] : 0.0;
  return r;
}

double ChePopulation::static_lfu_hit_rate(double capacity_bytes) const {
  check_capacity(capacity_bytes);
  std::vector<const Atom*> order;
  for (const Atom& a : atoms_) order.push_back(&a);
  std::stable_sort(order.begin(), order.end(), [](const Atom* a, const Atom* b) { return a->p > b->p; });
  double used = 0, hit = 0;
  for (const Atom* a : order) {
    if (used + a->rows * a->bytes <= capacity_bytes) {
      used += a->rows * a->bytes;
      hit += a->rows * a->p;
      continue;
    }
    hit += std::floor(std::max(0.0, capacity_bytes - used) / a->bytes) * a->p;
    break;
  }
  return std::min(hit, 1.0);
}

CheResult che_lru(const std::vector<PopularityGroup>& groups, double capacity_bytes) {
  return ChePopulation(groups).lru(capacity_bytes);
}

double static_lfu_hit_rate(const std::vector<PopularityGroup>& groups, double capacity_bytes) {
  return ChePopulation(groups).static_lfu_hit_rate(capacity_bytes);
}

}  // namespace privrec
