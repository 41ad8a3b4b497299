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
#include "kernels/cuda/noisy_update.hpp"
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

  // One batch on the device: all its tables' offsets and indices (and, for the step's own batch,
  // its dense features, labels and the per-table pointer arrays adafest's factors read) packed on
  // the host into one pinned buffer and sent with one asynchronous copy into one device buffer;
  // the pointers below are views into `dev`, valid until the next stage_batch() into this object.
  struct DeviceBatch {
    PinnedBuffer host;
    DeviceArray<char> dev;
    std::vector<const int64_t*> offsets, indices;
    const float* dense = nullptr;
    const float* labels = nullptr;
    const int64_t* const* offset_ptrs = nullptr;  // T_ device pointers, = offsets
    const int64_t* const* index_ptrs = nullptr;   // T_ device pointers, = indices
  };

  void stage_batch(const Batch& b, bool whole, DeviceBatch& d);
  void resize(int64_t B);
  // Layer l's input: the batch's dense features for the first layer, else what the layer below wrote.
  const float* input(size_t l) const { return l ? input_[l].data() : batch_.dense; }
  void count(const Op& op, WorkCounters& w) const;
  float* feat_grad(int64_t k) { return dfeat_.data() + (1 + k) * dim_; }
  void ghost_norms(const Batch& batch);
  void materialized_norms(const Batch& batch, bool keep_all);
  void record_clipped_fraction();
  void coalesce_tables(const Batch& batch, const float* factors);
  void coalesce_all(const Batch& batch, const DeviceBatch& d, const float* grad, int64_t table_stride, int64_t dim,
                    const float* factors);
  void clipped_mlp_sum();
  const std::vector<UpdateTable>& gradient_rows();
  // Every table's entry of the grouped updates, reset to its table and id (the caller fills the rest).
  std::vector<UpdateTable>& update_tables();
  void ensure_slots();
  std::vector<UpdateTable> marked_gradient_rows();
  void dense_noisy_update(float scale, uint64_t step);
  void selected_noisy_update(float scale, uint64_t step);
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
  std::vector<DeviceArray<float>> input_, delta_;  // input_[0] unused: the first layer reads batch_.dense
  DeviceArray<float> bottom_out_, feat_, dfeat_, logits_, dlogit_, dz_, clip_, cs_, scaled_;
  DeviceArray<double> norm2_, loss_;
  DeviceArray<float> per_example_, emb_rows_, sum_;
  int64_t per_example_stride_ = 0;
  // The step's batch (sent by embedding_forward) and lazydp's next batch (sent by the catch-up):
  // separate buffers, so the catch-up's upload never waits for or overwrites the step's.
  DeviceBatch batch_, next_;
  std::vector<ForwardTable> forward_group_;  // the forward's tables, refilled each step (no allocation)
  CoalesceWorkspace ws_;                   // every table's coalesce (and lazydp's next rows, adafest's sort)
  std::vector<CoalesceTable> coalesce_group_;
  std::vector<DeviceSparseRows> grads_;
  std::vector<UpdateTable> update_group_;  // the grouped updates' tables, refilled each use
  DeviceArray<int32_t> slots_;             // the dense and selected updates' slot map, every table's (see ensure_slots)
  std::vector<int64_t> slot_base_;         // table k's slots start at slot_base_[k]
  // adafest
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
