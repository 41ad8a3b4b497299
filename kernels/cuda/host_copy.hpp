#pragma once
// The host side of sending a batch up: pieces of pageable host memory gathered into one
// page-locked buffer (which one asynchronous copy then sends), spread over the host's threads.
// One thread copies some 5-10 GB/s, too slow to keep up with the link for a batch of tens of
// megabytes (rmc2 at batch 2048: 52 MB of ids a step).
#include <cstddef>
#include <vector>

namespace privrec::cuda {

struct HostPiece {
  const void* src = nullptr;  // nullptr: nothing to copy (a piece filled in place)
  size_t bytes = 0, at = 0;   // at: its offset in the destination
};

// Every piece to dst + at, in slices of at most 1 MiB shared out among the threads (one thread
// when there is under 4 MiB in all).
void copy_pieces(const std::vector<HostPiece>& pieces, char* dst);

}  // namespace privrec::cuda
