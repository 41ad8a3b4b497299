#pragma once
// Fitting a profile's per-stage calibration: measured = efficiency x roofline + fixed cost (plus
// the modeled overheads), by least squares on the relative error over the calibration cases, with
// the fixed cost held at 0 where it would come out negative or a stage has a single case. And the
// memory levels' row-random bandwidths from gathers over working sets of several sizes. Measured
// numbers come in as data; nothing here runs a kernel.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "models/stage.hpp"
#include "sim/hardware_profile.hpp"
#include "sim/time_model.hpp"

namespace privrec::sim {

struct StageObservation {
  Stage stage;
  double measured_ms = 0;
  StageTime modeled;  // from a profile without stage efficiencies
  int64_t case_id = -1;  // the calibration case it ran (repeats of a case share it); -1: a case of its own
};

// Keys are a stage ("dp.update") or a stage and the roofline bound it hit ("dp.update:rng").
struct StageFit {
  std::map<std::string, double> efficiency;  // > 0
  std::map<std::string, double> fixed_ms;    // >= 0
  std::map<std::string, double> bag_ns;      // >= 0, only for stages whose cases walk bags
  std::map<std::string, double> launch_us;   // >= 0, a cost per launch beyond the profile's overhead
  double overlap_fraction = 1.0;             // how the terms were combined (ProcessorProfile)
  std::map<std::string, double> overlap;     // per stage where it has its own (fit_calibration)
  double median_abs_error_pct = 0;           // of the fitted model over the observations
  // Stages observed (a measured time above 0) with no usable observation: every one measured at or
  // below its modeled overheads and link time, or with no roofline term. They have no key above,
  // so the model prices them at efficiency 1 with no fixed cost; calibrate warns about them.
  std::vector<std::string> unfitted;
};

// What calibrate says of fit.unfitted: "" when every observed stage was fitted, else a warning
// that names them.
std::string unfitted_warning(const StageFit& fit);

// The per-stage fit with the terms combined at a given overlap fraction.
StageFit fit_stages(const std::vector<StageObservation>& observations, double overlap_fraction = 1.0);

// The overlap fraction too: fit_stages at 0, 0.05, ..., 1, keeping the one whose fitted model has
// the smallest median absolute error over the observations (ties go to more overlap). A stage seen
// in kOwnOverlapCases distinct cases or more (repeats of a case count once) then gets the grid value
// that fits its own observations best, with that fit's factors (its overlap, efficiencies, fixed,
// bag and launch costs): kernels differ in how their memory, arithmetic and sampling work overlap,
// and one fraction for every stage left the CPU's bwd.emb 20-30 % too fast on the held-out cases
// while other stages wanted a different one. The global fraction stays for the other stages.
constexpr size_t kOwnOverlapCases = 6;
StageFit fit_calibration(const std::vector<StageObservation>& observations);

// --- Memory levels from a footprint curve --------------------------------------------------------
//
// Under uniformly random row accesses over F bytes an LRU level of capacity C holds min(1, C/F) of
// them (cumulatively: it holds what the levels before it hold), so level L serves
// s_L(F) = min(1, C_L/F) - min(1, C_{L-1}/F) and memory the rest, and a byte takes
// t(F) = sum_L s_L(F) / bw_L: linear in the unknowns 1/bw_L. (Memory's share is weighted by the
// miss-cost factor at that miss fraction where the profile measured one: sparse misses among the
// hits of a footprint just past the last cache cost more each than when every lookup misses.)

// One point of the curve: gathers of `row_B`-byte rows uniformly over `footprint_MB` (1e6 bytes).
struct FootprintPoint {
  double footprint_MB = 0, row_B = 0, GBps = 0;
};

// s_L(F) of every cache (nearest first), then memory's share; they sum to 1.
std::vector<double> uniform_access_shares(const std::vector<CacheLevel>& caches, double footprint_MB);

// The same shares with memory's weighted by `miss_cost` at its share (for uniform rows, memory's
// share is the miss fraction): the time per byte of a uniform gather is sum_L w_L / bw_L.
std::vector<double> uniform_access_weights(const std::vector<CacheLevel>& caches, const CostCurve& miss_cost,
                                           double footprint_MB, double row_B);

// What the model says a uniform gather over `footprint_MB` reaches on `p` (its caches, then its
// memory): 1 / t(F). The figure to hold a probe's measurement at that footprint against.
double uniform_gather_GBps(const ProcessorProfile& p, double footprint_MB, double row_B);

// The row-random bandwidth at `row_B` of level `level` (0 .. caches - 1: a cache; caches.size():
// memory) with which `p`'s levels reproduce `measured_GBps` for a uniform gather over
// `footprint_MB`, the other levels kept: what a probe at that footprint says the level does now,
// the others' share taken out (memory from a probe over a large buffer; a cache from one inside
// it). The measured figure itself where the level serves everything, nothing, or the other
// levels alone would already be slower than measured.
double level_random_GBps_matching(const ProcessorProfile& p, size_t level, double footprint_MB, double row_B,
                                  double measured_GBps);

struct LevelFit {
  // The caches as given, random_GBps_by_row_B fitted (one figure per row size of the curve) and
  // random_GBps the 128 B figure (interpolated in log(row bytes) when 128 B was not measured).
  std::vector<CacheLevel> caches;
  std::vector<std::pair<double, double>> memory_random_GBps_by_row_B;
  double memory_random_GBps = 0;     // 128 B rows
  double median_abs_error_pct = 0;   // of the fitted model's GB/s over every point of the curve
  double sum_sq_rel_error = 0;       // what the fit minimizes: sum over the points of (t_model / t - 1)^2
  std::vector<std::string> notes;    // levels the curve could not tell apart, per row size
};

// Per row size, least squares on the relative error (rows weighted by 1 / t(F)) with bandwidths
// that never rise with distance: the unknowns are 1/bw_1 and each farther level's extra time per
// byte, 1/bw_L - 1/bw_{L-1} >= 0 (non-negative least squares, exact over every active set; the
// model is the same, written as nearest level + miss penalties). A level the curve cannot tell
// from the one before it (its share never isolated: e.g. no footprint between them and the
// others all beyond both, so their columns are dependent) is merged with it: it gets the nearer
// level's bandwidth, fitted over both, and a note says so; likewise a farther level fitted faster
// than a nearer one. Throws std::invalid_argument for an empty curve, a point that is not
// positive and finite, caches not strictly growing, or a row size whose footprints cannot
// identify memory's bandwidth (none beyond the largest cache, or a single footprint size).
// `miss_cost`: memory's miss-cost curve (calibrate measures it beside the footprint curve); the
// memory share of each point is weighted by it (uniform_access_weights). Empty: factor 1.
LevelFit fit_memory_levels(const std::vector<FootprintPoint>& curve, const std::vector<CacheLevel>& caches,
                           const CostCurve& miss_cost = {});

// The same fit with each cache's capacity fitted too, as the capacity the gathers behave as if the
// cache had (a VM's L3 shared with its neighbours holds far less of this process's rows than its
// size): each capacity searched over its detected size x 2^(-k/4), k = 0..16 (down to 1/16 of it,
// never above it, capacities kept strictly growing), coordinate by coordinate from the detected
// sizes, minimizing sum_sq_rel_error. The fitted capacities are kept only where they bring
// sum_sq_rel_error down by a quarter or more (the curve's noise alone moves it less), and each
// level goes back to its detected size where that costs less than a quarter more; a note names
// each level moved. Throws as fit_memory_levels.
LevelFit fit_memory_levels_and_capacities(const std::vector<FootprintPoint>& curve, const std::vector<CacheLevel>& caches,
                                          const CostCurve& miss_cost = {});

}  // namespace privrec::sim
