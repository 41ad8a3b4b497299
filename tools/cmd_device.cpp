// privrec device: the CUDA device this build would use, or why there is none.
#include <cstdio>

#include "kernels/cuda/device.hpp"
#include "tools/cli_common.hpp"

namespace privrec::cli {

int cmd_device(int argc, char** argv) {
  po::options_description opts("privrec device options");
  std::string json_path;
  opts.add_options()("help,h", "show this help")
    ("json", po::value(&json_path), "write the description as JSON to FILE (- : to stdout, instead of the text line)")
    ("force", "overwrite an existing --json file");
  po::variables_map vm;
  if (!parse(argc, argv, opts, vm,
             "usage: privrec device [--json FILE|-]\n"
             "Describes CUDA device 0 (name, compute capability, SMs, memory, driver and runtime versions), or says\n"
             "why there is none. Exit status 0 with a device, 1 without."))
    return 0;
  if (json_path != "-") check_output(json_path, vm.count("force") > 0);
  const cuda::DeviceInfo d = cuda::query_device();
  {
    nlohmann::json j = {{"available", d.available}};
    if (d.available)
      j.update({{"name", d.name},
                {"compute_capability", std::to_string(d.compute_major) + "." + std::to_string(d.compute_minor)},
                {"sm_count", d.sm_count},
                {"memory_GB", d.memory_GB},
                {"driver_version", d.driver_version},
                {"runtime_version", d.runtime_version}});
    else
      j["reason"] = d.reason;
    if (json_path == "-") {
      std::printf("%s\n", j.dump(2).c_str());
      return d.available ? 0 : 1;
    }
    if (!json_path.empty()) write_text_file(json_path, j.dump(2) + "\n");
  }
  if (d.available) {
    std::printf("CUDA device 0: %s, compute capability %d.%d, %d SMs, %.1f GB; driver %d, runtime %d\n", d.name.c_str(),
                d.compute_major, d.compute_minor, d.sm_count, d.memory_GB, d.driver_version, d.runtime_version);
  } else {
    std::printf("no CUDA device: %s\n", d.reason.c_str());
  }
  return d.available ? 0 : 1;
}

}  // namespace privrec::cli
