#pragma once
// The collectives of a sharded run timed against message size on this run's ranks (the link terms
// of a cluster profile are fitted from these: sim/link_fit.hpp): the all-to-all of kernels/mpi's
// Exchange and the ring all-reduce of Communicator::sum, as the sharded training runs them.
#include <functional>
#include <string>
#include <vector>

#include "kernels/mpi/communicator.hpp"

namespace privrec::mpi {

struct CollectiveTiming {
  std::string collective;  // "all_to_all" or "all_reduce"
  // In the model's terms (sim/collectives.hpp): all_to_all, the bytes each rank sends in all,
  // spread evenly over the ranks (its own share included); all_reduce, the buffer's bytes.
  double bytes = 0;
  double ms = 0;           // median over the repeats of the slowest rank's time
};

// Every rank calls it; every rank gets the same timings. `say` gets a line per size (rank 0 only).
std::vector<CollectiveTiming> measure_collectives(const Communicator& comm, int repeats,
                                                  const std::function<void(const std::string&)>& say);

}  // namespace privrec::mpi
