#include "sim/implementation_profile.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "models/config_error.hpp"
#include "models/json_reader.hpp"
#include "models/kernel_work/kernel_work.hpp"
#include "sim/preset_json.hpp"

namespace privrec::sim {

// Generated from configs/implementations/*.json at configure time (sim/CMakeLists.txt).
const std::map<std::string, std::string>& builtin_implementation_presets();

ImplementationProfile parse_implementation_profile(const nlohmann::json& j, const std::string& file) {
  if (!j.is_object()) throw config_error(file, "(top level)", json_value_text(j), "an object");
  JsonObjectReader r(j, file, "");
  ImplementationProfile p;
  p.name = r.required_string("name");
  p.description = r.required_string("description");
  if (r.has("provenance")) p.provenance = r.required_object("provenance", "an object");
  if (r.has("kernels")) {
    p.kernels = r.required_string("kernels");
    const std::vector<std::string> families = kernel_work_families();
    if (std::find(families.begin(), families.end(), p.kernels) == families.end()) {
      std::string known;
      for (const std::string& f : families) known += (known.empty() ? "" : ", ") + f;
      throw config_error(file, r.key_path("kernels"), p.kernels, "a kernel family: one of " + known);
    }
  }
  if (r.has("dispatch_us")) {
    p.dispatch_us = r.required_number("dispatch_us");
    if (!(p.dispatch_us >= 0 && p.dispatch_us <= 1e6))
      throw config_error(file, r.key_path("dispatch_us"), json_value_text(j.at("dispatch_us")),
                         "us per framework call, 0 .. 1e6");
  }
  p.materialized_noise = r.optional_bool("materialized_noise").value_or(false);
  if (r.has("cpu_rate_fractions")) {
    JsonObjectReader f(r.required_object("cpu_rate_fractions", "an object {\"rng_normals_per_s\", \"gemm_GFLOPps\"}"), file,
                       r.key_path("cpu_rate_fractions"));
    CpuRateFractions c;
    for (auto [key, value] : {std::pair{"rng_normals_per_s", &c.rng_normals_per_s}, std::pair{"gemm_GFLOPps", &c.gemm_GFLOPps}}) {
      *value = f.required_number(key);
      if (!(*value > 0 && *value <= 100))
        throw config_error(file, f.key_path(key), json_value_text(j.at("cpu_rate_fractions").at(key)),
                           "the framework's rate over the processor's, in (0, 100]");
    }
    f.reject_unknown_keys();
    p.cpu_rate_fractions = c;
  }
  parse_stage_maps(r, file, p.stage_efficiency, p.stage_fixed_ms, p.stage_bag_ns, p.stage_launch_us, p.stage_overlap);
  r.reject_unknown_keys();
  // Without its own kernels an implementation is the hardware profile's: nothing else applies.
  if (p.kernels.empty())
    for (const char* key :
         {"dispatch_us", "cpu_rate_fractions", "stage_efficiency", "stage_fixed_ms", "stage_bag_ns", "stage_launch_us", "stage_overlap"})
      if (r.has(key))
        throw config_error(file, r.key_path(key), json_value_text(j.at(key)),
                           "nothing: without \"kernels\" the hardware profile's own kernels and calibration apply");
  return p;
}

nlohmann::json ImplementationProfile::to_json() const {
  nlohmann::json j = {{"name", name}, {"description", description}};
  if (!provenance.is_null()) j["provenance"] = provenance;
  if (!kernels.empty()) j["kernels"] = kernels;
  if (dispatch_us > 0) j["dispatch_us"] = dispatch_us;
  if (materialized_noise) j["materialized_noise"] = true;
  if (cpu_rate_fractions)
    j["cpu_rate_fractions"] = {{"rng_normals_per_s", cpu_rate_fractions->rng_normals_per_s},
                               {"gemm_GFLOPps", cpu_rate_fractions->gemm_GFLOPps}};
  stage_maps_json(j, stage_efficiency, stage_fixed_ms, stage_bag_ns, stage_launch_us, stage_overlap);
  return j;
}

std::vector<std::string> implementation_preset_names() { return preset_names(builtin_implementation_presets()); }

ImplementationProfile load_implementation_profile(const std::string& name_or_file) {
  const PresetJson p =
      preset_or_file_json(builtin_implementation_presets(), "implementations", "--implementation", name_or_file);
  return parse_implementation_profile(p.json, p.file);
}

ImplementationProfile load_implementation_profile(const std::string& name_or_file, const std::string& hardware) {
  const std::vector<std::string> names = implementation_preset_names();
  const std::string variant = name_or_file + "-on-" + hardware;
  const bool preset = std::find(names.begin(), names.end(), name_or_file) != names.end();
  if (preset && !hardware.empty() && std::find(names.begin(), names.end(), variant) != names.end())
    return load_implementation_profile(variant);
  return load_implementation_profile(name_or_file);
}

std::string fitted_elsewhere_note(const ImplementationProfile& impl, const std::string& hardware) {
  const std::string fitted_on = impl.provenance.is_object() ? impl.provenance.value("hardware_profile", "") : "";
  if (impl.kernels.empty() || fitted_on.empty() || fitted_on == hardware) return "";
  return "the " + impl.name + " implementation's per-stage factors" +
         (impl.cpu_rate_fractions ? std::string(" and CPU rate fractions") : std::string()) +
         " were fitted against the PyTorch peer on " + fitted_on +
         "; on " + hardware + " they carry that machine's costs relative to roofline (unvalidated there)";
}

void apply_implementation(HardwareProfile& h, const ImplementationProfile& impl) {
  if (!impl.kernels.empty() && h.implementation != "fused")
    throw std::logic_error("apply_implementation: " + h.name + " already models the " + h.implementation +
                           " implementation; apply " + impl.name + " to the hardware profile itself");
  h.implementation = impl.name;
  h.materialized_noise = impl.materialized_noise;
  if (impl.kernels.empty()) return;
  if (const auto& f = impl.cpu_rate_fractions)
    if (ProcessorProfile* cpu = cpu_processor(h)) {  // before h.kernels becomes the implementation's
      cpu->rng_normals_per_s *= f->rng_normals_per_s;
      cpu->gemm_GFLOPps *= f->gemm_GFLOPps;
    }
  h.kernels = impl.kernels;
  // A framework call costs at least its dispatch and at least the processor's own launch.
  if (impl.dispatch_us > 0) {
    h.device.launch_overhead_us = std::max(h.device.launch_overhead_us, impl.dispatch_us);
    if (h.host) h.host->launch_overhead_us = std::max(h.host->launch_overhead_us, impl.dispatch_us);
  }
  h.stage_efficiency = impl.stage_efficiency;
  h.stage_fixed_ms = impl.stage_fixed_ms;
  h.stage_bag_ns = impl.stage_bag_ns;
  h.stage_launch_us = impl.stage_launch_us;
  h.stage_overlap = impl.stage_overlap;
  // The miss-cost curves were measured through the fused forward kernel's loop; the framework's
  // efficiencies were fitted without them. The sorted-visit curve stays: it measures the memory
  // under an access pattern, and the framework's updates visit coalesced, sorted rows too (its
  // efficiencies were fitted with the curve in place).
  h.device.memory_miss_cost = {};
  if (h.host) h.host->memory_miss_cost = {};
}

}  // namespace privrec::sim
