#pragma once
// A trace that was read must be written and read back unchanged, in the same format.
#include <string>

#include "tests/fuzz/fuzz_input.hpp"
#include "traces/trace_file.hpp"

namespace privrec::fuzz {

inline bool same_trace(const TraceData& a, const TraceData& b) {
  if (a.num_tables != b.num_tables || a.num_dense != b.num_dense || a.batches.size() != b.batches.size()) return false;
  for (size_t i = 0; i < a.batches.size(); ++i) {
    const Batch &x = a.batches[i], &y = b.batches[i];
    if (x.size != y.size || x.num_dense != y.num_dense || x.dense != y.dense || x.labels != y.labels ||
        x.tables.size() != y.tables.size())
      return false;
    for (size_t t = 0; t < x.tables.size(); ++t)
      if (x.tables[t].offsets != y.tables[t].offsets || x.tables[t].indices != y.tables[t].indices) return false;
  }
  return true;
}

// Writes `trace` to `path` (whose name gives the format) and reads it back.
inline void check_round_trip(const TraceData& trace, const std::string& path) {
  TraceData again;
  try {
    write_trace(path, trace);
    again = read_trace(path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "the trace does not write and read back: %s\n", e.what());
    finding("trace round trip");
  }
  if (!same_trace(trace, again)) finding("trace round trip changed the trace");
}

// A trace file target: the input written as `name` (its extension gives the format), read, checked
// against the tiny workload as the commands do, and written as `copy` and read back unchanged.
inline int fuzz_trace_file(const uint8_t* data, size_t size, const InputFile& file, const InputFile& copy) {
  static const Workload workload = load_workload("tiny");
  const std::string& path = file.write(data, size);
  expect_only_input_errors([&] {
    const TraceData trace = read_trace(path);
    check_round_trip(trace, copy.write(nullptr, 0));
    check_trace_against(trace, workload, path);
  });
  return 0;
}

}  // namespace privrec::fuzz
