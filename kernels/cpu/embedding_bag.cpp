#include "kernels/cpu/embedding_bag.hpp"

#include <omp.h>

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include "kernels/cpu/bag_sum.hpp"
#include "models/kernel_work/cpu_work.hpp"
#include "traces/row_sort.hpp"
#include "models/parallel_each.hpp"

namespace privrec::cpu {

namespace {
constexpr uint64_t kF = sizeof(float), kI = sizeof(int64_t);

// Gradient rows read ahead of the one being summed: the sorted order visits the pooled gradients
// at random, from wherever the batch's gradients live (the L2 for rmc2's 128 B rows at batch 1024,
// memory for mlperf's 512 B rows at batch 2048). 12 ahead took mlperf x0.01's coalesce at batch
// 2048 from 2.3-2.5 to 1.7-1.9 ms a step here (rmc2 x0.002's, from the L2, neither gained nor lost).
constexpr int64_t kGradPrefetch = 12;
// Row sums read ahead of the one being added to by the slot-map coalesce.
constexpr int64_t kSumPrefetch = 8;
constexpr int64_t kSumsInL1 = 32 << 10;  // below this, the sums stay in the L1: no prefetch
// And the pooled gradients of the examples this far ahead.
constexpr int64_t kExamplePrefetch = 12;
// The sparse update's table rows and gradients read ahead of the one being updated.
constexpr int64_t kUpdatePrefetch = 8;

// Grows with headroom: assign() to a new maximum would reallocate exactly, and a batch with one
// more distinct row than ever before would move (and fault in) the whole buffer again.
void size_grads(SparseRows& out, size_t distinct, int64_t dim) {
  const size_t need = distinct * static_cast<size_t>(dim);
  if (out.grads.capacity() < need) out.grads.reserve(need + need / 4);
  out.grads.resize(need);
}

// Sorts (row, id) keys and sums contribute(id, acc, first) into one gradient row per distinct row
// (each row alone left in place instead, with `in_place`, below);
// `first` says the row is fresh (assign, do not add: no zeroing pass). key_of(keys, shift) fills
// keys[k] = row << shift | id for every entry k and returns the largest row: ids below 2^id_bits
// that never decrease with k, so that the stable sort puts each row's contributions in entry order
// (entries of one id contribute alike: an example's bag may hold a row twice). `source(id)`: the
// memory contribute(id) reads, prefetched ahead. With `in_place`, a row that one entry touched is
// not summed: it points at source(id) with factor scale_of(id) (what contribute would have
// multiplied by), so its gradient is neither read nor written here. Returns the sorting work.
template <class KeyOf, class Source, class ScaleOf, class Contribute>
uint64_t coalesce(int64_t entries, int64_t dim, int id_bits, KeyOf key_of, Source source, ScaleOf scale_of,
                  Contribute contribute, bool in_place, SparseRows& out) {
  const int shift = std::max(1, id_bits);  // rows (< 2^40) above the ids
  const uint64_t id_mask = (1ull << shift) - 1;
  thread_local std::vector<uint64_t> keys;  // scratch kept per thread: no fresh memory per call
  keys.resize(entries);
  const uint64_t max_row = key_of(keys.data(), shift);
  if (shift + bits_for(max_row) > 64)
    throw std::overflow_error(fmt::format("coalescing {} entries with rows up to {}: a row and an id need {} bits of a "
                                          "64-bit key",
                                          entries, max_row, shift + bits_for(max_row)));
  // Stable, and the ids start in order: sorted by (row, id, entry).
  const uint64_t sort_ops = radix_sort_bits(keys, shift, bits_for(max_row));
  auto row_at = [&](int64_t k) { return static_cast<int64_t>(keys[k] >> shift); };
  // Entry k starts its row's run / ends it (bitwise, so no branch to mispredict: whether a row
  // is alone follows no pattern).
  auto starts = [&](int64_t k) { return (k == 0) | (row_at(k - (k > 0)) != row_at(k)); };
  auto ends = [&](int64_t k) { return (k + 1 == entries) | (row_at(k + (k + 1 < entries)) != row_at(k)); };
  size_t distinct = 0, singles = 0;
  for (int64_t k = 0; k < entries; ++k) {
    const bool s = starts(k);
    distinct += s;
    singles += in_place & s & ends(k);
  }
  out.rows.resize(distinct);
  size_grads(out, distinct - singles, dim);
  out.src.resize(distinct);
  out.src_scale.resize(distinct);
  out.in_place_rows = static_cast<int64_t>(singles);
  // Every row's place and source; the entries of rows to sum move to the front of `keys` (in
  // order: a write never passes the read), and a row alone points at its entry's source.
  int64_t summing = 0;
  {
    size_t u = 0, sums = 0;  // one past the row / the sum being written
    for (int64_t k = 0; k < entries; ++k) {
      const uint64_t key = keys[k];
      const bool s = starts(k), alone = in_place & s & ends(k);
      u += s, sums += s & !alone;
      const int64_t id = static_cast<int64_t>(key & id_mask);
      out.rows[u - 1] = static_cast<int64_t>(key >> shift);
      out.src[u - 1] = alone ? source(id) : out.grads.data() + static_cast<int64_t>(sums - (sums > 0)) * dim;
      out.src_scale[u - 1] = alone ? scale_of(id) : 1.0f;
      keys[summing] = key;
      summing += !alone;
    }
  }
  // The sums, entry by entry in sorted order, the sources read ahead.
  int64_t m = -1;  // the sum being added to
  for (int64_t k = 0, prev = -1; k < summing; ++k) {
    if (k + kGradPrefetch < summing) {
      const char* p = reinterpret_cast<const char*>(source(static_cast<int64_t>(keys[k + kGradPrefetch] & id_mask)));
      for (int64_t b = 0; b < dim * static_cast<int64_t>(sizeof(float)); b += 64) __builtin_prefetch(p + b);
    }
    const int64_t r = row_at(k);
    const bool first = r != prev;
    m += first, prev = r;
    contribute(static_cast<int64_t>(keys[k] & id_mask), out.grads.data() + m * dim, first);
  }
  return sort_ops;
}

// The coalesce of a table of `rows` rows whose accumulators fit the caches, with many lookups an
// example (cpu_work::coalesce_by_slots), without a sort: every id's row is marked in a slot map, one
// scan of the table numbers the marked rows in ascending order, and every lookup's contribution goes
// to its row's sum example by example, lookup by lookup: the order the stable sort gives. An
// example's pooled gradient is then read once for its 80 lookups (rmc2), not 80 times from random
// places: bwd.emb of rmc2 x0.001 (40 tables of 18750 rows, 164k lookups each, batch 2048, dpsgd-f)
// went from 72-82 to 53-56 ms a step here.
template <class Source, class Contribute>
void coalesce_by_slots(const TableBatch& tb, int64_t examples, int64_t rows, int64_t dim, Source source,
                       Contribute contribute, SparseRows& out) {
  thread_local std::vector<int32_t> slot;  // -1 for a row not in the batch; kept all -1 between calls
  thread_local std::vector<uint8_t> fresh;
  if (static_cast<int64_t>(slot.size()) < rows) slot.resize(static_cast<size_t>(rows), -1);
  for (const int64_t r : tb.indices)  // all checked before any is marked: the map stays all -1 on a throw
    if (r < 0 || r >= rows) throw std::out_of_range(fmt::format("coalescing: row {} of a table of {} rows", r, rows));
  for (const int64_t r : tb.indices) slot[static_cast<size_t>(r)] = 0;
  out.rows.clear();
  out.src.clear(), out.src_scale.clear(), out.in_place_rows = 0;  // every row summed in grads
  for (int64_t r = 0; r < rows; ++r)
    if (slot[static_cast<size_t>(r)] >= 0) {
      slot[static_cast<size_t>(r)] = static_cast<int32_t>(out.rows.size());
      out.rows.push_back(r);
    }
  size_grads(out, out.rows.size(), dim);
  fresh.assign(out.rows.size(), 1);
  const int64_t end = tb.offsets[examples];
  const int64_t row_bytes = dim * static_cast<int64_t>(sizeof(float));
  const bool prefetch_sums = static_cast<int64_t>(out.rows.size()) * row_bytes > kSumsInL1;
  for (int64_t i = 0; i < examples; ++i) {
    // The pooled gradients are an example apart (every table's features between them), a stride
    // no hardware prefetcher follows across pages.
    if (i + kExamplePrefetch < examples) {
      const char* ahead = reinterpret_cast<const char*>(source(i + kExamplePrefetch));
      for (int64_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(ahead + b);
    }
    for (int64_t k = tb.offsets[i]; k < tb.offsets[i + 1]; ++k) {
      if (prefetch_sums && k + kSumPrefetch < end) {  // the sum a few lookups ahead, from the L2 or L3
        const char* ahead = reinterpret_cast<const char*>(
            out.grads.data() + static_cast<int64_t>(slot[static_cast<size_t>(tb.indices[k + kSumPrefetch])]) * dim);
        for (int64_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(ahead + b, 1);
      }
      const int32_t u = slot[static_cast<size_t>(tb.indices[k])];
      contribute(i, out.grads.data() + static_cast<int64_t>(u) * dim, fresh[u] != 0);
      fresh[u] = 0;
    }
  }
  for (const int64_t r : out.rows) slot[static_cast<size_t>(r)] = -1;
}
}  // namespace

void embedding_forward(const DlrmModel& m, const Batch& batch, PassBuffers& buf, WorkCounters& work) {
  const int64_t B = batch.size, d = buf.dim, T = static_cast<int64_t>(m.tables.size());
  // Table by table, the threads splitting each table's examples: a table's lookups run back to
  // back, so a table that fits in the caches is read from them (rmc2 x0.001, 40 tables of 2.4 MB:
  // 58.8 -> 15.0 ms; taking all 40 tables of one example before the next made every lookup a
  // memory access). The threads start each table together and mostly stay in step (there is no
  // barrier between tables), so their shared L3 mostly holds one table at a time.
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads(), me = omp_get_thread_num();
    const int64_t lo = B * me / threads, hi = B * (me + 1) / threads;
    for (int64_t t = 0; t < T && lo < hi; ++t) {
      const auto& tb = batch.tables[t];
      sum_bags_any(m.tables[t].row(0), d, tb.indices.data(), tb.offsets.data(), lo, hi,
                   [&](int64_t i) { return buf.pooled(i, t); });
    }
  }
  work += cpu_work::embedding_forward(static_cast<uint64_t>(B), static_cast<uint64_t>(T), static_cast<uint64_t>(d),
                                      static_cast<uint64_t>(batch.lookups()));
}

void coalesce_embedding_grads(const Batch& batch, const std::vector<int64_t>& rows, const PassBuffers& buf,
                              const std::vector<float>* scale, std::vector<SparseRows>& out, WorkCounters& work) {
  const int64_t T = static_cast<int64_t>(batch.tables.size()), d = buf.dim;
  if (static_cast<int64_t>(rows.size()) != T)
    throw std::invalid_argument(fmt::format("coalescing: {} tables' rows for a batch of {} tables", rows.size(), T));
  out.resize(T);
  std::vector<uint64_t> sort_ops(T);
  parallel_each(T, [&](int64_t t) {
    const auto& tb = batch.tables[t];
    auto contribute = [&](int64_t i, float* acc, bool first) {
      const float* g = buf.pooled_grad(i, t);
      const float s = scale ? (*scale)[i] : 1.0f;
      if (first)
        for (int64_t c = 0; c < d; ++c) acc[c] = s * g[c];
      else
        for (int64_t c = 0; c < d; ++c) acc[c] += s * g[c];
    };
    if (cpu_work::coalesce_by_slots(static_cast<uint64_t>(rows[t]), static_cast<uint64_t>(d), tb.indices.size(),
                                    static_cast<uint64_t>(batch.size))) {
      coalesce_by_slots(tb, batch.size, rows[t], d, [&](int64_t i) { return buf.pooled_grad(i, t); }, contribute,
                        out[t]);
      return;
    }
    // Each lookup keyed by its example: a row's contributions then sum in example order, as the
    // lookups came, with no table of each lookup's example to read back.
    auto key_of = [&](uint64_t* keys, int shift) {
      uint64_t max_row = 0;
      for (int64_t i = 0; i < batch.size; ++i)
        for (int64_t k = tb.offsets[i]; k < tb.offsets[i + 1]; ++k) {
          const uint64_t r = static_cast<uint64_t>(tb.indices[k]);
          max_row = std::max(max_row, r);
          keys[k] = (r << shift) | static_cast<uint64_t>(i);
        }
      return max_row;
    };
    sort_ops[t] = coalesce(
        static_cast<int64_t>(tb.indices.size()), d, bits_for(static_cast<uint64_t>(batch.size)), key_of,
        [&](int64_t i) { return buf.pooled_grad(i, t); }, [&](int64_t i) { return scale ? (*scale)[i] : 1.0f; },
        contribute, true, out[t]);
  });
  std::vector<TableSizes> sizes(T);
  for (int64_t t = 0; t < T; ++t) {
    sizes[t].rows = static_cast<uint64_t>(rows[t]);
    sizes[t].lookups = batch.tables[t].indices.size();
    sizes[t].unique_rows = out[t].rows.size();
    sizes[t].single_rows = static_cast<uint64_t>(out[t].in_place_rows);
    sizes[t].lookup_sort_ops = sort_ops[t];
  }
  work += cpu_work::coalesce(sizes, static_cast<uint64_t>(d), scale != nullptr, static_cast<uint64_t>(batch.size));
}

namespace {
// The sum over a bag's distinct ids of count^2, counted in an open-addressing hash table (a power
// of two at least twice the bag, linear probing, slots of older bags told apart by a generation
// stamp, so nothing is cleared between bags): each id adds 2c + 1, c its count so far. The same
// integer as sorting the bag and squaring its runs, in O(bag) instead of O(bag log bag): rmc2
// x0.01's 82k bags of 80 ids a step (batch 2048), one core, 211-224 ms sorting, 36-39 ms this way.
class BagCounter {
 public:
  uint64_t count_square_sum(const int64_t* ids, int64_t n) {
    if (n == 0) return 0;
    int bits = 4;
    while ((int64_t{1} << bits) < 2 * n) ++bits;
    const size_t cap = size_t{1} << bits, mask = cap - 1;
    if (stamp_.size() < cap) keys_.resize(cap), count_.resize(cap), stamp_.assign(cap, 0), gen_ = 0;
    if (++gen_ == 0) std::fill(stamp_.begin(), stamp_.end(), 0u), gen_ = 1;  // after 2^32 - 1 bags
    uint64_t s = 0;
    for (int64_t k = 0; k < n; ++k) {
      const int64_t x = ids[k];
      size_t h = static_cast<size_t>((static_cast<uint64_t>(x) * 0x9E3779B97F4A7C15ull) >> (64 - bits));
      while (stamp_[h] == gen_ && keys_[h] != x) h = (h + 1) & mask;
      if (stamp_[h] != gen_) stamp_[h] = gen_, keys_[h] = x, count_[h] = 0;
      s += 2 * count_[h] + 1;
      ++count_[h];
    }
    return s;
  }

 private:
  std::vector<int64_t> keys_;
  std::vector<uint64_t> count_;
  std::vector<uint32_t> stamp_;
  uint32_t gen_ = 0;
};
}  // namespace

std::vector<float> bag_count_square_sums(const Batch& batch, WorkCounters& work) {
  const int64_t B = batch.size, T = static_cast<int64_t>(batch.tables.size());
  std::vector<float> out(B * T);
#pragma omp parallel
  {
    BagCounter counter;
#pragma omp for schedule(static)
    for (int64_t i = 0; i < B; ++i)
      for (int64_t t = 0; t < T; ++t) {
        const auto& tb = batch.tables[t];
        const uint64_t s = counter.count_square_sum(tb.indices.data() + tb.offsets[i], tb.offsets[i + 1] - tb.offsets[i]);
        out[i * T + t] = static_cast<float>(static_cast<double>(s));
      }
  }
  std::vector<TableSizes> sizes(T);
  for (int64_t t = 0; t < T; ++t) sizes[t].lookups = batch.tables[t].indices.size();
  work += cpu_work::bag_count_square_sums(sizes, static_cast<uint64_t>(B));
  return out;
}

void ghost_norms_embedding(const PassBuffers& buf, const std::vector<float>& count_sq, std::vector<double>& norm2,
                           WorkCounters& work) {
  const int64_t B = buf.batch, T = buf.features - 1, d = buf.dim;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < B; ++i) {
    double s = 0;
    for (int64_t t = 0; t < T; ++t) {
      const float* g = buf.pooled_grad(i, t);
      float g2 = 0;
#pragma omp simd reduction(+ : g2)
      for (int64_t c = 0; c < d; ++c) g2 += g[c] * g[c];
      s += static_cast<double>(g2) * count_sq[i * T + t];
    }
    norm2[i] += s;
  }
  work += cpu_work::ghost_norms_embedding(static_cast<uint64_t>(B), static_cast<uint64_t>(T), static_cast<uint64_t>(d));
}

void materialize_embedding_grads(const Batch& batch, const PassBuffers& buf, std::vector<ExampleRows>& out,
                                 std::vector<double>& norm2, WorkCounters& work) {
  const int64_t B = batch.size, T = static_cast<int64_t>(batch.tables.size()), d = buf.dim;
  out.resize(T);
  std::vector<TableSizes> sizes(T);
  std::vector<int64_t> runs, counts;
  for (int64_t t = 0; t < T; ++t) {
    const auto& tb = batch.tables[t];
    ExampleRows& er = out[t];
    er.offsets.assign(B + 1, 0);
    // Each bag sorted in a copy and folded into its distinct rows (leading the bag's place) with
    // their counts, the examples split over the threads (with one thread sorting every bag, this
    // function took 9.1 ms a step of rmc2 x0.001's dpsgd-b at batch 96; 5.1 ms this way).
    runs.assign(tb.indices.begin(), tb.indices.end());
    counts.resize(runs.size());
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < B; ++i) {
      int64_t* bag = runs.data() + tb.offsets[i];
      int64_t* cnt = counts.data() + tb.offsets[i];
      const int64_t n = tb.offsets[i + 1] - tb.offsets[i];
      std::sort(bag, bag + n);
      int64_t u = 0;
      for (int64_t k = 0; k < n;) {
        int64_t e = k;
        while (e < n && bag[e] == bag[k]) ++e;
        bag[u] = bag[k], cnt[u] = e - k, ++u;
        k = e;
      }
      er.offsets[i + 1] = u;
    }
    for (int64_t i = 0; i < B; ++i) er.offsets[i + 1] += er.offsets[i];
    er.rows.resize(static_cast<size_t>(er.offsets[B]));
    er.grads.resize(er.rows.size() * d);
    // Each distinct row of a bag, in ascending order, gets count x the pooled gradient.
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < B; ++i) {
      const float* g = buf.pooled_grad(i, t);
      const int64_t* bag = runs.data() + tb.offsets[i];
      const int64_t* cnt_of = counts.data() + tb.offsets[i];
      double s = 0;
      for (int64_t e = er.offsets[i], j = 0; e < er.offsets[i + 1]; ++e, ++j) {
        er.rows[e] = bag[j];
        float* dst = er.grads.data() + e * d;
        const float cnt = static_cast<float>(cnt_of[j]);
        float r2 = 0;
#pragma omp simd reduction(+ : r2)
        for (int64_t c = 0; c < d; ++c) {
          dst[c] = cnt * g[c];
          r2 += dst[c] * dst[c];
        }
        s += r2;
      }
      norm2[i] += s;
    }
    sizes[t].lookups = tb.indices.size();
    sizes[t].bag_distinct = er.rows.size();
    sizes[t].bag_sort_ops = bag_sort_ops(tb);
  }
  work += cpu_work::materialize_embedding_grads(sizes, static_cast<uint64_t>(B), static_cast<uint64_t>(d));
}

void coalesce_materialized(const std::vector<ExampleRows>& per_example, const std::vector<float>& scale, int64_t dim,
                           std::vector<SparseRows>& out, WorkCounters& work) {
  const int64_t T = static_cast<int64_t>(per_example.size());
  out.resize(T);
  std::vector<uint64_t> sort_ops(T);
  parallel_each(T, [&](int64_t t) {
    const ExampleRows& er = per_example[t];
    thread_local std::vector<int32_t> example;
    example.resize(er.rows.size());
    for (size_t i = 0; i + 1 < er.offsets.size(); ++i)
      for (int64_t e = er.offsets[i]; e < er.offsets[i + 1]; ++e) example[e] = static_cast<int32_t>(i);
    const int64_t n = static_cast<int64_t>(er.rows.size());
    auto key_of = [&](uint64_t* keys, int shift) {
      uint64_t max_row = 0;
      for (int64_t e = 0; e < n; ++e) {
        const uint64_t r = static_cast<uint64_t>(er.rows[e]);
        max_row = std::max(max_row, r);
        keys[e] = (r << shift) | static_cast<uint64_t>(e);
      }
      return max_row;
    };
    sort_ops[t] = coalesce(
        n, dim, bits_for(static_cast<uint64_t>(n)), key_of, [&](int64_t e) { return er.grads.data() + e * dim; },
        [&](int64_t e) { return scale[example[e]]; },
        [&](int64_t e, float* acc, bool first) {
          const float s = scale[example[e]];
          const float* g = er.grads.data() + e * dim;
          if (first)
            for (int64_t c = 0; c < dim; ++c) acc[c] = s * g[c];
          else
            for (int64_t c = 0; c < dim; ++c) acc[c] += s * g[c];
        },
        false, out[t]);
  });
  std::vector<TableSizes> sizes(T);
  for (int64_t t = 0; t < T; ++t) {
    sizes[t].bag_distinct = per_example[t].rows.size();
    sizes[t].unique_rows = out[t].rows.size();
    sizes[t].bag_distinct_sort_ops = sort_ops[t];
  }
  work += cpu_work::coalesce_materialized(sizes, static_cast<uint64_t>(dim));
}

std::vector<float> gradient_values(const SparseRows& g, int64_t dim) {
  std::vector<float> out(g.rows.size() * static_cast<size_t>(dim));
  for (size_t u = 0; u < g.rows.size(); ++u) {
    const float* v = g.values(u, dim);
    const float f = g.factor(u);
    for (int64_t c = 0; c < dim; ++c) out[u * dim + c] = f * v[c];
  }
  return out;
}

void sparse_update(EmbeddingTable& table, const SparseRows& grad, float scale, WorkCounters& work) {
  const int64_t U = static_cast<int64_t>(grad.rows.size()), d = table.dim;
  const int64_t row_bytes = d * static_cast<int64_t>(sizeof(float));
#pragma omp parallel for schedule(static)
  for (int64_t u = 0; u < U; ++u) {
    // The rows are anywhere in the table, and a gradient left in place anywhere in the pooled
    // gradients: both asked for a few rows ahead.
    if (u + kUpdatePrefetch < U) {
      const char* w_ahead = reinterpret_cast<const char*>(table.row(grad.rows[u + kUpdatePrefetch]));
      const char* g_ahead = reinterpret_cast<const char*>(grad.values(u + kUpdatePrefetch, d));
      for (int64_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(w_ahead + b, 1), __builtin_prefetch(g_ahead + b);
    }
    float* w = table.row(grad.rows[u]);
    const float* g = grad.values(u, d);
    const float f = grad.factor(u);  // 1 for a summed row: f * g is g
    for (int64_t c = 0; c < d; ++c) w[c] -= scale * (f * g[c]);
  }
  work += cpu_work::sparse_update(static_cast<uint64_t>(U), static_cast<uint64_t>(d));
}

}  // namespace privrec::cpu
