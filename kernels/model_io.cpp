#include "kernels/model_io.hpp"

#include <cmath>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "models/config_error.hpp"

namespace privrec {

namespace {
constexpr char kMagic[8] = {'P', 'R', 'V', 'M', 'O', 'D', 'E', 'L'};

void diff_into(TensorDiff& d, const float* a, const float* b, int64_t n) {
  double mad = 0, mav = 0;
#pragma omp parallel for reduction(max : mad, mav) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    mad = std::max(mad, static_cast<double>(std::fabs(a[i] - b[i])));
    mav = std::max(mav, static_cast<double>(std::max(std::fabs(a[i]), std::fabs(b[i]))));
  }
  if (std::isnan(mad)) mad = INFINITY;
  d.max_abs_diff = std::max(d.max_abs_diff, mad);
  d.max_abs_value = std::max(d.max_abs_value, mav);
  d.max_rel_diff = d.max_abs_value > 0 ? d.max_abs_diff / d.max_abs_value : 0.0;
}
}  // namespace

void save_model(const std::string& path, const cpu::DlrmModel& m, const nlohmann::json& info) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw InputError(path + ": cannot open for writing");
  nlohmann::json header = info;
  header["workload"] = m.workload.to_json();
  const std::string h = header.dump();
  const uint32_t v[2] = {1, 0};
  const uint64_t n = h.size();
  out.write(kMagic, 8);
  out.write(reinterpret_cast<const char*>(v), 8);
  out.write(reinterpret_cast<const char*>(&n), 8);
  out.write(h.data(), static_cast<std::streamsize>(n));
  for (const auto& t : m.tables)
    out.write(reinterpret_cast<const char*>(t.weights.data()), static_cast<std::streamsize>(t.rows * t.dim * 4));
  for (const auto* l : m.layers()) {
    out.write(reinterpret_cast<const char*>(l->weight.data()), static_cast<std::streamsize>(l->weight.size() * 4));
    out.write(reinterpret_cast<const char*>(l->bias.data()), static_cast<std::streamsize>(l->bias.size() * 4));
  }
  if (!out) throw std::runtime_error(path + ": write failed (disk full?)");
}

cpu::DlrmModel load_model(const std::string& path, nlohmann::json* header_out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open the model for reading");
  in.seekg(0, std::ios::end);
  const uint64_t size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  char magic[8];
  uint32_t v[2];
  uint64_t n = 0;
  if (size < 24 || !in.read(magic, 8) || std::memcmp(magic, kMagic, 8) != 0)
    throw InputError(path + ": not a privrec saved model (bad magic)");
  in.read(reinterpret_cast<char*>(v), 8);
  in.read(reinterpret_cast<char*>(&n), 8);
  if (v[0] != 1) throw InputError(fmt::format("{}: model format version {} is not supported (expected 1)", path, v[0]));
  if (n > size - 24) throw InputError(path + ": truncated header");
  std::string h(n, '\0');
  in.read(h.data(), static_cast<std::streamsize>(n));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(h);
  } catch (const std::exception& e) {
    throw InputError(path + ": corrupt header: " + e.what());
  }
  nlohmann::json wj = header.value("workload", nlohmann::json::object());
  for (const char* derived : {"table_bytes", "mlp_parameters"}) wj.erase(derived);
  const Workload w = workload_from_json(wj, path + " (header)");
  const uint64_t expected = 24 + n + static_cast<uint64_t>(cpu::model_parameter_bytes(w));
  if (size != expected)
    throw InputError(fmt::format("{}: {} bytes, expected {} for workload '{}' (truncated or not this model)", path, size,
                                 expected, w.name));
  cpu::DlrmModel m = cpu::DlrmModel::allocate(w);
  for (auto& t : m.tables) in.read(reinterpret_cast<char*>(t.weights.data()), static_cast<std::streamsize>(t.rows * t.dim * 4));
  for (auto* l : m.layers()) {
    in.read(reinterpret_cast<char*>(l->weight.data()), static_cast<std::streamsize>(l->weight.size() * 4));
    in.read(reinterpret_cast<char*>(l->bias.data()), static_cast<std::streamsize>(l->bias.size() * 4));
  }
  if (!in) throw InputError(path + ": read failed");
  if (header_out) *header_out = header;
  return m;
}

std::vector<TensorDiff> diff_models(const cpu::DlrmModel& a, const cpu::DlrmModel& b) {
  if (a.tables.size() != b.tables.size() || a.layers().size() != b.layers().size())
    throw InputError("the two models have different numbers of tables or layers");
  std::vector<TensorDiff> out;
  TensorDiff all{"all"};
  for (size_t t = 0; t < a.tables.size(); ++t) {
    if (a.tables[t].rows != b.tables[t].rows || a.tables[t].dim != b.tables[t].dim)
      throw InputError(fmt::format("table {} has shape {}x{} in one model and {}x{} in the other", t, a.tables[t].rows,
                                   a.tables[t].dim, b.tables[t].rows, b.tables[t].dim));
    TensorDiff d{a.workload.tables[t].name};
    diff_into(d, a.tables[t].weights.data(), b.tables[t].weights.data(), a.tables[t].rows * a.tables[t].dim);
    diff_into(all, a.tables[t].weights.data(), b.tables[t].weights.data(), a.tables[t].rows * a.tables[t].dim);
    out.push_back(d);
  }
  const auto la = a.layers(), lb = b.layers();
  for (size_t l = 0; l < la.size(); ++l) {
    if (la[l]->in != lb[l]->in || la[l]->out != lb[l]->out)
      throw InputError(fmt::format("MLP layer {} has different shapes in the two models", l));
    const bool bottom = l < a.bottom.size();
    TensorDiff d{fmt::format("{}_mlp.{}", bottom ? "bottom" : "top", bottom ? l : l - a.bottom.size())};
    diff_into(d, la[l]->weight.data(), lb[l]->weight.data(), static_cast<int64_t>(la[l]->weight.size()));
    diff_into(d, la[l]->bias.data(), lb[l]->bias.data(), static_cast<int64_t>(la[l]->bias.size()));
    diff_into(all, la[l]->weight.data(), lb[l]->weight.data(), static_cast<int64_t>(la[l]->weight.size()));
    diff_into(all, la[l]->bias.data(), lb[l]->bias.data(), static_cast<int64_t>(la[l]->bias.size()));
    out.push_back(d);
  }
  out.push_back(all);
  return out;
}

}  // namespace privrec
