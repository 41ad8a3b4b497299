#include "traces/criteo_converter.hpp"

#include <charconv>
#include <cmath>
#include <fstream>

#include <fmt/format.h>

#include "models/config_error.hpp"

namespace privrec {

namespace {
constexpr int kDense = 13, kCategorical = 26, kFields = 1 + kDense + kCategorical;

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t p = line.find(sep, start);
    out.push_back(line.substr(start, p == std::string::npos ? std::string::npos : p - start));
    if (p == std::string::npos) return out;
    start = p + 1;
  }
}
}  // namespace

int64_t criteo_row(const std::string& value, size_t table, int64_t rows) {
  // FNV-1a over the table number and the value's bytes, then a 64-bit finalizer.
  uint64_t h = 1469598103934665603ull ^ (table * 0x9E3779B97F4A7C15ull);
  for (unsigned char c : value) h = (h ^ c) * 1099511628211ull;
  h ^= h >> 33, h *= 0xff51afd7ed558ccdull, h ^= h >> 33;
  return static_cast<int64_t>(h % static_cast<uint64_t>(rows));
}

CriteoConvertResult convert_criteo(const std::string& path, const Workload& w, int64_t max_examples) {
  if (w.dense_features != kDense || w.tables.size() != kCategorical)
    throw InputError(fmt::format("--model {}: Criteo logs need 13 dense features and 26 tables; the workload has {} and {}",
                                 w.name, w.dense_features, w.tables.size()));
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open for reading");
  CriteoConvertResult res;
  res.trace.num_dense = kDense;
  res.trace.num_tables = kCategorical;
  std::string line;
  int64_t line_no = 0;
  char sep = 0;
  Batch cur;
  auto start_batch = [&]() {
    cur = Batch();
    cur.num_dense = kDense;
    cur.tables.resize(kCategorical);
    for (auto& tb : cur.tables) tb.offsets.push_back(0);
  };
  auto finish_batch = [&]() {
    if (cur.size > 0) res.trace.batches.push_back(std::move(cur));
    start_batch();
  };
  start_batch();
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const std::string where = fmt::format("{}:{}", path, line_no);
    if (sep == 0) {
      sep = line.find('\t') != std::string::npos ? '\t' : ',';
      if (sep == ',' && line.rfind("label", 0) == 0) continue;  // the CSV header line
    }
    const auto f = split(line, sep);
    if (f.size() != kFields)
      throw InputError(fmt::format("{}: {} fields, expected {} (label, I1..I13, C1..C26)", where, f.size(), kFields));
    float label = 0;
    {
      auto [p, ec] = std::from_chars(f[0].data(), f[0].data() + f[0].size(), label);
      if (ec != std::errc() || p != f[0].data() + f[0].size() || (label != 0 && label != 1))
        throw InputError(fmt::format("{}: label '{}' is not 0 or 1", where, f[0]));
    }
    cur.labels.push_back(label);
    for (int i = 0; i < kDense; ++i) {
      const std::string& s = f[1 + i];
      double x = 0;
      if (s.empty()) {
        ++res.missing_dense;
      } else {
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
        if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(x))
          throw InputError(fmt::format("{}: I{} = '{}' is not a number", where, i + 1, s));
      }
      cur.dense.push_back(static_cast<float>(std::log1p(std::max(x, 0.0))));
    }
    for (int t = 0; t < kCategorical; ++t) {
      const std::string& s = f[1 + kDense + t];
      if (s.empty()) ++res.missing_categorical;
      auto& tb = cur.tables[t];
      tb.indices.push_back(criteo_row(s, static_cast<size_t>(t), w.tables[t].rows));
      tb.offsets.push_back(static_cast<int64_t>(tb.indices.size()));
    }
    ++cur.size;
    ++res.examples;
    if (cur.size == w.batch_size) finish_batch();
    if (max_examples > 0 && res.examples >= max_examples) break;
  }
  finish_batch();
  if (res.examples == 0) throw InputError(path + ": no examples found");
  return res;
}

}  // namespace privrec
