#include "models/algorithm.hpp"

#include <cmath>

#include <fmt/format.h>

#include "models/config_error.hpp"

namespace privrec {

// Each algorithm's definition and plan lives in models/algorithms/; registering one is one line here.
AlgorithmInfo sgd_algorithm();
AlgorithmInfo dpsgd_b_algorithm();
AlgorithmInfo dpsgd_r_algorithm();
AlgorithmInfo dpsgd_f_algorithm();
AlgorithmInfo eana_algorithm();
AlgorithmInfo lazydp_algorithm();
AlgorithmInfo adafest_algorithm();
AlgorithmInfo dp_fest_algorithm();

const std::vector<AlgorithmInfo>& algorithm_registry() {
  static const std::vector<AlgorithmInfo> registry = {
      sgd_algorithm(),  dpsgd_b_algorithm(), dpsgd_r_algorithm(), dpsgd_f_algorithm(),
      eana_algorithm(), lazydp_algorithm(),  adafest_algorithm(), dp_fest_algorithm(),
  };
  return registry;
}

std::string algorithm_names() {
  std::string known;
  for (const auto& a : algorithm_registry()) known += (known.empty() ? "" : ", ") + std::string(a.name);
  return known;
}

const AlgorithmInfo& algorithm_info(AlgorithmKind kind) {
  for (const auto& a : algorithm_registry())
    if (a.kind == kind) return a;
  throw std::logic_error("algorithm missing from the registry");
}

AlgorithmKind parse_algorithm(const std::string& name) {
  for (const auto& a : algorithm_registry())
    if (name == a.name) return a.kind;
  throw InputError("--algo " + name + ": unknown algorithm (expected one of " + algorithm_names() + ")");
}

std::string noise_source_name(NoiseSource s) {
  switch (s) {
    case NoiseSource::gaussian: return "gaussian";
    case NoiseSource::ones: return "ones";
    case NoiseSource::zero: return "zero";
  }
  return "?";
}

NoiseSource parse_noise_source(const std::string& name) {
  if (name == "gaussian") return NoiseSource::gaussian;
  if (name == "ones") return NoiseSource::ones;
  if (name == "zero") return NoiseSource::zero;
  throw InputError("--noise " + name + ": expected gaussian, ones or zero");
}

double AlgorithmConfig::lr_at(int64_t step) const { return lr * std::pow(lr_decay, static_cast<double>(step - 1)); }

double AlgorithmConfig::noise_stddev() const { return sigma == 0 ? 0.0 : sigma * clip; }

void AlgorithmConfig::validate() const {
  auto bad = [](const char* flag, double v, const char* expected) {
    return InputError(fmt::format("{} {}: expected {}", flag, v, expected));
  };
  if (!(lr > 0) || !std::isfinite(lr)) throw bad("--lr", lr, "a positive finite number");
  if (!(lr_decay > 0) || lr_decay > 1) throw bad("--lr-decay", lr_decay, "a number in (0, 1]");
  if (!(clip > 0)) throw bad("--clip", clip, "a positive number (or inf to turn clipping off)");
  if (!(sigma >= 0) || !std::isfinite(sigma)) throw bad("--sigma", sigma, "a finite number >= 0");
  if (sigma > 0 && std::isinf(clip) && is_dp_family())
    throw InputError(fmt::format("--sigma {} with --clip inf: noise stddev sigma*C needs a finite clip norm", sigma));
  if (const auto check = algorithm_info(kind).validate_params) check(*this);
}

nlohmann::json AlgorithmConfig::to_json() const {
  nlohmann::json j = {{"name", algorithm_info(kind).name}, {"lr", lr},     {"lr_decay", lr_decay},
                      {"seed", seed},                      {"noise", noise_source_name(noise)}};
  if (is_dp_family()) {
    j["clip"] = std::isinf(clip) ? nlohmann::json("inf") : nlohmann::json(clip);
    j["sigma"] = sigma;
    j["differentially_private"] = algorithm_info(kind).differentially_private;
  }
  if (const auto add = algorithm_info(kind).params_json) add(*this, j);
  return j;
}

}  // namespace privrec
