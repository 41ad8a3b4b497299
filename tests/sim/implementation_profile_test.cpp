// Implementation profiles (sim/implementation_profile.hpp) and the framework way's work formulas
// (models/kernel_work/framework_work.hpp): presets load and round-trip, bad files name file, key
// and value, fused changes nothing, framework swaps the family, the dispatch overhead and the
// calibration; dpsgd's dense noise is three passes over the table and lives beside it.
#include <gtest/gtest.h>

#include "models/config_error.hpp"
#include "models/kernel_work/framework_work.hpp"
#include "models/kernel_work/working_memory.hpp"
#include "sim/implementation_profile.hpp"
#include "sim/simulation.hpp"
#include "sim/time_model.hpp"
#include "tests/test_helpers.hpp"

using namespace privrec;
using namespace privrec::sim;

namespace {
std::string error_of(const nlohmann::json& j) {
  try {
    parse_implementation_profile(j, "impl.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "(accepted)";
}

// One table of 1000 rows at dim 16; 10 distinct rows in the batch, 7 in the next.
StepSizes one_table() {
  StepSizes s;
  s.dense.batch = 8, s.dense.tables = 1, s.dense.dim = 16;
  TableSizes t;
  t.rows = 1000, t.lookups = 12, t.unique_rows = 10, t.next_lookups = 9, t.next_unique = 7;
  s.tables.push_back(t);
  return s;
}
}  // namespace

// A preset fitted on several machines: NAME-on-HARDWARE wins for a model on HARDWARE; elsewhere,
// and for a file or a name with no variant, the name itself.
TEST(ImplementationProfile, TheVariantFittedOnTheHardwareInUseWins) {
  const ImplementationProfile xeon = load_implementation_profile("framework", "cpu-xeon-2c");
  EXPECT_EQ(xeon.name, "framework-on-cpu-xeon-2c");
  EXPECT_EQ(xeon.provenance.value("hardware_profile", ""), "cpu-xeon-2c");
  EXPECT_EQ(fitted_elsewhere_note(xeon, "cpu-xeon-2c"), "");
  EXPECT_EQ(load_implementation_profile("framework", "cpu-epyc-2c").name, "framework");
  EXPECT_EQ(load_implementation_profile("framework", "").name, "framework");
  EXPECT_EQ(load_implementation_profile("fused", "cpu-xeon-2c").name, "fused");
  EXPECT_EQ(load_implementation_profile("framework-on-cpu-xeon-2c", "cpu-epyc-2c").name, "framework-on-cpu-xeon-2c");
  EXPECT_THROW(load_implementation_profile("frame", "cpu-xeon-2c"), InputError);
}

TEST(ImplementationProfile, PresetsLoadAndRoundTrip) {
  for (const std::string& name : implementation_preset_names()) {
    const ImplementationProfile p = load_implementation_profile(name);
    EXPECT_EQ(p.name, name);
    const ImplementationProfile q = parse_implementation_profile(p.to_json(), "again.json");
    EXPECT_EQ(q.to_json(), p.to_json()) << name;
  }
  EXPECT_TRUE(load_implementation_profile("fused").kernels.empty());
  EXPECT_EQ(load_implementation_profile("framework").kernels, "framework");
  EXPECT_TRUE(load_implementation_profile("framework").materialized_noise);
}

TEST(ImplementationProfile, BadFilesNameFileKeyAndValue) {
  const nlohmann::json good = load_implementation_profile("framework").to_json();
  auto with = [&](auto change) {
    nlohmann::json j = good;
    change(j);
    return error_of(j);
  };
  std::string e = with([](auto& j) { j["kernels"] = "tpu"; });
  EXPECT_NE(e.find("impl.json"), std::string::npos) << e;
  EXPECT_NE(e.find("kernels"), std::string::npos) << e;
  EXPECT_NE(e.find("tpu"), std::string::npos) << e;
  e = with([](auto& j) { j["dispatch_us"] = -1; });
  EXPECT_NE(e.find("dispatch_us"), std::string::npos) << e;
  e = with([](auto& j) { j["materialized_noise"] = "yes"; });
  EXPECT_NE(e.find("materialized_noise"), std::string::npos) << e;
  e = with([](auto& j) { j["stage_efficiency"] = {{"dp.update", 0}}; });
  EXPECT_NE(e.find("stage_efficiency.dp.update"), std::string::npos) << e;
  e = with([](auto& j) { j.erase("kernels"); });  // no kernels of its own: its dispatch cannot apply
  EXPECT_NE(e.find("dispatch_us"), std::string::npos) << e;
  e = with([](auto& j) {  // nor its own overlap
    for (const char* k : {"kernels", "dispatch_us", "cpu_rate_fractions", "stage_efficiency", "stage_fixed_ms",
                          "stage_bag_ns", "stage_launch_us"})
      j.erase(k);
    j["stage_overlap"] = {{"bwd.emb", 0.5}};
  });
  EXPECT_NE(e.find("stage_overlap"), std::string::npos) << e;
  e = with([](auto& j) { j["cpu_rate_fractions"] = {{"rng_normals_per_s", 0}, {"gemm_GFLOPps", 0.3}}; });
  EXPECT_NE(e.find("cpu_rate_fractions.rng_normals_per_s"), std::string::npos) << e;
  e = with([](auto& j) { j["cpu_rate_fractions"] = {{"rng_normals_per_s", 0.2}}; });  // both or none
  EXPECT_NE(e.find("cpu_rate_fractions.gemm_GFLOPps"), std::string::npos) << e;
  e = with([](auto& j) { j["cpu_rate_fractions"] = {{"rng_normals_per_s", 0.2}, {"gemm_GFLOPps", 0.3}, {"sort", 1}}; });
  EXPECT_NE(e.find("cpu_rate_fractions.sort"), std::string::npos) << e;
  e = with([](auto& j) { j["cpu_rate_fractions"] = 0.5; });
  EXPECT_NE(e.find("cpu_rate_fractions"), std::string::npos) << e;
  EXPECT_NE(e.find("an object"), std::string::npos) << e;
  e = with([](auto& j) { j["cpu_rate_fractions"] = {{"rng_normals_per_s", 0.2}, {"gemm_GFLOPps", 101}}; });
  EXPECT_NE(e.find("cpu_rate_fractions.gemm_GFLOPps"), std::string::npos) << e;
  EXPECT_NE(e.find("101"), std::string::npos) << e;
  e = with([](auto& j) { j["cpu_rate_fractions"] = {{"rng_normals_per_s", "fast"}, {"gemm_GFLOPps", 0.3}}; });
  EXPECT_NE(e.find("cpu_rate_fractions.rng_normals_per_s"), std::string::npos) << e;
  e = with([](auto& j) {  // without kernels of its own the fractions cannot apply
    for (const char* k : {"kernels", "dispatch_us", "stage_efficiency", "stage_fixed_ms", "stage_bag_ns", "stage_launch_us"})
      j.erase(k);
    j["cpu_rate_fractions"] = {{"rng_normals_per_s", 0.2}, {"gemm_GFLOPps", 0.3}};
  });
  EXPECT_NE(e.find("cpu_rate_fractions"), std::string::npos) << e;
  EXPECT_NE(e.find("without \"kernels\""), std::string::npos) << e;
  e = with([](auto& j) { j["speed"] = 2; });
  EXPECT_NE(e.find("speed"), std::string::npos) << e;
  EXPECT_EQ(error_of(good), "(accepted)");
  try {
    load_implementation_profile("framwork");
    ADD_FAILURE() << "an unknown preset was accepted";
  } catch (const InputError& x) {
    EXPECT_NE(std::string(x.what()).find("framework"), std::string::npos) << x.what();  // the presets, listed
  }
}

TEST(ImplementationProfile, FusedChangesNothingFrameworkSwapsFamilyDispatchAndCalibration) {
  const HardwareProfile base = load_hardware_profile("cpu-epyc-2c");
  HardwareProfile fused = base;
  apply_implementation(fused, load_implementation_profile("fused"));
  EXPECT_EQ(fused.to_json(), base.to_json());
  EXPECT_FALSE(fused.materialized_noise);
  ImplementationProfile f = load_implementation_profile("framework");
  f.dispatch_us = 9.5;
  f.stage_efficiency = {{"dp.update", 2.0}};
  f.stage_fixed_ms.clear(), f.stage_bag_ns.clear(), f.stage_launch_us.clear();
  f.cpu_rate_fractions.reset();  // CpuRateFractionsScaleTheCpuOnly covers them
  HardwareProfile h = base;
  apply_implementation(h, f);
  EXPECT_EQ(h.kernels, "framework");
  EXPECT_EQ(h.implementation, "framework");
  EXPECT_TRUE(h.materialized_noise);
  EXPECT_EQ(h.device.launch_overhead_us, 9.5);
  EXPECT_EQ(h.stage_efficiency, f.stage_efficiency);  // the fused kernels' calibration replaced
  EXPECT_TRUE(h.stage_fixed_ms.empty());
  ASSERT_FALSE(base.stage_overlap.empty());  // the committed CPU profile has its stages' own overlaps
  EXPECT_TRUE(h.stage_overlap.empty());      // the framework combines at the processor's fraction
  EXPECT_EQ(h.device.stream_GBps, base.device.stream_GBps);  // the hardware is the same
  EXPECT_EQ(h.device.rng_normals_per_s, base.device.rng_normals_per_s);  // no rate fractions: its rates too
  EXPECT_THROW(apply_implementation(h, f), std::logic_error);  // once only
}

// The framework's torch.randn and torch.mm rates, as fractions of privrec's, scale the processor the
// CPU work runs on: a CPU profile's device, or the host of a profile with one; never a GPU.
TEST(ImplementationProfile, CpuRateFractionsScaleTheCpuOnly) {
  ImplementationProfile f = load_implementation_profile("framework");
  f.cpu_rate_fractions = CpuRateFractions{0.125, 0.25};
  const ImplementationProfile back = parse_implementation_profile(f.to_json(), "impl.json");
  ASSERT_TRUE(back.cpu_rate_fractions.has_value());
  EXPECT_EQ(*back.cpu_rate_fractions, *f.cpu_rate_fractions);
  for (const char* name : {"cpu-xeon-2c", "v100-xeon-e5-2698v4", "h100-sxm", "h200"}) {
    const HardwareProfile base = load_hardware_profile(name);
    HardwareProfile h = base;
    apply_implementation(h, f);
    const bool cpu_device = !base.host && base.kernels == "cpu";
    // The CPU among the processors: the device of a CPU profile, else the host; none for a GPU alone.
    const ProcessorProfile* cpu = cpu_processor(base);
    EXPECT_EQ(cpu, cpu_device ? &base.device : base.host ? &*base.host : nullptr) << name;
    EXPECT_EQ(h.device.rng_normals_per_s, base.device.rng_normals_per_s * (cpu_device ? 0.125 : 1.0)) << name;
    EXPECT_EQ(h.device.gemm_GFLOPps, base.device.gemm_GFLOPps * (cpu_device ? 0.25 : 1.0)) << name;
    EXPECT_EQ(h.device.stream_GBps, base.device.stream_GBps) << name;
    if (base.host) {
      EXPECT_EQ(h.host->rng_normals_per_s, base.host->rng_normals_per_s * 0.125) << name;
      EXPECT_EQ(h.host->gemm_GFLOPps, base.host->gemm_GFLOPps * 0.25) << name;
      EXPECT_EQ(h.host->vector_GFLOPps, base.host->vector_GFLOPps) << name;
    }
  }
  // The modeled dpsgd-f table noise: rng-bound, it takes 8x as long at an eighth of the rate.
  const Workload w = load_workload("rmc2");
  HardwareProfile slow = load_hardware_profile("cpu-xeon-2c"), fast = slow;
  apply_implementation(slow, f);
  f.cpu_rate_fractions.reset();
  apply_implementation(fast, f);
  const auto cfg = test::algo(AlgorithmKind::dpsgd_f, 1.0, 1.0);
  const SimReport a = simulate_analytic(w, cfg, slow, 2), b = simulate_analytic(w, cfg, fast, 2);
  const auto update = [](const SimReport& r) {
    for (const auto& s : r.stages)
      if (s.stage == Stage::dp_update) return s.time;
    ADD_FAILURE() << "no dp.update";
    return StageTime{};
  };
  EXPECT_DOUBLE_EQ(update(a).rng_ms, 8.0 * update(b).rng_ms);
  EXPECT_EQ(update(a).memory_ms, update(b).memory_ms);
}

// dpsgd-f the framework way, one table of n = 1000 x 16 values: randn and its scaled copy (read n,
// write 2n), the 10 gradient rows scattered into the noise, the dense add (read 2n, write n).
TEST(FrameworkWork, DenseNoiseIsThreePassesAndLivesBesideTheTables) {
  const KernelWork& k = kernel_work("framework");
  const StepSizes s = one_table();
  const uint64_t n = 1000 * 16, U = 10, row = 8 + 16 * 4;
  const WorkCounters w = k.op({.kind = OpKind::table_update, .noise = NoiseTarget::every_row}, s,
                              test::algo(AlgorithmKind::dpsgd_f, 1.0, 1.0));
  EXPECT_EQ(w.rng_samples, n);
  EXPECT_EQ(w.bytes_read_seq, 3 * n * 4 + U * row);
  EXPECT_EQ(w.bytes_written_seq, 3 * n * 4);
  EXPECT_EQ(w.rows_read_rand, U);
  EXPECT_EQ(w.rows_written_rand, U);
  EXPECT_EQ(w.launches, 4u);  // randn, scale, index_add_, add_
  const uint64_t tables = 96'000'000;
  EXPECT_EQ(framework_work::materialized_noise_bytes(plan_of(AlgorithmKind::dpsgd_f), tables), tables);
  for (AlgorithmKind a : {AlgorithmKind::sgd, AlgorithmKind::eana, AlgorithmKind::lazydp})
    EXPECT_EQ(framework_work::materialized_noise_bytes(plan_of(a), tables), 0u) << algorithm_info(a).name;
}

// Above glibc's 32 MiB mmap threshold the framework's tensors are mapped afresh each step: a table of
// 600k x 16 values (38.4 MB) has its randn and the scaled copy faulted in (2 x 38.4 MB); its scattered
// and dense passes are the three passes as above. The small table's tensors come from the heap.
// Priced at the profile's first_touch_GBps where it has one, as a write pass at stream_GBps otherwise.
TEST(FrameworkWork, FreshTensorsAboveTheMmapThresholdAreFaultedIn) {
  const KernelWork& k = kernel_work("framework");
  StepSizes big = one_table();
  big.tables[0].rows = 600'000;
  const uint64_t n = 600'000 * 16;
  const auto update = [&](const StepSizes& s) {
    return k.op({.kind = OpKind::table_update, .noise = NoiseTarget::every_row}, s,
                test::algo(AlgorithmKind::dpsgd_f, 1.0, 1.0));
  };
  const WorkCounters w = update(big);
  EXPECT_EQ(w.bytes_first_touch, 2 * n * 4);
  EXPECT_EQ(w.bytes_written_seq, 3 * n * 4);  // first touch is not memory traffic of the operators
  EXPECT_EQ(update(one_table()).bytes_first_touch, 0u);
  // eana's noise on 600k touched rows: randn, its scaled copy and the noisy values, three new tensors.
  big.tables[0].unique_rows = 600'000;
  const WorkCounters e = k.op({.kind = OpKind::table_update, .noise = NoiseTarget::touched_rows}, big,
                              test::algo(AlgorithmKind::eana, 1.0, 1.0));
  EXPECT_EQ(e.bytes_first_touch, 3 * n * 4);

  HardwareProfile h = load_hardware_profile("v100-xeon-e5-2698v4");
  ASSERT_EQ(h.table_side().first_touch_GBps, 0.0);  // not measured there
  WorkCounters fresh_only;
  fresh_only.bytes_first_touch = 500'000'000;
  fresh_only.launches = 1;
  const double stream = h.table_side().stream_GBps;
  const StageTime unmeasured = stage_time(Stage::dp_update, fresh_only, 0, h, 0);
  EXPECT_DOUBLE_EQ(unmeasured.memory_ms, 1e3 * 0.5 / stream);
  EXPECT_EQ(unmeasured.first_touch_ms, 0.0);
  (h.host ? *h.host : h.device).first_touch_GBps = 0.25;  // 4 KB in 16 us
  const StageTime measured = stage_time(Stage::dp_update, fresh_only, 0, h, 0);
  EXPECT_EQ(measured.memory_ms, 0.0);
  EXPECT_DOUBLE_EQ(measured.first_touch_ms, 2000.0);
  EXPECT_DOUBLE_EQ(measured.overhead_ms, unmeasured.overhead_ms + 2000.0);
}

// lazydp the framework way updates in its catch-up's buffer: noise for the next batch's 7 rows and
// the gradient's 10 (the buffer is filled whole), one index_add_ of the merged rows (counted as the
// 17: an upper bound), the history's 7 entries; the plan's dp.update op does nothing of its own.
TEST(FrameworkWork, LazyDpUpdatesInItsCatchUpBuffer) {
  const KernelWork& k = kernel_work("framework");
  const StepSizes s = one_table();
  const AlgorithmConfig cfg = test::algo(AlgorithmKind::lazydp, 1.0, 1.0);
  EXPECT_EQ(k.op({.kind = OpKind::table_update, .noise = NoiseTarget::next_batch_rows}, s, cfg), WorkCounters{});
  const WorkCounters c = k.op({OpKind::lazy_catchup}, s, cfg);
  EXPECT_EQ(c.rng_samples, (7u + 10u) * 16u);
  EXPECT_EQ(c.rows_written_rand, 17u + 7u);  // the index_add_, and the history's entries
}

// The materialized noise counts against the memory that holds the tables: 15 GB of rmc2 tables fit
// the 23.5 GB of cpu-epyc-2c alone, not beside 15 GB of dense noise.
TEST(FrameworkWork, SimulateSaysWhenTheNoiseDoesNotFit) {
  Workload w = load_workload("rmc2");
  w.scale_tables(15e9 / static_cast<double>(w.table_bytes()));
  HardwareProfile h = load_hardware_profile("cpu-epyc-2c");
  const SimReport fused = simulate_analytic(w, test::algo(AlgorithmKind::dpsgd_f, 1.0, 1.0), h, 2);
  EXPECT_TRUE(fused.tables_fit);
  EXPECT_EQ(fused.noise_GB, 0.0);
  apply_implementation(h, load_implementation_profile("framework"));
  const SimReport f = simulate_analytic(w, test::algo(AlgorithmKind::dpsgd_f, 1.0, 1.0), h, 2);
  EXPECT_NEAR(f.noise_GB, f.table_GB, 1e-9);
  EXPECT_FALSE(f.tables_fit);
  EXPECT_TRUE(simulate_analytic(w, test::algo(AlgorithmKind::lazydp, 1.0, 1.0), h, 2).tables_fit);
}

// What the kernels keep per row beside the tables counts against their memory too: rmc2's rows are
// 128 B, so tables filling 99 % of the usable memory leave no room for 4 B a row of lazydp's history
// (any family) or of the CUDA updates' slot map (dpsgd-f), and fit without either (sgd, and eana).
TEST(Simulate, CountsTheKernelsPerRowStateBesideTheTables) {
  for (const char* hw : {"cpu-xeon-2c", "h100-sxm"}) {
    const HardwareProfile h = load_hardware_profile(hw);
    Workload w = load_workload("rmc2");
    w.scale_tables(0.99 * h.table_capacity_GB() * 1e9 / static_cast<double>(w.table_bytes()));
    const bool cuda = h.kernels == "cuda";
    for (const AlgorithmKind k : {AlgorithmKind::sgd, AlgorithmKind::eana, AlgorithmKind::dpsgd_f, AlgorithmKind::lazydp}) {
      const SimReport r = simulate_analytic(w, test::algo(k, 1.0, 1.0), h, 2);
      const bool state = k == AlgorithmKind::lazydp || (cuda && k == AlgorithmKind::dpsgd_f);
      const std::string what = std::string(hw) + " " + algorithm_info(k).name;
      EXPECT_DOUBLE_EQ(r.row_state_GB, state ? 4.0 * static_cast<double>(w.table_rows()) / 1e9 : 0.0) << what;
      EXPECT_EQ(r.tables_fit, !state) << what;
      EXPECT_EQ(misfit_note(r, h).find("per-row state") != std::string::npos, state) << what;
      // A CPU's tables are in its main memory, which the note does not call device memory.
      if (state)
        EXPECT_NE(misfit_note(r, h).find(cuda ? "GB of device memory" : "GB of main memory"), std::string::npos)
            << misfit_note(r, h);
    }
  }
}

// A device's tables may fill what the backends plan to use of it (kUsableDeviceMemory: the CUDA
// backend refuses a run beyond it), not its whole memory; host memory counts whole.
TEST(Simulate, DeviceTablesFitTheUsableShareOfTheMemory) {
  HardwareProfile h = load_hardware_profile("h100-sxm");
  EXPECT_DOUBLE_EQ(h.table_capacity_GB(), kUsableDeviceMemory * h.device.memory_GB);
  Workload w = load_workload("rmc2");
  for (const double fill : {0.89, 0.95}) {
    w.scale_tables(fill * h.device.memory_GB * 1e9 / static_cast<double>(w.table_bytes()));
    const SimReport r = simulate_analytic(w, test::algo(AlgorithmKind::sgd, 1.0, 1.0), h, 2);
    EXPECT_EQ(r.tables_fit, fill < kUsableDeviceMemory) << fill;
    if (!r.tables_fit) EXPECT_NE(misfit_note(r, h).find("GB usable of h100-sxm's 80 GB of device memory"), std::string::npos)
        << misfit_note(r, h);
  }
  const HardwareProfile paper = load_hardware_profile("v100-xeon-e5-2698v4");  // tables in host memory
  EXPECT_DOUBLE_EQ(paper.table_capacity_GB(), paper.host->memory_GB);
}
