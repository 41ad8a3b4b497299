// The text trace reader (traces/trace_file.cpp, a .txt trace): the input is the file. An accepted
// trace is checked against a workload as the commands do, and must write and read back unchanged.
#include "tests/fuzz/trace_round_trip.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const privrec::fuzz::InputFile file("trace.txt"), copy("copy.txt");
  static const privrec::Workload workload = privrec::load_workload("tiny");
  const std::string& path = file.write(data, size);
  privrec::fuzz::expect_only_input_errors([&] {
    const privrec::TraceData trace = privrec::read_trace(path);
    privrec::fuzz::check_round_trip(trace, copy.write(nullptr, 0));
    privrec::check_trace_against(trace, workload, path);
  });
  return 0;
}
