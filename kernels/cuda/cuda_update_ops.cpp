// The CUDA backend's operations, part two: adafest's selection, dp-fest's fixed rows, the MLP and
// table updates, and lazydp's settling of pending noise (catch-up and flush).
#include <algorithm>

#include "kernels/cuda/cuda_step_ops.hpp"
#include "kernels/cuda/dense_ops.hpp"
#include "kernels/cuda/fest_selection.hpp"
#include "kernels/cuda/noisy_update.hpp"
#include "traces/row_histogram.hpp"

namespace privrec::cuda {

namespace {
DeviceNoise device_noise(NoiseSource s) {
  switch (s) {
    case NoiseSource::gaussian: return DeviceNoise::gaussian;
    case NoiseSource::ones: return DeviceNoise::ones;
    case NoiseSource::zero: return DeviceNoise::zero;
  }
  return DeviceNoise::zero;
}
}  // namespace

// adafest: the contribution maps' clip factors, then per table the batch's ids sorted (no
// gradient yet) and the selected rows.
void CudaStepOps::select_rows(const OpContext& c, WorkCounters& w) {
  const Batch& batch = *c.batch;
  // The per-table pointer arrays came up with the batch (embedding_forward).
  factor_.resize(static_cast<size_t>(B_));
  adafest_example_factors(batch_.offset_ptrs, batch_.index_ptrs, T_, B_, cfg_.adafest.c1, factor_.data());
  if (selectors_.empty())
    for (int64_t k = 0; k < T_; ++k) selectors_.push_back(std::make_unique<AdafestSelector>());
  selection_.resize(T_);
  const double p = cfg_.zero_count_selection_probability();
  int64_t touched = 0, selected = 0, fps = 0, untouched = 0;
  coalesce_all(batch, batch_, nullptr, 0, 0, nullptr);  // every table's rows sorted, in one sort
  for (int64_t k = 0; k < T_; ++k) {
    selection_[k] = selectors_[k]->select(ws_.sort(k), factor_.data(), rows_[k], static_cast<uint32_t>(k),
                                          cfg_.adafest.sigma1, cfg_.adafest.tau, p, cfg_.seed, device_noise(cfg_.noise),
                                          static_cast<uint64_t>(c.step));
    const TableSelection& sel = selection_[k];
    TableSizes& t = sizes_.tables[k];
    t.unique_rows = static_cast<uint64_t>(sel.touched), t.selected = static_cast<uint64_t>(sel.count);
    t.selected_touched = static_cast<uint64_t>(sel.selected_touched);
    t.selection_draws = static_cast<uint64_t>(sel.draws);
    touched += sel.touched, selected += sel.selected_touched, fps += sel.false_positives;
    untouched += rows_[k] - sel.touched;
  }
  count({OpKind::select_rows}, w);
  c.rec->extras["touched_rows"] = touched;
  c.rec->extras["selected_touched_rows"] = selected;
  c.rec->extras["false_positive_rows"] = fps;
  c.rec->extras["untouched_rows"] = untouched;
}

// dp-fest: the contribution histogram of the run's data on the host (where the data is), each
// table's noisy counts and top k on the device; the chosen rows stay there as the selection every
// step's table_update(selected_rows) reads, as adafest's per-step one.
void CudaStepOps::choose_fixed_rows(const OpContext& c, WorkCounters& w) {
  const RowHistogram h = contribution_histogram(*c.trace, c.steps, cfg_.fest.c1);
  fixed_rows_.resize(static_cast<size_t>(T_));
  selection_.assign(static_cast<size_t>(T_), {});
  int64_t kept = 0;
  for (int64_t k = 0; k < T_; ++k) {
    TableSelection& sel = selection_[k];
    sel.count = choose_fixed_rows_on_device(h.tables[k], rows_[k], cfg_.fest.k, static_cast<uint32_t>(k),
                                            cfg_.fest.sigma, cfg_.seed, device_noise(cfg_.noise), fixed_rows_[k]);
    sel.rows = fixed_rows_[k].data();
    TableSizes& t = sizes_.tables[k];
    t.trace_lookups = h.lookups[k], t.trace_bag_distinct = h.bag_distinct[k], t.trace_bag_sort_ops = h.bag_sort_ops[k];
    t.selected = static_cast<uint64_t>(sel.count);
    kept += sel.count;
  }
  count({OpKind::choose_fixed_rows}, w);
  c.rec->extras["fixed_rows"] = kept;
}

void CudaStepOps::mlp_update(const OpContext& c, NoiseTarget noise, WorkCounters& w) {
  const bool noisy = noise != NoiseTarget::none;
  const float stddev = noisy ? static_cast<float>(cfg_.noise_stddev()) : 0.0f;
  const auto t = static_cast<uint64_t>(c.step);
  for (size_t l = 0; l < layers_.size(); ++l) {
    Layer& L = layers_[l];
    noisy_mlp_update(L.w.data(), L.gw.data(), L.out, L.in, c.scale, stddev, cfg_.seed, device_noise(cfg_.noise), noisy,
                     t, static_cast<uint32_t>(2 * l));
    noisy_mlp_update(L.b.data(), L.gb.data(), 1, L.out, c.scale, stddev, cfg_.seed, device_noise(cfg_.noise), noisy, t,
                     static_cast<uint32_t>(2 * l + 1));
  }
  count({.kind = OpKind::mlp_update, .noise = noise}, w);
}

// Every table in one launch (a group of 64 at a time).
void CudaStepOps::table_update(const OpContext& c, NoiseTarget noise, WorkCounters& w) {
  const auto t = static_cast<uint64_t>(c.step);
  const float stddev = static_cast<float>(cfg_.noise_stddev());
  switch (noise) {
    case NoiseTarget::none:
    case NoiseTarget::next_batch_rows: launch_sparse_update(gradient_rows().data(), T_, dim_, c.scale); break;
    case NoiseTarget::every_row: dense_noisy_update(c.scale, t); break;
    case NoiseTarget::touched_rows:
      launch_sparse_noisy_update(gradient_rows().data(), T_, dim_, c.scale, stddev, cfg_.seed, device_noise(cfg_.noise), t);
      break;
    case NoiseTarget::selected_rows: selected_noisy_update(c.scale, t); break;
  }
  for (int64_t k = 0; k < T_; ++k) {
    sizes_.tables[k].unique_rows = static_cast<uint64_t>(grads_[k].count);
    if (noise == NoiseTarget::selected_rows) sizes_.tables[k].selected = static_cast<uint64_t>(selection_[k].count);
  }
  count({.kind = OpKind::table_update, .noise = noise}, w);
  if (noise != NoiseTarget::next_batch_rows) return;
  // lazydp: every row now owes this step's noise, at this step's scale.
  scale_.push_back(c.scale);
  cum_.push_back(cum_.back() + c.scale);
  cum_sq_.push_back(cum_sq_.back() + static_cast<double>(c.scale) * c.scale);
}

std::vector<UpdateTable>& CudaStepOps::update_tables() {
  update_group_.resize(static_cast<size_t>(T_));
  for (int64_t k = 0; k < T_; ++k) {
    update_group_[k] = UpdateTable{};
    update_group_[k].table = tables_[k].data(), update_group_[k].table_id = static_cast<uint32_t>(k);
  }
  return update_group_;
}

// Each table's coalesced gradient rows as the grouped updates take them (refilled each use).
const std::vector<UpdateTable>& CudaStepOps::gradient_rows() {
  std::vector<UpdateTable>& group = update_tables();
  for (int64_t k = 0; k < T_; ++k) {
    group[k].count = grads_[k].count, group[k].rows = grads_[k].rows, group[k].grads = grads_[k].grads;
  }
  return group;
}

// One slot map for every table, table k's at slot_base_[k], all -1 (set and cleared around each
// use): 4 bytes a row, a 1/dim share of the tables' own bytes.
void CudaStepOps::ensure_slots() {
  if (!slot_base_.empty()) return;
  slot_base_.assign(static_cast<size_t>(T_) + 1, 0);
  for (int64_t k = 0; k < T_; ++k) slot_base_[k + 1] = slot_base_[k] + rows_[k];
  slots_.resize(static_cast<size_t>(slot_base_.back()));
  if (slots_.size() > 0) fill_bytes(slots_.data(), 0xFF, slots_.size() * sizeof(int32_t));
}

// Each table's gradient rows with its part of the slot map, the slots of those rows set (one
// launch): for an update that finds gradients through the slots, after which the caller clears
// them with launch_set_slots(marks, T_, false).
std::vector<UpdateTable> CudaStepOps::marked_gradient_rows() {
  ensure_slots();
  std::vector<UpdateTable> marks = gradient_rows();
  for (int64_t k = 0; k < T_; ++k) marks[k].slots = slots_.data() + slot_base_[k];
  launch_set_slots(marks.data(), T_, true);
  return marks;
}

// Every table's slots set, every table updated, every table's slots cleared: three launches.
void CudaStepOps::dense_noisy_update(float scale, uint64_t step) {
  const std::vector<UpdateTable> marks = marked_gradient_rows();
  std::vector<UpdateTable> every = marks;  // rows: all of them, their gradients found in the slots
  for (int64_t k = 0; k < T_; ++k) every[k].rows = nullptr, every[k].count = rows_[k];
  launch_dense_noisy_update(every.data(), T_, dim_, scale, static_cast<float>(cfg_.noise_stddev()), cfg_.seed,
                            device_noise(cfg_.noise), step);
  launch_set_slots(marks.data(), T_, false);
}

// adafest's (and dp-fest's) selected rows of every table, as the dense update: three launches.
void CudaStepOps::selected_noisy_update(float scale, uint64_t step) {
  const std::vector<UpdateTable> marks = marked_gradient_rows();
  std::vector<UpdateTable> chosen = marks;  // rows: the selection, their gradients found in the slots
  for (int64_t k = 0; k < T_; ++k) chosen[k].rows = selection_[k].rows, chosen[k].count = selection_[k].count;
  launch_selected_noisy_update(chosen.data(), T_, dim_, scale, static_cast<float>(cfg_.noise_stddev()), cfg_.seed,
                               device_noise(cfg_.noise), step);
  launch_set_slots(marks.data(), T_, false);
}

void CudaStepOps::lazy_catchup(const OpContext& c, WorkCounters& w) {
  settle(c.next, static_cast<uint32_t>(c.step));
  count({OpKind::lazy_catchup}, w);
  uint64_t owed = 0;
  for (const TableSizes& t : sizes_.tables) owed += t.owed;
  c.rec->extras["catchup_rows"] = static_cast<int64_t>(owed);
}

void CudaStepOps::lazy_flush(const OpContext& c, WorkCounters& w) {
  settle(nullptr, static_cast<uint32_t>(c.step));
  count({OpKind::lazy_flush}, w);
  uint64_t owed = 0;
  for (const TableSizes& t : sizes_.tables) owed += t.owed;
  c.rec->extras["flushed_rows"] = static_cast<int64_t>(owed);
}

// lazydp: the next batch's distinct rows (next == nullptr: every row) receive their pending noise;
// each table's rows that owed noise and their pending steps are read back for the counters.
void CudaStepOps::settle(const Batch* next, uint32_t now) {
  // Only the steps added since the last settle go up (the whole schedule is 24 bytes a step: at a
  // Criteo epoch's two million steps, 48 MB a step if re-uploaded).
  scale_d_.upload_tail(scale_, schedule_on_device_), cum_d_.upload_tail(cum_, schedule_on_device_);
  cum_sq_d_.upload_tail(cum_sq_, schedule_on_device_);
  schedule_on_device_ = scale_.size();
  owed_.zero();
  const bool exact = cfg_.lazydp.noise == LazyNoiseMode::exact;
  // The next batch's ids of every table go up in one asynchronous copy, into buffers of their own
  // (the step's batch_ stays as it is).
  // Every table's distinct rows are sorted out in one sort.
  if (next) {
    stage_batch(*next, false, next_);
    coalesce_all(*next, next_, nullptr, 0, 0, nullptr);
  }
  std::vector<UpdateTable>& group = update_tables();
  for (int64_t k = 0; k < T_; ++k) {
    UpdateTable& u = group[k];
    u.count = rows_[k];
    u.history = history_[k].data(), u.owed_steps = owed_.data() + 2 * k;
    if (next) {
      const DeviceSparseRows& r = ws_.rows(k);
      u.rows = r.rows, u.count = r.count;
      sizes_.tables[k].next_lookups = next->tables[k].indices.size();
      sizes_.tables[k].next_unique = static_cast<uint64_t>(r.count);
    }
  }
  launch_lazy_settle(group.data(), T_, dim_, now, static_cast<float>(cfg_.noise_stddev()), exact,
                     device_noise(cfg_.noise), cfg_.seed, scale_d_.data(), cum_d_.data(), cum_sq_d_.data());
  const std::vector<unsigned long long> o = owed_.download();
  for (int64_t k = 0; k < T_; ++k) sizes_.tables[k].owed = o[2 * k], sizes_.tables[k].owed_steps = o[2 * k + 1];
}

}  // namespace privrec::cuda
