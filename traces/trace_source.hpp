#pragma once
// Where batches come from: a generator or a file. Batches are addressed by index so that lazydp
// can look one batch ahead and a generator can make any batch on demand.
#include <cstdint>
#include <string>
#include <vector>

#include "traces/batch.hpp"

namespace privrec {

class TraceSource {
 public:
  virtual ~TraceSource() = default;
  virtual int64_t num_batches() const = 0;  // -1: unbounded (generators)
  virtual Batch batch(int64_t index) const = 0;
  // The same batch into `out`, whose buffers a source may reuse: a step loop refills the two
  // batches it keeps instead of making fresh ones, whose memory the system would fault in again.
  virtual void batch_into(int64_t index, Batch& out) const { out = batch(index); }
  virtual int64_t num_tables() const = 0;
  virtual int64_t num_dense() const = 0;
  virtual std::string describe() const = 0;
};

// The distinct batches a run of `steps` steps reads: a file of fewer batches wraps around, and its
// examples are the same data again (what a one-shot mechanism over the data must count once).
inline int64_t distinct_batches(const TraceSource& trace, int64_t steps) {
  const int64_t n = trace.num_batches();
  return n > 0 && n < steps ? n : steps;
}

}  // namespace privrec
