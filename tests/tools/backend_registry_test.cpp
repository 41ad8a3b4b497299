// The backend registry that tools/ asks instead of testing a backend's name.
#include <gtest/gtest.h>

#include "kernels/cpu/cpu_training.hpp"
#include "kernels/backend.hpp"
#include "kernels/cpu/dlrm_model.hpp"
#include "kernels/cuda/device.hpp"
#include "models/config_error.hpp"

namespace privrec {
namespace {

TEST(BackendRegistry, EveryNameIsFound) {
  const std::vector<std::string> names = backend_names();
  ASSERT_EQ(names, (std::vector<std::string>{"cpu", "cuda"}));
  for (const std::string& n : names) {
    const Backend& b = find_backend(n);
    EXPECT_EQ(b.name, n);
    EXPECT_EQ(b.kernel_family, n);
    EXPECT_FALSE(b.description.empty());
    EXPECT_FALSE(b.calibration_cases.empty());
    EXPECT_FALSE(b.validation_cases.empty());
    EXPECT_FALSE(b.model_profile.empty());
  }
  EXPECT_EQ(&find_backend("cpu"), &find_backend("cpu"));  // one object, looked up by name
}

TEST(BackendRegistry, UnknownNameListsTheRegisteredOnes) {
  try {
    find_backend("gpu");
    FAIL() << "find_backend accepted an unknown name";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "--backend gpu: expected one of cpu, cuda");
  }
  EXPECT_THROW(find_backend(""), InputError);
  EXPECT_THROW(find_backend("CPU"), InputError);
}

TEST(BackendRegistry, CpuPlansMemoryAsTheCpuTrainersDo) {
  const Backend& cpu = find_backend("cpu");
  EXPECT_TRUE(cpu.runs_on_host);
  EXPECT_TRUE(cpu.shrinks_batch);
  for (const char* model : {"tiny", "rmc2"})
    for (AlgorithmKind kind : {AlgorithmKind::sgd, AlgorithmKind::dpsgd_b, AlgorithmKind::lazydp}) {
      Workload w = load_workload(model);
      w.scale_tables(0.001);
      const MemoryPlan expected = plan_cpu_memory(w, kind, cpu::available_memory_bytes());
      const MemoryPlan plan = cpu.plan_memory(w, kind);
      EXPECT_EQ(plan.batch, expected.batch) << model;
      EXPECT_EQ(plan.note, expected.note) << model;
    }
}

TEST(BackendRegistry, CudaRefusesWithoutADevice) {
  const Backend& cuda = find_backend("cuda");
  EXPECT_FALSE(cuda.runs_on_host);
  EXPECT_FALSE(cuda.shrinks_batch);
  EXPECT_TRUE(cuda.measured_profile.empty());  // validate asks for the GPU profile
  if (cuda::query_device().available) GTEST_SKIP() << "a CUDA device is present";
  try {
    cuda.require_available();
    FAIL() << "require_available passed without a device";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("--backend cuda: no CUDA device was found (", 0), 0u) << e.what();
  }
  EXPECT_THROW(cuda.plan_memory(load_workload("tiny"), AlgorithmKind::sgd), InputError);
}

}  // namespace
}  // namespace privrec
