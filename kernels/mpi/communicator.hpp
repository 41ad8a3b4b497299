#pragma once
// The ranks of a sharded run and the collectives it needs, over Open MPI (mpi_library.hpp).
// Everything moves as bytes; sums are taken here, in a fixed order, so every rank gets the same
// bits (the replicated MLPs must stay identical on every rank) and a run is reproducible. Each
// collective adds what this rank sent to other ranks to a Traffic: bytes and messages.
#include <cstdint>
#include <cstring>
#include <vector>

namespace privrec::mpi {

struct Traffic {
  uint64_t bytes = 0, messages = 0;
};

class Exchange;

class Communicator {
 public:
  // The world of this process: initialises MPI on first use (once; finalised at exit). Throws
  // std::runtime_error when Open MPI cannot be loaded or initialised.
  static Communicator& world();

  int rank() const { return rank_; }
  int size() const { return size_; }

  // data[0..n) becomes its sum over the ranks: a ring all-reduce (reduce-scatter, then all-gather;
  // 2 (size - 1) messages of about n / size values). Segment s is summed along the ring in one
  // fixed order and then copied, so every rank ends with the same bits.
  void sum(float* data, int64_t n, Traffic& t) const;
  void sum(double* data, int64_t n, Traffic& t) const;
  void sum(int64_t* data, int64_t n, Traffic& t) const;

  // Every rank's `bytes` (the same size on each), in rank order.
  std::vector<std::vector<uint8_t>> all_gather(const std::vector<uint8_t>& bytes) const;

  // Rank `from` sends n bytes to rank `to` (a no-op elsewhere); in chunks under 2^31.
  void send_to(int from, int to, void* data, int64_t n) const;

  void barrier() const;
  // Ends every rank of the run at once with `code` (mpirun passes it on).
  [[noreturn]] void abort(int code) const;

 private:
  Communicator();
  friend class Exchange;
  template <class T>
  void ring_sum(T* data, int64_t n, Traffic& t) const;
  void exchange(int to, const void* out, int64_t out_n, int from, void* in, int64_t in_n, int64_t calls) const;

  int rank_ = 0, size_ = 1;
  mutable std::vector<uint8_t> ring_in_;  // reused: fresh pages fault at several us each
};

// An all-to-all of variable-size messages with buffers kept from one step to the next (a step's
// exchanges are the same size each time, and a fresh buffer of tens of MB costs more in page
// faults than the exchange itself). Messages are written in rank order straight into one send
// buffer, and received ones are read in place.
class Exchange {
 public:
  explicit Exchange(const Communicator& c) : comm_(c) {}

  // Starts new messages, all empty.
  void clear();
  // Appends to the message for rank `to`; messages are written in rank order (`to` never falls).
  template <class T>
  void append(int to, const T* p, int64_t n) {
    while (static_cast<int>(out_n_.size()) <= to) out_n_.push_back(0);
    const size_t bytes = static_cast<size_t>(n) * sizeof(T), at = out_.size();
    out_.resize(at + bytes);
    if (bytes) std::memcpy(out_.data() + at, p, bytes);
    out_n_[to] += static_cast<int64_t>(bytes);
  }
  // Sends every message (ranks with none get an empty one) and receives the ranks' messages to
  // this one; adds what went to other ranks to `t`.
  void run(Traffic& t);
  // Rank q's message to this rank, as values of T, and its length in them.
  template <class T>
  const T* received(int q) const { return reinterpret_cast<const T*>(in_.data() + in_at_[q]); }
  template <class T>
  int64_t received_count(int q) const { return in_n_[q] / static_cast<int64_t>(sizeof(T)); }

 private:
  const Communicator& comm_;
  std::vector<uint8_t> out_, in_;
  std::vector<int64_t> out_n_, in_n_, in_at_;
};

// True once world() has initialised MPI in this process with more than one rank.
bool running_sharded();

}  // namespace privrec::mpi
