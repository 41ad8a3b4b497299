#include "models/privacy/privacy_budget.hpp"

#include <cmath>

#include <fmt/format.h>

#include "models/config_error.hpp"
#include "models/privacy/rdp_accountant.hpp"

namespace privrec::privacy {

void PrivacySettings::validate() const {
  if (!(delta > 0 && delta < 1)) throw InputError(fmt::format("--delta {}: expected a number in (0, 1)", delta));
  if (sampling_rate != 0 && !(sampling_rate > 0 && sampling_rate <= 1))
    throw InputError(fmt::format("--sampling-rate {}: expected a number in (0, 1]", sampling_rate));
  if (dataset_examples < 0)
    throw InputError(fmt::format("--dataset-size {}: expected a positive number of examples", dataset_examples));
  if (sampling_rate != 0 && dataset_examples != 0)
    throw InputError("--sampling-rate and --dataset-size both set the sampling rate: give one");
  if (!(epochs > 0) || !std::isfinite(epochs))
    throw InputError(fmt::format("--epochs {}: expected a positive number", epochs));
  if (train_steps < 0) throw InputError(fmt::format("--train-steps {}: expected at least 1", train_steps));
  if (target_epsilon != 0 && (!(target_epsilon > 0) || !std::isfinite(target_epsilon)))
    throw InputError(fmt::format("--target-epsilon {}: expected a positive finite number", target_epsilon));
  if (!(adafest_selection_budget > 0 && adafest_selection_budget < 1))
    throw InputError(
        fmt::format("--adafest-selection-budget {}: expected a fraction in (0, 1)", adafest_selection_budget));
}

nlohmann::json PrivacyReport::to_json() const {
  nlohmann::json j = {{"dp_guarantee", dp_guarantee}, {"note", note}, {"delta", delta}};
  j["epsilon"] = accounted ? nlohmann::json(epsilon) : nlohmann::json(nullptr);
  if (accounted) {
    j["optimal_order"] = optimal_order;
    j["accountant"] = "RDP, Poisson-subsampled Gaussian, tight conversion";
  }
  if (sampling_rate > 0) j["sampling_rate"] = sampling_rate;
  if (steps > 0) j["steps"] = steps;
  if (noise_multiplier > 0) j["noise_multiplier"] = noise_multiplier;
  j["target_epsilon"] = target_epsilon ? nlohmann::json(*target_epsilon) : nlohmann::json(nullptr);
  return j;
}

std::string PrivacyReport::summary() const {
  if (!accounted) return fmt::format("privacy: no epsilon; {}", note);
  return fmt::format("privacy: epsilon {:.4g} at delta {:g} (q {:.4g}, {} steps, noise multiplier {:.4g}, order {:g}){}",
                     epsilon, delta, sampling_rate, steps, noise_multiplier, optimal_order,
                     note.empty() ? "" : "; " + note);
}

namespace {
// Sets the algorithm's noise so that the run meets the target epsilon (adafest: both its
// mechanisms, split by the selection budget).
void set_noise_for_target(const PrivacySettings& s, const PrivacyReport& r, const std::vector<double>& once,
                          AlgorithmConfig& cfg) {
  if (!once.empty()) {  // the one-shot mechanism alone must leave room for the steps
    const double floor = epsilon_from_rdp(default_orders(), once, s.delta).epsilon;
    if (floor >= s.target_epsilon)
      throw InputError(fmt::format("--target-epsilon {}: dp-fest's histogram alone spends epsilon {:.4g} (--fest-sigma "
                                   "{} over --fest-c1 {}); raise --fest-sigma",
                                   s.target_epsilon, floor, cfg.fest.sigma, cfg.fest.c1));
  }
  const double sigma_eff =
      sigma_for_epsilon(r.sampling_rate, r.steps, s.delta, s.target_epsilon, default_orders(), Conversion::tight, once);
  if (cfg.kind == AlgorithmKind::adafest) {
    const AdafestSplit split = split_adafest(sigma_eff, s.adafest_selection_budget);
    cfg.adafest.sigma1 = split.selection_multiplier * cfg.adafest.c1;
    cfg.sigma = split.gradient_multiplier;
  } else {
    cfg.sigma = sigma_eff;
  }
  cfg.validate();
}

// The noise multiplier the steps are accounted with, and what the note says of it.
void set_noise_multiplier(const AlgorithmConfig& cfg, PrivacyReport& r) {
  const AlgorithmKind k = cfg.kind;
  if (k == AlgorithmKind::adafest) {
    r.noise_multiplier = cfg.sigma > 0 ? effective_noise_multiplier({cfg.adafest.sigma1 / cfg.adafest.c1, cfg.sigma})
                                       : 0.0;
    r.note = fmt::format("adafest: selection (sigma1/C1 = {:.4g}) and gradient (sigma2 = {:.4g}) compose as one "
                         "Gaussian mechanism",
                         cfg.adafest.sigma1 / cfg.adafest.c1, cfg.sigma);
    return;
  }
  r.noise_multiplier = cfg.sigma;
  if (k == AlgorithmKind::lazydp) r.note = "lazydp releases dpsgd-f's model: the same mechanism, the same epsilon";
  if (k == AlgorithmKind::dp_fest)
    r.note = fmt::format("dp-fest: the steps compose with the one-shot histogram of noise multiplier {:.4g} "
                         "(fest-sigma / fest-c1)",
                         cfg.fest.sigma / cfg.fest.c1);
}
}  // namespace

PrivacyReport account(const PrivacySettings& s, const Workload& w, int64_t batch, AlgorithmConfig& cfg) {
  s.validate();
  PrivacyReport r;
  r.delta = s.delta;
  if (s.target_epsilon > 0) r.target_epsilon = s.target_epsilon;

  // The sampling rate and the length of the training the run stands for.
  const int64_t examples = s.dataset_examples > 0 ? s.dataset_examples : w.dataset_examples;
  if (s.sampling_rate > 0) {
    r.sampling_rate = s.sampling_rate;
  } else if (examples > 0) {
    if (batch > examples)
      throw InputError(fmt::format("--dataset-size {}: smaller than the batch size {}", examples, batch));
    r.sampling_rate = static_cast<double>(batch) / static_cast<double>(examples);
  }
  if (r.sampling_rate > 0) {
    const double steps = s.train_steps > 0 ? static_cast<double>(s.train_steps) : std::ceil(s.epochs / r.sampling_rate);
    if (steps > 1e15) throw InputError(fmt::format("--epochs {}: {:g} steps is more than can be accounted", s.epochs, steps));
    r.steps = static_cast<int64_t>(steps);
  }

  const AlgorithmKind k = cfg.kind;
  if (k == AlgorithmKind::sgd) {
    r.dp_guarantee = false;
    r.note = "sgd adds no noise: no differential privacy";
    return r;
  }
  if (k == AlgorithmKind::eana) {
    r.dp_guarantee = false;
    r.note = "eana: no DP guarantee for its embedding tables (which rows change reveals which feature values occurred)";
    return r;
  }
  if (r.sampling_rate == 0) {
    if (s.target_epsilon > 0)
      throw InputError(fmt::format("--target-epsilon {}: needs a sampling rate; {} has no dataset size, so give "
                                   "--dataset-size N or --sampling-rate Q",
                                   s.target_epsilon, w.name));
    r.note = fmt::format("{} has no dataset size: give --dataset-size N or --sampling-rate Q", w.name);
    return r;
  }

  // dp-fest's histogram is one more Gaussian mechanism, on the whole data once (sensitivity C1).
  const std::vector<double> once =
      k == AlgorithmKind::dp_fest ? gaussian_rdp(cfg.fest.sigma / cfg.fest.c1) : std::vector<double>{};
  if (s.target_epsilon > 0) set_noise_for_target(s, r, once, cfg);
  set_noise_multiplier(cfg, r);
  if (cfg.noise != NoiseSource::gaussian) {
    r.dp_guarantee = false;
    r.accounted = false;
    r.note = fmt::format("--noise {}: deterministic stand-in noise gives no privacy", noise_source_name(cfg.noise));
    return r;
  }
  if (r.noise_multiplier == 0 || std::isinf(cfg.clip)) {
    r.dp_guarantee = false;
    r.note = std::isinf(cfg.clip) ? "--clip inf: unbounded sensitivity, no privacy" : "--sigma 0: no noise, no privacy";
    return r;
  }
  const Epsilon e =
      dpsgd_epsilon(r.sampling_rate, r.noise_multiplier, r.steps, s.delta, default_orders(), Conversion::tight, once);
  r.accounted = true;
  r.epsilon = e.epsilon;
  r.optimal_order = e.order;
  return r;
}

}  // namespace privrec::privacy
