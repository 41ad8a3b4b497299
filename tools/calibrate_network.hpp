#pragma once
// privrec calibrate --network (tools/calibrate_network.cpp).
#include <string>

namespace privrec::cli {

struct NetworkCalibration {
  std::string out, name, hardware, command;
  bool force = false, quiet = false;
  int repeats = 7;
};

// Under mpirun: times the collectives between the ranks, fits the cluster's link, and rank 0
// writes the cluster profile. Returns the exit status.
int calibrate_network(const NetworkCalibration& o);

}  // namespace privrec::cli
