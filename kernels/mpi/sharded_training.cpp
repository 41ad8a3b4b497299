#include "kernels/mpi/sharded_training.hpp"

#include <omp.h>

#include <cstdlib>
#include <functional>

#include <fmt/format.h>

#include "kernels/model_io.hpp"
#include "kernels/mpi/communicator.hpp"
#include "kernels/mpi/mpi_library.hpp"
#include "kernels/mpi/sharded_step_ops.hpp"
#include "models/human_bytes.hpp"
#include "models/kernel_work/working_memory.hpp"

namespace privrec::mpi {

namespace {
// Every rank's fingerprint, compared with rank 0's: a rank started with other flags is refused on
// every rank at once.
void require_same_run(const Communicator& comm, const std::string& fingerprint) {
  const uint64_t h = std::hash<std::string>{}(fingerprint);
  const auto all = comm.all_gather(std::vector<uint8_t>(reinterpret_cast<const uint8_t*>(&h),
                                                        reinterpret_cast<const uint8_t*>(&h) + sizeof h));
  for (int r = 1; r < comm.size(); ++r)
    if (all[r] != all[0])
      throw CollectiveInputError(fmt::format("rank {} was started with a different workload, algorithm, seed, steps or "
                                             "trace than rank 0: every rank of `mpirun -np {} privrec train` must get "
                                             "the same flags",
                                             r, comm.size()));
}

// This rank's memory: its blocks, the MLPs, lazydp's history of its rows, and on rank 0 the whole
// model when it is saved; the ranks on one machine share its memory.
void require_memory(const Workload& w, const AlgorithmConfig& cfg, const ShardLayout& l, int rank, bool save) {
  int64_t bytes = w.mlp_parameters() * 4, rows = 0;
  for (const auto& b : l.blocks[rank]) bytes += b.rows * w.tables[b.table].dim * 4, rows += b.rows;
  if (plan_of(cfg.kind).has(OpKind::lazy_catchup)) bytes += rows * 4;
  // The buffers of its share of the examples (an estimate of the table side's, which sees them all
  // but for its rows only), dpsgd-b/r's per-example gradients among them.
  bytes += working_bytes(w, cfg.kind, ShardLayout::example_count(w.batch_size, l.ranks, rank));
  if (save && rank == 0) bytes += w.table_bytes();
  const int64_t available = cpu::available_memory_bytes();
  const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  const int64_t here = local && *local ? std::max(1, std::atoi(local)) : 1;
  if (available > 0 && bytes > available * 9 / 10 / here)
    throw InputError(fmt::format("rank {} needs {} for its part of the model{}, and {} ranks share this machine's {} "
                                 "available; use more machines, a smaller --table-scale or fewer ranks per machine",
                                 rank, human_bytes(static_cast<double>(bytes)),
                                 save && rank == 0 ? " and the whole model it saves" : "", here,
                                 human_bytes(static_cast<double>(available))));
}

// The ranks on one machine share its cores: unless told otherwise (OMP_NUM_THREADS, or fewer
// threads asked for), each runs cores / ranks-on-this-machine threads.
void share_cores() {
  const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  const int here = local && *local ? std::max(1, std::atoi(local)) : 1;
  if (std::getenv("OMP_NUM_THREADS") == nullptr && omp_get_max_threads() == omp_get_num_procs())
    omp_set_num_threads(std::max(1, omp_get_num_procs() / here));
}

// Rank 0 gathers the tables from their owners and saves the model; the others send their blocks.
void save_gathered(const std::string& path, const nlohmann::json& info, const Workload& w, const cpu::DlrmModel& dense,
                   cpu::DlrmModel& mine, const ShardLayout& l, const Communicator& comm) {
  cpu::DlrmModel whole;
  if (comm.rank() == 0) {
    whole = cpu::DlrmModel::allocate(w);
    whole.bottom = dense.bottom, whole.top = dense.top;
  }
  for (int q = 0; q < comm.size(); ++q)
    for (size_t j = 0; j < l.blocks[q].size(); ++j) {
      const auto& b = l.blocks[q][j];
      const int64_t bytes = b.rows * w.tables[b.table].dim * static_cast<int64_t>(sizeof(float));
      if (q == 0 && comm.rank() == 0) std::copy_n(mine.tables[j].row(0), bytes / 4, whole.tables[b.table].row(b.first_row));
      else if (comm.rank() == q) comm.send_to(q, 0, mine.tables[j].row(0), bytes);
      else if (comm.rank() == 0) comm.send_to(q, 0, whole.tables[b.table].row(b.first_row), bytes);
    }
  if (comm.rank() == 0) save_model(path, whole, info);
  comm.barrier();  // the file is complete before any rank reports
}

// The extras that count rows (touched, selected, caught up, flushed, fixed) summed over the ranks,
// so the report speaks of the whole model, not rank 0's rows; the others (clipped_fraction, the
// same on every rank) are rank 0's. Every rank has the same keys, in the same (sorted) order.
void sum_row_counts(const Communicator& comm, nlohmann::json& extras) {
  std::vector<int64_t> counts;
  for (const auto& [key, v] : extras.items())
    if (v.is_number_integer()) counts.push_back(v.get<int64_t>());
  Traffic ignored;
  comm.sum(counts.data(), static_cast<int64_t>(counts.size()), ignored);
  size_t k = 0;
  for (auto& [key, v] : extras.items())
    if (v.is_number_integer()) v = counts[k++];
}

// Every rank's per-stage medians and step median, gathered on every rank.
void gather_rank_times(const Communicator& comm, TrainReport& rep) {
  std::vector<double> mine(kStages + 1, -1.0);
  for (const auto& s : rep.stages) mine[static_cast<size_t>(s.stage)] = s.median_ms;
  mine[kStages] = rep.step_ms_median;
  const auto* p = reinterpret_cast<const uint8_t*>(mine.data());
  const auto all = comm.all_gather(std::vector<uint8_t>(p, p + mine.size() * sizeof(double)));
  for (const auto& a : all) {
    const auto* v = reinterpret_cast<const double*>(a.data());
    rep.rank_stage_ms.emplace_back(v, v + kStages);
    rep.rank_step_ms.push_back(v[kStages]);
  }
}
}  // namespace

TrainReport run_sharded_cpu_training(const Workload& w, const AlgorithmConfig& cfg, const TraceSource& trace,
                                     const TrainOptions& opt, Sharding scheme, const std::string& fingerprint) {
  const int N = launched_ranks(), me = launched_rank();
  const ShardLayout layout = ShardLayout::make(w, scheme, N);
  if (w.batch_size < N)
    throw InputError(fmt::format("--batch {}: a sharded run over {} ranks needs at least one example per rank",
                                 w.batch_size, N));
  require_memory(w, cfg, layout, me, !opt.save_model.empty());
  share_cores();
  const Communicator& comm = Communicator::world();  // MPI starts here: the checks above are every rank's own
  if (comm.size() != N || comm.rank() != me)
    throw std::runtime_error(fmt::format("MPI says rank {} of {}, the launcher's environment {} of {}", comm.rank(),
                                         comm.size(), me, N));
  // What the loop does on every rank must agree too: a rank that saves gathers, the others send.
  require_same_run(comm, fmt::format("{}|{}|steps {}|warmup {}|save {}", fingerprint, sharding_name(scheme), opt.steps,
                                     opt.warmup, !opt.save_model.empty()));
  cpu::DlrmModel dense = cpu::DlrmModel::create_part(w, cfg.seed, {}, true);
  cpu::DlrmModel tables = cpu::DlrmModel::create_part(w, cfg.seed, layout.blocks[me], false);
  ShardedStepOps ops(dense, tables, cfg, comm, layout);
  PlanRunner runner(cfg, ops);
  TrainOptions o = opt;
  o.progress = opt.progress && me == 0;
  TrainReport rep = run_training_loop(runner, trace, o, [&] {
    if (!opt.save_model.empty()) save_gathered(opt.save_model, opt.save_info, w, dense, tables, layout, comm);
  });
  rep.ranks = N;
  rep.sharding = sharding_name(scheme);
  rep.layout = layout.summary(w);
  gather_rank_times(comm, rep);
  sum_row_counts(comm, rep.last_extras);
  return rep;
}

}  // namespace privrec::mpi
