#include "models/kernel_work/kernel_work.hpp"

#include "models/config_error.hpp"
#include "models/kernel_work/cpu_work.hpp"
#include "models/kernel_work/cuda_work.hpp"

namespace privrec {

namespace {
// Each backend's family of formulas; adding one is its file and one line here.
const std::vector<const KernelWork*>& families() {
  static const std::vector<const KernelWork*> all = {&cpu_work::cpu_kernel_work(), &cuda_work::cuda_kernel_work()};
  return all;
}
}  // namespace

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
