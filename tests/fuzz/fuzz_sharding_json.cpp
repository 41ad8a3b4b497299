// The sharding plan reader (sim/sharding.cpp, --sharding FILE) against a fixed workload (tiny:
// tables t0, t1, t2) and 8 devices: the input is the plan's JSON file. An accepted plan must give
// every device its shards.
#include "sim/sharding.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const privrec::fuzz::InputFile file("sharding.json");
  static const privrec::Workload workload = privrec::load_workload("tiny");
  constexpr int64_t kDevices = 8;
  const std::string& path = file.write(data, size);
  privrec::fuzz::expect_only_input_errors([&] {
    const privrec::sim::ShardingPlan plan = privrec::sim::load_sharding_plan(path, workload, kDevices);
    (void)plan.summary();
    (void)plan.to_json(workload).dump();
    (void)privrec::sim::device_shards(workload, plan, kDevices);
  });
  return 0;
}
