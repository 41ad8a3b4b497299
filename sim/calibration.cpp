#include "sim/calibration.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "models/sample_stats.hpp"
#include "sim/memory_levels.hpp"

namespace privrec::sim {

namespace {
struct Point {
  double roof, target;  // modeled roofline; measured minus the modeled overheads
  double bags = 0;      // the stage's bags (priced per bag when the fit finds a cost)
  double launches = 0;  // its launches or parallel regions (priced per launch likewise)
};

// One stage's fit: an efficiency per group of cases (a group per roofline bound) and one fixed
// cost shared by all of them, minimizing sum ((a_g r + b - m) / m)^2 (least squares on the
// relative error). For a given b each a_g has a closed form, and the objective is then a parabola
// in b, found exactly from three evaluations. b is fitted only from five cases up (with three, a
// slope and an intercept chase the noise: update.sparse once came out as 0.7 x roofline + 1.9 ms,
// and predicted a 0.9 ms stage at 3.2 ms), kept >= 0, and kept at most a quarter of the smallest
// observation: a larger fixed cost is not identifiable from cases that are all much longer than
// it, and would swamp the short stages it is later applied to.
struct GroupFit {
  std::vector<double> efficiency;  // per group
  double fixed_ms = 0;
};

GroupFit fit_groups(const std::vector<std::vector<Point>>& groups) {
  size_t n = 0;
  double smallest = 1e300;
  for (const auto& g : groups)
    for (const auto& p : g) ++n, smallest = std::min(smallest, p.target);
  auto ratios = [&](double b) {
    std::vector<double> a;
    for (const auto& g : groups) {
      double srr = 0, srm = 0;
      for (const auto& p : g) {
        const double w = 1.0 / (p.target * p.target);
        srr += w * p.roof * p.roof, srm += w * p.roof * (p.target - b);
      }
      a.push_back(srr > 0 ? srm / srr : 1.0);
    }
    return a;
  };
  auto objective = [&](double b) {
    const auto a = ratios(b);
    double j = 0;
    for (size_t k = 0; k < groups.size(); ++k)
      for (const auto& p : groups[k]) j += std::pow((a[k] * p.roof + b - p.target) / p.target, 2);
    return j;
  };
  GroupFit f;
  if (n >= 5) {
    const double h = 0.125 * smallest, j0 = objective(0), j1 = objective(h), j2 = objective(2 * h);
    const double curvature = j2 - 2 * j1 + j0;
    if (curvature > 1e-15 * (j0 + j1 + j2 + 1e-300)) {
      const double b = h * (0.5 - (j1 - j0) / curvature);  // the vertex of the parabola through the three
      f.fixed_ms = std::clamp(b, 0.0, 0.25 * smallest);
    }
  }
  f.efficiency = ratios(f.fixed_ms);
  // A fixed cost that leaves a group almost nothing to explain is dropped, not believed.
  if (std::any_of(f.efficiency.begin(), f.efficiency.end(), [](double a) { return a < 0.05; })) {
    f.fixed_ms = 0;
    f.efficiency = ratios(0.0);
  }
  for (double& a : f.efficiency) a = std::max(a, 0.05);  // never fit a stage away entirely
  return f;
}
// A per-count cost: bags walked (ns per bag) or launches (ns per launch beyond the profile's
// launch overhead), each a Point member.
struct CountTerm {
  double Point::*count;
  double lo_ns, hi_ns;  // the search range
  double max_share;     // of any case's measured time the term may explain
};
// The launch cost is held to a quarter of every case, as a fixed cost is: a launch count varies
// little within a model family, so a larger one would be an intercept in disguise (it once came
// out at 240 us a call for the framework's MLP stages, a constant 4.6 ms a stage).
constexpr CountTerm kBagTerm{&Point::bags, 0.5, 1000, 1.0}, kLaunchTerm{&Point::launches, 50, 200000, 0.25};

// The relative squared error of a fit (a per group, b, c ns per count) against the measured targets.
double fit_objective(const std::vector<std::vector<Point>>& groups, const GroupFit& f, const CountTerm& term, double ns) {
  double j = 0;
  for (size_t k = 0; k < groups.size(); ++k)
    for (const auto& p : groups[k])
      j += std::pow((f.efficiency[k] * p.roof + f.fixed_ms + 1e-6 * ns * (p.*term.count) - p.target) / p.target, 2);
  return j;
}

// fit_groups with a cost per count as well, where five cases or more have the count and their
// counts per roofline ms differ (bags: pooling 80 against pooling 1; launches: a small MLP's
// chain of short kernels against a large one's): the cost c is searched over the term's range
// (log grid, then refined), each c fitting the efficiencies and fixed cost to what is left; kept
// only if it lowers the objective by a quarter (a term the cases do not need is not believed).
// `ns` gets c (0: none).
GroupFit fit_with_count(const std::vector<std::vector<Point>>& groups, const CountTerm& term, double& ns) {
  ns = 0;
  GroupFit best = fit_groups(groups);
  // Five cases with the count (as a fixed cost needs), whose counts per roofline ms differ by half
  // again at least: a count nearly proportional to the roofline is a slope, one nearly constant an
  // intercept, and either would let the term stand in for what the fit already has.
  size_t counted = 0;
  double lo = 1e300, hi = 0;
  for (const auto& g : groups)
    for (const auto& p : g)
      if (p.*term.count > 0 && p.roof > 0) ++counted, lo = std::min(lo, p.*term.count / p.roof), hi = std::max(hi, p.*term.count / p.roof);
  if (counted < 5 || hi < 1.5 * lo) return best;
  const double none = fit_objective(groups, best, term, 0);
  auto at = [&](double c, GroupFit& out) {
    std::vector<std::vector<Point>> rest = groups;
    for (auto& g : rest)
      for (auto& p : g) {
        const double part = 1e-6 * c * (p.*term.count);
        if (part > term.max_share * p.target) return 1e300;  // more than the term may explain
        p.target -= part;
        if (!(p.target > 0)) return 1e300;  // the count alone would exceed the measurement
      }
    out = fit_groups(rest);
    return fit_objective(groups, out, term, c);
  };
  double best_c = 0, best_j = none;
  for (double c = term.lo_ns; c <= term.hi_ns; c *= 1.25) {
    GroupFit f;
    if (const double j = at(c, f); j < best_j) best_j = j, best_c = c;
  }
  if (best_c > 0)
    for (double step = best_c * 0.125; step > best_c * 1e-4; step *= 0.5)
      for (const double c : {best_c - step, best_c + step}) {
        GroupFit f;
        if (const double j = at(c, f); c > 0 && j < best_j) best_j = j, best_c = c;
      }
  if (!(best_c > 0 && best_j < 0.75 * none)) return best;
  ns = best_c;
  at(best_c, best);
  return best;
}

// The bag cost first, then a launch cost on what it leaves; bag_ns and launch_ns get them (0: none).
GroupFit fit_with_counts(std::vector<std::vector<Point>> groups, double& bag_ns, double& launch_ns) {
  GroupFit g = fit_with_count(groups, kBagTerm, bag_ns);
  if (bag_ns > 0)
    for (auto& pts : groups)
      for (auto& p : pts) p.target -= 1e-6 * bag_ns * p.bags;
  const GroupFit with_launches = fit_with_count(groups, kLaunchTerm, launch_ns);
  return launch_ns > 0 ? with_launches : g;
}
}  // namespace

namespace {
// The overlap a stage's terms combine at under `fit`: its own, else the fit's.
double overlap_of(const StageFit& fit, const std::string& stage) {
  const auto it = fit.overlap.find(stage);
  return it != fit.overlap.end() ? it->second : fit.overlap_fraction;
}

// |predicted - measured| / measured in % for every usable observation (of stage `only` if given),
// with the same lookup as stage_time.
std::vector<double> fit_errors(const StageFit& fit, const std::vector<StageObservation>& observations,
                               const std::string& only = "") {
  std::vector<double> errors;
  for (const auto& o : observations) {
    if (!(o.measured_ms > 0)) continue;
    const std::string stage = stage_name(o.stage), keyed = stage + ":" + bound_name(roofline_bound(o.modeled));
    if (!only.empty() && stage != only) continue;
    auto lookup = [&](const std::map<std::string, double>& m, double none) {
      if (const auto it = m.find(keyed); it != m.end()) return it->second;
      if (const auto it = m.find(stage); it != m.end()) return it->second;
      return none;
    };
    const double roof = combine_terms(o.modeled.memory_ms, o.modeled.compute_ms, o.modeled.rng_ms, overlap_of(fit, stage));
    const double bag_ms = fit.bag_ns.count(stage) ? 1e-6 * fit.bag_ns.at(stage) * o.modeled.bags : 0.0;
    const double launch_ms = fit.launch_us.count(stage) ? 1e-3 * fit.launch_us.at(stage) * o.modeled.launches : 0.0;
    const double predicted = roof * lookup(fit.efficiency, 1.0) + lookup(fit.fixed_ms, 0.0) + bag_ms + launch_ms +
                             o.modeled.overhead_ms + o.modeled.link_ms;
    errors.push_back(std::abs(predicted - o.measured_ms) / o.measured_ms * 100.0);
  }
  return errors;
}

// Replaces stage `stage`'s factors in `to` (its own key and its bound keys) by those of `from`.
void take_stage(StageFit& to, const StageFit& from, const std::string& stage) {
  const auto mine = [&](const std::string& key) { return key == stage || key.rfind(stage + ":", 0) == 0; };
  for (auto* m : {&to.efficiency, &to.fixed_ms, &to.bag_ns, &to.launch_us}) std::erase_if(*m, [&](const auto& kv) { return mine(kv.first); });
  const std::pair<std::map<std::string, double>*, const std::map<std::string, double>*> maps[] = {
      {&to.efficiency, &from.efficiency}, {&to.fixed_ms, &from.fixed_ms}, {&to.bag_ns, &from.bag_ns},
      {&to.launch_us, &from.launch_us}};
  for (const auto& [dst, src] : maps)
    for (const auto& [key, v] : *src)
      if (mine(key)) (*dst)[key] = v;
}
}  // namespace

StageFit fit_stages(const std::vector<StageObservation>& observations, double overlap_fraction) {
  std::map<std::string, std::map<std::string, std::vector<Point>>> by_stage;  // stage -> bound -> cases
  for (const auto& o : observations) {
    const double roof = combine_terms(o.modeled.memory_ms, o.modeled.compute_ms, o.modeled.rng_ms, overlap_fraction);
    const double target = o.measured_ms - o.modeled.overhead_ms - o.modeled.link_ms;
    if (!(roof > 0 && target > 0)) continue;
    by_stage[stage_name(o.stage)][bound_name(roofline_bound(o.modeled))].push_back(
        {roof, target, o.modeled.bags, o.modeled.launches});
  }
  StageFit fit;
  for (const auto& [stage, bounds] : by_stage) {
    // A stage whose cases hit different rooflines (dp.update: dense and RNG-bound, or sparse and
    // memory-bound) gets an efficiency per bound where that bound has two cases or more; a bound
    // with a single case shares the stage's efficiency. The fixed cost is the stage's.
    std::vector<std::vector<Point>> groups, shared(1);
    std::vector<std::string> keys;
    for (const auto& [bound, pts] : bounds) {
      if (bounds.size() >= 2 && pts.size() >= 2) {
        groups.push_back(pts);
        keys.push_back(stage + ":" + bound);
      } else {
        shared[0].insert(shared[0].end(), pts.begin(), pts.end());
      }
    }
    if (!shared[0].empty()) groups.push_back(shared[0]), keys.push_back(stage);
    double bag_ns = 0, launch_ns = 0;
    const GroupFit g = fit_with_counts(groups, bag_ns, launch_ns);
    if (bag_ns > 0) fit.bag_ns[stage] = bag_ns;
    if (launch_ns > 0) fit.launch_us[stage] = 1e-3 * launch_ns;
    for (size_t k = 0; k < keys.size(); ++k) fit.efficiency[keys[k]] = g.efficiency[k], fit.fixed_ms[keys[k]] = g.fixed_ms;
    if (!fit.efficiency.count(stage)) {  // the fallback for a bound no calibration case hit
      std::vector<Point> all;
      for (const auto& [bound, pts] : bounds) all.insert(all.end(), pts.begin(), pts.end());
      double srr = 0, srm = 0;
      for (const auto& p : all) {
        const double w = 1.0 / (p.target * p.target);
        srr += w * p.roof * p.roof,
            srm += w * p.roof * (p.target - g.fixed_ms - 1e-6 * (bag_ns * p.bags + launch_ns * p.launches));
      }
      fit.efficiency[stage] = std::max(srm / srr, 0.05), fit.fixed_ms[stage] = g.fixed_ms;
    }
  }
  std::set<std::string> unfitted;
  for (const auto& o : observations)
    if (o.measured_ms > 0 && !by_stage.count(stage_name(o.stage))) unfitted.insert(stage_name(o.stage));
  fit.unfitted.assign(unfitted.begin(), unfitted.end());
  fit.overlap_fraction = overlap_fraction;
  fit.median_abs_error_pct = median(fit_errors(fit, observations));  // 0 when no observation was usable
  return fit;
}

std::string unfitted_warning(const StageFit& fit) {
  if (fit.unfitted.empty()) return "";
  std::string names;
  for (const std::string& s : fit.unfitted) names += (names.empty() ? "" : ", ") + s;
  return "warning: " + names + (fit.unfitted.size() == 1 ? " has" : " have") +
         " no fit (measured at or below the modeled overheads and link time, or with no modeled work, in every "
         "case): the model prices " +
         (fit.unfitted.size() == 1 ? "it" : "them") + " at efficiency 1 with no fixed cost";
}

StageFit fit_calibration(const std::vector<StageObservation>& observations) {
  std::vector<StageFit> grid;  // at overlap 0, 0.05, ..., 1
  for (int k = 0; k <= 20; ++k) grid.push_back(fit_stages(observations, k / 20.0));  // 0.3, not 0.30000000000000004
  size_t best = 20;
  for (size_t k = 20; k-- > 0;)  // from full overlap down, so a tie keeps the larger fraction
    if (grid[k].median_abs_error_pct < grid[best].median_abs_error_pct) best = k;
  StageFit out = grid[best];
  std::map<std::string, std::set<int64_t>> cases;  // stage -> the distinct cases it was observed in
  int64_t own = -2;                                 // observations without a case are cases of their own
  for (const auto& o : observations)
    if (o.measured_ms > 0) cases[stage_name(o.stage)].insert(o.case_id >= 0 ? o.case_id : own--);
  for (const auto& [stage, ids] : cases) {
    if (ids.size() < kOwnOverlapCases) continue;
    size_t pick = best;
    double error = median(fit_errors(grid[best], observations, stage));
    for (size_t k = 21; k-- > 0;) {
      const double e = median(fit_errors(grid[k], observations, stage));
      if (e < error - 1e-12) pick = k, error = e;
    }
    take_stage(out, grid[pick], stage);
    out.overlap[stage] = grid[pick].overlap_fraction;
  }
  out.median_abs_error_pct = median(fit_errors(out, observations));
  return out;
}

// --- Memory levels from a footprint curve ------------------------------------------------------

std::vector<double> uniform_access_shares(const std::vector<CacheLevel>& caches, double footprint_MB) {
  std::vector<double> held;  // what each level and the nearer ones hold, cumulatively
  for (const CacheLevel& c : caches) held.push_back(footprint_MB > 0 ? std::min(1.0, c.capacity_MB / footprint_MB) : 1.0);
  return shares_from_hit_rates(held);
}

std::vector<double> uniform_access_weights(const std::vector<CacheLevel>& caches, const CostCurve& miss_cost,
                                           double footprint_MB, double row_B) {
  std::vector<double> w = uniform_access_shares(caches, footprint_MB);
  if (w.back() > 0) w.back() *= miss_cost.factor(row_B, w.back());
  return w;
}

double uniform_gather_GBps(const ProcessorProfile& p, double footprint_MB, double row_B) {
  const std::vector<double> share = uniform_access_weights(p.caches, p.memory_miss_cost, footprint_MB, row_B);
  double seconds_per_GB = 0;
  for (size_t l = 0; l < share.size(); ++l) {
    if (share[l] <= 0) continue;
    seconds_per_GB += share[l] / (l < p.caches.size() ? p.caches[l].random_GBps_for(row_B) : p.random_GBps_for(row_B));
  }
  return 1.0 / seconds_per_GB;
}

double level_random_GBps_matching(const ProcessorProfile& p, size_t level, double footprint_MB, double row_B,
                                  double measured_GBps) {
  const std::vector<double> share = uniform_access_weights(p.caches, p.memory_miss_cost, footprint_MB, row_B);
  double others = 0;  // seconds per GB in the other levels
  for (size_t l = 0; l < share.size(); ++l)
    if (l != level && share[l] > 0)
      others += share[l] / (l < p.caches.size() ? p.caches[l].random_GBps_for(row_B) : p.random_GBps_for(row_B));
  const double mine = 1.0 / measured_GBps - others;
  if (!(level < share.size())) return measured_GBps;
  const double served = uniform_access_shares(p.caches, footprint_MB)[level];
  if (!(served > 0 && served < 1.0 && mine > 0)) return measured_GBps;
  return share[level] / mine;
}

namespace {
using Column = std::vector<double>;

// min |A x - b| over A's columns (linearly independent, no more than b's rows) by Householder QR:
// accurate to the conditioning of A itself, not its square as the normal equations would be.
std::vector<double> least_squares(std::vector<Column> a, std::vector<double> b) {
  const size_t n = b.size(), k = a.size();
  std::vector<double> diag(k);
  for (size_t j = 0; j < k; ++j) {
    double norm = 0;
    for (size_t i = j; i < n; ++i) norm += a[j][i] * a[j][i];
    norm = std::sqrt(norm);
    const double alpha = a[j][j] > 0 ? -norm : norm;
    std::vector<double> v(a[j].begin() + static_cast<std::ptrdiff_t>(j), a[j].end());
    v[0] -= alpha;
    double vv = 0;
    for (double e : v) vv += e * e;
    diag[j] = alpha;
    if (vv == 0) continue;
    auto reflect = [&](std::vector<double>& c) {
      double dot = 0;
      for (size_t i = j; i < n; ++i) dot += v[i - j] * c[i];
      const double f = 2 * dot / vv;
      for (size_t i = j; i < n; ++i) c[i] -= f * v[i - j];
    };
    for (size_t c = j + 1; c < k; ++c) reflect(a[c]);
    reflect(b);
  }
  std::vector<double> x(k);
  for (size_t j = k; j-- > 0;) {
    double s = b[j];
    for (size_t c = j + 1; c < k; ++c) s -= a[c][j] * x[c];
    x[j] = s / diag[j];
  }
  return x;
}

double residual2(const std::vector<Column>& a, const std::vector<double>& x, const std::vector<double>& b) {
  double r2 = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    double fit = 0;
    for (size_t j = 0; j < a.size(); ++j) fit += a[j][i] * x[j];
    r2 += (b[i] - fit) * (b[i] - fit);
  }
  return r2;
}

// Whether `c` is outside the span of `kept` on these points (relative residual above 1e-6): what
// tells a level the curve identifies from one it cannot separate from the others.
bool adds_rank(const std::vector<Column>& kept, const Column& c) {
  double norm2 = 0;
  for (double e : c) norm2 += e * e;
  if (!(norm2 > 0)) return false;
  if (kept.empty()) return true;
  return residual2(kept, least_squares(kept, c), c) > 1e-12 * norm2;
}

// Non-negative least squares over the columns marked `use` (independent): the best of the
// unconstrained solutions over every subset that comes out non-negative, which is the constrained
// optimum (at most 2^4 small solves for two caches and memory). Unused columns get 0.
std::vector<double> nnls(const std::vector<Column>& col, const std::vector<bool>& use, const std::vector<double>& b) {
  std::vector<size_t> idx;
  for (size_t k = 0; k < col.size(); ++k)
    if (use[k]) idx.push_back(k);
  std::vector<double> best(col.size(), 0.0);
  double best_r2 = residual2({}, {}, b);  // all zero
  for (size_t mask = 1; mask < (size_t{1} << idx.size()); ++mask) {
    std::vector<Column> a;
    std::vector<size_t> which;
    for (size_t j = 0; j < idx.size(); ++j)
      if (mask & (size_t{1} << j)) a.push_back(col[idx[j]]), which.push_back(idx[j]);
    const std::vector<double> x = least_squares(a, b);
    if (std::any_of(x.begin(), x.end(), [](double v) { return v < 0; })) continue;
    const double r2 = residual2(a, x, b);
    if (r2 >= best_r2) continue;
    best_r2 = r2;
    std::fill(best.begin(), best.end(), 0.0);
    for (size_t j = 0; j < which.size(); ++j) best[which[j]] = x[j];
  }
  return best;
}

struct RowSizeFit {
  std::vector<double> seconds_per_GB;  // per level: the caches, then memory
  std::vector<std::string> notes;
};

std::string level_name(const std::vector<CacheLevel>& caches, size_t l) {
  return l < caches.size() ? caches[l].name : std::string("memory");
}

// The columns of the penalty form, weighted for the relative error: column 0 is every byte (the
// nearest level's time), column k the share served at level k or beyond (missed by the nearer
// ones), each row divided by the measured time per byte (the target is then 1 everywhere).
// Memory's share is weighted by its miss-cost factor at that miss fraction (the share itself, for
// uniform rows): column k is the sum of the weights of level k and beyond.
std::vector<Column> penalty_columns(const std::vector<FootprintPoint>& pts, const std::vector<CacheLevel>& caches,
                                    const CostCurve& miss_cost) {
  std::vector<Column> col(caches.size() + 1, Column(pts.size()));
  for (size_t i = 0; i < pts.size(); ++i) {
    const double t = 1.0 / pts[i].GBps;
    const std::vector<double> w = uniform_access_weights(caches, miss_cost, pts[i].footprint_MB, pts[i].row_B);
    double beyond = 0;
    for (size_t k = col.size(); k-- > 0;) col[k][i] = (beyond += w[k]) / t;
  }
  return col;
}

// Which columns the points identify, in the order the levels are worth keeping apart: the nearest
// level, memory, then the caches from far to near (so two caches the curve cannot separate are
// merged with each other, never a cache with memory).
std::vector<bool> identified_columns(const std::vector<Column>& col) {
  const size_t m = col.size();
  std::vector<size_t> order = {0};
  for (size_t k = m - 1; k >= 1; --k) order.push_back(k);
  std::vector<bool> use(m, false);
  std::vector<Column> kept;
  for (size_t k : order)
    if (adds_rank(kept, col[k])) use[k] = true, kept.push_back(col[k]);
  return use;
}

RowSizeFit fit_row_size(const std::vector<FootprintPoint>& pts, const std::vector<CacheLevel>& caches, double row_B,
                        const CostCurve& miss_cost) {
  const std::vector<Column> col = penalty_columns(pts, caches, miss_cost);
  const size_t m = col.size();
  std::vector<bool> use = identified_columns(col);
  RowSizeFit f;
  if (m > 1 && !use[m - 1])
    throw std::invalid_argument(fmt::format(
        "footprint curve, {} B rows: memory's bandwidth is not identified: it needs footprints of two sizes or more, "
        "at least one beyond the largest cache ({} MB)", row_B, caches.back().capacity_MB));
  for (size_t k = 1; k + 1 < m; ++k)
    if (!use[k])
      f.notes.push_back(fmt::format("{} B rows: the curve does not separate {} from {}: given {}'s bandwidth", row_B,
                                    level_name(caches, k), level_name(caches, k - 1), level_name(caches, k - 1)));
  const std::vector<double> ones(pts.size(), 1.0);
  std::vector<double> d = nnls(col, use, ones);
  while (!(d[0] > 0)) {  // the nearest level fitted infinitely fast: merge it with the next
    size_t k = 1;
    while (k < m && !use[k]) ++k;
    if (k == m) break;  // unreachable: the nearest column alone fits a positive time
    use[k] = false;
    f.notes.push_back(fmt::format("{} B rows: {} fitted no slower than {}, and {} infinitely fast: merged", row_B,
                                  level_name(caches, 0), level_name(caches, k), level_name(caches, 0)));
    d = nnls(col, use, ones);
  }
  for (size_t k = 1; k < m; ++k)
    if (use[k] && d[k] == 0)
      f.notes.push_back(fmt::format("{} B rows: {} fitted no slower than {}: given its bandwidth", row_B,
                                    level_name(caches, k), level_name(caches, k - 1)));
  double x = 0;
  for (size_t k = 0; k < m; ++k) f.seconds_per_GB.push_back(x += d[k]);
  return f;
}

void check_curve(const std::vector<FootprintPoint>& curve, const std::vector<CacheLevel>& caches) {
  if (curve.empty())
    throw std::invalid_argument("footprint curve: empty (no row gathers measured): nothing to fit the memory levels to");
  for (size_t i = 0; i < curve.size(); ++i) {
    const FootprintPoint& p = curve[i];
    for (double v : {p.footprint_MB, p.row_B, p.GBps})
      if (!(v > 0 && std::isfinite(v)))
        throw std::invalid_argument(fmt::format("footprint curve, point {} ({} MB, {} B rows, {} GB/s): expected "
                                                "positive, finite numbers", i, p.footprint_MB, p.row_B, p.GBps));
  }
  for (size_t l = 0; l < caches.size(); ++l)
    if (!(caches[l].capacity_MB > (l ? caches[l - 1].capacity_MB : 0.0)))
      throw std::invalid_argument(fmt::format("caches[{}] ({}): capacity {} MB: expected more than the level before",
                                              l, caches[l].name, caches[l].capacity_MB));
}
}  // namespace

LevelFit fit_memory_levels(const std::vector<FootprintPoint>& curve, const std::vector<CacheLevel>& caches,
                           const CostCurve& miss_cost) {
  check_curve(curve, caches);
  std::set<double> rows;
  for (const auto& p : curve) rows.insert(p.row_B);
  LevelFit fit;
  fit.caches = caches;
  for (auto& c : fit.caches) c.random_GBps_by_row_B.clear();
  std::map<double, std::vector<double>> seconds;  // row bytes -> per level
  for (double row : rows) {
    std::vector<FootprintPoint> pts;
    for (const auto& p : curve)
      if (p.row_B == row) pts.push_back(p);
    RowSizeFit f = fit_row_size(pts, caches, row, miss_cost);
    for (size_t l = 0; l < caches.size(); ++l) fit.caches[l].random_GBps_by_row_B.emplace_back(row, 1.0 / f.seconds_per_GB[l]);
    fit.memory_random_GBps_by_row_B.emplace_back(row, 1.0 / f.seconds_per_GB.back());
    fit.notes.insert(fit.notes.end(), f.notes.begin(), f.notes.end());
    seconds[row] = std::move(f.seconds_per_GB);
  }
  for (auto& c : fit.caches) c.random_GBps = random_GBps_at(c.random_GBps_by_row_B, 0.0, 128.0);
  fit.memory_random_GBps = random_GBps_at(fit.memory_random_GBps_by_row_B, 0.0, 128.0);
  std::vector<double> errors;
  for (const auto& p : curve) {
    const std::vector<double> share = uniform_access_weights(caches, miss_cost, p.footprint_MB, p.row_B);
    double t = 0;
    for (size_t l = 0; l < share.size(); ++l) t += share[l] * seconds[p.row_B][l];
    errors.push_back(std::abs(1.0 / t - p.GBps) / p.GBps * 100.0);
    fit.sum_sq_rel_error += (t * p.GBps - 1.0) * (t * p.GBps - 1.0);
  }
  fit.median_abs_error_pct = median(std::move(errors));
  return fit;
}

LevelFit fit_memory_levels_and_capacities(const std::vector<FootprintPoint>& curve, const std::vector<CacheLevel>& caches,
                                          const CostCurve& miss_cost) {
  const LevelFit detected = fit_memory_levels(curve, caches, miss_cost);
  std::vector<CacheLevel> trial = caches;
  LevelFit best = detected;
  for (int round = 0; round < 8; ++round) {
    bool moved = false;
    for (size_t l = 0; l < caches.size(); ++l) {
      const double below = l ? trial[l - 1].capacity_MB : 0.0;
      const double above = l + 1 < caches.size() ? trial[l + 1].capacity_MB : caches[l].capacity_MB * 2;
      const double keep = trial[l].capacity_MB;
      for (int k = 0; k <= 16; ++k) {
        const double c = caches[l].capacity_MB * std::exp2(-0.25 * k);
        if (!(c > below && c < above) || c == keep) continue;
        trial[l].capacity_MB = c;
        try {
          LevelFit f = fit_memory_levels(curve, trial, miss_cost);
          if (f.sum_sq_rel_error < best.sum_sq_rel_error * (1 - 1e-9)) best = std::move(f), moved = true;
        } catch (const std::invalid_argument&) {
          // a capacity that leaves memory unidentified is no candidate
        }
      }
      trial[l].capacity_MB = best.caches[l].capacity_MB;
    }
    if (!moved) break;
  }
  if (!(best.sum_sq_rel_error <= 0.75 * detected.sum_sq_rel_error)) return detected;
  // Each level back at its detected size where the curve barely prefers the fitted one (one noisy
  // point can pull a capacity that explains little else).
  for (size_t l = 0; l < caches.size(); ++l) {
    if (best.caches[l].capacity_MB == caches[l].capacity_MB) continue;
    std::vector<CacheLevel> back = best.caches;
    back[l].capacity_MB = caches[l].capacity_MB;
    if (l + 1 < back.size() && !(back[l].capacity_MB < back[l + 1].capacity_MB)) continue;
    LevelFit f = fit_memory_levels(curve, back, miss_cost);
    if (f.sum_sq_rel_error <= 1.25 * best.sum_sq_rel_error) best = std::move(f);
  }
  for (size_t l = 0; l < caches.size(); ++l)
    if (best.caches[l].capacity_MB != caches[l].capacity_MB)
      best.notes.push_back(fmt::format("{}: effective capacity {:.3g} MB of {:.4g} MB detected (median error over the "
                                       "curve {:.1f} % at the detected sizes)", caches[l].name, best.caches[l].capacity_MB,
                                       caches[l].capacity_MB, detected.median_abs_error_pct));
  return best;
}

}  // namespace privrec::sim
