#pragma once
// Case lists for calibrate and validate (configs/validation/*.json, built in): each case is a workload, an
// algorithm and how many steps to run, read strictly (unknown keys refused, file/key/value named).
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/algorithm.hpp"
#include "models/workload.hpp"

namespace privrec::cli {

struct Case {
  std::string model;
  double table_scale = 1;
  std::string algo;
  int64_t batch = 0, pooling = 0;  // 0: the workload's
  std::string dist;                // empty: the workload's
  int64_t steps = 8, warmup = 2;
  // A sharded case (run under mpirun with this many ranks, kernels/mpi/): "table_wise" or
  // "row_wise"; empty with ranks 1 for one process.
  std::string sharding;
  int64_t ranks = 1;

  std::string label() const;
  Workload workload() const;
  AlgorithmConfig algorithm(uint64_t seed) const;
  nlohmann::json to_json() const;
};

std::vector<Case> load_cases(const std::string& file);
std::vector<Case> parse_cases(const nlohmann::json& j, const std::string& file);

// A case list file, else the built-in copy of configs/validation/<its stem>.json (compiled in like
// the hardware presets, so calibrate and validate work from any directory). tools/case_list_presets.cpp.
std::vector<Case> load_case_list(const std::string& name_or_file);

}  // namespace privrec::cli
