// The published workloads of REFERENCE.md section 3 (fp32), plus `tiny` for tests.
#include <fmt/format.h>

#include "models/workload.hpp"

namespace privrec {

namespace {

Workload rmc(const std::string& name, int tables, int64_t rows, int64_t pooling, std::vector<int64_t> bottom,
             std::vector<int64_t> top) {
  Workload w;
  w.name = name;
  w.dense_features = 13;
  w.bottom_mlp = std::move(bottom);
  w.top_mlp = std::move(top);
  w.batch_size = 2048;
  for (int i = 0; i < tables; ++i) w.tables.push_back({fmt::format("t{}", i), rows, 32, pooling, {}});
  return w;
}

Workload mlperf_dlrm() {
  static const int64_t rows[] = {39884406, 39043,    17289, 7420,   20263,    3,        7120,  1543,  63,
                                 38532951, 2953546,  403346, 10,    2208,     11938,    155,   4,     976,
                                 14,       39979771, 25641295, 39664984, 585935, 12972, 108,   36};
  Workload w;
  w.name = "mlperf-dlrm";
  w.dense_features = 13;
  w.bottom_mlp = {512, 256, 128};
  w.top_mlp = {1024, 1024, 512, 256, 1};
  w.batch_size = 2048;
  // The Criteo 1TB click logs: all 24 days (REFERENCE.md section 3).
  w.dataset_examples = 4373472329;
  for (int i = 0; i < 26; ++i) w.tables.push_back({fmt::format("C{}", i + 1), rows[i], 128, 1, {}});
  return w;
}

Workload tiny() {
  Workload w;
  w.name = "tiny";
  w.dense_features = 4;
  w.bottom_mlp = {16, 8};
  w.top_mlp = {16, 1};
  w.batch_size = 16;
  w.tables = {{"t0", 1000, 8, 3, {}}, {"t1", 200, 8, 2, {}}, {"t2", 50, 8, 4, {}}};
  return w;
}

}  // namespace

std::vector<std::string> workload_preset_names() { return {"mlperf-dlrm", "rmc1", "rmc2", "rmc3", "tiny"}; }

bool workload_preset(const std::string& name, Workload& out) {
  if (name == "mlperf-dlrm") out = mlperf_dlrm();
  else if (name == "rmc1") out = rmc("rmc1", 10, 75000000, 80, {256, 128, 32}, {256, 64, 1});
  else if (name == "rmc2") out = rmc("rmc2", 40, 18750000, 80, {256, 128, 32}, {512, 128, 1});
  else if (name == "rmc3") out = rmc("rmc3", 10, 75000000, 20, {2560, 512, 32}, {512, 128, 1});
  else if (name == "tiny") out = tiny();
  else return false;
  return true;
}

}  // namespace privrec
