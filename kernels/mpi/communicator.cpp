#include "kernels/mpi/communicator.hpp"

#include <algorithm>
#include <cstdio>
#include <climits>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "kernels/mpi/mpi_library.hpp"
#include "models/row_blocks.hpp"

namespace privrec::mpi {

namespace {
constexpr int64_t kChunk = int64_t{1} << 30;  // bytes per MPI call: counts are ints
constexpr int kTag = 7;
bool g_sharded = false;

void check(int rc, const char* what) {
  if (rc != kSuccess) throw std::runtime_error(std::string("MPI: ") + what + " failed (error " + std::to_string(rc) + ")");
}

void finalize_at_exit() {
  const MpiApi& api = load_mpi();
  int init = 0, fin = 0;
  api.initialized(&init);
  api.finalized(&fin);
  if (init && !fin) api.finalize();
}
}  // namespace

bool running_sharded() { return g_sharded; }

Communicator::Communicator() {
  const MpiApi& api = load_mpi();
  if (!api.ok()) throw std::runtime_error(api.why_not);
  int init = 0, provided = 0;
  check(api.initialized(&init), "MPI_Initialized");
  if (!init) {
    check(api.init_thread(nullptr, nullptr, kThreadFunneled, &provided), "MPI_Init_thread");
    std::atexit(finalize_at_exit);
  }
  // Errors come back as codes (check() throws; tools/main.cpp then ends every rank with status 1)
  // instead of Open MPI's default of ending the job with its own status.
  check(api.comm_set_errhandler(api.comm_world, api.errors_return), "MPI_Comm_set_errhandler");
  check(api.comm_rank(api.comm_world, &rank_), "MPI_Comm_rank");
  check(api.comm_size(api.comm_world, &size_), "MPI_Comm_size");
  g_sharded = size_ > 1;
}

Communicator& Communicator::world() {
  static Communicator c;
  return c;
}

// `calls` send-receives, the same number on every rank (a message of 0 bytes is still one), so
// each send meets its receive even where a rank has nothing to send or receive in a ring step.
void Communicator::exchange(int to, const void* out, int64_t out_n, int from, void* in, int64_t in_n,
                            int64_t calls) const {
  const MpiApi& api = load_mpi();
  const auto* o = static_cast<const uint8_t*>(out);
  auto* i = static_cast<uint8_t*>(in);
  for (int64_t k = 0, done_o = 0, done_i = 0; k < calls; ++k) {
    const int co = static_cast<int>(std::min(kChunk, out_n - done_o)), ci = static_cast<int>(std::min(kChunk, in_n - done_i));
    check(api.sendrecv(o + done_o, co, api.byte, to, kTag, i + done_i, ci, api.byte, from, kTag, api.comm_world, nullptr),
          "MPI_Sendrecv");
    done_o += co, done_i += ci;
  }
}

void Exchange::clear() {
  out_.clear();  // keeps the capacity
  out_n_.clear();
}

void Exchange::run(Traffic& t) {
  const MpiApi& api = load_mpi();
  const int N = comm_.size(), me = comm_.rank();
  out_n_.resize(static_cast<size_t>(N), 0);
  in_n_.assign(static_cast<size_t>(N), 0);
  check(api.alltoall(out_n_.data(), 8, api.byte, in_n_.data(), 8, api.byte, api.comm_world), "MPI_Alltoall");
  std::vector<int64_t> out_at(static_cast<size_t>(N), 0);
  in_at_.assign(static_cast<size_t>(N), 0);
  for (int r = 1; r < N; ++r) out_at[r] = out_at[r - 1] + out_n_[r - 1], in_at_[r] = in_at_[r - 1] + in_n_[r - 1];
  in_.resize(static_cast<size_t>(in_at_[N - 1] + in_n_[N - 1]));
  // Counts and displacements are ints: one rank's messages together stay under 2 GB.
  if (out_.size() > static_cast<size_t>(INT_MAX) || in_.size() > static_cast<size_t>(INT_MAX))
    throw std::runtime_error("MPI: an all-to-all of more than 2 GB to or from one rank is not supported; use a smaller batch");
  std::vector<int> sc(N), sd(N), rc(N), rd(N);
  for (int r = 0; r < N; ++r)
    sc[r] = static_cast<int>(out_n_[r]), sd[r] = static_cast<int>(out_at[r]), rc[r] = static_cast<int>(in_n_[r]),
    rd[r] = static_cast<int>(in_at_[r]);
  check(api.alltoallv(out_.data(), sc.data(), sd.data(), api.byte, in_.data(), rc.data(), rd.data(), api.byte,
                      api.comm_world),
        "MPI_Alltoallv");
  for (int r = 0; r < N; ++r)
    if (r != me && out_n_[r] > 0) t.bytes += static_cast<uint64_t>(out_n_[r]), t.messages += 1;
}

template <class T>
void Communicator::ring_sum(T* data, int64_t n, Traffic& t) const {
  const int N = size_;
  if (N == 1) return;
  const int next = (rank_ + 1) % N, prev = (rank_ + N - 1) % N;
  auto first = [&](int s) { return row_block_first(n, N, s); };
  auto rows = [&](int s) { return row_block_rows(n, N, s); };
  ring_in_.resize(static_cast<size_t>(rows(0)) * sizeof(T));
  T* in = reinterpret_cast<T*>(ring_in_.data());
  // Segment 0 is the largest: its chunks are every step's number of calls, on every rank.
  const int64_t calls = std::max<int64_t>(1, (rows(0) * static_cast<int64_t>(sizeof(T)) + kChunk - 1) / kChunk);
  // Reduce-scatter: after step k, segment rank - k - 1 here holds the sum of k + 2 ranks' values.
  for (int k = 0; k < N - 1; ++k) {
    const int out_s = (rank_ - k + N) % N, in_s = (rank_ - k - 1 + N) % N;
    exchange(next, data + first(out_s), rows(out_s) * sizeof(T), prev, in, rows(in_s) * sizeof(T), calls);
    T* mine = data + first(in_s);
    for (int64_t i = 0; i < rows(in_s); ++i) mine[i] = mine[i] + in[i];
    t.bytes += rows(out_s) * sizeof(T), t.messages += 1;
  }
  // All-gather: segment rank + 1 is complete here; pass the complete segments around.
  for (int k = 0; k < N - 1; ++k) {
    const int out_s = (rank_ + 1 - k + N) % N, in_s = (rank_ - k + N) % N;
    exchange(next, data + first(out_s), rows(out_s) * sizeof(T), prev, data + first(in_s), rows(in_s) * sizeof(T), calls);
    t.bytes += rows(out_s) * sizeof(T), t.messages += 1;
  }
}

void Communicator::sum(float* data, int64_t n, Traffic& t) const { ring_sum(data, n, t); }
void Communicator::sum(double* data, int64_t n, Traffic& t) const { ring_sum(data, n, t); }
void Communicator::sum(int64_t* data, int64_t n, Traffic& t) const { ring_sum(data, n, t); }

std::vector<std::vector<uint8_t>> Communicator::all_gather(const std::vector<uint8_t>& bytes) const {
  const MpiApi& api = load_mpi();
  std::vector<uint8_t> all(bytes.size() * size_);
  check(api.allgather(bytes.data(), static_cast<int>(bytes.size()), api.byte, all.data(), static_cast<int>(bytes.size()),
                      api.byte, api.comm_world),
        "MPI_Allgather");
  std::vector<std::vector<uint8_t>> out(size_);
  for (int r = 0; r < size_; ++r) out[r].assign(all.begin() + r * bytes.size(), all.begin() + (r + 1) * bytes.size());
  return out;
}

void Communicator::send_to(int from, int to, void* data, int64_t n) const {
  const MpiApi& api = load_mpi();
  if (from == to || (rank_ != from && rank_ != to)) return;
  auto* p = static_cast<uint8_t*>(data);
  for (int64_t at = 0; at < n; at += kChunk) {
    const int c = static_cast<int>(std::min(kChunk, n - at));
    if (rank_ == from) check(api.send(p + at, c, api.byte, to, kTag, api.comm_world), "MPI_Send");
    else check(api.recv(p + at, c, api.byte, from, kTag, api.comm_world, nullptr), "MPI_Recv");
  }
}

void Communicator::barrier() const { check(load_mpi().barrier(load_mpi().comm_world), "MPI_Barrier"); }

void Communicator::abort(int code) const {
  load_mpi().abort(load_mpi().comm_world, code);
  std::_Exit(code);
}

}  // namespace privrec::mpi
