#include "kernels/cpu/dlrm_model.hpp"

#include <algorithm>

#include <cmath>
#include <fstream>
#include <new>
#include <string>

#include "models/rng/gaussian.hpp"
#include "kernels/host_allocator.hpp"
#include "kernels/noise_rows.hpp"

namespace privrec::cpu {

FloatArray::FloatArray(int64_t n) : size_(n) {
  // Tables and per-example gradients go on huge pages (kernels/host_allocator.hpp).
  data_.reset(static_cast<float*>(allocate_huge_pages(static_cast<size_t>(n) * sizeof(float))));
}

int64_t model_parameter_bytes(const Workload& w) {
  return w.table_bytes() + w.mlp_parameters() * static_cast<int64_t>(sizeof(float));
}

int64_t available_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  int64_t value = 0;
  std::string unit;
  while (in >> key >> value >> unit)
    if (key == "MemAvailable:") return value * 1024;
  return 0;
}

std::vector<DenseLayer*> DlrmModel::layers() {
  std::vector<DenseLayer*> out;
  for (auto& l : bottom) out.push_back(&l);
  for (auto& l : top) out.push_back(&l);
  return out;
}

std::vector<const DenseLayer*> DlrmModel::layers() const {
  std::vector<const DenseLayer*> out;
  for (const auto& l : bottom) out.push_back(&l);
  for (const auto& l : top) out.push_back(&l);
  return out;
}

namespace {
void add_tables(DlrmModel& m, const Workload& w) {
  for (const auto& t : w.tables) {
    EmbeddingTable e;
    e.rows = e.table_rows = t.rows;
    e.dim = t.dim;
    e.id = static_cast<uint32_t>(m.tables.size());
    e.weights = FloatArray(t.rows * t.dim);
    m.tables.push_back(std::move(e));
  }
}

// The MLPs of `w` (the top MLP's input is the interaction of every table of w).
void add_layers(DlrmModel& m, const Workload& w) {
  auto make = [](int64_t in, int64_t out, bool relu) {
    DenseLayer l;
    l.in = in, l.out = out, l.relu = relu;
    l.weight.resize(in * out);
    l.bias.resize(out);
    return l;
  };
  int64_t in = w.dense_features;
  for (int64_t out : w.bottom_mlp) m.bottom.push_back(make(in, out, true)), in = out;
  in = w.interaction_width();
  for (size_t i = 0; i < w.top_mlp.size(); ++i)
    m.top.push_back(make(in, w.top_mlp[i], i + 1 < w.top_mlp.size())), in = w.top_mlp[i];
}
}  // namespace

DlrmModel DlrmModel::allocate(const Workload& w) {
  DlrmModel m;
  m.workload = w;
  add_tables(m, w);
  add_layers(m, w);
  return m;
}

namespace {
// U(-1/sqrt(table rows), 1/sqrt(table rows)) for every row, keyed by the row's place in its table.
// In pieces of about 64 MB, after each of which `done(bytes)` hears of it.
void init_table(EmbeddingTable& e, uint64_t seed, const std::function<void(int64_t)>& done) {
  const float bound = static_cast<float>(1.0 / std::sqrt(static_cast<double>(e.table_rows)));
  const uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  const int64_t row_bytes = e.dim * static_cast<int64_t>(sizeof(float));
  const int64_t piece = std::max<int64_t>(1, (int64_t{64} << 20) / std::max<int64_t>(row_bytes, 1));
  for (int64_t r0 = 0; r0 < e.rows; r0 += piece) {
    const int64_t r1 = std::min(e.rows, r0 + piece);
#pragma omp parallel for schedule(static)
    for (int64_t r = r0; r < r1; ++r) {
      const NoiseCounter nc = noise_counter(RngDomain::init, 0, e.id, static_cast<uint64_t>(e.first_row + r));
      float* row = e.row(r);
      for (int64_t c = 0; c < e.dim; c += 4) {
        const Philox4 x = philox4x32_10(static_cast<uint32_t>(c / 4), nc.c1, nc.c2, nc.c3, k0, k1);
        for (int64_t k = 0; k < 4 && c + k < e.dim; ++k) row[c + k] = (2.0f * uniform_open01(x.v[k]) - 1.0f) * bound;
      }
    }
    if (done) done((r1 - r0) * row_bytes);
  }
}

void init_layers(DlrmModel& m, uint64_t seed) {
  auto layers = m.layers();
  for (size_t l = 0; l < layers.size(); ++l) {
    DenseLayer& d = *layers[l];
    const float ws = static_cast<float>(std::sqrt(2.0 / static_cast<double>(d.in + d.out)));
    const float bs = static_cast<float>(std::sqrt(1.0 / static_cast<double>(d.out)));
    for (int64_t o = 0; o < d.out; ++o) {
      normal_row(seed, RngDomain::init, 1, static_cast<uint32_t>(2 * l), static_cast<uint64_t>(o), d.in,
                 d.weight.data() + o * d.in);
      for (int64_t k = 0; k < d.in; ++k) d.weight[o * d.in + k] *= ws;
    }
    normal_row(seed, RngDomain::init, 1, static_cast<uint32_t>(2 * l + 1), 0, d.out, d.bias.data());
    for (auto& b : d.bias) b *= bs;
  }
}
}  // namespace

DlrmModel DlrmModel::create(const Workload& w, uint64_t seed, const Progress& progress) {
  DlrmModel m = allocate(w);
  const int64_t total = w.table_bytes();
  int64_t done = 0;
  for (EmbeddingTable& e : m.tables)
    init_table(e, seed, [&](int64_t bytes) {
      done += bytes;
      if (progress) progress(done, total);
    });
  init_layers(m, seed);
  return m;
}

DlrmModel DlrmModel::create_part(const Workload& whole, uint64_t seed, const std::vector<Block>& blocks,
                                 bool with_mlps) {
  Workload w = whole;
  w.tables.clear();
  for (const Block& b : blocks) {
    TableSpec t = whole.tables[b.table];
    t.rows = b.rows;
    w.tables.push_back(t);
  }
  DlrmModel m;
  m.workload = with_mlps ? whole : w;
  add_tables(m, w);
  for (size_t k = 0; k < blocks.size(); ++k) {
    m.tables[k].id = blocks[k].table;
    m.tables[k].first_row = blocks[k].first_row;
    m.tables[k].table_rows = whole.tables[blocks[k].table].rows;
    init_table(m.tables[k], seed, {});
  }
  if (with_mlps) {
    add_layers(m, whole);
    init_layers(m, seed);
  }
  return m;
}

}  // namespace privrec::cpu
