#include "sim/work_model.hpp"

#include <algorithm>
#include <cmath>

#include "traces/row_sort.hpp"

namespace privrec::sim {

namespace {
constexpr uint64_t kF = sizeof(float), kI = sizeof(int64_t), kH = sizeof(uint32_t);

struct Layer {
  uint64_t in, out;
};

// The MLP layers in the order the model stores them: bottom, then top.
std::vector<Layer> layers_of(const Workload& w) {
  std::vector<Layer> l;
  uint64_t in = static_cast<uint64_t>(w.dense_features);
  for (int64_t out : w.bottom_mlp) l.push_back({in, static_cast<uint64_t>(out)}), in = static_cast<uint64_t>(out);
  in = static_cast<uint64_t>(w.interaction_width());
  for (int64_t out : w.top_mlp) l.push_back({in, static_cast<uint64_t>(out)}), in = static_cast<uint64_t>(out);
  return l;
}

uint64_t u(int64_t x) { return static_cast<uint64_t>(x); }
// Sorting work of a radix sort of n keys over one table's rows.
uint64_t radix_ops(uint64_t n, const TableBatchStats& t) { return radix_sort_ops(n, bits_for(static_cast<uint64_t>(t.max_row))); }
uint64_t round_count(double x) { return static_cast<uint64_t>(std::llround(std::max(0.0, x))); }
}  // namespace

std::vector<TableSelection> expected_selection(const Workload& w, const AlgorithmConfig& cfg, const Batch& batch) {
  const int64_t B = batch.size, T = static_cast<int64_t>(batch.tables.size());
  // Each example's contribution map is clipped to C1 over the distinct rows of all its bags.
  std::vector<double> factor(B, 1.0);
  std::vector<int64_t> bag;
  for (int64_t i = 0; i < B; ++i) {
    int64_t distinct = 0;
    for (const auto& tb : batch.tables) {
      bag.assign(tb.indices.begin() + tb.offsets[i], tb.indices.begin() + tb.offsets[i + 1]);
      std::sort(bag.begin(), bag.end());
      distinct += std::unique(bag.begin(), bag.end()) - bag.begin();
    }
    // The kernel rounds the factor to float before summing; so does the model.
    if (distinct > 0)
      factor[i] = static_cast<float>(std::min(1.0, cfg.adafest_c1 / std::sqrt(static_cast<double>(distinct))));
  }
  const double p = cfg.zero_count_selection_probability();
  std::vector<TableSelection> out(T);
  for (int64_t t = 0; t < T; ++t) {
    const auto& tb = batch.tables[t];
    std::vector<std::pair<int64_t, int64_t>> pairs;  // (row, example), one per distinct pair
    for (int64_t i = 0; i < B; ++i)
      for (int64_t k = tb.offsets[i]; k < tb.offsets[i + 1]; ++k) pairs.emplace_back(tb.indices[k], i);
    std::sort(pairs.begin(), pairs.end());
    pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
    int64_t touched = 0;
    for (size_t k = 0; k < pairs.size();) {
      const int64_t r = pairs[k].first;
      double count = 0;
      for (; k < pairs.size() && pairs[k].first == r; ++k) count += static_cast<float>(factor[pairs[k].second]);
      ++touched;
      double pass;
      switch (cfg.noise) {
        case NoiseSource::gaussian:
          pass = 0.5 * std::erfc((cfg.adafest_tau - count) / (cfg.adafest_sigma1 * std::sqrt(2.0)));
          break;
        case NoiseSource::ones: pass = count + cfg.adafest_sigma1 >= cfg.adafest_tau ? 1.0 : 0.0; break;
        default: pass = count >= cfg.adafest_tau ? 1.0 : 0.0; break;
      }
      out[t].selected_touched += pass;
    }
    const double n = static_cast<double>(w.tables[t].rows);
    out[t].false_positives = p * (n - static_cast<double>(touched));
    // Geometric skipping draws one uniform per success over all n rows, plus the one that overshoots.
    out[t].draws = p > 0 ? p * n + 1 : 0;
  }
  return out;
}

WorkModel::WorkModel(const Workload& w, const AlgorithmConfig& cfg) : w_(w), cfg_(cfg) {
  if (cfg_.kind == AlgorithmKind::lazydp) history_.resize(w_.tables.size());
}

uint64_t WorkModel::noise_samples(uint64_t n) const { return cfg_.noise == NoiseSource::gaussian ? n : 0; }

void WorkModel::forward(const BatchStats& s, StageWork& out) const {
  const uint64_t B = u(s.batch), T = w_.tables.size(), d = u(w_.embedding_dim()), L = u(s.lookups());
  {  // embedding_forward
    WorkCounters& w = out.at(Stage::fwd_emb);
    w.rows_read_rand += L;
    w.bytes_read_rand += L * d * kF;
    w.bytes_read_seq += L * kI + T * (B + 1) * kI;
    w.bytes_written_seq += B * T * d * kF;
    w.flops += L * d;
    w.launches += 1;
  }
  WorkCounters& w = out.at(Stage::fwd_mlp);  // forward_dense
  w.bytes_read_seq += kF * u(s.dense_values);
  w.bytes_written_seq += kF * u(s.dense_values);
  const auto layers = layers_of(w_);
  auto dense_forward = [&](const Layer& l) {
    w.flops += 2 * B * l.in * l.out + 2 * B * l.out;
    w.gemm_flops += 2 * B * l.in * l.out;
    w.bytes_read_seq += kF * (B * l.in + 2 * l.in * l.out + l.out + B * l.out);
    w.bytes_written_seq += kF * (l.in * l.out + 2 * B * l.out);
    w.launches += 3;
  };
  const size_t nb = w_.bottom_mlp.size();
  for (size_t l = 0; l < nb; ++l) dense_forward(layers[l]);
  const uint64_t F = T + 1, pairs = F * (F - 1) / 2, width = u(w_.interaction_width());
  w.flops += 2 * B * pairs * d;
  w.bytes_read_seq += kF * (B * F * d + B * d);
  w.bytes_written_seq += kF * (B * d + B * width);
  w.launches += 1;
  for (size_t l = nb; l < layers.size(); ++l) dense_forward(layers[l]);
  w.flops += 10 * B;
  w.bytes_read_seq += 2 * kF * B;
  w.bytes_written_seq += 3 * kF * B;
}

void WorkModel::backward_deltas(int64_t batch, WorkCounters& w) const {
  const uint64_t B = u(batch), T = w_.tables.size(), d = u(w_.embedding_dim());
  const auto layers = layers_of(w_);
  const size_t nb = w_.bottom_mlp.size(), nt = w_.top_mlp.size();
  auto backward_input = [&](const Layer& l, bool masked) {
    w.flops += 2 * B * l.in * l.out;
    w.gemm_flops += 2 * B * l.in * l.out;
    w.bytes_read_seq += kF * (B * l.out + l.in * l.out);
    w.bytes_written_seq += kF * B * l.in;
    w.launches += 1;
    if (masked) {
      w.bytes_read_seq += 2 * kF * B * l.in;
      w.bytes_written_seq += kF * B * l.in;
      w.launches += 1;
    }
  };
  for (size_t l = nt; l-- > 0;) backward_input(layers[nb + l], l > 0);
  const uint64_t F = T + 1, pairs = F * (F - 1) / 2, width = u(w_.interaction_width());
  w.flops += 4 * B * pairs * d;
  w.bytes_read_seq += kF * (B * width + B * F * d);
  w.bytes_written_seq += kF * B * F * d;
  w.launches += 1;
  w.bytes_read_seq += 2 * kF * B * d;
  w.bytes_written_seq += kF * B * d;
  for (size_t l = nb; l-- > 1;) backward_input(layers[l], true);
}

void WorkModel::weight_grads(int64_t batch, bool scaled, WorkCounters& w) const {
  const uint64_t B = u(batch);
  for (const Layer& l : layers_of(w_)) {
    if (scaled) w.flops += B * l.out;
    w.flops += 2 * B * l.in * l.out + B * l.out;
    w.gemm_flops += 2 * B * l.in * l.out;
    w.bytes_read_seq += kF * (2 * B * l.out + B * l.in);
    w.bytes_written_seq += kF * (B * l.out + l.in * l.out + l.out);
    w.launches += 3;
  }
}

void WorkModel::coalesce(const BatchStats& s, bool scaled, WorkCounters& w) const {
  const uint64_t d = u(w_.embedding_dim());
  for (const auto& t : s.tables) {
    w.bytes_read_seq += u(t.lookups) * (kI + d * kF);
    w.bytes_written_seq += u(t.unique_rows) * (kI + d * kF);
    w.flops += u(t.lookups) * d * (scaled ? 2 : 1);
    w.sort_ops += radix_ops(u(t.lookups), t);
  }
  w.launches += 1;
}

void WorkModel::ghost_norms(const BatchStats& s, WorkCounters& w) const {
  const uint64_t B = u(s.batch), T = w_.tables.size(), d = u(w_.embedding_dim());
  for (const Layer& l : layers_of(w_)) {  // ghost_norms_mlp
    w.flops += 2 * B * (l.in + l.out) + 3 * B;
    w.bytes_read_seq += kF * B * (l.in + l.out);
    w.launches += 1;
  }
  w.bytes_read_seq += u(s.lookups()) * kI;  // bag_count_square_sums
  w.bytes_written_seq += B * T * kF;
  for (const auto& t : s.tables) w.sort_ops += t.bag_sort_ops;
  w.launches += 1;
  w.flops += 2 * B * T * d + 2 * B * T;  // ghost_norms_embedding
  w.bytes_read_seq += B * T * (d + 1) * kF;
  w.launches += 1;
}

void WorkModel::materialize(const BatchStats& s, WorkCounters& w) const {
  const uint64_t B = u(s.batch), d = u(w_.embedding_dim());
  for (const Layer& l : layers_of(w_)) {  // materialize_layer_grads
    const uint64_t P = l.out * l.in + l.out;
    w.flops += 3 * B * P;
    w.bytes_read_seq += kF * B * (l.in + l.out);
    w.bytes_written_seq += kF * B * P;
    w.launches += 1;
  }
  for (const auto& t : s.tables) {  // materialize_embedding_grads
    const uint64_t n = u(t.bag_distinct);
    w.bytes_read_seq += u(t.lookups) * kI + B * d * kF;
    w.bytes_written_seq += n * (kI + d * kF);
    w.flops += 3 * n * d;
    w.sort_ops += t.bag_sort_ops;
  }
  w.launches += w_.tables.size();
}

void WorkModel::mlp_update(bool noisy, WorkCounters& w) const {
  for (const Layer& l : layers_of(w_)) {
    const uint64_t p = l.out * l.in + l.out;
    w.bytes_read_seq += 2 * p * kF;
    w.bytes_written_seq += p * kF;
    w.flops += (noisy ? 4 : 2) * p;
    if (noisy) w.rng_samples += noise_samples(p);
    w.launches += 2;
  }
}

StageWork WorkModel::step(int64_t t, const Batch& batch, const Batch* next) {
  StepInputs in;
  in.stats = batch_stats(batch);
  if (cfg_.kind == AlgorithmKind::adafest) in.selection = expected_selection(w_, cfg_, batch);
  if (cfg_.kind == AlgorithmKind::lazydp && next) {
    const uint32_t now = static_cast<uint32_t>(t);
    for (size_t ti = 0; ti < next->tables.size(); ++ti) {
      TableCatchup c;
      const std::vector<int64_t> rows = unique_rows(next->tables[ti], &c.sort_ops);
      for (const int64_t r : rows) {
        uint32_t& h = history_[ti][r];  // a row seen for the first time is at step 0
        if (h >= now) continue;
        c.steps += now - h, ++c.owed, h = now;
      }
      c.next_lookups = next->tables[ti].indices.size();
      c.next_unique = rows.size();
      in.catchup.push_back(c);
    }
  }
  return work_of(in);
}

StageWork WorkModel::work_of(const StepInputs& in) const {
  const BatchStats& s = in.stats;
  const uint64_t B = u(s.batch), d = u(w_.embedding_dim());
  StageWork out;
  forward(s, out);
  backward_deltas(s.batch, out.at(Stage::bwd_mlp));
  const AlgorithmKind k = cfg_.kind;
  auto sparse_update_rows = [&](WorkCounters& w, uint64_t U) {  // sparse_update, one table
    w.rows_read_rand += U;
    w.rows_written_rand += U;
    w.bytes_read_rand += U * d * kF;
    w.bytes_written_rand += U * d * kF;
    w.bytes_read_seq += U * (kI + d * kF);
    w.flops += 2 * U * d;
    w.launches += 1;
  };
  auto sparse_noisy_rows = [&](WorkCounters& w, uint64_t n, uint64_t with_grad) {  // sparse_noisy_update
    w.rows_read_rand += n;
    w.rows_written_rand += n;
    w.bytes_read_rand += n * d * kF;
    w.bytes_written_rand += n * d * kF;
    w.bytes_read_seq += n * kI + with_grad * d * kF;
    w.rng_samples += noise_samples(n * d);
    w.flops += 3 * n * d + with_grad * d;
    w.launches += 1;
  };

  if (k == AlgorithmKind::sgd) {
    weight_grads(s.batch, false, out.at(Stage::bwd_mlp));
    coalesce(s, false, out.at(Stage::bwd_emb));
    mlp_update(false, out.at(Stage::update_mlp));
    WorkCounters& w = out.at(Stage::update_sparse);
    for (const auto& ts : s.tables) sparse_update_rows(w, u(ts.unique_rows));
    return out;
  }

  // Norms and clipping.
  if (k == AlgorithmKind::dpsgd_b) {
    materialize(s, out.at(Stage::dp_norm));
    WorkCounters& w = out.at(Stage::dp_clip);
    uint64_t P = 0;
    for (const Layer& l : layers_of(w_)) P += l.out * l.in + l.out;
    w.bytes_read_seq += 4 * B * P;
    w.bytes_written_seq += 4 * P;
    w.flops += 2 * B * P;
    w.launches += 1;
    for (const auto& ts : s.tables) {  // coalesce_materialized
      const uint64_t n = u(ts.bag_distinct), un = u(ts.unique_rows);
      w.bytes_read_seq += n * (kI + d * kF);
      w.bytes_written_seq += un * (kI + d * kF);
      w.flops += 2 * n * d;
      w.sort_ops += radix_ops(n, ts);
    }
    w.launches += 1;
  } else {
    if (k == AlgorithmKind::dpsgd_r)
      materialize(s, out.at(Stage::dp_norm));
    else
      ghost_norms(s, out.at(Stage::dp_norm));
    const std::vector<TableSelection>& sel = in.selection;
    if (k == AlgorithmKind::adafest) {
      WorkCounters& w = out.at(Stage::adafest_select);
      for (size_t ti = 0; ti < s.tables.size(); ++ti) {
        const auto& ts = s.tables[ti];
        const uint64_t selected = round_count(sel[ti].selected_touched) + round_count(sel[ti].false_positives);
        w.bytes_read_seq += u(ts.lookups) * kI;
        w.bytes_written_seq += selected * kI;
        w.rng_samples += (cfg_.noise == NoiseSource::gaussian ? u(ts.unique_rows) : 0) + round_count(sel[ti].draws);
        w.flops += u(ts.lookups) + 2 * u(ts.unique_rows) + 4 * round_count(sel[ti].draws);
        w.sort_ops += radix_ops(u(ts.lookups), ts) + ts.bag_sort_ops;
      }
      w.launches += 1;
    }
    weight_grads(s.batch, true, out.at(Stage::dp_clip));
    coalesce(s, true, out.at(Stage::bwd_emb));
    mlp_update(true, out.at(Stage::update_mlp));
    WorkCounters& w = out.at(Stage::dp_update);
    for (size_t ti = 0; ti < s.tables.size(); ++ti) {
      const auto& ts = s.tables[ti];
      const uint64_t U = u(ts.unique_rows);
      if (k == AlgorithmKind::eana) {
        sparse_noisy_rows(w, U, U);
      } else if (k == AlgorithmKind::adafest) {
        const uint64_t st = round_count(sel[ti].selected_touched);
        sparse_noisy_rows(w, st + round_count(sel[ti].false_positives), st);
      } else if (k == AlgorithmKind::lazydp) {
        sparse_update_rows(w, U);
      } else {  // dense_noisy_update over the whole table
        const uint64_t n = u(w_.tables[ti].rows) * d;
        w.bytes_read_seq += n * kF + U * (kI + d * kF);
        w.bytes_written_seq += n * kF;
        w.rng_samples += noise_samples(n);
        w.flops += 3 * n + U * d;
        w.launches += 1;
      }
    }
  }
  if (k == AlgorithmKind::dpsgd_b) {
    mlp_update(true, out.at(Stage::update_mlp));
    WorkCounters& w = out.at(Stage::dp_update);
    for (size_t ti = 0; ti < s.tables.size(); ++ti) {
      const uint64_t U = u(s.tables[ti].unique_rows), n = u(w_.tables[ti].rows) * d;
      w.bytes_read_seq += n * kF + U * (kI + d * kF);
      w.bytes_written_seq += n * kF;
      w.rng_samples += noise_samples(n);
      w.flops += 3 * n + U * d;
      w.launches += 1;
    }
  }

  if (k == AlgorithmKind::lazydp && !in.catchup.empty()) {
    WorkCounters& w = out.at(Stage::lazydp_catchup);
    const bool draws = cfg_.noise != NoiseSource::zero && cfg_.noise_stddev() != 0.0;
    for (const TableCatchup& c : in.catchup) {
      w.bytes_read_seq += c.next_lookups * kI;  // the trainer reads the next batch's ids
      w.sort_ops += c.sort_ops;
      w.bytes_read_seq += c.next_unique * kI;
      w.bytes_read_rand += c.next_unique * kH + c.owed * d * kF;
      w.bytes_written_rand += c.owed * kH + c.owed * d * kF;
      w.rows_read_rand += c.owed;
      w.rows_written_rand += c.owed;
      if (draws) w.rng_samples += noise_samples(d * (cfg_.lazydp_noise == LazyNoiseMode::exact ? c.steps : c.owed));
      w.flops += 2 * d * (cfg_.lazydp_noise == LazyNoiseMode::exact ? c.steps : c.owed);
      w.launches += 1;
    }
  }
  return out;
}

StageWork WorkModel::finish(int64_t last_step) {
  if (cfg_.kind != AlgorithmKind::lazydp) return {};
  const uint32_t now = static_cast<uint32_t>(last_step);
  std::vector<TableFlush> tables;
  for (size_t ti = 0; ti < history_.size(); ++ti) {
    // Rows never caught up are owed every step; the others, the steps since their last catch-up.
    TableFlush f;
    f.rows = u(w_.tables[ti].rows);
    f.owed = f.rows - history_[ti].size();
    f.steps = f.owed * now;
    for (auto& [r, h] : history_[ti]) {
      if (h >= now) continue;
      f.steps += now - h, ++f.owed, h = now;
    }
    tables.push_back(f);
  }
  return work_of_flush(tables);
}

StageWork WorkModel::work_of_flush(const std::vector<TableFlush>& tables) const {
  StageWork out;
  if (cfg_.kind != AlgorithmKind::lazydp) return out;
  WorkCounters& w = out.at(Stage::lazydp_flush);
  const uint64_t d = u(w_.embedding_dim());
  const bool draws = cfg_.noise != NoiseSource::zero && cfg_.noise_stddev() != 0.0;
  for (const TableFlush& f : tables) {
    w.bytes_read_seq += f.rows * kH + f.owed * d * kF;
    w.bytes_written_seq += f.owed * kH + f.owed * d * kF;
    if (draws) w.rng_samples += noise_samples(d * (cfg_.lazydp_noise == LazyNoiseMode::exact ? f.steps : f.owed));
    w.flops += 2 * d * (cfg_.lazydp_noise == LazyNoiseMode::exact ? f.steps : f.owed);
    w.launches += 1;
  }
  return out;
}

}  // namespace privrec::sim
