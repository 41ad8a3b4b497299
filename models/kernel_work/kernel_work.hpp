#pragma once
// Per-backend kernel work formulas: for each operation of a plan, the work the backend's kernels do
// as a function of the sizes they ran with. A backend counts by calling its family's formulas with
// the sizes it actually ran; the performance model predicts by calling them with the sizes it
// expects (sim/work_model.hpp). A hardware profile names the family whose kernels it models.
#include <string>
#include <vector>

#include "models/algorithm.hpp"
#include "models/kernel_work/step_sizes.hpp"
#include "models/plan.hpp"
#include "models/work_counters.hpp"

namespace privrec {

class KernelWork {
 public:
  virtual ~KernelWork() = default;
  virtual const char* family() const = 0;
  // The work of `op` run with `sizes` under `cfg`.
  virtual WorkCounters op(const Op& op, const StepSizes& sizes, const AlgorithmConfig& cfg) const = 0;
};

// The families by name: "cpu" (kernels/cpu/) and "cuda" (kernels/cuda/). Throws InputError.
const KernelWork& kernel_work(const std::string& family);
std::vector<std::string> kernel_work_families();

}  // namespace privrec
