#pragma once
// lazydp's own parameter (models/algorithms/lazydp.cpp has its plan).
#include <string>

#include <nlohmann/json.hpp>

namespace privrec {

enum class LazyNoiseMode { aggregated, exact };
std::string lazy_noise_mode_name(LazyNoiseMode m);
LazyNoiseMode parse_lazy_noise_mode(const std::string& name);  // throws InputError naming --lazydp-noise

struct LazyDpParams {
  // aggregated: one draw of sqrt(sum of skipped steps' scale^2) sigma C per owed row; exact: the
  // skipped steps' own draws, each with its step's scale (what dpsgd-f drew, value for value).
  LazyNoiseMode noise = LazyNoiseMode::aggregated;
  nlohmann::json to_json() const { return lazy_noise_mode_name(noise); }
};

}  // namespace privrec
