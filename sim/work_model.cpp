#include "sim/work_model.hpp"

#include <algorithm>
#include <cmath>

#include "traces/row_sort.hpp"
#include "models/parallel_each.hpp"

namespace privrec::sim {

namespace {
uint64_t u(int64_t x) { return static_cast<uint64_t>(x); }
uint64_t round_count(double x) { return static_cast<uint64_t>(std::llround(std::max(0.0, x))); }
}  // namespace

std::vector<TableSelection> expected_selection(const Workload& w, const AlgorithmConfig& cfg, const Batch& batch) {
  const int64_t B = batch.size, T = static_cast<int64_t>(batch.tables.size());
  // Each example's contribution map is clipped to C1 over the distinct rows of all its bags.
  const std::vector<float> factor = contribution_clip_factors(batch, cfg.adafest.c1);
  const double p = cfg.zero_count_selection_probability();
  const int ex_bits = std::max(1, bits_for(static_cast<uint64_t>(B)));
  std::vector<TableSelection> out(T);
  parallel_each(T, [&](int64_t t) {
    const auto& tb = batch.tables[t];
    // (row, example) packed into one key and radix-sorted: the distinct pairs, grouped by row.
    std::vector<uint64_t> pairs;
    pairs.reserve(tb.indices.size());
    uint64_t max_row = 0;
    for (int64_t i = 0; i < B; ++i)
      for (int64_t k = tb.offsets[i]; k < tb.offsets[i + 1]; ++k) {
        pairs.push_back(static_cast<uint64_t>(tb.indices[k]) << ex_bits | static_cast<uint64_t>(i));
        max_row = std::max(max_row, static_cast<uint64_t>(tb.indices[k]));
      }
    radix_sort_bits(pairs, 0, ex_bits + bits_for(max_row));
    pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
    int64_t touched = 0;
    const uint64_t ex_mask = (uint64_t{1} << ex_bits) - 1;
    for (size_t k = 0; k < pairs.size();) {
      const uint64_t r = pairs[k] >> ex_bits;
      double count = 0;
      for (; k < pairs.size() && pairs[k] >> ex_bits == r; ++k) count += static_cast<float>(factor[pairs[k] & ex_mask]);
      ++touched;
      out[t].selected_touched += cfg.adafest.pass_probability(count, cfg.noise);
    }
    const double n = static_cast<double>(w.tables[t].rows);
    out[t].false_positives = p * (n - static_cast<double>(touched));
    // Geometric skipping draws one uniform per success over all n rows, plus the one that overshoots.
    out[t].draws = p > 0 ? p * n + 1 : 0;
  });
  return out;
}

StepSizes step_sizes(const Workload& w, const BatchStats& stats) {
  StepSizes s;
  s.dense = dense_shape(w, stats.batch);
  s.dense.dense_values = u(stats.dense_values);
  for (size_t i = 0; i < stats.tables.size(); ++i) {
    const TableBatchStats& b = stats.tables[i];
    TableSizes t;
    t.rows = u(w.tables[i].rows);
    t.lookups = u(b.lookups);
    t.unique_rows = u(b.unique_rows);
    t.single_rows = u(b.single_rows);
    t.bag_distinct = u(b.bag_distinct);
    t.bag_lookups_sq = b.bag_lookups_sq;
    t.bag_sort_ops = b.bag_sort_ops;
    const int bits = bits_for(u(b.max_row));
    t.lookup_sort_ops = radix_sort_ops(t.lookups, bits);
    t.bag_distinct_sort_ops = radix_sort_ops(t.bag_distinct, bits);
    s.tables.push_back(t);
  }
  return s;
}

void add_selection(const std::vector<TableSelection>& sel, StepSizes& sizes) {
  for (size_t i = 0; i < sel.size(); ++i) {
    TableSizes& t = sizes.tables[i];
    t.selected_touched = round_count(sel[i].selected_touched);
    t.selected = t.selected_touched + round_count(sel[i].false_positives);
    t.selection_draws = round_count(sel[i].draws);
  }
}

WorkModel::WorkModel(const Workload& w, const AlgorithmConfig& cfg, const KernelWork& family)
    : w_(w), cfg_(cfg), family_(family), plan_(plan_of(cfg.kind)) {
  if (plan_.has(OpKind::lazy_catchup))
    for (const TableSpec& t : w_.tables) history_.emplace_back(t.rows);
}

StepRecord WorkModel::walk(const std::vector<PlanStage>& stages, const StepSizes& sizes, bool has_next) const {
  StepRecord out;
  for (const PlanStage& st : stages) {
    if (!stage_runs(st, has_next)) continue;
    // One device exchanges nothing: a communication stage's cost is the scale-out model's (sim/scale_out).
    if (communicates_only(st)) continue;
    WorkCounters& w = out.at(st.stage);
    for (const Op& op : st.ops) w += family_.op(op, sizes, cfg_);
  }
  return out;
}

StepRecord WorkModel::work_of(const StepSizes& sizes, bool has_next) const { return walk(plan_.step, sizes, has_next); }

StepRecord WorkModel::work_of_finish(const StepSizes& sizes) const { return walk(plan_.finish, sizes, false); }

StepRecord WorkModel::work_of_setup(const StepSizes& sizes) const { return walk(plan_.setup, sizes, false); }

FixedRows expected_fixed_rows(const Workload& w, const AlgorithmConfig& cfg, const TraceSource& trace, int64_t steps) {
  const RowHistogram h = contribution_histogram(trace, steps, cfg.fest.c1);
  FixedRows f;
  for (size_t t = 0; t < w.tables.size(); ++t) {
    auto counts = h.tables[t];
    const uint64_t k = static_cast<uint64_t>(std::max<int64_t>(0, cfg.fest.k));
    f.size.push_back(std::min(k, u(w.tables[t].rows)));
    const size_t keep = std::min<size_t>(counts.size(), f.size.back());
    std::partial_sort(counts.begin(), counts.begin() + keep, counts.end(), [](const auto& a, const auto& b) {
      return a.second > b.second || (a.second == b.second && a.first < b.first);
    });
    std::vector<int64_t> rows;
    for (size_t i = 0; i < keep; ++i) rows.push_back(counts[i].first);
    std::sort(rows.begin(), rows.end());
    f.touched.push_back(std::move(rows));
  }
  return f;
}

void add_fixed_rows(const FixedRows& fixed, const Batch& batch, StepSizes& sizes) {
  for (size_t t = 0; t < fixed.size.size(); ++t) {
    const std::vector<int64_t>& set = fixed.touched[t];
    uint64_t hit = 0;
    for (const int64_t r : unique_rows(batch.tables[t])) hit += std::binary_search(set.begin(), set.end(), r);
    sizes.tables[t].selected = fixed.size[t];
    sizes.tables[t].selected_touched = hit;
  }
}

StepRecord WorkModel::setup(const TraceSource& trace, int64_t steps) {
  if (plan_.setup.empty()) return {};
  if (plan_.has(OpKind::choose_fixed_rows)) fixed_ = expected_fixed_rows(w_, cfg_, trace, steps);
  StepSizes sizes;
  sizes.dense = dense_shape(w_, w_.batch_size);
  for (const auto& t : w_.tables) sizes.tables.push_back({.rows = u(t.rows)});
  for (int64_t b = 0; b < distinct_batches(trace, steps); ++b) {
    const BatchStats stats = batch_stats(trace.batch(b));
    for (size_t ti = 0; ti < stats.tables.size(); ++ti) {
      TableSizes& t = sizes.tables[ti];
      t.trace_lookups += u(stats.tables[ti].lookups);
      t.trace_bag_distinct += u(stats.tables[ti].bag_distinct);
      t.trace_bag_sort_ops += stats.tables[ti].bag_sort_ops;
    }
  }
  for (size_t ti = 0; ti < fixed_.size.size(); ++ti) sizes.tables[ti].selected = fixed_.size[ti];
  return work_of_setup(sizes);
}

// lazydp: the next batch's distinct rows, each owing the steps since its last catch-up.
void WorkModel::add_catchup(int64_t t, const Batch& next, StepSizes& sizes) {
  const uint32_t now = static_cast<uint32_t>(t);
  const int64_t T = static_cast<int64_t>(next.tables.size());
  // Tables keep separate histories: one thread per table.
  next_distinct_.assign(static_cast<size_t>(T), {});
  parallel_each(T, [&](int64_t ti) {
    TableSizes& c = sizes.tables[ti];
    int64_t singles = 0;
    const std::vector<int64_t> rows = unique_rows(next.tables[ti], &c.next_sort_ops, &singles);
    next_distinct_[ti].singles = singles;
    RowMap<uint32_t>& history = history_[ti];
    constexpr size_t kAhead = 16;  // rows are scattered over the map: fetch their slots early
    for (size_t i = 0; i < rows.size(); ++i) {
      if (i + kAhead < rows.size()) history.prefetch(rows[i + kAhead]);
      uint32_t& h = history[rows[i]];  // a row seen for the first time is at step 0
      if (h >= now) continue;
      c.owed_steps += now - h, ++c.owed, h = now;
    }
    c.next_lookups = next.tables[ti].indices.size();
    c.next_unique = rows.size();
  });
  next_distinct_step_ = t + 1;  // by step()'s contract, `next` is step t+1's batch
  for (size_t ti = 0; ti < sizes.tables.size(); ++ti)
    next_distinct_[ti].distinct = static_cast<int64_t>(sizes.tables[ti].next_unique);
}

StepRecord WorkModel::step(int64_t t, const Batch& batch, const Batch* next) {
  // The catch-up of step t-1 counted this batch's distinct rows already.
  const bool known = next_distinct_step_ == t && next_distinct_.size() == batch.tables.size();
  StepSizes sizes = step_sizes(w_, batch_stats(batch, known ? &next_distinct_ : nullptr));
  next_distinct_.clear();
  if (plan_.has(OpKind::select_rows)) add_selection(expected_selection(w_, cfg_, batch), sizes);
  if (plan_.has(OpKind::choose_fixed_rows)) add_fixed_rows(fixed_, batch, sizes);
  if (plan_.has(OpKind::lazy_catchup) && next) add_catchup(t, *next, sizes);
  return work_of(sizes, next != nullptr);
}

StepRecord WorkModel::finish(int64_t last_step) {
  StepSizes sizes;
  sizes.dense = dense_shape(w_, w_.batch_size);
  const uint32_t now = static_cast<uint32_t>(last_step);
  for (size_t ti = 0; ti < w_.tables.size(); ++ti) {
    TableSizes f;
    f.rows = u(w_.tables[ti].rows);
    sizes.tables.push_back(f);
  }
  const int64_t T = static_cast<int64_t>(std::min(history_.size(), sizes.tables.size()));
  parallel_each(T, [&](int64_t ti) {
    // Rows never caught up are owed every step; the others, the steps since their last catch-up.
    TableSizes& f = sizes.tables[ti];
    f.owed = f.rows - history_[ti].size();
    f.owed_steps = f.owed * now;
    history_[ti].for_each([&](int64_t, uint32_t& h) {
      if (h >= now) return;
      f.owed_steps += now - h, ++f.owed, h = now;
    });
  });
  return work_of_finish(sizes);
}

}  // namespace privrec::sim
