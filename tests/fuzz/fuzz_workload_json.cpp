// The workload reader (models/workload.cpp, --model FILE): the input is the JSON file.
#include "models/workload.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const privrec::fuzz::InputFile file("workload.json");
  const std::string& path = file.write(data, size);
  privrec::fuzz::expect_only_input_errors([&] {
    const privrec::Workload w = privrec::load_workload(path);
    // What every command computes from a workload it accepted (table bytes, MLP parameters, the
    // interaction width) must be defined for every workload the reader accepts.
    (void)w.table_bytes();
    (void)w.mlp_parameters();
    (void)w.interaction_width();
  });
  return 0;
}
