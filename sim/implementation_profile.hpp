#pragma once
// Implementation profiles (configs/implementations/*.json): how the algorithms are implemented,
// apart from the hardware they run on. "fused" is privrec's own kernels (the hardware profile's
// kernel family and calibration, as written). "framework" is the framework way (PyTorch code as
// the LazyDP paper's runs it, REFERENCE.md section 8): its own work formulas (the "framework"
// family, models/kernel_work/framework_work.hpp), a dispatch overhead per framework call in place
// of the processors' launch overhead, its own calibrated per-stage factors, and dpsgd's dense
// noise materialized beside the tables (its memory footprint), and the rates of its own primitives
// on a CPU (torch.randn, its BLAS GEMM) as fractions of the hardware profile's.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/hardware_profile.hpp"

namespace privrec::sim {

// The framework's own primitives on a CPU against privrec's, measured side by side (the peer's
// torch.randn and torch.mm against privrec's rate probes, tools/calibrate_framework.cpp): its
// normals per second and GEMM rate as fractions of the processor's rng_normals_per_s and
// gemm_GFLOPps. They scale every CPU processor the model runs stages on (a CPU profile's device, any
// profile's host); a GPU runs the framework's calls on its own libraries (cuRAND, cuBLAS), whose
// rates the GPU profiles already describe.
struct CpuRateFractions {
  double rng_normals_per_s = 1, gemm_GFLOPps = 1;
  bool operator==(const CpuRateFractions&) const = default;
};

struct ImplementationProfile {
  std::string name, description;
  nlohmann::json provenance;
  std::string kernels;     // the work formulas' family; "" : the hardware profile's own
  double dispatch_us = 0;  // per framework call (the launches counter); 0: the processors' launch overhead
  bool materialized_noise = false;
  std::optional<CpuRateFractions> cpu_rate_fractions;  // none: the framework's primitives at the processor's rates
  // Calibrated per stage (as a hardware profile's, sim/hardware_profile.hpp); with `kernels` set
  // they replace the hardware profile's, which describe its own kernels.
  StageMap stage_efficiency, stage_fixed_ms, stage_bag_ns, stage_launch_us, stage_overlap;
  nlohmann::json to_json() const;
};

// A preset name (configs/implementations/NAME.json, built in) or a JSON file; InputError naming
// the file, key and value.
ImplementationProfile load_implementation_profile(const std::string& name_or_file);
// The same, for a model on the hardware profile named `hardware`: a preset NAME fitted on several
// machines ships as NAME (the first) and NAME-on-HARDWARE for the others (e.g. framework-on-cpu-xeon-2c,
// the PyTorch peer's costs fitted on the Xeon VM), and the variant of `hardware` wins where one ships.
ImplementationProfile load_implementation_profile(const std::string& name_or_file, const std::string& hardware);
ImplementationProfile parse_implementation_profile(const nlohmann::json& j, const std::string& file);
std::vector<std::string> implementation_preset_names();

// Where an implementation's per-stage factors were fitted on another hardware profile than
// `hardware` (its provenance's hardware_profile), what that means for a model on `hardware`; ""
// otherwise (fused, or fitted on that profile).
std::string fitted_elsewhere_note(const ImplementationProfile& impl, const std::string& hardware);

// The hardware profile as the implementation runs on it: its kernel family, dispatch overhead,
// calibration, footprint and CPU rate fractions (nothing changes for one without `kernels`, such as
// fused). Applied once: a profile that already carries an implementation other than fused is refused
// for one with kernels of its own (std::logic_error), since the rate fractions would compound.
void apply_implementation(HardwareProfile& h, const ImplementationProfile& impl);

}  // namespace privrec::sim
