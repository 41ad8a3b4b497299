#pragma once
// Trace files. Two formats (README, "Trace formats"):
//  - binary (.prvt or any other name): magic "PRVTRACE", version, counts, then each batch;
//  - text (.txt): a header line "privrec-trace-text v1 dense=D tables=T batch=B", then one example
//    per line: label, D dense values, and per table "|" followed by that bag's row ids.
// Loading checks counts, offsets, labels, values and truncation, and names the place that is wrong.
#include <string>
#include <vector>

#include "models/workload.hpp"
#include "traces/trace_source.hpp"

namespace privrec {

struct TraceData {
  int64_t num_tables = 0;
  int64_t num_dense = 0;
  std::vector<Batch> batches;
};

enum class TraceFormat { binary, text };
TraceFormat trace_format_for_path(const std::string& path);  // .txt is text, everything else binary

TraceData read_trace(const std::string& path);  // throws InputError
void write_trace(const std::string& path, const TraceData& trace);
// In `format` whatever the name (a temporary name of the final file, for instance).
void write_trace(const std::string& path, const TraceData& trace, TraceFormat format);

// Every bag's row ids against the workload's tables; throws InputError naming batch, table, example.
void check_trace_against(const TraceData& trace, const Workload& workload, const std::string& path);

class FileTrace : public TraceSource {
 public:
  FileTrace(TraceData data, std::string path) : data_(std::move(data)), path_(std::move(path)) {}
  int64_t num_batches() const override { return static_cast<int64_t>(data_.batches.size()); }
  Batch batch(int64_t index) const override { return data_.batches.at(index % num_batches()); }
  int64_t num_tables() const override { return data_.num_tables; }
  int64_t num_dense() const override { return data_.num_dense; }
  std::string describe() const override { return "file(" + path_ + ")"; }
  const TraceData& data() const { return data_; }

 private:
  TraceData data_;
  std::string path_;
};

}  // namespace privrec
