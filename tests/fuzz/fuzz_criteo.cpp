// The Criteo converter (traces/criteo_converter.cpp, trace convert): the input is the click log,
// converted for mlperf-dlrm's 26 tables with a batch of 4 (so a few lines make several batches).
// The trace it makes must pass the trace checks and write and read back unchanged.
#include "tests/fuzz/trace_round_trip.hpp"
#include "traces/criteo_converter.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const privrec::fuzz::InputFile file("criteo.txt"), copy("copy.prvt");
  static const privrec::Workload workload = [] {
    privrec::Workload w = privrec::load_workload("mlperf-dlrm");
    w.batch_size = 4;
    return w;
  }();
  const std::string& path = file.write(data, size);
  privrec::fuzz::expect_only_input_errors([&] {
    const privrec::CriteoConvertResult res = privrec::convert_criteo(path, workload);
    privrec::check_trace_against(res.trace, workload, path);
    privrec::fuzz::check_round_trip(res.trace, copy.write(nullptr, 0));
  });
  return 0;
}
