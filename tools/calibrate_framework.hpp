#pragma once
// privrec calibrate --implementation framework (tools/calibrate_framework.cpp).
#include <string>

namespace privrec::cli {

struct FrameworkCalibration {
  std::string out, name, hardware, cases, python, command;
  uint64_t seed = 1;
  int repeats = 1;
  bool force = false, quiet = false;
};

// Runs the PyTorch peer on every case, models each with the framework implementation on
// `hardware` (uncalibrated), fits per stage its efficiency, fixed cost and cost per framework call
// (sim/calibration.hpp), and writes the implementation profile. Returns the exit status.
int calibrate_framework(const FrameworkCalibration& o);

}  // namespace privrec::cli
