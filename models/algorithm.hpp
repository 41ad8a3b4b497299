#pragma once
// How the model is trained: the algorithm and its parameters (REFERENCE.md section 1).
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/algorithms/adafest.hpp"
#include "models/algorithms/dp_fest.hpp"
#include "models/algorithms/lazydp.hpp"
#include "models/plan.hpp"

namespace privrec {

enum class AlgorithmKind { sgd, dpsgd_b, dpsgd_r, dpsgd_f, eana, lazydp, adafest, dp_fest };

// Where noise samples come from. `ones` and `zero` make noise deterministic for tests: with `ones`
// every per-step sample is exactly 1, so k skipped steps sum to exactly k (in both lazydp modes).
enum class NoiseSource { gaussian, ones, zero };

struct AlgorithmConfig;

struct AlgorithmInfo {
  AlgorithmKind kind;
  const char* name;
  const char* summary;
  bool differentially_private;  // eana is not: which rows change reveals which values occurred
  Plan plan;                    // what one step does (models/algorithms/)
  // The algorithm's own parameters: checked (throws InputError naming the flag) and written into
  // the config's JSON. Null for an algorithm that has none.
  void (*validate_params)(const AlgorithmConfig&) = nullptr;
  void (*params_json)(const AlgorithmConfig&, nlohmann::json&) = nullptr;
};

// Every algorithm, in registration order (models/algorithm.cpp: one line each).
const std::vector<AlgorithmInfo>& algorithm_registry();
const AlgorithmInfo& algorithm_info(AlgorithmKind kind);
inline const Plan& plan_of(AlgorithmKind kind) { return algorithm_info(kind).plan; }
// "sgd, dpsgd-b, ..." for help texts and error messages.
std::string algorithm_names();
AlgorithmKind parse_algorithm(const std::string& name);  // throws InputError listing the known names

struct AlgorithmConfig {
  AlgorithmKind kind = AlgorithmKind::dpsgd_f;
  double lr = 0.05;
  double lr_decay = 1.0;  // lr at step t (1-based) is lr * lr_decay^(t-1)
  uint64_t seed = 1;
  // DP-SGD family (and adafest's gradient mechanism: C2, sigma2).
  double clip = 0.4;   // C; +infinity turns clipping off
  double sigma = 1.0;  // noise multiplier; noise stddev is sigma * C
  NoiseSource noise = NoiseSource::gaussian;
  // Parameters of one algorithm each, declared, validated and written to JSON by that algorithm
  // (models/algorithms/); only the chosen algorithm's are read.
  LazyDpParams lazydp;
  AdafestParams adafest;
  FestParams fest;

  bool is_dp_family() const { return kind != AlgorithmKind::sgd; }
  double lr_at(int64_t step) const;            // step is 1-based
  double noise_stddev() const;                 // sigma * C (0 when sigma is 0)
  // adafest: probability that a row no example touched passes the noisy threshold.
  double zero_count_selection_probability() const { return adafest.zero_count_selection_probability(noise); }
  void validate() const;                       // throws InputError naming the flag
  nlohmann::json to_json() const;
};

std::string noise_source_name(NoiseSource s);
NoiseSource parse_noise_source(const std::string& name);

}  // namespace privrec
