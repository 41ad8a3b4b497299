// The binary trace reader (traces/trace_file.cpp, a .prvt trace): the input is the file. An
// accepted trace is checked against a workload as the commands do, and must write and read back
// unchanged.
#include "tests/fuzz/trace_round_trip.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const privrec::fuzz::InputFile file("trace.prvt"), copy("copy.prvt");
  return privrec::fuzz::fuzz_trace_file(data, size, file, copy);
}
