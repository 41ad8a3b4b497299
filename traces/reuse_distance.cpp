#include "traces/reuse_distance.hpp"

#include <algorithm>
#include <numeric>
#include <bit>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace privrec {

namespace reuse_detail {

RowTable::RowTable() : slots_(1024, Entry{0, 0, 0, 0}), mask_(1023) {}

RowTable::Entry& RowTable::find_or_insert(uint64_t key, uint64_t hash, bool& inserted) {
  for (uint64_t i = hash & mask_;; i = (i + 1) & mask_) {
    Entry& e = slots_[i];
    if (e.bytes != 0) {
      if (e.key == key) {
        inserted = false;
        return e;
      }
      continue;
    }
    // Load at most 0.7: linear probing then takes about 2 probes to find a row, 6 to miss one.
    if ((size_ + 1) * 10 > slots_.size() * 7) {
      grow();
      return find_or_insert(key, hash, inserted);
    }
    e.key = key;
    ++size_;
    inserted = true;
    return e;
  }
}

void RowTable::grow() {
  std::vector<Entry> old(slots_.size() * 2, Entry{0, 0, 0, 0});
  old.swap(slots_);  // slots_ is now the empty table of twice the size
  mask_ = slots_.size() - 1;
  for (const Entry& e : old) {
    if (e.bytes == 0) continue;
    uint64_t i = mix64(e.key ^ hash_key) & mask_;
    while (slots_[i].bytes != 0) i = (i + 1) & mask_;
    slots_[i] = e;
  }
}

void BlockedFenwick::assign_points(std::vector<uint64_t>&& points) {
  size_ = static_cast<uint32_t>(points.size() - 1);
  slots_ = std::move(points);
  slots_.resize((slots_.size() + kBlock - 1) / kBlock * kBlock, 0);
  const size_t n = slots_.size() / kBlock;
  blocks_.assign(n + 1, 0);
  for (size_t b = 0; b < n; ++b)
    for (size_t i = b * kBlock; i < (b + 1) * kBlock; ++i) blocks_[b + 1] += slots_[i];
  // The Fenwick build in O(n): each node, once complete, adds itself to its parent.
  for (size_t i = 1; i <= n; ++i) {
    const size_t parent = i + (i & (~i + 1));
    if (parent <= n) blocks_[parent] += blocks_[i];
  }
}

std::vector<uint64_t> BlockedFenwick::take_points() {
  std::vector<uint64_t> points = std::move(slots_);
  points.resize(size_ + size_t{1});
  slots_.assign(kBlock, 0);
  blocks_.assign(2, 0);
  size_ = 0;
  return points;
}

}  // namespace reuse_detail

namespace {

constexpr size_t kSub = size_t{1} << ReuseAnalyzer::kSubBits;

// Histogram bin of v: values below 2^kSubBits exactly, then per power of two 2^kSubBits equal bins.
size_t bin_of(uint64_t v) {
  if (v < kSub) return static_cast<size_t>(v);
  const int e = 63 - std::countl_zero(v);
  return kSub + static_cast<size_t>(e - ReuseAnalyzer::kSubBits) * kSub + ((v >> (e - ReuseAnalyzer::kSubBits)) - kSub);
}

// [lo, lo + width) of bin b, as doubles (the last bins reach 2^64).
void bin_range(size_t b, double& lo, double& width) {
  if (b < kSub) {
    lo = static_cast<double>(b), width = 1;
    return;
  }
  const int shift = static_cast<int>((b - kSub) / kSub);
  lo = std::ldexp(static_cast<double>(kSub + (b - kSub) % kSub), shift);
  width = std::ldexp(1.0, shift);
}

uint64_t floor_to_u64(double x) {
  return x >= 0x1p64 ? std::numeric_limits<uint64_t>::max() : static_cast<uint64_t>(x);
}

}  // namespace

ReuseAnalyzer::ReuseAnalyzer(ReuseOptions o) : opt_(std::move(o)) {
  if (!(opt_.sample_rate > 0.0 && opt_.sample_rate <= 1.0))
    throw std::invalid_argument(fmt::format("ReuseOptions.sample_rate: {} is not in (0, 1]", opt_.sample_rate));
  if (opt_.tags < 1) throw std::invalid_argument(fmt::format("ReuseOptions.tags: {} is not at least 1", opt_.tags));
  if (!std::is_sorted(opt_.capacities_bytes.begin(), opt_.capacities_bytes.end()))
    throw std::invalid_argument("ReuseOptions.capacities_bytes: not in ascending order");
  if (opt_.min_time_slots < 16)
    throw std::invalid_argument(fmt::format("ReuseOptions.min_time_slots: {} is below 16", opt_.min_time_slots));
  const bool exact = opt_.sample_rate == 1.0;
  // rate x 2^64 hashes are kept (at least one).
  max_kept_hash_ = exact ? std::numeric_limits<uint64_t>::max()
                         : std::max<uint64_t>(1, static_cast<uint64_t>(std::ldexp(opt_.sample_rate, 64))) - 1;
  // Sampled mode weighs a tracked byte 256 units so that a spacer's bytes x rate keep 8 fractional
  // bits; exact mode weighs it 1 so that every sum is an exact integer number of bytes.
  units_per_byte_ = exact ? 1 : 256;
  bytes_per_unit_ = 1.0 / (opt_.sample_rate * static_cast<double>(units_per_byte_));
  caps_ = opt_.capacities_bytes.size();
  for (uint64_t c : opt_.capacities_bytes) caps_d_.push_back(static_cast<double>(c));
  accesses_.assign(opt_.tags, 0);
  presampled_.assign(opt_.tags, 0);
  counts_.assign(static_cast<size_t>(opt_.tags) * kGroups * (caps_ + 2), 0);
  hist_.assign(static_cast<size_t>(opt_.tags) * kGroups * kBins, 0);
  censored_hist_.assign(static_cast<size_t>(opt_.tags) * kGroups * kBins, 0);
  weighted_.assign(static_cast<size_t>(opt_.tags) * (caps_ + 2), 0.0);
  weighted_hist_.assign(static_cast<size_t>(opt_.tags) * kBins, 0.0);
  miss_windows_.assign(static_cast<size_t>(opt_.tags), MissWindow{});
  miss_density_.assign(static_cast<size_t>(opt_.tags) * (kMissWindow + 1), 0);
  hash_key_ = reuse_detail::mix64(opt_.seed);
  rows_.hash_key = hash_key_;
  tree_.assign_points(std::vector<uint64_t>(static_cast<size_t>(opt_.min_time_slots) + 1, 0));
}

void ReuseAnalyzer::bad_tag(int tag) {
  throw std::out_of_range(fmt::format("ReuseAnalyzer: tag {} is outside [0, tags)", tag));
}

void ReuseAnalyzer::bad_access(int tag, uint32_t row_bytes) {
  if (row_bytes == 0) throw std::invalid_argument("ReuseAnalyzer::access: row_bytes is 0 (a row has bytes)");
  bad_tag(tag);
}

void ReuseAnalyzer::access_presampled(uint64_t key, uint32_t row_bytes, int tag) {
  if (static_cast<unsigned>(tag) >= static_cast<unsigned>(opt_.tags) || row_bytes == 0) bad_access(tag, row_bytes);
  presampled_[tag] = 1;
  const uint64_t h = reuse_detail::mix64(key ^ hash_key_);
  if (h <= max_kept_hash_) enqueue(key, h, row_bytes, tag);
}

void ReuseAnalyzer::enqueue(uint64_t key, uint64_t hash, uint32_t row_bytes, int tag) {
  if (queued_ == kDepth) {
    const Pending& p = pending_[head_];
    track(p.key, p.hash, p.bytes, p.tag);
    head_ = (head_ + 1) % kDepth, --queued_;
  }
  pending_[(head_ + queued_) % kDepth] = {key, hash, row_bytes, tag};
  ++queued_;
  rows_.prefetch(hash);
  // Half way through the queue the row's slot has arrived: fetch its tree nodes for the second half.
  if (queued_ > kDepth / 2) {
    const Pending& mid = pending_[(head_ + queued_ - 1 - kDepth / 2) % kDepth];
    if (const auto* e = rows_.find(mid.key, mid.hash)) tree_.prefetch(e->time);
  }
}

void ReuseAnalyzer::drain() {
  for (; queued_; head_ = (head_ + 1) % kDepth, --queued_) {
    const Pending& p = pending_[head_];
    track(p.key, p.hash, p.bytes, p.tag);
  }
}

void ReuseAnalyzer::track(uint64_t key, uint64_t hash, uint32_t row_bytes, int tag) {
  if (now_ > tree_.size()) compact();
  bool inserted;
  reuse_detail::RowTable::Entry& e = rows_.find_or_insert(key, hash, inserted);
  if (inserted) e.count = 0;
  e.count += counting_;
  if (inserted) {
    row_bytes_seen_ += row_bytes;
    if (counting_) {
      count(tag, hash, std::numeric_limits<double>::infinity(), e.count);
      const double touched = static_cast<double>(total_) * bytes_per_unit_ + row_bytes;
      const size_t g = static_cast<size_t>(hash % kGroups);
      ++censored_hist_[(static_cast<size_t>(tag) * kGroups + g) * kBins + bin_of(floor_to_u64(touched))];
    }
  } else {
    const uint64_t old = uint64_t{e.bytes} * units_per_byte_;
    // Everything after the previous access: the row's own old weight sits at e.time, excluded.
    const uint64_t distance = total_ - tree_.prefix(e.time);
    tree_.add(e.time, ~old + 1);
    total_ -= old;
    if (counting_) count(tag, hash, static_cast<double>(distance) * bytes_per_unit_ + row_bytes, e.count);
  }
  const uint64_t w = uint64_t{row_bytes} * units_per_byte_;
  e.bytes = row_bytes;
  e.time = now_;
  tree_.add(now_++, w);
  total_ += w;
}

// need_bytes: distance + row bytes (infinite when cold); nth: the access's place among its row's
// counted accesses, the weight that fits beta (see estimate_hits).
void ReuseAnalyzer::count(int tag, uint64_t hash, double need_bytes, uint64_t nth) {
  // Capacities are few (a handful of cache levels): a linear scan beats a binary search.
  size_t j = 0;
  while (j < caps_ && caps_d_[j] < need_bytes) ++j;
  if (std::isinf(need_bytes)) j = caps_ + 1;
  {
    MissWindow& mw = miss_windows_[static_cast<size_t>(tag)];
    const uint8_t miss = j >= caps_ ? 1 : 0;
    mw.misses += miss - mw.flags[mw.pos];
    mw.flags[mw.pos] = miss;
    mw.pos = (mw.pos + 1) % kMissWindow;
    mw.seen += mw.seen < static_cast<uint32_t>(kMissWindow);
    // Before the window fills, the fraction so far, on the window's scale (rounded).
    if (miss)
      ++miss_density_[static_cast<size_t>(tag) * (kMissWindow + 1) +
                      (mw.misses * static_cast<uint32_t>(kMissWindow) + mw.seen / 2) / mw.seen];
  }
  const int g = static_cast<int>(hash % kGroups);
  ++counts_of(tag, g)[j];
  const double w = static_cast<double>(nth);
  weighted_[static_cast<size_t>(tag) * (caps_ + 2) + j] += w;
  if (j == caps_ + 1) return;
  const size_t bin = bin_of(floor_to_u64(need_bytes));
  ++hist_[(static_cast<size_t>(tag) * kGroups + g) * kBins + bin];
  weighted_hist_[static_cast<size_t>(tag) * kBins + bin] += w;
}

void ReuseAnalyzer::spacer(uint64_t bytes) {
  drain();
  if (bytes == 0) return;
  if (now_ > tree_.size()) compact();
  uint64_t w = bytes;
  if (units_per_byte_ != 1) {
    // Carrying the rounding remainder keeps the sum of all spacers within one unit of exact.
    const double u = static_cast<double>(bytes) * opt_.sample_rate * static_cast<double>(units_per_byte_) + spacer_carry_;
    w = floor_to_u64(u);
    spacer_carry_ = u - static_cast<double>(w);
  }
  tree_.add(now_++, w);
  total_ += w;
}

void ReuseAnalyzer::touch_other(uint64_t key, uint64_t bytes) {
  drain();
  const double tracked = std::round(static_cast<double>(bytes) * opt_.sample_rate);
  if (tracked < 1) return;  // below a byte of the sample: nothing the analysis can tell apart
  if (tracked > static_cast<double>(std::numeric_limits<uint32_t>::max()))
    throw std::invalid_argument(fmt::format("ReuseAnalyzer::touch_other: {} bytes at rate {} exceed 32 bits", bytes,
                                            opt_.sample_rate));
  // Not an access of any stage: no count, no place among the rows touched or their access counts.
  const uint64_t counting = counting_, rows_seen = row_bytes_seen_;
  counting_ = 0;
  track(key, reuse_detail::mix64(key ^ hash_key_), static_cast<uint32_t>(tracked), 0);
  counting_ = counting, row_bytes_seen_ = rows_seen;
}

// Renumbers the live entries 1..live in time order. Spacers between two row entries fold into one
// entry (a reuse either spans all of them or none); spacers older than every row are dropped (no
// later reuse spans them). So the tree never holds more than 2 x rows + 1 entries.
void ReuseAnalyzer::compact() {
  std::vector<uint64_t> w = tree_.take_points();
  const uint32_t used = now_ - 1;
  std::vector<uint32_t> renumber(static_cast<size_t>(used) + 1, 0);
  for (const auto& e : rows_.slots())
    if (e.bytes) renumber[e.time] = 1;
  uint32_t live = 0;
  uint64_t pending = 0, total = 0;
  bool row_seen = false;
  // In place: a row that emits a pending spacer first had at least one spacer slot before it, so
  // writes never pass the slot being read.
  for (uint32_t t = 1; t <= used; ++t) {
    const uint64_t x = w[t];
    if (!renumber[t]) {
      pending += x;
      continue;
    }
    if (pending && row_seen) w[++live] = pending, total += pending;
    pending = 0;
    row_seen = true;
    w[++live] = x;
    total += x;
    renumber[t] = live;
  }
  if (pending && row_seen) w[++live] = pending, total += pending;
  for (auto& e : rows_.slots())
    if (e.bytes) e.time = renumber[e.time];
  const uint64_t slots = std::min<uint64_t>(std::max<uint64_t>(opt_.min_time_slots, uint64_t{4} * live),
                                            std::numeric_limits<uint32_t>::max() - 1);
  if (slots <= live) throw std::length_error("ReuseAnalyzer: more live rows than 2^32 time slots; sample them");
  std::fill(w.begin() + live + 1, w.end(), 0);
  w.resize(slots + 1, 0);
  tree_.assign_points(std::move(w));
  now_ = live + 1;
  total_ = total;
  ++compactions_;
}

double ReuseAnalyzer::counted_accesses(int tag) const {
  if (!presampled_[tag]) return static_cast<double>(accesses_[tag]);
  uint64_t tracked = 0;
  for (int g = 0; g < kGroups; ++g)
    for (size_t k = 0; k <= caps_ + 1; ++k) tracked += counts_of(tag, g)[k];
  return static_cast<double>(tracked) / opt_.sample_rate;
}

// beta from the weighted hit share: the access that is a row's k-th counted one weighs k, so a row
// of c accesses weighs about c^2 / 2 in all and its hits about h c / 2: the share approximates
// sum h_i c_i / sum c_i^2 over the sampled rows, the beta that minimizes the estimate's variance.
// Any fixed beta leaves the estimate unbiased (E[n / rate] = N); fitting it to the same sample adds a
// small bias, which reuse_validation_test.cpp bounds (under 0.2 % of the accesses there).
double ReuseAnalyzer::beta(int tag, double weighted_hits) const {
  if (presampled_[tag]) return 0.0;  // no exact count of accesses to lean on
  double all = 0;
  for (size_t k = 0; k <= caps_ + 1; ++k) all += weighted_[static_cast<size_t>(tag) * (caps_ + 2) + k];
  return all > 0 ? std::clamp(weighted_hits / all, 0.0, 1.0) : 0.0;
}

CapacityHits ReuseAnalyzer::estimate_hits(int tag, const double* group_hits, const double* group_accesses,
                                          double beta) const {
  const double rate = opt_.sample_rate;
  double hits = 0, accesses = 0;
  for (int g = 0; g < kGroups; ++g) hits += group_hits[g], accesses += group_accesses[g];
  if (rate == 1.0) return {hits, 0.0};
  const double n = presampled_[tag] ? accesses / rate : static_cast<double>(accesses_[tag]);
  CapacityHits r{(hits - beta * accesses) / rate + beta * n, 0.0};
  // Each group alone is a sample at rate / kGroups: the spread of its estimates about their mean.
  double var = 0;
  for (int g = 0; g < kGroups; ++g) {
    const double e = (group_hits[g] - beta * group_accesses[g]) * kGroups / rate + beta * n - r.hits;
    var += e * e;
  }
  r.stderr_hits = std::sqrt(var / (kGroups - 1) / kGroups);
  r.hits = std::clamp(r.hits, 0.0, n);
  return r;
}

CapacityHits ReuseAnalyzer::hits_at(int tag, size_t j) const {
  double group_hits[kGroups], group_accesses[kGroups], weighted_hits = 0;
  for (int g = 0; g < kGroups; ++g) {
    const uint64_t* c = counts_of(tag, g);
    uint64_t hit = 0, all = 0;
    for (size_t k = 0; k <= caps_ + 1; ++k) all += c[k], hit += k <= j ? c[k] : 0;
    group_hits[g] = static_cast<double>(hit), group_accesses[g] = static_cast<double>(all);
  }
  for (size_t k = 0; k <= j; ++k) weighted_hits += weighted_[static_cast<size_t>(tag) * (caps_ + 2) + k];
  return estimate_hits(tag, group_hits, group_accesses, beta(tag, weighted_hits));
}

TagHits ReuseAnalyzer::hits(int tag) const {
  if (tag < 0 || tag >= opt_.tags) bad_tag(tag);
  drain_queued();
  TagHits r;
  r.accesses = counted_accesses(tag);
  uint64_t cold = 0;
  for (int g = 0; g < kGroups; ++g) cold += counts_of(tag, g)[caps_ + 1];
  r.cold = static_cast<double>(cold) / opt_.sample_rate;
  for (size_t j = 0; j < caps_; ++j) r.at.push_back(hits_at(tag, j));
  const uint64_t* d = &miss_density_[static_cast<size_t>(tag) * (kMissWindow + 1)];
  const uint64_t misses = std::accumulate(d, d + kMissWindow + 1, uint64_t{0});
  if (misses > 0)
    for (int k = 0; k <= kMissWindow; ++k) r.miss_window_share.push_back(static_cast<double>(d[k]) / static_cast<double>(misses));
  return r;
}

double ReuseAnalyzer::lru_hit_rate(uint64_t capacity_bytes, int tag) const {
  if (tag < 0 || tag >= opt_.tags) bad_tag(tag);
  drain_queued();
  const double n = counted_accesses(tag);
  if (n == 0) return 0.0;
  const auto listed = std::lower_bound(opt_.capacities_bytes.begin(), opt_.capacities_bytes.end(), capacity_bytes);
  if (listed != opt_.capacities_bytes.end() && *listed == capacity_bytes)
    return hits_at(tag, static_cast<size_t>(listed - opt_.capacities_bytes.begin())).hits / n;
  // Values in the capacity's bin are integers lo .. lo + width - 1, taken as evenly spread: those up
  // to the capacity hit.
  const size_t cb = bin_of(capacity_bytes);
  double lo, width;
  bin_range(cb, lo, width);
  const double part = (static_cast<double>(capacity_bytes) - lo + 1) / width;
  double group_hits[kGroups], group_accesses[kGroups], weighted_hits = 0;
  for (int g = 0; g < kGroups; ++g) {
    const uint64_t* h = hist_of(tag, g);
    uint64_t below = 0, all = counts_of(tag, g)[caps_ + 1];
    for (size_t b = 0; b < kBins; ++b) all += h[b], below += b < cb ? h[b] : 0;
    group_hits[g] = static_cast<double>(below) + static_cast<double>(h[cb]) * part;
    group_accesses[g] = static_cast<double>(all);
  }
  const double* wh = &weighted_hist_[static_cast<size_t>(tag) * kBins];
  for (size_t b = 0; b < cb; ++b) weighted_hits += wh[b];
  weighted_hits += wh[cb] * part;
  return estimate_hits(tag, group_hits, group_accesses, beta(tag, weighted_hits)).hits / n;
}

double ReuseAnalyzer::row_bytes_touched() const {
  drain_queued();
  return static_cast<double>(row_bytes_seen_) / opt_.sample_rate;
}

double ReuseAnalyzer::bytes_touched() const {
  drain_queued();
  return static_cast<double>(total_) * bytes_per_unit_;
}

double ReuseAnalyzer::steady_hit_rate(uint64_t capacity_bytes, int tag, double* stderr_out) const {
  if (tag < 0 || tag >= opt_.tags) bad_tag(tag);
  drain_queued();
  const double n = counted_accesses(tag);
  if (n == 0) {
    if (stderr_out) *stderr_out = 0;
    return 0.0;
  }
  // The reuses the stream saw are counted as lru_hit_rate counts them (exact, or SHARDS-adjusted
  // when sampled); only the first accesses need the estimate: each hits with the probability that
  // a distance known to exceed its censoring point c is within the capacity, 1 - S(C) / S(c).
  double cold_err = 0;
  const auto listed = std::lower_bound(opt_.capacities_bytes.begin(), opt_.capacities_bytes.end(), capacity_bytes);
  if (listed != opt_.capacities_bytes.end() && *listed == capacity_bytes)
    cold_err = hits_at(tag, static_cast<size_t>(listed - opt_.capacities_bytes.begin())).stderr_hits / n;
  const double seen = lru_hit_rate(capacity_bytes, tag);
  double group_share[kGroups], sum = 0;
  for (int g = 0; g < kGroups; ++g) sum += group_share[g] = censored_hits(capacity_bytes, tag, g, g + 1);
  const double censored = sum / opt_.sample_rate / n;  // censored hits, scaled to the stream, per access
  if (stderr_out) {
    // The spread of the censored part over the 8 hash groups (each a sample of its own), with the
    // reuses' own sampling error; 0 when every row is tracked.
    double mean = sum / kGroups, var = 0;
    for (double x : group_share) var += (x - mean) * (x - mean) / (kGroups - 1);
    const double censored_err = opt_.sample_rate < 1.0 ? std::sqrt(var * kGroups) / opt_.sample_rate / n : 0.0;
    *stderr_out = std::sqrt(cold_err * cold_err + censored_err * censored_err);
  }
  return std::min(1.0, seen + censored);
}

// Kaplan-Meier over groups [g0, g1): the survival S(d) = P(distance + row > d) is the product over
// bins of (1 - events / at risk), events before the censored within a bin (a censored value is a
// lower bound). Returns the expected hits of those groups' censored accesses: each censored at c
// below the capacity C hits with probability 1 - S(C) / S(c).
double ReuseAnalyzer::censored_hits(uint64_t capacity_bytes, int tag, int g0, int g1) const {
  std::vector<double> events(kBins, 0.0), censored(kBins, 0.0);
  double at_risk = 0;
  for (int g = g0; g < g1; ++g) {
    const uint64_t* h = hist_of(tag, g);
    const uint64_t* c = &censored_hist_[(static_cast<size_t>(tag) * kGroups + g) * kBins];
    for (size_t b = 0; b < kBins; ++b) events[b] += static_cast<double>(h[b]), censored[b] += static_cast<double>(c[b]);
  }
  for (size_t b = 0; b < kBins; ++b) at_risk += events[b] + censored[b];
  const size_t cb = bin_of(capacity_bytes);
  double lo, width;
  bin_range(cb, lo, width);
  std::vector<double> survive_after(cb + 1, 1.0);  // S after bin b's events
  double survive = 1;
  for (size_t b = 0; b <= cb; ++b) {
    const double part = b < cb ? 1.0 : (static_cast<double>(capacity_bytes) - lo + 1) / width;
    if (at_risk > 0) survive *= 1.0 - part * events[b] / at_risk;
    survive_after[b] = survive;
    at_risk -= events[b] + censored[b];
  }
  double hits = 0;
  for (size_t b = 0; b < cb; ++b)
    if (censored[b] > 0 && survive_after[b] > 0) hits += censored[b] * (1.0 - survive / survive_after[b]);
  return hits;
}

double ReuseAnalyzer::lfu_hit_rate(uint64_t capacity_bytes) const {
  drain_queued();
  double n = 0;
  for (int t = 0; t < opt_.tags; ++t) n += counted_accesses(t);
  if (n == 0) return 0.0;
  std::vector<const reuse_detail::RowTable::Entry*> rows;
  for (const auto& e : rows_.slots())
    if (e.bytes && e.count) rows.push_back(&e);
  std::sort(rows.begin(), rows.end(), [](auto* a, auto* b) { return a->count != b->count ? a->count > b->count : a->key < b->key; });
  const double rate = opt_.sample_rate, cap = static_cast<double>(capacity_bytes);
  double used = 0, missed = 0;
  size_t i = 0;
  for (; i < rows.size(); ++i) {
    const double b = rows[i]->bytes / rate;  // the bytes of the rows it stands for
    if (used + b > cap) break;
    used += b;
  }
  for (size_t k = i; k < rows.size(); ++k) {
    // In sampled mode the crossing row's stand-ins fill what is left.
    const double fits = (k == i && rate < 1.0) ? (cap - used) / (rows[k]->bytes / rate) : 0.0;
    missed += static_cast<double>(rows[k]->count) * (1.0 - fits);
  }
  return std::clamp(1.0 - missed / rate / n, 0.0, 1.0);
}

size_t ReuseAnalyzer::memory_bytes() const {
  drain_queued();
  return sizeof(*this) + rows_.memory_bytes() + tree_.memory_bytes() +
         (accesses_.capacity() + counts_.capacity() + hist_.capacity() + censored_hist_.capacity()) * sizeof(uint64_t) +
         (weighted_.capacity() + weighted_hist_.capacity()) * sizeof(double) +
         miss_windows_.capacity() * sizeof(MissWindow) + miss_density_.capacity() * sizeof(uint64_t) +
         caps_d_.capacity() * sizeof(double) + opt_.capacities_bytes.capacity() * sizeof(uint64_t);
}

double choose_sample_rate(double accesses, double distinct_rows) {
  constexpr double kTrackedAccesses = 0x1p22, kTrackedRows = 5e4, kMinRate = 1e-4;
  if (!(accesses > kTrackedAccesses)) return 1.0;  // also NaN: exact is always correct
  double rate = kTrackedAccesses / accesses;
  if (distinct_rows > 0) rate = std::max(rate, std::min(1.0, kTrackedRows / distinct_rows));
  return std::clamp(rate, kMinRate, 1.0);
}

}  // namespace privrec
