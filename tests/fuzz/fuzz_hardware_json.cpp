// The hardware profile reader (sim/hardware_profile.cpp, --hardware FILE): the input is the JSON
// file. An accepted profile's to_json() must read back as the same profile.
#include "sim/hardware_profile.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const privrec::fuzz::InputFile file("hardware.json");
  const std::string& path = file.write(data, size);
  privrec::fuzz::expect_only_input_errors([&] {
    const privrec::sim::HardwareProfile h = privrec::sim::load_hardware_profile(path);
    const nlohmann::json written = h.to_json();
    nlohmann::json again;
    try {
      again = privrec::sim::parse_hardware_profile(written, path).to_json();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "the profile's to_json() does not read back: %s\n", e.what());
      privrec::fuzz::finding("hardware profile round trip");
    }
    if (again != written) privrec::fuzz::finding("hardware profile round trip changed the profile");
  });
  return 0;
}
