#include "kernels/cuda/host_copy.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace privrec::cuda {

void copy_pieces(const std::vector<HostPiece>& pieces, char* dst) {
  constexpr size_t kSlice = size_t{1} << 20;
  std::vector<HostPiece> slices;
  size_t total = 0;
  for (const HostPiece& p : pieces)
    for (size_t o = 0; p.src && o < p.bytes; o += kSlice) {
      slices.push_back({static_cast<const char*>(p.src) + o, std::min(kSlice, p.bytes - o), p.at + o});
      total += slices.back().bytes;
    }
  const auto n = static_cast<int64_t>(slices.size());
#pragma omp parallel for schedule(dynamic, 1) if (total > 4 * kSlice)
  for (int64_t i = 0; i < n; ++i) std::memcpy(dst + slices[i].at, slices[i].src, slices[i].bytes);
}

}  // namespace privrec::cuda
