#pragma once
// Converts the Criteo display-advertising click log (label, 13 integer features, 26 hashed
// categorical features) into a trace: tab-separated as released, or comma-separated with a header
// line. Missing integers become 0; integers x become log(1 + max(x, 0)); each categorical value
// (missing included, as its own value) is hashed into a row of its table.
#include <string>

#include "models/workload.hpp"
#include "traces/trace_file.hpp"

namespace privrec {

struct CriteoConvertResult {
  TraceData trace;
  int64_t examples = 0;
  int64_t missing_dense = 0;
  int64_t missing_categorical = 0;
};

CriteoConvertResult convert_criteo(const std::string& path, const Workload& workload, int64_t max_examples = -1);
int64_t criteo_row(const std::string& value, size_t table, int64_t rows);

}  // namespace privrec
