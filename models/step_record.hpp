#pragma once
// What one step (or the once-per-run setup or finish) did, stage by stage: the one record type
// that the kernels fill (with times) and the performance model fills (with predicted work).
#include <array>

#include <nlohmann/json.hpp>

#include "models/stage.hpp"
#include "models/work_counters.hpp"

namespace privrec {

struct StepRecord {
  std::array<bool, kStages> ran{};
  std::array<WorkCounters, kStages> work{};
  std::array<double, kStages> seconds{};  // measured runs only
  double loss = 0;
  nlohmann::json extras = nlohmann::json::object();

  // The counters of stage s, marking it as run.
  WorkCounters& at(Stage s) {
    ran[static_cast<size_t>(s)] = true;
    return work[static_cast<size_t>(s)];
  }
  const WorkCounters& of(Stage s) const { return work[static_cast<size_t>(s)]; }
};

}  // namespace privrec
