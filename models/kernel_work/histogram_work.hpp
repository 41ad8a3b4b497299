#pragma once
// The work of the run's contribution histogram (traces/row_histogram.cpp), which both backends
// build on the host from the trace before choosing dp-fest's fixed rows: every id read, each bag
// sorted twice (for the clip factors, for its distinct rows), one hashed count update (8-byte key
// and count, read and written) per distinct row of a bag.
#include "models/kernel_work/step_sizes.hpp"
#include "models/work_counters.hpp"

namespace privrec {

inline WorkCounters contribution_histogram_work(const TableSizes& t) {
  constexpr uint64_t kI = sizeof(int64_t);
  WorkCounters w;
  w.bytes_read_seq = t.trace_lookups * kI;
  // Every bag sorted once for its distinct rows' counts, and every id hashed once for the clip
  // factors (traces/batch.hpp BagDistinct: a key-step per id).
  w.sort_ops = t.trace_bag_sort_ops + t.trace_lookups;
  w.bytes_read_rand = t.trace_bag_distinct * 2 * kI;
  w.bytes_written_rand = t.trace_bag_distinct * 2 * kI;
  w.flops = t.trace_bag_distinct;
  return w;
}

}  // namespace privrec
