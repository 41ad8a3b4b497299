#pragma once
// adafest's false positives on the device, drawn in parallel yet exactly as the CPU backend walks
// them one by one (kernels/cpu/adafest_selection.cpp: pos = -1, then pos += gap_j + 1 for j = 0, 1,
// ... up to and including the first pos >= rows). Gap j is a pure function of j
// (models/rng/geometric_gap.hpp), so a chunk of draws is one inclusive prefix sum of the advances
// gap_j + 1, started from where the previous chunk ended (the carry). These are the pure pieces of
// that plan: the kernels in adafest_selection.cu use them, and a host test replays the chunked walk
// with them against the CPU backend (plain C++, no CUDA headers).
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "models/rng/geometric_gap.hpp"
#include "models/rng/philox.hpp"  // PRIVREC_HD

namespace privrec::cuda::false_positives {

// Past every table: an advance or a position this large ends the walk. The sums saturate here so
// that 64-bit integers never overflow, whatever the gaps (tiny p gives gaps near 1e300 or +inf).
constexpr int64_t kFar = int64_t{1} << 62;
// The CPU's positions are doubles, exact integers only below 2^53; below this many rows the integer
// sums here reach the same positions and stop at the same draw (the CPU's last, rounded addition
// still lands at or past the row count).
constexpr int64_t kMaxRows = int64_t{1} << 53;
// Draws per chunk: large enough that launches and the host's one read-back per chunk stay small
// next to the drawing, small enough that a chunk's positions (8 bytes a draw) stay a few tens of MB.
constexpr int64_t kMinChunk = int64_t{1} << 12;
constexpr int64_t kMaxChunk = int64_t{1} << 22;

// What names one table's stream of gaps in one step.
struct GapStream {
  uint64_t seed = 0, step = 0;
  uint32_t table = 0;
  double log1m_p = 0;  // log1p(-p) on the host, as the CPU backend's
};

// gap + 1 as an integer. gap is floor(ln u / ln(1 - p)): an integral double >= 0 (-0 when p = 1),
// huge or +inf for tiny p. Anything not below 2^62 (NaN too) saturates and so ends the walk.
PRIVREC_HD inline int64_t advance(double gap) {
  return gap < static_cast<double>(kFar) ? static_cast<int64_t>(gap) + 1 : kFar;
}

// a + b, saturated at kFar, for -1 <= a <= kFar and 0 <= b <= kFar (never overflows). On [0, kFar]
// it is min(a + b, kFar): associative, as a parallel scan needs.
PRIVREC_HD inline int64_t saturating_add(int64_t a, int64_t b) { return a >= kFar - b ? kFar : a + b; }

// Input i of the scan of the chunk that starts at draw `first_draw`: that draw's advance, with the
// carry (the position the previous chunk ended at; -1 before draw 0) folded into input 0, so the
// inclusive scan yields the positions themselves. Every input is then in [0, kFar].
PRIVREC_HD inline int64_t scan_input(const GapStream& g, int64_t first_draw, int64_t i, int64_t carry) {
  const int64_t a =
      advance(geometric_gap(g.seed, g.step, g.table, static_cast<uint64_t>(first_draw + i), g.log1m_p));
  return i == 0 ? saturating_add(carry, a) : a;
}

// Positions strictly increase, so exactly one draw ends the walk: the first at or past the last
// row, the one whose predecessor (the carry for a chunk's first draw) is still inside the table.
PRIVREC_HD inline bool ends_walk(int64_t before, int64_t pos, int64_t rows) { return pos >= rows && before < rows; }

// Draws the walk needs with near certainty. Every draw but the last lands on a row, and every row
// is a Bernoulli(p) trial: draws - 1 is Binomial(rows, p), so mean + 8 sd + 64 is exceeded with
// negligible probability (a longer walk just takes more chunks), and rows + 1 is a hard bound
// (each draw advances at least one row from -1).
inline int64_t draw_estimate(int64_t rows, double p) {
  if (!(p > 0) || rows < 0) return 0;
  const double n = static_cast<double>(rows), mean = std::min(p, 1.0) * n;
  const double e = std::ceil(mean + 8.0 * std::sqrt(mean * std::max(0.0, 1.0 - p)) + 64.0);
  return e >= n + 1.0 ? rows + 1 : static_cast<int64_t>(e);
}

// Draws per chunk: the estimate (so one chunk nearly always ends the walk), at least kMinChunk,
// at most max_chunk, and never more than the walk can use.
inline int64_t chunk_draws(int64_t rows, double p, int64_t max_chunk = kMaxChunk) {
  if (draw_estimate(rows, p) == 0) return 0;
  const int64_t c = std::min(std::max(draw_estimate(rows, p), kMinChunk), max_chunk);
  return std::max<int64_t>(1, std::min(c, rows + 1));
}

// Draws in the chunk starting at draw `first_draw`: a chunk, or what is left of the hard bound.
inline int64_t chunk_items(int64_t rows, int64_t chunk, int64_t first_draw) {
  return std::max<int64_t>(0, std::min(chunk, rows + 1 - first_draw));
}

}  // namespace privrec::cuda::false_positives
