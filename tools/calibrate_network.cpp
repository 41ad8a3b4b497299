// privrec calibrate --network: the link between the ranks that mpirun started (Open MPI over
// shared memory on one machine), timed and fitted into a cluster profile the scale-out model and
// `compare --sharding` use (configs/clusters/).
#include <chrono>
#include <cstdio>
#include <ctime>

#include <fmt/format.h>

#include "kernels/mpi/communicator.hpp"
#include "kernels/mpi/mpi_library.hpp"
#include "kernels/mpi/network_bench.hpp"
#include "models/config_error.hpp"
#include "sim/hardware_profile.hpp"
#include "sim/link_fit.hpp"
#include "tools/cli_common.hpp"
#include "tools/calibrate_network.hpp"

namespace privrec::cli {

namespace {
// One node of `ranks` devices that split the profile's processor, linked by MPI.
sim::ClusterProfile shape_of(const std::string& name, const sim::HardwareProfile& h, int ranks) {
  sim::ClusterProfile c;
  c.name = name;
  c.device = h;
  c.devices_per_node = ranks;
  c.nodes = 1;
  c.intra_node.name = "Open MPI over shared memory";
  c.all_reduce = "ring";  // what kernels/mpi runs: Communicator::sum
  c.all_to_all = "direct";
  c.devices_share_processor = true;
  return c;
}
}  // namespace

int calibrate_network(const NetworkCalibration& o) {
  const int ranks = mpi::launched_ranks();
  if (!mpi::load_mpi().ok()) throw InputError("--network: " + mpi::load_mpi().why_not);
  if (ranks < 2)
    throw InputError("--network: start it under mpirun with the ranks to measure, e.g. `mpirun -np 2 build/privrec "
                     "calibrate --network --out configs/clusters/cpu-epyc-2c-mpi2.json`");
  if (o.out.empty()) throw InputError("--out: required (the cluster profile to write)");
  check_output(o.out, o.force);
  const sim::HardwareProfile h = sim::load_hardware_profile(o.hardware);
  const mpi::Communicator& comm = mpi::Communicator::world();
  const bool rank0 = comm.rank() == 0;
  auto say = [&](const std::string& s) {
    if (!o.quiet && rank0) std::fprintf(stderr, "[privrec] %s\n", s.c_str());
  };
  const auto t0 = std::chrono::steady_clock::now();
  say(fmt::format("timing the all-to-all and the ring all-reduce over {} ranks, {} repeats each", ranks, o.repeats));
  std::vector<sim::CollectiveSample> samples;
  for (const auto& t : mpi::measure_collectives(comm, o.repeats, say)) samples.push_back({t.collective, t.bytes, t.ms});
  sim::ClusterProfile c = shape_of(o.name, h, ranks);
  const sim::LinkFit fit = sim::fit_intra_node_link(c, samples);
  c.intra_node.latency_us = fit.link.latency_us;
  c.intra_node.GBps = fit.link.GBps;
  c.description = fmt::format("{} MPI ranks on this machine ({}), each with 1/{} of it, over Open MPI", ranks,
                              h.description, ranks);
  nlohmann::json points = nlohmann::json::array();
  for (size_t i = 0; i < samples.size(); ++i)
    points.push_back({{"collective", samples[i].collective}, {"bytes", samples[i].bytes},
                      {"measured_ms", samples[i].ms}, {"modeled_ms", fit.modeled_ms[i]}});
  c.provenance = {
      {"source", "measured"},
      {"date", utc_now()},
      {"command", o.command},
      {"machine", machine_json()},
      {"method", fmt::format("kernels/mpi/network_bench: the all-to-all and the ring all-reduce the sharded training "
                             "runs, from 256 B per rank pair to 16 MB and from 1 KB to 64 MB, median of {} of the "
                             "slowest rank's times; intra_node fitted by least squares in relative error "
                             "(sim/link_fit.hpp)",
                             o.repeats)},
      {"derivation",
       {{"device", "the hardware profile " + h.name + ", each rank with 1/" + std::to_string(ranks) +
                       " of its cores, bandwidth and caches (devices_share_processor)"},
        {"intra_node", fmt::format("fitted: latency {:.3g} us, {:.3g} GB/s per rank and direction; median error "
                                   "{:.1f} % over the {} timings",
                                   fit.link.latency_us, fit.link.GBps, fit.median_abs_error_pct, samples.size())}}},
      {"timings", points}};
  if (!rank0) return 0;
  std::printf("%-11s %12s %12s %12s %8s\n", "collective", "bytes", "measured ms", "modeled ms", "error");
  for (size_t i = 0; i < samples.size(); ++i)
    std::printf("%-11s %12.0f %12.4f %12.4f %7.1f%%\n", samples[i].collective.c_str(), samples[i].bytes, samples[i].ms,
                fit.modeled_ms[i], (fit.modeled_ms[i] / samples[i].ms - 1) * 100);
  std::printf("intra_node: latency %.3g us, %.3g GB/s per rank and direction (median error %.1f %%)\n",
              fit.link.latency_us, fit.link.GBps, fit.median_abs_error_pct);
  write_text_file(o.out, c.to_json().dump(2) + "\n");
  std::printf("privrec calibrate --network: wrote %s (%.0f s)\n", o.out.c_str(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return 0;
}

}  // namespace privrec::cli
