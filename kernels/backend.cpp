#include "kernels/backend.hpp"

#include <stdexcept>

#include "models/config_error.hpp"

namespace privrec {

// Each backend is defined in its own file; this table is the one place that lists them.
namespace cpu {
const Backend& backend();
}
namespace cuda {
const Backend& backend();  // a build without CUDA defines it too, to say so
}

namespace {
using BackendEntry = const Backend& (*)();
// In the order --help and error messages list them.
constexpr BackendEntry kBackends[] = {
    &cpu::backend,
    &cuda::backend,
};
}  // namespace

double random_GBps_at(const std::vector<std::pair<double, double>>& by_row_B, double row_bytes) {
  for (const auto& [bytes, gbps] : by_row_B)
    if (bytes == row_bytes) return gbps;
  throw std::logic_error("no random-access rate was measured at " + std::to_string(row_bytes) + " B rows");
}

BackendRates Backend::probe_rates() const {
  throw std::logic_error("backend " + name + " has no quick rate probe (its processor is not shared)");
}

double Backend::stream_GBps_now() const {
  throw std::logic_error("backend " + name + " has no streaming check (its processor is not shared)");
}

const Backend& find_backend(const std::string& name) {
  for (const BackendEntry entry : kBackends)
    if (entry().name == name) return entry();
  std::string known;
  for (const std::string& n : backend_names()) known += (known.empty() ? "" : ", ") + n;
  throw InputError("--backend " + name + ": expected one of " + known);
}

std::vector<std::string> backend_names() {
  std::vector<std::string> names;
  for (const BackendEntry entry : kBackends) names.push_back(entry().name);
  return names;
}

}  // namespace privrec
