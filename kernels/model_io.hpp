#pragma once
// Saved models (README, "Saved model format"): magic "PRVMODEL", u32 version 1, u32 0, u64 n,
// n bytes of JSON header (workload, algorithm, steps), then every table's rows x dim floats, then
// every layer's weights (out x in) and biases (out), bottom MLP first; little-endian fp32.
#include <string>

#include <nlohmann/json.hpp>

#include "kernels/cpu/dlrm_model.hpp"

namespace privrec {

void save_model(const std::string& path, const cpu::DlrmModel& m, const nlohmann::json& info);
cpu::DlrmModel load_model(const std::string& path, nlohmann::json* header = nullptr);

struct TensorDiff {
  std::string name;
  double max_abs_diff = 0;
  double max_abs_value = 0;
  double max_rel_diff = 0;  // max_abs_diff / max_abs_value (0 if the tensor is all zeros)
};

// Per table, per MLP layer and overall ("all"); throws InputError if the shapes differ.
std::vector<TensorDiff> diff_models(const cpu::DlrmModel& a, const cpu::DlrmModel& b);

}  // namespace privrec
