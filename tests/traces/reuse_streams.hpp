#pragma once
// Access streams for the reuse-distance tests: accesses, spacers and counting switches as events, and
// seeded uniform or zipf rank streams (ZipfSampler, as the synthetic traces draw ranks).
#include <memory>
#include <random>
#include <vector>

#include "traces/reuse_distance.hpp"
#include "traces/zipf_sampler.hpp"

namespace privrec::test {

struct Event {
  enum Kind { access, spacer, count_on, count_off } kind = access;
  uint64_t key = 0, bytes = 0;
  int tag = 0;
};

inline void feed(ReuseAnalyzer& a, const std::vector<Event>& events) {
  for (const Event& e : events) {
    switch (e.kind) {
      case Event::access: a.access(e.key, static_cast<uint32_t>(e.bytes), e.tag); break;
      case Event::spacer: a.spacer(e.bytes); break;
      case Event::count_on: a.set_counting(true); break;
      case Event::count_off: a.set_counting(false); break;
    }
  }
}

// Ranks 1..n, uniform (s = 0) or zipf(s), from a seeded generator.
class RankStream {
 public:
  RankStream(int64_t n, double s, uint64_t seed) : n_(n), zipf_(s > 0 ? new ZipfSampler(n, s) : nullptr), gen_(seed) {}
  int64_t next() {
    if (!zipf_) return 1 + static_cast<int64_t>((static_cast<unsigned __int128>(gen_()) * static_cast<uint64_t>(n_)) >> 64);
    for (;;) {
      const int64_t k = zipf_->try_sample((static_cast<double>(gen_() >> 11) + 0.5) * 0x1p-53);
      if (k > 0) return k;
    }
  }

 private:
  int64_t n_;
  std::unique_ptr<ZipfSampler> zipf_;
  std::mt19937_64 gen_;
};

inline std::vector<Event> rank_events(int64_t accesses, int64_t rows, double s, uint64_t seed, uint32_t bytes = 128) {
  RankStream r(rows, s, seed);
  std::vector<Event> ev(accesses);
  for (auto& e : ev) e.key = static_cast<uint64_t>(r.next()), e.bytes = bytes;
  return ev;
}

}  // namespace privrec::test
