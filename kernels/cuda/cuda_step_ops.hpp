#pragma once
// The CUDA backend's operations (kernels/step_ops.hpp): the model and every buffer on device 0,
// each operation the CUDA kernels it stands for, each stage timed with CUDA events. Each operation
// counts its work with the CUDA work formulas (models/kernel_work/cuda_work.hpp) called with the
// sizes it ran (batch, distinct rows, selection, owed noise read back from the device), so the
// counters are what the performance model predicts for the same sizes. Plain C++: no CUDA headers.
#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/cpu/dlrm_model.hpp"
#include "kernels/cuda/adafest_selection.hpp"
#include "kernels/cuda/device_memory.hpp"
#include "kernels/cuda/embedding_bag.hpp"
#include "kernels/step_ops.hpp"
#include "models/algorithm.hpp"
#include "models/kernel_work/step_sizes.hpp"

namespace privrec::cuda {

class CudaStepOps final : public StepOps {
 public:
  // Uploads `host` (the initial model); allocates lazydp's history when the plan settles noise.
  CudaStepOps(const cpu::DlrmModel& host, const AlgorithmConfig& cfg);

  void start_stage(Stage s) override;
  double stop_stage_seconds(Stage s) override;

  void embedding_forward(const OpContext& c, WorkCounters& w) override;
  void dense_forward(const OpContext& c, WorkCounters& w) override;
  void backward_deltas(const OpContext& c, WorkCounters& w) override;
  void weight_grads(const OpContext& c, bool clipped, WorkCounters& w) override;
  void clip_norms(const OpContext& c, Norms norms, WorkCounters& w) override;
  void clipped_sum(const OpContext& c, WorkCounters& w) override;
  void coalesce(const OpContext& c, bool clipped, WorkCounters& w) override;
  void select_rows(const OpContext& c, WorkCounters& w) override;
  void choose_fixed_rows(const OpContext& c, WorkCounters& w) override;
  void mlp_update(const OpContext& c, NoiseTarget noise, WorkCounters& w) override;
  void table_update(const OpContext& c, NoiseTarget noise, WorkCounters& w) override;
  void lazy_catchup(const OpContext& c, WorkCounters& w) override;
  void lazy_flush(const OpContext& c, WorkCounters& w) override;

  // The model as trained so far, copied into `host` (same workload): for --save-model and
  // comparisons. Waits for the device.
  void download(cpu::DlrmModel& host) const;

 private:
  struct Layer {
    int64_t in = 0, out = 0;
    bool relu = true;
    DeviceArray<float> w, b, gw, gb;
  };

  void resize(int64_t B);
  void count(const Op& op, WorkCounters& w) const;
  float* feat_grad(int64_t k) { return dfeat_.data() + (1 + k) * dim_; }
  void ghost_norms(const Batch& batch);
  void materialized_norms(const Batch& batch, bool keep_all);
  void record_clipped_fraction();
  void coalesce_tables(const Batch& batch, const float* factors);
  void clipped_mlp_sum();
  void ensure_slots(int64_t rows);
  void sparse_update(int64_t k, float scale);
  void dense_noisy_update(int64_t k, float scale, uint64_t step);
  void selected_noisy_update(int64_t k, float scale, uint64_t step);
  void settle(const Batch* next, uint32_t now);

  AlgorithmConfig cfg_;
  std::array<std::unique_ptr<EventTimer>, kStages> timers_;
  // The sizes the operations ran with, for the work formulas: the dense shape at resize(), the
  // tables' fields set by the operation that ran them.
  StepSizes sizes_;
  // Set by clip_norms: the record whose clipped fraction is read back once the stage's timer stops.
  StepRecord* clip_rec_ = nullptr;

  std::vector<DeviceArray<float>> tables_;
  std::vector<int64_t> rows_;
  std::vector<Layer> layers_;
  size_t nb_ = 0;
  int64_t dim_ = 0, T_ = 0, F_ = 0, width_ = 0, B_ = -1;
  std::vector<DeviceArray<float>> input_, delta_;
  DeviceArray<float> bottom_out_, feat_, dfeat_, logits_, labels_, dlogit_, dz_, clip_, cs_, scaled_;
  DeviceArray<double> norm2_, loss_;
  DeviceArray<float> per_example_, emb_rows_, sum_;
  int64_t per_example_stride_ = 0;
  std::vector<DeviceArray<int64_t>> offsets_, indices_, next_offsets_, next_indices_;
  std::vector<std::unique_ptr<CoalesceWorkspace>> ws_;
  std::vector<DeviceSparseRows> grads_;
  DeviceArray<int32_t> slots_;
  // adafest
  DeviceArray<const int64_t*> off_ptrs_, idx_ptrs_;
  DeviceArray<float> factor_;
  std::vector<std::unique_ptr<AdafestSelector>> selectors_;
  std::vector<TableSelection> selection_;
  // dp-fest: each table's fixed rows, chosen once; selection_ points into them for every step.
  std::vector<DeviceArray<int64_t>> fixed_rows_;
  // lazydp: per row the last step whose noise it has; the schedule's scales and prefix sums
  // (index = step); per table the rows that owed noise and their pending steps.
  std::vector<DeviceArray<uint32_t>> history_;
  std::vector<double> scale_, cum_, cum_sq_;
  DeviceArray<double> scale_d_, cum_d_, cum_sq_d_;
  size_t schedule_on_device_ = 0;  // schedule entries already uploaded (the schedule only grows)
  DeviceArray<unsigned long long> owed_;
};

}  // namespace privrec::cuda
