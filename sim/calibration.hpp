#pragma once
// Fitting a profile's per-stage calibration: measured = efficiency x roofline + fixed cost (plus
// the modeled overheads), by least squares on the relative error over the calibration cases, with
// the fixed cost held at 0 where it would come out negative or a stage has a single case. Measured
// numbers come in as data; nothing here runs a kernel.
#include <map>
#include <string>
#include <vector>

#include "models/stage.hpp"
#include "sim/time_model.hpp"

namespace privrec::sim {

struct StageObservation {
  Stage stage;
  double measured_ms = 0;
  StageTime modeled;  // from a profile without stage efficiencies
};

// Keys are a stage ("dp.update") or a stage and the roofline bound it hit ("dp.update:rng").
struct StageFit {
  std::map<std::string, double> efficiency;  // > 0
  std::map<std::string, double> fixed_ms;    // >= 0
  double overlap_fraction = 1.0;             // how the terms were combined (ProcessorProfile)
  double median_abs_error_pct = 0;           // of the fitted model over the observations
};

// The per-stage fit with the terms combined at a given overlap fraction.
StageFit fit_stages(const std::vector<StageObservation>& observations, double overlap_fraction = 1.0);

// The overlap fraction too: fit_stages at 0, 0.05, ..., 1, keeping the one whose fitted model has
// the smallest median absolute error over the observations (ties go to more overlap).
StageFit fit_calibration(const std::vector<StageObservation>& observations);

}  // namespace privrec::sim
