#include "models/kernel_work/step_sizes.hpp"

namespace privrec {

uint64_t DenseShape::mlp_parameters() const {
  uint64_t p = 0;
  for (const MlpLayer& l : layers) p += l.parameters();
  return p;
}

DenseShape dense_shape(const Workload& w, int64_t batch) {
  DenseShape s;
  s.batch = static_cast<uint64_t>(batch);
  s.tables = w.tables.size();
  s.dim = static_cast<uint64_t>(w.embedding_dim());
  s.width = static_cast<uint64_t>(w.interaction_width());
  s.dense_values = s.batch * static_cast<uint64_t>(w.dense_features);
  uint64_t in = static_cast<uint64_t>(w.dense_features);
  for (int64_t out : w.bottom_mlp) s.layers.push_back({in, static_cast<uint64_t>(out)}), in = static_cast<uint64_t>(out);
  s.bottom = s.layers.size();
  in = s.width;
  for (int64_t out : w.top_mlp) s.layers.push_back({in, static_cast<uint64_t>(out)}), in = static_cast<uint64_t>(out);
  return s;
}

}  // namespace privrec
