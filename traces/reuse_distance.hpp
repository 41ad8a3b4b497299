#pragma once
// LRU stack (reuse) distances of a stream of row accesses, in bytes (REFERENCE.md section 6): the
// distance of an access is the sum of the byte sizes of the distinct rows accessed since the previous
// access to the same row (the row itself excluded). A fully associative LRU cache of C bytes hits the
// access iff distance + row_bytes <= C (Mattson et al., 1970), so one pass gives the hit rate of every
// capacity. Exact mode: a (blocked) Fenwick tree over access times holding each live row's bytes at
// its last access time, O(log n) per access, renumbered when its time slots run out so that memory is
// O(distinct rows). Sampled mode: SHARDS (Waldspurger et al., FAST'15), only rows whose hash falls
// below the rate are tracked, their distances scaled by 1/rate.
//
// Estimates in sampled mode: the sampled hits scaled by 1/rate err by the chance of which rows fall
// in the sample, and in a zipf stream one hot row can carry a tenth of all accesses. The hot path
// therefore counts every access exactly, and the estimate is a regression estimator
//   hits = (H - beta n) / rate + beta N
// (H sampled hits, n sampled accesses, N all accesses), unbiased for any fixed beta. beta = 1 takes
// the sample's surplus of accesses as hits (SHARDS_adj of the paper: right when the rows that swing
// the sample are hot and always hit); beta = 0 is plain scaling (right when rows are alike and rarely
// hit). beta is fitted per tag and capacity as the hit share of the sampled accesses weighted by their
// rows' access counts (the variance-minimizing sum h_i c_i / sum c_i^2). The standard error is the
// spread of the estimates of kGroups disjoint hash groups of rows. Exact mode: n = N, beta plays no part.
//
// Single-threaded: one analyzer is fed and queried by one thread (even the const queries finish the
// accesses still queued, see drain_queued).
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace privrec {

struct ReuseOptions {
  double sample_rate = 1.0;  // SHARDS spatial sampling: rows whose hash falls below rate are kept; 1 = exact
  uint64_t seed = 0;         // hash seed of the sampling
  std::vector<uint64_t> capacities_bytes;  // capacities whose hits are counted, ascending (LRU policy)
  int tags = 1;  // accesses carry a tag in [0, tags): hits are counted per tag (a stage, a table)
  // Time slots of the tree at least (it grows to 4 x the live entries): the tree is renumbered each
  // time the slots run out. Tests make it small to exercise that.
  uint32_t min_time_slots = 1u << 16;
};

struct CapacityHits {       // for one tag, at one capacity; all estimates scaled by 1/rate
  double hits = 0;          // estimated accesses that hit
  double stderr_hits = 0;   // estimated standard error of `hits` from sampling (0 when exact)
};

struct TagHits {
  double accesses = 0;  // counted accesses of the tag (exact: the hot path counts every access;
                        // estimated for a tag fed through access_presampled)
  double cold = 0;      // first accesses of a row (misses at every capacity), estimated
  std::vector<CapacityHits> at;  // one per capacity of ReuseOptions::capacities_bytes
  // How sparse the tag's misses are where they happen: [k] is the share of its counted tracked
  // accesses that missed every listed capacity (or were cold) whose last kMissWindow tracked
  // accesses of the tag (itself included; fewer at the stream's start, scaled to the window) held k
  // such misses. kMissWindow + 1 entries summing to 1; empty when the tag had no such miss.
  // Sampled mode: the window runs over tracked accesses, so it spans kMissWindow / rate accesses.
  std::vector<double> miss_window_share;
};

namespace reuse_detail {

// splitmix64's finalizer: a bijection of 64-bit words whose output bits all depend on every input bit.
inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// The tracked rows: open addressing with linear probing over a power-of-two table, keyed by the
// row's key and placed by its (already computed) hash. Rows are never removed.
class RowTable {
 public:
  struct Entry {
    uint64_t key;
    uint32_t time;   // last access time (a time slot of the tree)
    uint32_t bytes;  // 0: the slot is empty (rows have at least one byte)
    uint64_t count;  // counted accesses of the row (perfect-LFU)
  };
  RowTable();
  // The row's entry, inserted with bytes = 0 (the caller fills it in) when absent.
  Entry& find_or_insert(uint64_t key, uint64_t hash, bool& inserted);
  const Entry* find(uint64_t key, uint64_t hash) const {
    for (uint64_t i = hash & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].bytes == 0) return nullptr;
      if (slots_[i].key == key) return &slots_[i];
    }
  }
  void prefetch(uint64_t hash) const { __builtin_prefetch(&slots_[hash & mask_], 1); }
  size_t size() const { return size_; }
  size_t memory_bytes() const { return slots_.capacity() * sizeof(Entry); }
  std::vector<Entry>& slots() { return slots_; }
  const std::vector<Entry>& slots() const { return slots_; }
  uint64_t hash_key = 0;  // rehashing recomputes mix64(key ^ hash_key)

 private:
  void grow();
  std::vector<Entry> slots_;
  uint64_t mask_ = 0;
  size_t size_ = 0;
};

// Weights at time slots 1..size() and their prefix sums, arithmetic modulo 2^64 (a removal adds the
// negated weight). A Fenwick (binary indexed) tree over the slots would touch log2(size) scattered
// cache lines per operation, most of them misses once the slots outgrow the cache: here the slots are
// kept as they are, in blocks of kBlock (4 cache lines), and the Fenwick tree runs over the blocks'
// sums (size / 32 entries, mostly in cache). A query scans the shorter side of its slot's block
// (adjacent lines, at most 2) and walks the small tree. (This took exact mode from 3.4 to 6-7 M
// accesses/s on a uniform stream over 10^6 rows.)
class BlockedFenwick {
 public:
  static constexpr size_t kBlock = 32;
  void assign_points(std::vector<uint64_t>&& points);  // points[0] unused; builds in O(size)
  std::vector<uint64_t> take_points();                  // the slots' weights (size + 1), emptied
  void add(uint32_t slot, uint64_t w) {
    slots_[slot] += w;
    for (size_t i = slot / kBlock + 1; i < blocks_.size(); i += i & (~i + 1)) blocks_[i] += w;
  }
  uint64_t prefix(uint32_t slot) const {  // sum of the weights of slots 1..slot
    const size_t b = slot / kBlock, first = b * kBlock, last = first + kBlock - 1;
    uint64_t s = 0;
    if (slot - first < kBlock / 2) {
      for (size_t i = b; i; i &= i - 1) s += blocks_[i];  // blocks before b
      for (size_t i = first; i <= slot; ++i) s += slots_[i];
    } else {
      for (size_t i = b + 1; i; i &= i - 1) s += blocks_[i];  // blocks up to b, less the slots after
      for (size_t i = slot + 1; i <= last; ++i) s -= slots_[i];
    }
    return s;
  }
  uint32_t size() const { return size_; }
  size_t memory_bytes() const { return (slots_.capacity() + blocks_.capacity()) * sizeof(uint64_t); }
  // Brings in the lines prefix(slot) scans and add(slot, .) writes.
  void prefetch(uint32_t slot) const {
    const size_t first = slot / kBlock * kBlock;
    const bool before = slot - first < kBlock / 2;
    const size_t from = before ? first : slot, to = before ? slot : first + kBlock - 1;
    for (size_t i = from & ~size_t{7}; i <= to; i += 8) __builtin_prefetch(&slots_[i], 1);
  }

 private:
  std::vector<uint64_t> slots_ = std::vector<uint64_t>(kBlock);  // padded to whole blocks
  std::vector<uint64_t> blocks_ = std::vector<uint64_t>(2);      // Fenwick tree, block b at b + 1
  uint32_t size_ = 0;
};

}  // namespace reuse_detail

class ReuseAnalyzer {
 public:
  explicit ReuseAnalyzer(ReuseOptions o);
  // The hot path; key identifies (table, row), e.g. table << 40 | row. A row not sampled costs the
  // checks of tag and bytes, the increment of the tag's access counter, a hash and a compare.
  void access(uint64_t key, uint32_t row_bytes, int tag = 0) {
    if (static_cast<unsigned>(tag) >= static_cast<unsigned>(opt_.tags) || row_bytes == 0) bad_access(tag, row_bytes);
    accesses_[tag] += counting_;
    const uint64_t h = reuse_detail::mix64(key ^ hash_key_);
    if (h > max_kept_hash_) return;
    enqueue(key, h, row_bytes, tag);
  }
  // Whether the analysis tracks `key` (what access() checks first).
  bool samples(uint64_t key) const { return reuse_detail::mix64(key ^ hash_key_) <= max_kept_hash_; }
  // For a caller that feeds only the keys samples() accepts (to skip work on the others, e.g.
  // deduplicating them): the tag's accesses are then estimated from the sample (count / rate) and
  // its hits are the sampled hits scaled (plain SHARDS), since the accesses it skipped were never
  // counted. Do not mix it with access() on one tag.
  void access_presampled(uint64_t key, uint32_t row_bytes, int tag = 0);
  // A pass touching `bytes` of other data (a dense pass over tables): every later reuse of an earlier
  // access is `bytes` farther. The bytes are of the full stream, so in sampled mode they enter the
  // tree multiplied by the rate: scaling by 1/rate gives them back at face value.
  void spacer(uint64_t bytes);
  // A datum other than a table row (a chunk of a working buffer) touched here: always tracked,
  // whatever the sample, its bytes at face value (entering the tree times the rate in sampled mode,
  // as a spacer's), and counted for no tag and no row. Unlike a spacer it can be touched again: a
  // buffer every step rewrites spans its bytes once between two accesses, however many steps they
  // are apart. `key` must differ from every row key. Its bytes times the rate are rounded to whole
  // bytes (below half a byte it is left out). Throws std::invalid_argument where they do not fit
  // 32 bits.
  void touch_other(uint64_t key, uint64_t bytes);
  // Accesses made while off update the stack (warm the cache) but are not counted (warm-up steps).
  void set_counting(bool on) {
    drain();
    counting_ = on ? 1 : 0;
  }
  TagHits hits(int tag) const;
  // Hit rate (share of counted accesses of `tag`) of an LRU cache of `capacity_bytes` for any
  // capacity, from a histogram of distance + row bytes (log2 buckets of 32 linear sub-buckets, linear
  // interpolation inside a bucket: off by at most the share of accesses within capacity x (1 +- 1/32));
  // at a listed capacity it is exactly hits(tag).at[j].hits / accesses.
  double lru_hit_rate(uint64_t capacity_bytes, int tag) const;
  // The steady-state LRU hit rate of `tag` at `capacity_bytes`: a first access in the stream is not
  // a miss of a warm cache but a distance known only to exceed everything touched since the stream
  // began (right-censored). The reuses count as in lru_hit_rate; each first access adds its chance
  // of a distance within the capacity given that it exceeds its censoring point, from the
  // Kaplan-Meier estimate of the distance distribution over reuses (events) and first accesses
  // (censored). Valid up to the bytes the stream touched (`bytes_touched()`); beyond, a lower bound.
  // `stderr_out`: the estimate's sampling error (the spread over the 8 hash groups; 0 when exact).
  double steady_hit_rate(uint64_t capacity_bytes, int tag, double* stderr_out = nullptr) const;
  // The bytes of distinct rows (and spacers, and other data) touched since the stream began, in
  // full-stream bytes.
  double bytes_touched() const;
  // The bytes of the distinct rows accessed since the stream began (no spacers), full-stream bytes.
  double row_bytes_touched() const;
  // Perfect-LFU hit rate over all counted accesses: the share of accesses to the rows with the
  // highest access counts (ties by key) whose bytes fit in capacity, taken in that order until the
  // next one does not fit (in sampled mode a row stands for 1/rate rows and the one that crosses the
  // capacity counts for the part that fits). An upper bound of a real LFU cache.
  double lfu_hit_rate(uint64_t capacity_bytes) const;
  uint64_t sampled_rows() const {  // distinct rows tracked
    drain_queued();
    return rows_.size();
  }
  size_t memory_bytes() const;                               // what the analyzer holds now
  double sample_rate() const { return opt_.sample_rate; }
  uint64_t compactions() const {  // times the Fenwick tree was renumbered
    drain_queued();
    return compactions_;
  }

  static constexpr int kGroups = 8;   // sampling-error groups of rows (by hash bits)
  // The window of TagHits::miss_window_share: long enough to estimate the local miss fraction to
  // a few percent, short against how fast it changes (a table warming up in its step).
  static constexpr int kMissWindow = 256;
  static constexpr int kSubBits = 5;  // 2^5 linear sub-buckets per log2 bucket of the histogram
  static constexpr int kBins = (1 << kSubBits) * (65 - kSubBits);

 private:
  [[noreturn]] static void bad_tag(int tag);
  [[noreturn]] static void bad_access(int tag, uint32_t row_bytes);
  // A tracked access waits in a short queue while its row's table slot, then its tree nodes, are
  // fetched from memory (both are cache misses on large streams), and is tracked kDepth accesses
  // later, in order. Everything that reads or changes the analysis drains the queue first.
  struct Pending {
    uint64_t key, hash;
    uint32_t bytes;
    int tag;
  };
  static constexpr unsigned kDepth = 16;
  void enqueue(uint64_t key, uint64_t hash, uint32_t row_bytes, int tag);
  void drain();
  // The const queries finish the queued accesses: they change the analysis only as the accesses
  // already made would (a const-declared analyzer never has any queued, so it is never written).
  void drain_queued() const {
    if (queued_) const_cast<ReuseAnalyzer*>(this)->drain();
  }
  void track(uint64_t key, uint64_t hash, uint32_t row_bytes, int tag);
  void count(int tag, uint64_t hash, double need_bytes, uint64_t nth);
  void compact();
  uint64_t* counts_of(int tag, int group) { return &counts_[(static_cast<size_t>(tag) * kGroups + group) * (caps_ + 2)]; }
  const uint64_t* counts_of(int tag, int group) const {
    return &counts_[(static_cast<size_t>(tag) * kGroups + group) * (caps_ + 2)];
  }
  const uint64_t* hist_of(int tag, int group) const { return &hist_[(static_cast<size_t>(tag) * kGroups + group) * kBins]; }
  double counted_accesses(int tag) const;  // exact, or estimated for a presampled tag
  double beta(int tag, double weighted_hits) const;
  // The estimate of the tag's hits from each group's sampled hits and accesses, and its standard error.
  CapacityHits estimate_hits(int tag, const double* group_hits, const double* group_accesses, double beta) const;
  CapacityHits hits_at(int tag, size_t j) const;  // at listed capacity j

  ReuseOptions opt_;
  // mix64(seed): keys are XORed with a random-looking word, not the seed itself, since a small seed
  // XORed into dense row ids only permutes them within blocks and would draw nearly the same sample.
  uint64_t hash_key_;
  uint64_t max_kept_hash_;   // a row is tracked iff mix64(key ^ hash_key_) <= this
  uint64_t units_per_byte_;  // tree weight of one byte of a tracked row (1 exact; 256 sampled, see spacer)
  double bytes_per_unit_;    // full-stream bytes of one tree unit: 1 / (rate x units_per_byte_)
  double spacer_carry_ = 0;  // fraction of a unit the last spacers left over (sampled mode)
  uint64_t counting_ = 1;
  size_t caps_;
  std::vector<double> caps_d_;
  std::vector<uint64_t> accesses_;  // per tag: every counted access, sampled or not
  std::vector<char> presampled_;    // per tag: fed through access_presampled
  // Per tag and group: [j] for j < caps_: tracked accesses whose smallest hitting capacity is j;
  // [caps_]: finite distance, misses at every listed capacity; [caps_ + 1]: cold.
  std::vector<uint64_t> counts_;
  std::vector<uint64_t> hist_;  // per tag and group, kBins bins of floor(distance + row bytes)
  std::vector<uint64_t> censored_hist_;  // per tag and group
  double censored_hits(uint64_t capacity_bytes, int tag, int group_begin, int group_end) const;
  uint64_t row_bytes_seen_ = 0;  // bytes of the distinct tracked rows  // per tag, kBins bins of first accesses' floor(bytes touched + row bytes)
  // Per tag, as counts_ and hist_ (not per group), each access weighted by its place among its row's
  // counted accesses: what beta is fitted from.
  std::vector<double> weighted_, weighted_hist_;
  // Per tag: the last kMissWindow counted tracked accesses' miss flags (a ring), how many of them
  // missed, how many accesses it has seen (up to the window), and the misses by that count.
  struct MissWindow {
    uint8_t flags[kMissWindow] = {};
    uint32_t pos = 0, misses = 0, seen = 0;
  };
  std::vector<MissWindow> miss_windows_;
  std::vector<uint64_t> miss_density_;  // per tag, kMissWindow + 1 bins
  reuse_detail::RowTable rows_;
  reuse_detail::BlockedFenwick tree_;
  Pending pending_[kDepth];
  unsigned head_ = 0, queued_ = 0;
  uint32_t now_ = 1;    // the next time slot
  uint64_t total_ = 0;  // sum of all weights in the tree
  uint64_t compactions_ = 0;
};

// A sample rate for a stream of about `accesses` accesses over about `distinct_rows` distinct rows:
// 1 (exact) when accesses <= 2^22; otherwise the rate that keeps about 2^22 tracked accesses, raised
// where needed to keep about 50k distinct rows tracked (capped at 1), and never below 1e-4. Why 50k:
// the error comes from which rows the sample holds; with accesses spread over many rows it is about
// 1 / sqrt(tracked rows) of the hits or of the misses, whichever is fewer (beta leans on that one),
// and 1 / sqrt(50k) = 0.45 %: under 0.5 % of the accesses absolute. Rows that carry much of the stream
// raise it; the reported stderr shows by how much. 2^22 tracked accesses take about 0.5 s.
double choose_sample_rate(double accesses, double distinct_rows);

}  // namespace privrec
