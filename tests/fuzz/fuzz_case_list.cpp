// The case-list reader of calibrate and validate (tools/case_list.cpp, --cases FILE): the input is
// the JSON file. Every case it accepts must give its label, its JSON and its workload's figures.
#include "tests/fuzz/fuzz_input.hpp"
#include "tools/case_list.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const privrec::fuzz::InputFile file("cases.json");
  const std::string& path = file.write(data, size);
  privrec::fuzz::expect_only_input_errors([&] {
    for (const privrec::cli::Case& c : privrec::cli::load_cases(path)) {
      (void)c.label();
      (void)c.to_json().dump();
      const privrec::Workload w = c.workload();
      (void)w.table_bytes();
      (void)w.mlp_parameters();
    }
  });
  return 0;
}
