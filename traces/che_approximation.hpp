#pragma once
// Che's approximation of an LRU cache under independent references (REFERENCE.md section 6): row i,
// referenced with probability p_i per reference, hits with probability 1 - exp(-p_i T), where the
// characteristic time T (in references) solves sum_i (1 - exp(-p_i T)) x row_bytes_i = C. It is the
// closed form the trace-driven ReuseAnalyzer is checked against, and what the model can use when it
// knows a table's popularity law but has no trace. The synthetic traces match its assumption: every
// lookup draws its row independently (a bag may repeat a row), zipf rank k -> row (a k) mod rows.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace privrec {

// A population of rows referenced independently: several groups (tables), each with a share of all
// references, a row size and a popularity law over its rows.
struct PopularityGroup {
  int64_t rows = 0;
  double share = 0;  // of all references; the groups' shares are normalized to sum to 1
  uint32_t row_bytes = 0;
  double zipf_s = 0;  // P(rank k) proportional to k^-s, k = 1..rows; 0 = uniform
};

struct CheResult {
  double hit_rate = 0;             // share of all references that hit
  double characteristic_time = 0;  // T, in references (infinite when every row fits)
  std::vector<double> group_hit_rate;  // share of each group's references that hit
};

// The population summed once, for many capacities. Zipf groups are summed exactly over their first
// 1024 ranks, then over geometric rank buckets (ratio <= 1.01) that carry the bucket's summed
// probability (the integral of x^-s), so 10^10 rows cost about as much as 10^4: a few thousand terms
// (building: about 0.1 ms; each capacity: 5 to 9 sums of them, 0.1 to 0.2 ms on this project's VM).
class ChePopulation {
 public:
  // Throws std::invalid_argument on a bad group (naming its index and field).
  explicit ChePopulation(const std::vector<PopularityGroup>& groups);
  // Overall and per-group LRU hit rate of a cache of `capacity_bytes`.
  CheResult lru(double capacity_bytes) const;
  // The perfect-LFU hit rate (static popularity: the most probable rows fill the cache, whole rows,
  // in order of probability until the next does not fit).
  double static_lfu_hit_rate(double capacity_bytes) const;
  // Expected bytes of the distinct rows that `references` references touch: by Che's fixed point, the
  // LRU capacity whose characteristic time is `references` (one sum, no solving).
  double bytes_at_time(double references) const;
  // The LRU hit rate of a cache whose characteristic time is `references` (of capacity
  // bytes_at_time(references)): sum over rows of p (1 - e^{-p T}); 1 at infinity.
  double hit_rate_at_time(double references) const;

 private:
  struct Atom {
    double p;      // probability of each of the atom's rows, per reference
    double rows;   // how many rows
    double bytes;  // of each row
    size_t group;
  };
  void add_group(const PopularityGroup& g, size_t index, double share);
  void occupancy(double T, double& bytes, double& d_bytes_d_log_t) const;
  double characteristic_time(double capacity) const;
  std::vector<Atom> atoms_;
  size_t groups_ = 0;
  double all_bytes_ = 0;
};

// One-shot forms of ChePopulation(groups).lru(capacity) and .static_lfu_hit_rate(capacity).
CheResult che_lru(const std::vector<PopularityGroup>& groups, double capacity_bytes);
double static_lfu_hit_rate(const std::vector<PopularityGroup>& groups, double capacity_bytes);

}  // namespace privrec
