#include "traces/trace_file.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "models/config_error.hpp"

namespace privrec {

namespace {

constexpr char kMagic[8] = {'P', 'R', 'V', 'T', 'R', 'A', 'C', 'E'};
constexpr uint32_t kVersion = 1;
constexpr char kTextHeader[] = "privrec-trace-text";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

class BinaryReader {
 public:
  explicit BinaryReader(const std::string& path) : path_(path), in_(path, std::ios::binary) {
    if (!in_) throw InputError(path + ": cannot open the trace for reading");
    in_.seekg(0, std::ios::end);
    size_ = static_cast<uint64_t>(in_.tellg());
    in_.seekg(0);
  }
  template <class T>
  void read(T* out, uint64_t count, const std::string& what) {
    const uint64_t bytes = count * sizeof(T);
    if (bytes / sizeof(T) != count || pos_ + bytes > size_)
      throw InputError(fmt::format("{}: truncated at byte {} while reading {} ({} bytes needed, {} left)", path_, pos_,
                                   what, bytes, size_ - pos_));
    in_.read(reinterpret_cast<char*>(out), static_cast<std::streamsize>(bytes));
    pos_ += bytes;
  }
  template <class T>
  T value(const std::string& what) {
    T v;
    read(&v, 1, what);
    return v;
  }
  uint64_t remaining() const { return size_ - pos_; }
  uint64_t pos() const { return pos_; }

 private:
  std::string path_;
  std::ifstream in_;
  uint64_t size_ = 0, pos_ = 0;
};

void check_batch(const Batch& b, const std::string& where) {
  for (int64_t i = 0; i < b.size; ++i) {
    if (b.labels[i] != 0.0f && b.labels[i] != 1.0f)
      throw InputError(fmt::format("{}: example {}: label {} is not 0 or 1", where, i, b.labels[i]));
    for (int64_t f = 0; f < b.num_dense; ++f)
      if (!std::isfinite(b.dense[i * b.num_dense + f]))
        throw InputError(fmt::format("{}: example {}: dense feature {} is not finite", where, i, f));
  }
  for (size_t t = 0; t < b.tables.size(); ++t) {
    const auto& tb = b.tables[t];
    if (tb.offsets.size() != static_cast<size_t>(b.size + 1) || tb.offsets[0] != 0)
      throw InputError(fmt::format("{}: table {}: offsets must start at 0 and have batch+1 entries", where, t));
    for (int64_t i = 0; i < b.size; ++i)
      if (tb.offsets[i + 1] < tb.offsets[i])
        throw InputError(fmt::format("{}: table {}: offsets decrease at example {} ({} then {})", where, t, i,
                                     tb.offsets[i], tb.offsets[i + 1]));
    if (static_cast<size_t>(tb.offsets[b.size]) != tb.indices.size())
      throw InputError(fmt::format("{}: table {}: last offset {} does not match {} row ids", where, t,
                                   tb.offsets[b.size], tb.indices.size()));
    for (size_t k = 0; k < tb.indices.size(); ++k)
      if (tb.indices[k] < 0)
        throw InputError(fmt::format("{}: table {}: row id {} is negative", where, t, tb.indices[k]));
  }
}

TraceData read_binary(const std::string& path) {
  BinaryReader r(path);
  char magic[8];
  r.read(magic, 8, "the magic number");
  if (std::memcmp(magic, kMagic, 8) != 0)
    throw InputError(path + ": not a privrec binary trace (bad magic; text traces must end in .txt)");
  const auto version = r.value<uint32_t>("the version");
  if (version != kVersion)
    throw InputError(fmt::format("{}: trace version {} is not supported (this privrec reads version {})", path,
                                 version, kVersion));
  TraceData t;
  t.num_tables = r.value<uint32_t>("the table count");
  t.num_dense = r.value<uint32_t>("the dense feature count");
  const auto reserved = r.value<uint32_t>("the reserved word");
  const auto batches = r.value<uint64_t>("the batch count");
  if (t.num_tables == 0 || t.num_tables > 65536 || reserved != 0)
    throw InputError(fmt::format("{}: header: {} tables (expected 1..65536), reserved word {} (expected 0)", path,
                                 t.num_tables, reserved));
  if (t.num_dense > 100000) throw InputError(fmt::format("{}: header: {} dense features is implausible", path, t.num_dense));
  if (batches > r.remaining() / 8)
    throw InputError(fmt::format("{}: header claims {} batches but the file is only {} bytes", path, batches,
                                 r.remaining() + r.pos()));
  t.batches.resize(batches);
  for (uint64_t bi = 0; bi < batches; ++bi) {
    const std::string where = fmt::format("{}: batch {}", path, bi);
    Batch& b = t.batches[bi];
    const auto size = r.value<uint64_t>(where + " size");
    if (size == 0 || size > (1u << 24) || size * (t.num_dense + 1) * 4 > r.remaining())
      throw InputError(fmt::format("{}: batch size {} is out of range or larger than the rest of the file", where, size));
    b.size = static_cast<int64_t>(size);
    b.num_dense = t.num_dense;
    b.dense.resize(size * t.num_dense);
    b.labels.resize(size);
    r.read(b.dense.data(), b.dense.size(), where + " dense features");
    r.read(b.labels.data(), size, where + " labels");
    b.tables.resize(t.num_tables);
    for (int64_t ti = 0; ti < t.num_tables; ++ti) {
      auto& tb = b.tables[ti];
      tb.offsets.resize(size + 1);
      r.read(tb.offsets.data(), size + 1, fmt::format("{} table {} offsets", where, ti));
      const int64_t n = tb.offsets[size];
      if (n < 0 || static_cast<uint64_t>(n) > r.remaining() / 8)
        throw InputError(fmt::format("{} table {}: truncated: {} row ids claimed but the file ends first", where, ti, n));
      tb.indices.resize(n);
      r.read(tb.indices.data(), n, fmt::format("{} table {} row ids", where, ti));
    }
    check_batch(b, where);
  }
  if (r.remaining() != 0)
    throw InputError(fmt::format("{}: {} unexpected bytes after the last batch", path, r.remaining()));
  return t;
}

int64_t parse_int_token(const std::string& tok, const std::string& where, const char* what) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v);
  if (ec != std::errc() || p != tok.data() + tok.size())
    throw InputError(fmt::format("{}: {} '{}' is not an integer", where, what, tok));
  return v;
}

float parse_float_token(const std::string& tok, const std::string& where, const char* what) {
  float v = 0;
  auto [p, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v);
  if (ec != std::errc() || p != tok.data() + tok.size() || !std::isfinite(v))
    throw InputError(fmt::format("{}: {} '{}' is not a finite number", where, what, tok));
  return v;
}

// The header line 'privrec-trace-text v1 dense=D tables=T batch=B': sets t's shape, returns B.
int64_t parse_text_header(std::istringstream& tokens, const std::string& where, TraceData& t) {
  std::string magic, version, tok;
  tokens >> magic >> version;
  if (magic != kTextHeader || version != "v1")
    throw InputError(where + ": expected the header 'privrec-trace-text v1 dense=D tables=T batch=B'");
  int64_t batch = 0;
  while (tokens >> tok) {
    const auto eq = tok.find('=');
    const std::string key = tok.substr(0, eq), value = eq == std::string::npos ? "" : tok.substr(eq + 1);
    const int64_t v = parse_int_token(value, where, key.c_str());
    if (key == "dense") t.num_dense = v;
    else if (key == "tables") t.num_tables = v;
    else if (key == "batch") batch = v;
    else throw InputError(where + ": unknown header key '" + key + "' (expected dense, tables, batch)");
  }
  if (t.num_dense < 0 || t.num_tables <= 0 || batch <= 0)
    throw InputError(where + ": header needs dense >= 0, tables > 0 and batch > 0");
  return batch;
}

// One example line of a text trace: the label, the dense values, then one '|' group of row ids per table.
struct TextExample {
  float label = 0;
  std::vector<float> dense;
  std::vector<std::vector<int64_t>> bags;  // table -> row ids
};

TextExample parse_text_example(const std::vector<std::string>& toks, const std::string& where, const TraceData& t) {
  TextExample ex;
  size_t k = 0;
  ex.label = parse_float_token(toks[k++], where, "label");
  if (ex.label != 0.0f && ex.label != 1.0f) throw InputError(fmt::format("{}: label {} is not 0 or 1", where, toks[0]));
  for (int64_t f = 0; f < t.num_dense; ++f) {
    if (k >= toks.size() || toks[k] == "|")
      throw InputError(fmt::format("{}: {} dense values expected, found {}", where, t.num_dense, f));
    ex.dense.push_back(parse_float_token(toks[k++], where, "dense value"));
  }
  while (k < toks.size()) {
    if (toks[k] != "|")
      throw InputError(fmt::format("{}: expected '|' before table {}'s row ids, found '{}'", where, ex.bags.size(), toks[k]));
    ++k;
    ex.bags.emplace_back();
    while (k < toks.size() && toks[k] != "|") {
      const int64_t id = parse_int_token(toks[k++], where, "row id");
      if (id < 0) throw InputError(fmt::format("{}: row id {} is negative", where, id));
      ex.bags.back().push_back(id);
    }
  }
  if (static_cast<int64_t>(ex.bags.size()) != t.num_tables)
    throw InputError(fmt::format("{}: {} tables ('|' groups) expected, found {}", where, t.num_tables, ex.bags.size()));
  return ex;
}

// The examples of one batch in the trace's columnar layout.
Batch assemble_text_batch(const std::vector<TextExample>& examples, const TraceData& t) {
  Batch b;
  b.size = static_cast<int64_t>(examples.size());
  b.num_dense = t.num_dense;
  for (const auto& ex : examples) b.labels.push_back(ex.label);
  for (const auto& ex : examples) b.dense.insert(b.dense.end(), ex.dense.begin(), ex.dense.end());
  b.tables.resize(t.num_tables);
  for (int64_t ti = 0; ti < t.num_tables; ++ti) {
    auto& tb = b.tables[ti];
    tb.offsets.push_back(0);
    for (const auto& ex : examples) {
      tb.indices.insert(tb.indices.end(), ex.bags[ti].begin(), ex.bags[ti].end());
      tb.offsets.push_back(static_cast<int64_t>(tb.indices.size()));
    }
  }
  return b;
}

TraceData read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open the trace for reading");
  TraceData t;
  int64_t batch = 0;
  std::string line;
  int64_t line_no = 0;
  bool have_header = false;
  std::vector<TextExample> examples;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    const std::string where = fmt::format("{}:{}", path, line_no);
    std::istringstream tokens(line);
    if (!have_header) {
      batch = parse_text_header(tokens, where, t);
      have_header = true;
      continue;
    }
    std::string tok;
    std::vector<std::string> toks;
    while (tokens >> tok) toks.push_back(tok);
    if (toks.empty()) continue;
    examples.push_back(parse_text_example(toks, where, t));
    if (static_cast<int64_t>(examples.size()) == batch) {
      t.batches.push_back(assemble_text_batch(examples, t));
      examples.clear();
    }
  }
  if (!have_header) throw InputError(path + ": empty trace (no header line)");
  if (!examples.empty()) t.batches.push_back(assemble_text_batch(examples, t));
  if (t.batches.empty()) throw InputError(path + ": the trace holds no examples");
  return t;
}

void write_binary(const std::string& path, const TraceData& t) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw InputError(path + ": cannot open for writing");
  auto put = [&](const void* p, size_t bytes) { out.write(static_cast<const char*>(p), static_cast<std::streamsize>(bytes)); };
  put(kMagic, 8);
  const uint32_t header[4] = {kVersion, static_cast<uint32_t>(t.num_tables), static_cast<uint32_t>(t.num_dense), 0};
  put(header, sizeof(header));
  const uint64_t n = t.batches.size();
  put(&n, 8);
  for (const auto& b : t.batches) {
    const uint64_t size = b.size;
    put(&size, 8);
    put(b.dense.data(), b.dense.size() * 4);
    put(b.labels.data(), b.labels.size() * 4);
    for (const auto& tb : b.tables) {
      put(tb.offsets.data(), tb.offsets.size() * 8);
      put(tb.indices.data(), tb.indices.size() * 8);
    }
  }
  if (!out) throw std::runtime_error(path + ": write failed (disk full?)");
}

void write_text(const std::string& path, const TraceData& t) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) throw InputError(path + ": cannot open for writing");
  const int64_t batch = t.batches.empty() ? 1 : t.batches.front().size;
  out << fmt::format("{} v1 dense={} tables={} batch={}\n", kTextHeader, t.num_dense, t.num_tables, batch);
  for (const auto& b : t.batches) {
    for (int64_t i = 0; i < b.size; ++i) {
      out << (b.labels[i] != 0 ? 1 : 0);
      for (int64_t f = 0; f < b.num_dense; ++f) out << ' ' << fmt::format("{}", b.dense[i * b.num_dense + f]);
      for (const auto& tb : b.tables) {
        out << " |";
        for (int64_t k = tb.offsets[i]; k < tb.offsets[i + 1]; ++k) out << ' ' << tb.indices[k];
      }
      out << '\n';
    }
  }
  if (!out) throw std::runtime_error(path + ": write failed (disk full?)");
}

}  // namespace

TraceFormat trace_format_for_path(const std::string& path) {
  return ends_with(path, ".txt") ? TraceFormat::text : TraceFormat::binary;
}

TraceData read_trace(const std::string& path) {
  return trace_format_for_path(path) == TraceFormat::text ? read_text(path) : read_binary(path);
}

void write_trace(const std::string& path, const TraceData& trace) { write_trace(path, trace, trace_format_for_path(path)); }

void write_trace(const std::string& path, const TraceData& trace, TraceFormat format) {
  if (format == TraceFormat::text) write_text(path, trace);
  else write_binary(path, trace);
}

void check_trace_against(const TraceData& trace, const Workload& w, const std::string& path) {
  if (trace.num_tables != static_cast<int64_t>(w.tables.size()) || trace.num_dense != w.dense_features)
    throw InputError(fmt::format("{}: the trace has {} tables and {} dense features; workload '{}' has {} and {}", path,
                                 trace.num_tables, trace.num_dense, w.name, w.tables.size(), w.dense_features));
  for (size_t bi = 0; bi < trace.batches.size(); ++bi) {
    const Batch& b = trace.batches[bi];
    for (size_t t = 0; t < b.tables.size(); ++t) {
      const auto& tb = b.tables[t];
      for (int64_t i = 0; i < b.size; ++i)
        for (int64_t k = tb.offsets[i]; k < tb.offsets[i + 1]; ++k)
          if (tb.indices[k] >= w.tables[t].rows)
            throw InputError(fmt::format("{}: batch {}, table {} ({}), example {}: row {} >= the table's {} rows", path,
                                         bi, t, w.tables[t].name, i, tb.indices[k], w.tables[t].rows));
    }
  }
}

}  // namespace privrec
