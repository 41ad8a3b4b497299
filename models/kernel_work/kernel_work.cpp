#include "models/kernel_work/kernel_work.hpp"

#include "models/config_error.hpp"
#include "models/kernel_work/cpu_work.hpp"
#include "models/kernel_work/cuda_work.hpp"
#include "models/kernel_work/framework_work.hpp"

namespace privrec {

namespace {
// Each backend's family of formulas; adding one is its file and one line here.
const std::vector<const KernelWork*>& families() {
  static const std::vector<const KernelWork*> all = {&cpu_work::cpu_kernel_work(), &cuda_work::cuda_kernel_work(),
                                                      &framework_work::framework_kernel_work()};
  return all;
}
}  // namespace

bool works_on(OpKind k, WorkSide side) {
  switch (op_side(k)) {
    case OpSide::dense: return side == WorkSide::dense;
    case OpSide::tables: return side == WorkSide::tables;
    case OpSide::both: return true;
    case OpSide::communication: return false;
  }
  return false;
}

// On one device both sides run on the same sizes, and their counters add up to the whole op (the
// formulas count integers, so the split does not move a single unit).
WorkCounters KernelWork::op(const Op& op, const StepSizes& sizes, const AlgorithmConfig& cfg) const {
  WorkCounters w = part(op, sizes, cfg, WorkSide::dense);
  w += part(op, sizes, cfg, WorkSide::tables);
  return w;
}

uint64_t lazy_history_bytes(AlgorithmKind kind) {
  return plan_of(kind).has(OpKind::lazy_catchup) ? sizeof(uint32_t) : 0;
}

const KernelWork& kernel_work(const std::string& family) {
  for (const KernelWork* k : families())
    if (family == k->family()) return *k;
  std::string known;
  for (const std::string& n : kernel_work_families()) known += (known.empty() ? "" : ", ") + n;
  throw InputError("kernels '" + family + "': unknown kernel family (expected one of " + known + ")");
}

std::vector<std::string> kernel_work_families() {
  std::vector<std::string> names;
  for (const KernelWork* k : families()) names.push_back(k->family());
  return names;
}

}  // namespace privrec
