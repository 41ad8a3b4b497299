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

// The two sides of a sharded step that compute (plan.hpp OpSide): the data-parallel MLPs, and the
// owners of the table rows.
enum class WorkSide { dense, tables };

// Whether an operation of kind k does work on `side`: a `both` op on either, a communication op on
// neither (its cost is the scale-out model's, sim/scale_out).
bool works_on(OpKind k, WorkSide side);

class KernelWork {
 public:
  virtual ~KernelWork() = default;
  virtual const char* family() const = 0;
  // The part of `op`'s work done on one side of a sharded step (plan.hpp OpSide): the data-parallel side
  // (sizes.dense at the device's local batch; sizes.tables may be empty) or the owners' side (sizes.tables the
  // device's shards, at the whole batch, sizes.dense.batch the whole batch, sizes.dense.tables the number of
  // shards it holds, sizes.dense.layers possibly empty). A dense op has no table part and vice versa;
  // communication ops have none of either (0).
  virtual WorkCounters part(const Op& op, const StepSizes& sizes, const AlgorithmConfig& cfg, WorkSide side) const = 0;
  // The whole op: part(dense) + part(tables). Non-virtual: one place defines it.
  WorkCounters op(const Op& op, const StepSizes& sizes, const AlgorithmConfig& cfg) const;
  // Bytes every table row carries beside its parameters for the whole run with these kernels:
  // lazydp's history (lazy_history_bytes) and whatever else the family keeps per row. The
  // backends' memory plans and the model's fit checks count it.
  virtual uint64_t row_state_bytes(AlgorithmKind kind) const = 0;
};

// lazydp's history: per row the last step whose noise the row received, a uint32 (0 without lazydp).
uint64_t lazy_history_bytes(AlgorithmKind kind);

// The families by name: "cpu" (kernels/cpu/), "cuda" (kernels/cuda/) and "framework" (the
// framework way, as PyTorch code runs a step: an implementation profile selects it). Throws InputError.
const KernelWork& kernel_work(const std::string& family);
std::vector<std::string> kernel_work_families();

}  // namespace privrec
