#pragma once
// The one step loop: step t (1-based) trains on batch t-1 of the trace and may look at batch t
// (lazydp's lookahead); on the last step there is no next batch. Every driver of steps, real or
// modeled, walks the trace through this.
#include <cstdint>
#include <utility>

#include "traces/trace_source.hpp"

namespace privrec {

// Calls f(t, batch, next) for t = 1..steps; next is nullptr on the last step.
template <typename F>
void walk_steps(const TraceSource& trace, int64_t steps, F&& f) {
  if (steps < 1) return;
  Batch current, next;  // refilled step after step (TraceSource::batch_into)
  trace.batch_into(0, current);
  for (int64_t t = 1; t <= steps; ++t) {
    const bool has_next = t < steps;
    if (has_next) trace.batch_into(t, next);
    f(t, static_cast<const Batch&>(current), has_next ? static_cast<const Batch*>(&next) : nullptr);
    if (has_next) std::swap(current, next);
  }
}

}  // namespace privrec
