// The cluster profile reader (sim/cluster.cpp, --cluster FILE): the input is the JSON file (its
// "device" may name a hardware preset or an inline profile). An accepted cluster's to_json() must
// read back as the same cluster (sim/cluster.hpp promises it).
#include "sim/cluster.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const privrec::fuzz::InputFile file("cluster.json");
  const std::string& path = file.write(data, size);
  privrec::fuzz::expect_only_input_errors([&] {
    const privrec::sim::ClusterProfile c = privrec::sim::load_cluster_profile(path);
    (void)c.devices();
    const nlohmann::json written = c.to_json();
    nlohmann::json again;
    try {
      again = privrec::sim::parse_cluster_profile(written, path).to_json();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "the cluster's to_json() does not read back: %s\n", e.what());
      privrec::fuzz::finding("cluster profile round trip");
    }
    if (again != written) privrec::fuzz::finding("cluster profile round trip changed the cluster");
  });
  return 0;
}
