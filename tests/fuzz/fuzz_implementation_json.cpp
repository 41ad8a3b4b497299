// The implementation profile reader (sim/implementation_profile.cpp, --implementation FILE): the
// input is the JSON file. An accepted profile's to_json() must read back as the same profile.
#include "sim/implementation_profile.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const privrec::fuzz::InputFile file("implementation.json");
  const std::string& path = file.write(data, size);
  privrec::fuzz::expect_only_input_errors([&] {
    const privrec::sim::ImplementationProfile h = privrec::sim::load_implementation_profile(path);
    const nlohmann::json written = h.to_json();
    nlohmann::json again;
    try {
      again = privrec::sim::parse_implementation_profile(written, path).to_json();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "the profile's to_json() does not read back: %s\n", e.what());
      privrec::fuzz::finding("implementation profile round trip");
    }
    if (again != written) privrec::fuzz::finding("implementation profile round trip changed the profile");
  });
  return 0;
}
