// lazydp (Lim et al., ASPLOS 2024): dpsgd-f's model with noise applied lazily. The gradient
// update touches only the batch's rows and owes every row this step's noise; the rows the next
// batch will read receive what they owe (lookahead); every row's pending noise is flushed before
// the model is released.
#include "models/algorithm.hpp"
#include "models/algorithms/plan_parts.hpp"
#include "models/config_error.hpp"

namespace privrec {

std::string lazy_noise_mode_name(LazyNoiseMode m) { return m == LazyNoiseMode::exact ? "exact" : "aggregated"; }

LazyNoiseMode parse_lazy_noise_mode(const std::string& name) {
  if (name == "aggregated") return LazyNoiseMode::aggregated;
  if (name == "exact") return LazyNoiseMode::exact;
  throw InputError("--lazydp-noise " + name + ": expected aggregated or exact");
}

AlgorithmInfo lazydp_algorithm() {
  using namespace plan_parts;
  Plan p;
  p.step = concat(ghost_clipped_step(table_update(Stage::dp_update, NoiseTarget::next_batch_rows)),
                  lazy_catchup());
  p.finish = {{Stage::lazydp_flush, {{OpKind::lazy_flush}}}};
  return {AlgorithmKind::lazydp,
          "lazydp",
          "dpsgd-f with lazily applied noise (history table, lookahead, flush)",
          true,
          std::move(p),
          nullptr,
          [](const AlgorithmConfig& c, nlohmann::json& j) { j["lazydp_noise"] = c.lazydp.to_json(); }};
}

}  // namespace privrec
