#include "kernels/mpi/network_bench.hpp"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "models/sample_stats.hpp"

namespace privrec::mpi {

namespace {
// The slowest rank's seconds for each repeat of `op`, after one untimed run; the median.
template <class Op>
double median_ms(const Communicator& comm, int repeats, Op op) {
  op();
  std::vector<double> ms;
  for (int k = 0; k < repeats; ++k) {
    comm.barrier();
    const auto t0 = std::chrono::steady_clock::now();
    op();
    double mine = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() * 1e3;
    Traffic ignored;
    std::vector<double> all(static_cast<size_t>(comm.size()), 0.0);
    all[comm.rank()] = mine;
    comm.sum(all.data(), static_cast<int64_t>(all.size()), ignored);  // one slot each: every rank's time
    ms.push_back(*std::max_element(all.begin(), all.end()));
  }
  return summarize(ms).median;
}
}  // namespace

std::vector<CollectiveTiming> measure_collectives(const Communicator& comm, int repeats,
                                                  const std::function<void(const std::string&)>& say) {
  const int N = comm.size();
  std::vector<CollectiveTiming> out;
  Exchange ex(comm);
  std::vector<uint8_t> payload;
  for (int64_t per_peer = 256; per_peer <= (int64_t{16} << 20); per_peer *= 4) {
    payload.assign(static_cast<size_t>(per_peer), 1);
    const double ms = median_ms(comm, repeats, [&] {
      ex.clear();
      for (int r = 0; r < N; ++r) ex.append(r, payload.data(), per_peer);
      Traffic t;
      ex.run(t);
    });
    out.push_back({"all_to_all", static_cast<double>(per_peer * N), ms});
    if (comm.rank() == 0) say(fmt::format("all-to-all, {} B to each rank: {:.3f} ms", per_peer, ms));
  }
  std::vector<float> buf;
  for (int64_t bytes = 1024; bytes <= (int64_t{64} << 20); bytes *= 4) {
    buf.assign(static_cast<size_t>(bytes / 4), 1.0f);
    const double ms = median_ms(comm, repeats, [&] {
      Traffic t;
      comm.sum(buf.data(), static_cast<int64_t>(buf.size()), t);
    });
    out.push_back({"all_reduce", static_cast<double>(bytes), ms});
    if (comm.rank() == 0) say(fmt::format("all-reduce of {} B: {:.3f} ms", bytes, ms));
  }
  return out;
}

}  // namespace privrec::mpi
