// privrec: what differential privacy costs a recommendation model's training, measured and modeled.
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <new>
#include <string>
#include <vector>

#include "kernels/host_allocator.hpp"
#include "kernels/mpi/communicator.hpp"
#include "kernels/mpi/mpi_library.hpp"
#include "kernels/mpi/sharded_training.hpp"
#include "models/config_error.hpp"
#include "models/suggest.hpp"
#include "tools/interrupt.hpp"

namespace privrec::cli {
int cmd_train(int argc, char** argv);
int cmd_trace(int argc, char** argv);
int cmd_model_diff(int argc, char** argv);
int cmd_simulate(int argc, char** argv);
int cmd_sweep(int argc, char** argv);
int cmd_compare(int argc, char** argv);
int cmd_calibrate(int argc, char** argv);
int cmd_validate(int argc, char** argv);
int cmd_epsilon(int argc, char** argv);
int cmd_device(int argc, char** argv);
int cmd_report(int argc, char** argv);
}  // namespace privrec::cli

namespace {
const char* kUsage =
    "usage: privrec <command> [options]   (privrec <command> --help for each command's options)\n"
    "\n"
    "commands:\n"
    "  train        run training steps of one algorithm on a backend; per-stage time and work\n"
    "  simulate     the performance model: per-stage work and time on a hardware profile\n"
    "  sweep        the model over the cross product of axes (table scale, algorithm, hardware, ...)\n"
    "  compare      the real step and the model side by side, per stage, with the error\n"
    "  calibrate    measure this machine and fit a hardware profile (microbenchmarks + calibration cases)\n"
    "  validate     compare over held-out cases: median and worst error, correlation, share within 10%\n"
    "  report       sweeps, characterization figures (PNG, SVG) and an HTML/Markdown report\n"
    "  epsilon      privacy accounting: epsilon for (q, sigma, steps, delta), or sigma for a target epsilon\n"
    "  device       the CUDA device this build would use, or why there is none\n"
    "  trace gen    write a synthetic trace (uniform or zipf) to a file\n"
    "  trace stats  per-table lookups, unique rows per batch, reuse gaps, distinct rows\n"
    "  trace convert  turn a Criteo click log into a trace\n"
    "  model-diff   compare two saved models (max absolute and relative difference)\n"
    "\n"
    "exit status: 0 success, 1 runtime failure, 2 bad input or usage\n";
}

namespace {
// "privrec train" and, on rank r > 0 of a sharded run, "privrec train (rank r of N)".
std::string who(const std::string& cmd) {
  const int ranks = privrec::mpi::launched_ranks();
  return "privrec " + cmd + (privrec::mpi::launched_rank() > 0 ? " (rank " + std::to_string(privrec::mpi::launched_rank()) +
                                                                      " of " + std::to_string(ranks) + ")"
                                                                : "");
}

// The exit status of a failed command. A rank of a sharded run that fails alone ends every rank
// (they may be waiting for it in a collective); a failure every rank found at once ends each.
int failed(int code, bool every_rank_knows) {
  if (privrec::mpi::running_sharded() && !every_rank_knows) privrec::mpi::Communicator::world().abort(code);
  return code;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string cmd = argv[1];
  privrec::configure_host_allocator();
  privrec::cli::install_interrupt_handlers(cmd.c_str());
  try {
    if (cmd == "train") return privrec::cli::cmd_train(argc - 1, argv + 1);
    if (cmd == "trace") return privrec::cli::cmd_trace(argc - 1, argv + 1);
    if (cmd == "model-diff") return privrec::cli::cmd_model_diff(argc - 1, argv + 1);
    if (cmd == "simulate") return privrec::cli::cmd_simulate(argc - 1, argv + 1);
    if (cmd == "sweep") return privrec::cli::cmd_sweep(argc - 1, argv + 1);
    if (cmd == "compare") return privrec::cli::cmd_compare(argc - 1, argv + 1);
    if (cmd == "calibrate") return privrec::cli::cmd_calibrate(argc - 1, argv + 1);
    if (cmd == "validate") return privrec::cli::cmd_validate(argc - 1, argv + 1);
    if (cmd == "epsilon") return privrec::cli::cmd_epsilon(argc - 1, argv + 1);
    if (cmd == "device") return privrec::cli::cmd_device(argc - 1, argv + 1);
    if (cmd == "report") return privrec::cli::cmd_report(argc - 1, argv + 1);
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (cmd == "--version") {
      std::printf("privrec 0.1 (%s)\n", privrec::git_revision());
      return 0;
    }
    const std::vector<std::string> commands = {"train", "trace", "model-diff", "simulate", "sweep", "compare", "calibrate",
                                               "validate", "epsilon", "device", "report"};
    std::fprintf(stderr, "privrec: unknown command '%s'%s\n\n%s", cmd.c_str(), privrec::did_you_mean(cmd, commands).c_str(),
                 kUsage);
    return 2;
  } catch (const privrec::cli::Interrupted& e) {  // a child ran when it came: unwound, temporaries removed
    return privrec::cli::report_interrupt(e.signal);
  } catch (const privrec::InputError& e) {
    std::fprintf(stderr, "%s: error: %s\n", who(cmd).c_str(), e.what());
    return failed(2, dynamic_cast<const privrec::mpi::CollectiveInputError*>(&e) != nullptr);
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "%s: error: out of memory (try a smaller --table-scale or --batch)\n", who(cmd).c_str());
    return failed(1, false);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: failed: %s\n", who(cmd).c_str(), e.what());
    return failed(1, false);
  }
}
