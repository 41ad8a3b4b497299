#pragma once
// Access streams for the reuse-distance tests: accesses, spacers and counting switches as events, and
// seeded uniform or zipf rank streams (ZipfSampler, as the synthetic traces draw ranks).
#include <cstdint>
#include <list>
#include <memory>
#include <unordered_map>
#include <utility>
#include <random>
#include <vector>

#include "traces/reuse_distance.hpp"
#include "traces/zipf_sampler.hpp"

namespace privrec::test {

// An LRU cache of `capacity` bytes holding objects of any size: an object is inserted at the front,
// then objects leave from the back until the bytes held fit (the new one too, if it alone is larger).
class ReferenceLru {
 public:
  explicit ReferenceLru(uint64_t capacity) : capacity_(capacity) {}
  bool access(uint64_t key, uint64_t bytes) {  // true on a hit
    const auto it = where_.find(key);
    const bool hit = it != where_.end();
    if (hit) {
      held_ -= it->second->second;
      order_.erase(it->second);
    }
    order_.emplace_front(key, bytes);
    where_[key] = order_.begin();
    held_ += bytes;
    while (held_ > capacity_) {
      held_ -= order_.back().second;
      where_.erase(order_.back().first);
      order_.pop_back();
    }
    return hit;
  }

 private:
  uint64_t capacity_, held_ = 0;
  std::list<std::pair<uint64_t, uint64_t>> order_;
  std::unordered_map<uint64_t, std::list<std::pair<uint64_t, uint64_t>>::iterator> where_;
};


struct Event {
  enum Kind { access, spacer, count_on, count_off, other } kind = access;
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
      case Event::other: a.touch_other(e.key, e.bytes); break;
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
