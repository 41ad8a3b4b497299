#pragma once
// The work a stage does, counted by the kernels from what they actually touch and predicted by sim/.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

// The one list of counters, in output order (JSON keys and CSV columns follow it). Everything that
// walks the counters -- the members, +=, divided_by, to_json, the CSV helpers -- is generated from
// it, so adding a counter is one line here. X(name, doc).
//  - *_seq: streaming traffic (activations, weights, index arrays, whole-table passes).
//  - *_rand: row-random traffic (embedding rows gathered or scattered by index).
//  - gemm_flops is the part of `flops` done inside matrix-multiply kernels (the MLP GEMMs), which
//    run at the machine's GEMM rate; the rest are vector flops (elementwise loops, reductions).
//  - sort_ops: a radix sort of n keys in p passes counts n p; a comparison sort of k keys counts
//    k ceil(log2 k) (traces/row_sort.hpp defines both).
//  - comm_*: what a device sends over links in a sharded step (the comm.* stages); not part of
//    bytes_read/bytes_written, which are memory traffic. Zero on one device.
//  - host_link_bytes: what crosses the host-device link inside a stage, at the link's rate (the CUDA
//    backend's batch: every table's ids and offsets; lazydp's next batch's). Zero on the CPU.
//  - bytes_first_touch: tensors a framework allocates afresh every step (above glibc's mmap
//    threshold), whose pages the operating system faults in and zeroes as they are first written;
//    priced at the processor's first_touch_GBps (sim/hardware_profile.hpp). Not part of
//    bytes_written. Zero for privrec's own kernels, which keep their memory between steps.
#define PRIVREC_WORK_COUNTER_FIELDS(X)                                                          \
  X(bytes_read_seq, "bytes read sequentially (streaming)")                                      \
  X(bytes_written_seq, "bytes written sequentially (streaming)")                                \
  X(bytes_read_rand, "bytes of embedding rows gathered by index")                               \
  X(bytes_written_rand, "bytes of embedding rows scattered by index")                           \
  X(rows_read_rand, "embedding rows gathered by index")                                         \
  X(rows_written_rand, "embedding rows scattered by index")                                     \
  X(rng_samples, "normal (or uniform) variates drawn")                                          \
  X(flops, "floating-point operations (a fused multiply-add counts 2)")                         \
  X(gemm_flops, "the part of flops done inside matrix-multiply kernels")                        \
  X(launches, "kernel launches (cuda) or parallel regions (cpu)")                               \
  X(sort_ops, "sorting work in key-steps")                                                       \
  X(bags, "embedding bags walked (examples x tables): per-bag loop work the bytes do not carry") \
  X(comm_bytes, "bytes this device sent to other devices")                                      \
  X(comm_messages, "messages this device sent to other devices")                               \
  X(host_link_bytes, "bytes copied between the host and this device (the batch going up)")          \
  X(bytes_first_touch, "bytes of fresh memory the operating system maps and zero-fills on first touch")

namespace privrec {

struct WorkCounters {
#define PRIVREC_DECLARE_COUNTER(name, doc) uint64_t name = 0;
  PRIVREC_WORK_COUNTER_FIELDS(PRIVREC_DECLARE_COUNTER)
#undef PRIVREC_DECLARE_COUNTER

  uint64_t bytes_read() const { return bytes_read_seq + bytes_read_rand; }
  uint64_t bytes_written() const { return bytes_written_seq + bytes_written_rand; }
  uint64_t bytes() const { return bytes_read() + bytes_written(); }

  WorkCounters& operator+=(const WorkCounters& o);
  WorkCounters divided_by(uint64_t n) const;  // every counter / n (integer division): a mean per step
  bool operator==(const WorkCounters&) const = default;
  // Every counter under its own name, plus the derived bytes_read and bytes_written.
  nlohmann::json to_json() const;

  // The counter names in declaration order; csv_header() joins them with commas and csv_values()
  // joins this object's values the same way, so a CSV row can splice both in at one place.
  static const std::vector<std::string>& field_names();
  static std::string csv_header();
  std::string csv_values() const;
};

// The documentation string of each counter, in the order of field_names().
const std::vector<std::string>& work_counter_docs();

}  // namespace privrec
