#include "sim/row_traffic.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <tuple>

#include "sim/time_model.hpp"
#include "traces/che_approximation.hpp"
#include "traces/reuse_distance.hpp"

namespace privrec::sim {

namespace {
constexpr int kTableShift = 40;  // a row key: table << 40 | row (rows below 2^40)

uint64_t row_key(size_t table, int64_t row) {
  return (static_cast<uint64_t>(table) << kTableShift) | static_cast<uint64_t>(row);
}

bool is_dense_pass(const Op& op) {
  return (op.kind == OpKind::table_update && op.noise == NoiseTarget::every_row) || op.kind == OpKind::lazy_flush;
}

// A stage that touches rows through one of its operations (or passes over whole tables).
bool touches_rows(const Op& op) {
  switch (op.kind) {
    case OpKind::embedding_forward:
    case OpKind::table_update:
    case OpKind::lazy_catchup:
    case OpKind::lazy_flush: return true;
    default: return false;
  }
}

// Keys of working data: a table field no workload reaches (rows keep theirs below 2^24 tables).
constexpr uint64_t kWorkingTable = (uint64_t{1} << 24) - 1;
// A stage's working bytes enter as this many chunks at most (a reuse that spans part of them
// spans whole chunks), each of at least kMinChunkTracked tracked bytes where there are that many
// (the rounding of a chunk's bytes times the sample rate to whole bytes then errs by 0.2 % at
// most; a stage with fewer is one chunk, rounded to a whole tracked byte or, below half of one,
// left out: at a rate of 1e-4, 5 kB).
constexpr uint64_t kWorkingChunks = 64, kMinChunkTracked = 256;

bool writes_rows(const Op& op) { return op.kind != OpKind::embedding_forward && touches_rows(op); }

double total_working(const StageBytes& working) {
  double sum = 0;
  for (const double b : working) sum += b;
  return sum;
}

std::vector<uint64_t> level_capacities(const std::vector<MemoryLevel>& levels) {
  std::vector<uint64_t> caps;
  for (size_t i = 0; i + 1 < levels.size(); ++i) caps.push_back(static_cast<uint64_t>(levels[i].capacity_bytes));
  return caps;
}

double dense_pass_bytes_of(const Workload& w, const Plan& plan, Stage s) {
  double bytes = 0;
  for (const auto* phase : {&plan.setup, &plan.step, &plan.finish})
    for (const PlanStage& ps : *phase)
      if (ps.stage == s)
        for (const Op& op : ps.ops)
          if (is_dense_pass(op)) bytes += 2.0 * static_cast<double>(w.table_bytes());  // read and write
  return bytes;
}
}  // namespace

StageBytes working_bytes_by_stage(const Plan& plan, const StepRecord& step, const HardwareProfile& h) {
  StageBytes out{};
  if (table_row_levels(h).back().over_link) return out;  // tables in host memory behind a device cache
  for (const PlanStage& ps : plan.step) {
    const size_t s = static_cast<size_t>(ps.stage);
    if (!step.ran[s] || out[s] > 0) continue;  // a stage listed twice has one set of counters
    if (h.table_stages_on_host() && !runs_with_tables(ps.stage)) continue;  // on the device
    bool forward = false, rows_written = false;
    for (const Op& op : ps.ops) forward = forward || op.kind == OpKind::embedding_forward, rows_written = rows_written || writes_rows(op);
    if (rows_written) continue;
    const WorkCounters& w = step.work[s];
    // The forward streams the batch's ids in beside its rows; every stage streams out what it writes.
    out[s] = static_cast<double>(w.bytes_written_seq) + (forward ? static_cast<double>(w.bytes_read_seq) : 0.0);
  }
  return out;
}

RowTrafficModel::RowTrafficModel(const Workload& w, const Plan& plan, std::vector<MemoryLevel> levels,
                                 double expected_accesses, double sample_rate, uint64_t seed, bool cold_start)
    : w_(w), plan_(plan), levels_(std::move(levels)), capacities_(level_capacities(levels_)), cold_start_(cold_start) {
  double rows = 0;
  for (const TableSpec& t : w_.tables) {
    row_bytes_.push_back(static_cast<uint32_t>(t.dim * static_cast<int64_t>(sizeof(float))));
    rows += static_cast<double>(t.rows);
  }
  ReuseOptions o;
  o.sample_rate = sample_rate > 0 ? sample_rate : choose_sample_rate(expected_accesses, std::min(rows, expected_accesses));
  o.seed = seed;
  o.capacities_bytes = capacities_;
  o.tags = static_cast<int>(kComputeStages);  // no communication stage touches table rows
  reuse_ = std::make_unique<ReuseAnalyzer>(o);
}

RowTrafficModel::~RowTrafficModel() = default;

double RowTrafficModel::sample_rate() const { return reuse_->sample_rate(); }

void RowTrafficModel::feed_lookups(const Batch& batch, Stage tag) {
  // Table by table, each table's lookups in example order, as the forward kernels walk them (the
  // CPU's table by table with the threads splitting the examples, the CUDA backend's one launch
  // per table).
  const int t_tag = static_cast<int>(tag);
  for (size_t t = 0; t < batch.tables.size(); ++t) {
    const uint32_t bytes = row_bytes_[t];
    for (const int64_t r : batch.tables[t].indices) reuse_->access(row_key(t, r), bytes, t_tag);
  }
}

void RowTrafficModel::feed_unique(const Batch& batch, Stage tag) {
  // The batch's distinct rows, table by table in ascending order (the coalesced updates' order).
  // Only rows the analysis keeps need deduplicating: the others cost a hash.
  for (size_t t = 0; t < batch.tables.size(); ++t) {
    scratch_.clear();
    for (const int64_t r : batch.tables[t].indices)
      if (const uint64_t key = row_key(t, r); reuse_->samples(key)) scratch_.push_back(key);
    std::sort(scratch_.begin(), scratch_.end());
    scratch_.erase(std::unique(scratch_.begin(), scratch_.end()), scratch_.end());
    for (const uint64_t key : scratch_) reuse_->access_presampled(key, row_bytes_[t], static_cast<int>(tag));
  }
}

void RowTrafficModel::feed_op(const Op& op, Stage tag, const Batch& batch, const Batch* next) {
  if (is_dense_pass(op)) {
    reuse_->spacer(static_cast<uint64_t>(w_.table_bytes()));
  } else if (op.kind == OpKind::embedding_forward) {
    feed_lookups(batch, tag);
  } else if (op.kind == OpKind::table_update) {
    feed_unique(batch, tag);  // the rows with a gradient (a selection's untouched rows are not seen)
  } else if (op.kind == OpKind::lazy_catchup && next) {
    feed_unique(*next, tag);
  }
}

void RowTrafficModel::setup() {}

void RowTrafficModel::step(const Batch& batch, const Batch* next, bool counting) {
  hits_.reset();
  if (counting != counting_) reuse_->set_counting(counting_ = counting);
  for (const PlanStage& ps : plan_.step) {
    if (!stage_runs(ps, next != nullptr)) continue;
    bool rows = false;
    for (const Op& op : ps.ops)
      if (touches_rows(op)) feed_op(op, ps.stage, batch, next), rows = true;
    if (rows && counting) ++counted_steps_[static_cast<size_t>(ps.stage)];
    feed_working(ps.stage);
  }
}

void RowTrafficModel::feed_working(Stage s) {
  const double bytes = working_[static_cast<size_t>(s)];
  if (bytes <= 0) return;
  const double tracked = bytes * reuse_->sample_rate();
  const uint64_t chunks = std::clamp<uint64_t>(static_cast<uint64_t>(tracked / kMinChunkTracked), 1, kWorkingChunks);
  const uint64_t each = static_cast<uint64_t>(std::llround(bytes / static_cast<double>(chunks)));
  for (uint64_t c = 0; c < chunks; ++c)
    reuse_->touch_other(row_key(kWorkingTable, static_cast<int64_t>(static_cast<uint64_t>(s) * kWorkingChunks + c)), each);
}

void RowTrafficModel::finish() {
  hits_.reset();
  for (const PlanStage& ps : plan_.finish)
    for (const Op& op : ps.ops)
      if (is_dense_pass(op)) reuse_->spacer(static_cast<uint64_t>(w_.table_bytes()));
}

const std::vector<StageHits>& RowTrafficModel::hits() const {
  if (hits_) return *hits_;
  std::vector<StageHits> out;
  const double tables = static_cast<double>(w_.table_bytes());
  for (size_t s = 0; s < kComputeStages; ++s) {
    const TagHits th = reuse_->hits(static_cast<int>(s));
    if (th.accesses <= 0 || counted_steps_[s] == 0) continue;
    StageHits h{static_cast<Stage>(s), th.accesses / static_cast<double>(counted_steps_[s]), {}, {},
                th.miss_window_share};
    double below = 0;
    for (size_t i = 0; i < capacities_.size(); ++i) {
      double err = th.at[i].stderr_hits / th.accesses;
      double hit = cold_start_ ? th.at[i].hits / th.accesses
                               : reuse_->steady_hit_rate(capacities_[i], static_cast<int>(s), &err);
      if (levels_[i].policy == "lfu") hit = reuse_->lfu_hit_rate(capacities_[i]), err = 0;
      // A level that holds every row of every table hits every reuse: whole-table passes in
      // between (spacers) make distances look longer than the distinct bytes they can span.
      // (Working data adds its bytes once: the buffers are the same every step.)
      if (!cold_start_ && static_cast<double>(capacities_[i]) >= tables + total_working(working_)) hit = 1.0, err = 0;
      below = std::max(below, std::min(hit, 1.0));
      h.cumulative_hit.push_back(below);
      h.cumulative_stderr.push_back(err);
    }
    out.push_back(std::move(h));
  }
  hits_ = std::move(out);
  return *hits_;
}

LevelSplit RowTrafficModel::split(Stage s, const WorkCounters& work) const {
  LevelSplit out;
  out.dense_pass_bytes = dense_pass_bytes(s);
  for (const StageHits& h : hits()) {
    if (h.stage != s) continue;
    // Rows the counters have but the analysis did not see go to the last level.
    const double rows = static_cast<double>(std::max(work.rows_read_rand, work.rows_written_rand));
    const double known = rows > 0 ? std::min(1.0, h.accesses_per_step / rows) : 1.0;
    std::vector<double> cum = h.cumulative_hit;
    for (double& c : cum) c *= known;
    out.share = shares_from_hit_rates(cum);
    const double window = h.miss_window_share.empty() ? 1.0 : static_cast<double>(h.miss_window_share.size() - 1);
    for (size_t k = 1; k < h.miss_window_share.size(); ++k)
      if (h.miss_window_share[k] > 0) out.last_level_miss_fractions.emplace_back(k / window, h.miss_window_share[k]);
  }
  return out;
}

double RowTrafficModel::bytes_touched() const { return reuse_->row_bytes_touched(); }

std::vector<std::string> RowTrafficModel::levels_beyond_trace() const {
  std::vector<std::string> out;
  for (size_t i = 0; i < capacities_.size(); ++i)
    if (static_cast<double>(capacities_[i]) > bytes_touched() + total_working(working_) &&
        static_cast<double>(capacities_[i]) < static_cast<double>(w_.table_bytes()))
      out.push_back(levels_[i].name);
  return out;
}

double RowTrafficModel::dense_pass_bytes(Stage s) const { return dense_pass_bytes_of(w_, plan_, s); }

nlohmann::json RowTrafficModel::to_json() const {
  nlohmann::json j = {{"sample_rate", sample_rate()}, {"sampled_rows", reuse_->sampled_rows()},
                      {"analysis_memory_bytes", reuse_->memory_bytes()},
                      {"hit_rates", cold_start_ ? "cold start: a first access misses"
                                                : "steady state: Kaplan-Meier over reuses and first accesses"},
                      {"bytes_touched", bytes_touched()}, {"levels_beyond_trace", levels_beyond_trace()}};
  nlohmann::json levels = nlohmann::json::array();
  for (const MemoryLevel& l : levels_)
    levels.push_back({{"name", l.name}, {"capacity_bytes", std::isfinite(l.capacity_bytes) ? nlohmann::json(l.capacity_bytes) : nlohmann::json("unbounded")}, {"policy", l.policy}});
  j["levels"] = levels;
  nlohmann::json stages = nlohmann::json::array();
  for (const StageHits& h : hits()) {
    nlohmann::json hit = nlohmann::json::object(), err = nlohmann::json::object();
    for (size_t i = 0; i < h.cumulative_hit.size(); ++i) {
      hit[levels_[i].name] = h.cumulative_hit[i];
      err[levels_[i].name] = h.cumulative_stderr[i];
    }
    stages.push_back({{"stage", stage_name(h.stage)}, {"accesses_per_step", h.accesses_per_step},
                      {"hit_rate_at_or_above", hit}, {"hit_rate_stderr", err}});
  }
  j["stages"] = stages;
  return j;
}

namespace {
PopularityGroup popularity_of(const TableSpec& t, double share) {
  return {t.rows, share, static_cast<uint32_t>(t.dim * 4),
          t.access.kind == AccessDistribution::Kind::zipf ? t.access.zipf_exponent : 0.0};
}

// The forward reads the tables one after another, each table's lookups of the whole batch in one
// run. By Che's reasoning a lookup hits when the bytes of distinct rows touched since its row's
// previous access are below the capacity C. For a lookup at position j of table t's run whose row
// was last read x of t's lookups earlier, those bytes are f(x) = D_t(x) + E(k): D_t(x) the distinct
// bytes of x lookups of t, and E(k) what the k runs of the other tables crossed (k = 0 for x <= j,
// else ceil((x - j) / n_t)) touch, which is the distinct bytes of k steps of every table minus
// table t's own (occupancy adds up over the tables of one population), plus k whole-table passes
// when one runs every step, plus the step's working data (once: its buffers are the same every step)
// that the reuse spans: from the previous step (k = 1) only what comes after that step's last row
// access (its update rewrote the rows after the backward pass's data), from earlier steps all of
// it. f never decreases, so the largest x with f(x) < C, x*(j), is a
// characteristic time: the hit rate at position j is table t's Che hit rate at time x*(j).
// Averaged over j (32 points) and weighted by lookups over the tables; tables of the same size,
// dim, pooling and distribution are evaluated once.
class ForwardRuns {
 public:
  ForwardRuns(const Workload& w, double capacity, bool dense_each_step, double working_next, double working_all)
      : w_(w), capacity_(capacity), pass_(dense_each_step ? static_cast<double>(w.table_bytes()) : 0.0),
        working_next_(working_next), working_all_(working_all) {
    std::vector<PopularityGroup> all;
    for (const TableSpec& t : w.tables) {
      const double n = static_cast<double>(w.batch_size) * static_cast<double>(t.pooling);
      per_step_ += n;
      all.push_back(popularity_of(t, n));
    }
    if (per_step_ > 0) all_ = std::make_unique<ChePopulation>(all);  // shares: lookups, normalized there
  }

  // `misses`, when given: the misses by where in its table's run they happen, as (the miss
  // fraction there, the share of all misses), the shares summing to 1 (empty: no misses).
  double hit_rate(std::vector<std::pair<double, double>>* misses = nullptr) {
    if (misses) misses->clear();
    if (per_step_ <= 0) return 0.0;
    if (pass_ == 0 && capacity_ >= static_cast<double>(w_.table_bytes()) + working_all_) return 1.0;  // every table stays
    double hits = 0;
    std::map<std::tuple<int64_t, int64_t, int64_t, double>, std::vector<double>> seen;
    std::map<double, double> by_fraction;
    for (const TableSpec& t : w_.tables) {
      const double n = static_cast<double>(w_.batch_size) * static_cast<double>(t.pooling);
      if (n <= 0) continue;
      const auto key = std::make_tuple(t.rows, t.dim, t.pooling, popularity_of(t, 1).zipf_s);
      auto it = seen.find(key);
      if (it == seen.end()) it = seen.emplace(key, table_hit_rates(t, n)).first;
      for (const double hit : it->second) {
        hits += hit * n / kPoints;
        if (hit < 1.0) by_fraction[1.0 - hit] += (1.0 - hit) * n / kPoints;
      }
    }
    if (misses) {
      double all = 0;
      for (const auto& [q, m] : by_fraction) all += m;
      for (const auto& [q, m] : by_fraction) misses->emplace_back(q, m / all);
    }
    return hits / per_step_;
  }

 private:
  // x*(j) falls in the first region k whose end, x = j + k n, has f >= C: a search over k (doubling,
  // then bisection) with the region ends' f, then inside region k either the boundary itself (the
  // jump by E(k) already reaches C) or D_t(x) = C - E(k), whose Che hit rate is the single-table
  // cache of capacity C - E(k).
  static constexpr int kPoints = 32;

  // The hit rate at kPoints evenly spaced positions of the table's run.
  std::vector<double> table_hit_rates(const TableSpec& t, double n) {
    const ChePopulation one({popularity_of(t, 1.0)});
    std::map<int64_t, double> own;
    auto E = [&](int64_t k) {
      if (k == 0) return 0.0;
      auto it = own.find(k);
      if (it == own.end()) it = own.emplace(k, one.bytes_at_time(static_cast<double>(k) * n)).first;
      return all_bytes(k) - it->second + static_cast<double>(k) * pass_ + (k == 1 ? working_next_ : working_all_);
    };
    constexpr int64_t kMaxRuns = int64_t{1} << 40;
    std::vector<double> at;
    for (int m = 0; m < kPoints; ++m) {
      const double j = (m + 0.5) / kPoints * n;
      auto end_bytes = [&](int64_t k) { return one.bytes_at_time(j + static_cast<double>(k) * n) + E(k); };
      if (end_bytes(0) >= capacity_) {  // the reuse horizon ends inside the run itself
        at.push_back(one.lru(capacity_).hit_rate);
        continue;
      }
      int64_t lo = 0, hi = 1;
      while (hi < kMaxRuns && end_bytes(hi) < capacity_) lo = hi, hi *= 2;
      if (end_bytes(hi) < capacity_) {  // never reached: every reuse hits
        at.push_back(1.0);
        continue;
      }
      while (hi - lo > 1) {
        const int64_t mid = lo + (hi - lo) / 2;
        (end_bytes(mid) < capacity_ ? lo : hi) = mid;
      }
      const double start = j + static_cast<double>(hi - 1) * n, target = capacity_ - E(hi);
      at.push_back(target <= one.bytes_at_time(start) ? one.hit_rate_at_time(start) : one.lru(target).hit_rate);
    }
    return at;
  }

  // What k steps of every table touch, cached (one population of all the tables).
  double all_bytes(int64_t k) {
    auto it = all_at_.find(k);
    if (it == all_at_.end()) it = all_at_.emplace(k, all_->bytes_at_time(static_cast<double>(k) * per_step_)).first;
    return it->second;
  }

  const Workload& w_;
  double capacity_, pass_, working_next_, working_all_, per_step_ = 0;
  std::unique_ptr<ChePopulation> all_;
  std::map<int64_t, double> all_at_;
};

double forward_run_hit_rate(const Workload& w, double capacity_bytes, bool dense_each_step, double working_next,
                            double working_all, std::vector<std::pair<double, double>>* misses = nullptr) {
  return ForwardRuns(w, capacity_bytes, dense_each_step, working_next, working_all).hit_rate(misses);
}

// The working bytes from the step's last stage that touches rows to the next step's forward (the
// stages after it, then those before the forward): what stands between a row's last access in one
// step and the forward's reuse of it in the next. An update rewrites the batch's rows after the
// working data of the backward pass, so for sgd this is nothing.
double working_before_next_forward(const Plan& plan, const StageBytes& working) {
  size_t last = 0, forward = 0;
  for (size_t i = 0; i < plan.step.size(); ++i)
    for (const Op& op : plan.step[i].ops) {
      if (touches_rows(op)) last = i;
      if (op.kind == OpKind::embedding_forward) forward = i;
    }
  double sum = 0;
  std::array<bool, kStages> seen{};
  for (size_t i = last; i < plan.step.size() + forward; ++i) {
    const size_t k = i % plan.step.size(), s = static_cast<size_t>(plan.step[k].stage);
    if (!seen[s]) sum += working[s];
    seen[s] = true;
  }
  return sum;
}

// The working bytes of the stages from the forward up to (not including) stage s, in step order:
// what stands between the rows the forward read and their reuse by s in the same step.
double working_before(const Plan& plan, const StageBytes& working, Stage s) {
  double sum = 0;
  bool after_forward = false;
  std::array<bool, kStages> seen{};
  for (const PlanStage& ps : plan.step) {
    if (ps.stage == s && after_forward) break;
    for (const Op& op : ps.ops) after_forward = after_forward || op.kind == OpKind::embedding_forward;
    if (after_forward && !seen[static_cast<size_t>(ps.stage)]) sum += working[static_cast<size_t>(ps.stage)];
    seen[static_cast<size_t>(ps.stage)] = true;
  }
  return sum;
}
}  // namespace

LevelSplit analytic_split(const Workload& w, const Plan& plan, const std::vector<MemoryLevel>& levels, Stage s,
                          const WorkCounters& work, const StageBytes& working) {
  LevelSplit out;
  out.dense_pass_bytes = dense_pass_bytes_of(w, plan, s);
  if (work.rows_read_rand + work.rows_written_rand == 0) return out;
  std::vector<PopularityGroup> groups;
  double lookups = 0;
  for (const TableSpec& t : w.tables) lookups += static_cast<double>(t.pooling);
  for (const TableSpec& t : w.tables)
    groups.push_back({t.rows, static_cast<double>(t.pooling) / lookups, static_cast<uint32_t>(t.dim * 4),
                      t.access.kind == AccessDistribution::Kind::zipf ? t.access.zipf_exponent : 0.0});
  // A whole-table pass every step keeps nothing from one step to the next: only reuse within a
  // step's references can hit (the characteristic time is capped at one step).
  bool dense_each_step = false;
  for (const PlanStage& ps : plan.step)
    for (const Op& op : ps.ops) dense_each_step = dense_each_step || is_dense_pass(op);
  // By Che's fixed point, the capacity whose characteristic time is one step's references is the
  // bytes of distinct rows a step touches: an LRU cache of it holds exactly what one step brings in.
  const ChePopulation pop(groups);
  const double step_bytes = pop.bytes_at_time(lookups * static_cast<double>(w.batch_size));
  // As from a trace: rows the stage's counters have beyond the step's distinct rows (adafest's
  // false positives, drawn uniformly over every row) are served by the last level.
  double row_bytes = 0;
  for (const TableSpec& t : w.tables) row_bytes += static_cast<double>(t.pooling) / lookups * static_cast<double>(t.dim * 4);
  const double step_rows = step_bytes / row_bytes;
  const double rows = static_cast<double>(std::max(work.rows_read_rand, work.rows_written_rand));
  const double known = s == Stage::fwd_emb || rows <= step_rows ? 1.0 : step_rows / rows;
  const double step_working = total_working(working), between = working_before(plan, working, s);
  std::vector<double> cum;
  for (size_t i = 0; i + 1 < levels.size(); ++i) {
    if (s == Stage::fwd_emb && levels[i].policy != "lfu") {
      // The last cache's misses by where in a table's run they fall: a run starts with every row
      // missing and ends with few.
      auto* misses = i + 2 == levels.size() ? &out.last_level_miss_fractions : nullptr;
      cum.push_back(forward_run_hit_rate(w, levels[i].capacity_bytes, dense_each_step,
                                         working_before_next_forward(plan, working), step_working, misses) *
                    known);
      continue;
    }
    // A reuse from an earlier step spans the step's working data once: the rows have what is left.
    double cap = std::max(0.0, levels[i].capacity_bytes - step_working);
    if (dense_each_step && cap < static_cast<double>(w.table_bytes())) cap = std::min(cap, step_bytes);
    double hit = levels[i].policy == "lfu" ? pop.static_lfu_hit_rate(cap) : pop.lru(cap).hit_rate;
    // An update of the batch's rows follows the forward pass that just read them: a level that
    // holds the step's distinct rows and the working data written since keeps them (uniformly,
    // the share that fits otherwise).
    if (s == Stage::update_sparse || s == Stage::dp_update)
      hit = std::max(hit, std::clamp((levels[i].capacity_bytes - between) / step_bytes, 0.0, 1.0));
    cum.push_back(hit * known);
  }
  out.share = shares_from_hit_rates(cum);
  return out;
}

}  // namespace privrec::sim
