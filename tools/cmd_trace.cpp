// privrec trace gen | stats | convert.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "kernels/cpu/dlrm_model.hpp"
#include "models/config_error.hpp"
#include "tools/cli_common.hpp"
#include "tools/interrupt.hpp"
#include "traces/criteo_converter.hpp"
#include "traces/synthetic_trace.hpp"
#include "traces/trace_file.hpp"
#include "traces/trace_stats.hpp"

namespace privrec::cli {

namespace {
// About what a trace of `batches` batches of `w` takes: in memory (trace gen builds it whole before
// writing) and on disk (binary: the same bytes; text: the ids and values as decimal digits).
struct TraceSize {
  double memory = 0, file = 0;
};
TraceSize trace_size(const Workload& w, int64_t batches, bool text) {
  const double B = static_cast<double>(w.batch_size), D = static_cast<double>(w.dense_features);
  double id_chars = 0;
  for (const TableSpec& t : w.tables)
    id_chars += B * static_cast<double>(t.pooling) * (std::floor(std::log10(std::max<double>(1, static_cast<double>(t.rows)))) + 2);
  const double chars = id_chars + B * (D * 11 + 3 + 2 * static_cast<double>(w.tables.size()));
  const double n = static_cast<double>(batches);
  return {n * batch_bytes(w), n * (text ? chars : batch_bytes(w))};
}

// Says how big the trace will be and refuses one that the memory or the disk cannot take.
void check_trace_size(const std::string& out, const Workload& w, int64_t batches) {
  const TraceSize size = trace_size(w, batches, trace_format_for_path(out) == TraceFormat::text);
  const double memory = static_cast<double>(cpu::available_memory_bytes());
  if (size.memory > 0.8 * memory)
    throw InputError(fmt::format("--batches {}: about {} of batches held in memory while the trace is built, and {} "
                                 "is available; write fewer batches",
                                 batches, human_bytes(size.memory), human_bytes(memory)));
  const auto parent = std::filesystem::path(out).parent_path();
  std::error_code ec;
  const auto space = std::filesystem::space(parent.empty() ? "." : parent, ec);
  if (!ec && size.file > static_cast<double>(space.available))
    throw InputError(fmt::format("--out {}: about {} to write and {} free there; write fewer batches", out,
                                 human_bytes(size.file), human_bytes(static_cast<double>(space.available))));
  if (size.file > 100e6) std::fprintf(stderr, "[privrec] writing about %s to %s\n", human_bytes(size.file).c_str(), out.c_str());
}

int trace_gen(int argc, char** argv) {
  po::options_description opts("privrec trace gen options");
  WorkloadFlags wf;
  std::string out;
  int64_t batches = 10;
  uint64_t seed = 1;
  opts.add_options()("help,h", "show this help")("out,o", po::value(&out), "output file (.txt: text format, else binary)")
    ("batches", po::value(&batches)->default_value(batches), "number of batches")
    ("seed", po::value(&seed)->default_value(seed), "seed")("force", "overwrite an existing output file");
  wf.add_to(opts);
  po::variables_map vm;
  if (!parse(argc, argv, opts, vm, "usage: privrec trace gen --out FILE [--model M] [--dist uniform|zipf:S] [--batches N]"))
    return 0;
  if (out.empty()) throw InputError("trace gen needs --out FILE");
  if (batches < 1 || batches > 10000000) throw InputError(fmt::format("--batches {}: expected 1 .. 10000000", batches));
  check_output(out, vm.count("force") > 0);
  wf.finish(vm);
  const Workload w = wf.resolve();
  check_trace_size(out, w, batches);
  SyntheticTrace gen(w, seed);
  TraceData data;
  data.num_tables = static_cast<int64_t>(w.tables.size());
  data.num_dense = w.dense_features;
  for (int64_t b = 0; b < batches; ++b) data.batches.push_back(gen.batch(b));
  write_atomically(out, [&](const std::string& tmp) { write_trace(tmp, data, trace_format_for_path(out)); });
  std::printf("wrote %s: %lld batches of %lld examples, %zu tables, %s\n", out.c_str(), static_cast<long long>(batches),
              static_cast<long long>(w.batch_size), w.tables.size(), gen.describe().c_str());
  return 0;
}

int trace_stats(int argc, char** argv) {
  po::options_description opts("privrec trace stats options");
  WorkloadFlags wf;
  std::string in, json_path;
  int64_t batches = 10;
  uint64_t seed = 1;
  opts.add_options()("help,h", "show this help")("trace", po::value(&in), "trace file (else a synthetic trace of the workload)")
    ("batches", po::value(&batches)->default_value(batches), "batches of a synthetic trace to analyse")
    ("seed", po::value(&seed)->default_value(seed), "seed of a synthetic trace")
    ("json", po::value(&json_path), "write the statistics as JSON to FILE")("force", "overwrite an existing --json file");
  wf.add_to(opts);
  po::positional_options_description pos;
  pos.add("trace", 1);
  po::variables_map vm;
  if (!parse(argc, argv, opts, vm, "usage: privrec trace stats [TRACE | --model M --dist D --batches N] [--json FILE]", &pos))
    return 0;
  check_output(json_path, vm.count("force") > 0);
  std::unique_ptr<TraceSource> src;
  std::vector<int64_t> rows;
  std::vector<std::string> names;
  if (!in.empty()) {
    TraceData data = read_trace(in);
    // Rows are bounded by the ids seen when no workload is named.
    if (vm["model"].defaulted()) {
      rows.assign(data.num_tables, 0);
      for (const auto& b : data.batches)
        for (int64_t t = 0; t < data.num_tables; ++t)
          for (int64_t id : b.tables[t].indices) rows[t] = std::max(rows[t], id + 1);
      for (int64_t t = 0; t < data.num_tables; ++t) names.push_back(fmt::format("t{}", t));
    } else {
      wf.finish(vm);
  const Workload w = wf.resolve();
      check_trace_against(data, w, in);
      for (const auto& t : w.tables) rows.push_back(t.rows), names.push_back(t.name);
    }
    batches = static_cast<int64_t>(data.batches.size());
    src = std::make_unique<FileTrace>(std::move(data), in);
  } else {
    if (batches < 1 || batches > 10000000) throw InputError(fmt::format("--batches {}: expected 1 .. 10000000", batches));
    wf.finish(vm);
  const Workload w = wf.resolve();
    for (const auto& t : w.tables) rows.push_back(t.rows), names.push_back(t.name);
    src = std::make_unique<SyntheticTrace>(w, seed);
  }
  const TraceStats s = compute_trace_stats(*src, batches, rows);
  std::printf("%s: %lld batches, %lld examples\n", src->describe().c_str(), static_cast<long long>(s.batches),
              static_cast<long long>(s.examples));
  std::printf("%-10s %12s %14s %12s %12s %10s %8s %8s %8s\n", "table", "lookups/b", "unique/b mean", "distinct",
              "reuses", "gap mean", "p50<=", "p90<=", "p99<=");
  for (size_t t = 0; t < s.tables.size(); ++t) {
    const auto& ts = s.tables[t];
    std::printf("%-10s %12.1f %14.1f %12lld %12lld %10.2f %8lld %8lld %8lld\n", names[t].c_str(),
                static_cast<double>(ts.lookups) / static_cast<double>(s.batches), ts.unique_per_batch_mean,
                static_cast<long long>(ts.distinct_rows), static_cast<long long>(ts.reuse_count), ts.reuse_gap_mean,
                static_cast<long long>(ts.reuse_gap_p50), static_cast<long long>(ts.reuse_gap_p90),
                static_cast<long long>(ts.reuse_gap_p99));
  }
  if (!json_path.empty()) write_text_file(json_path, s.to_json(names).dump(2) + "\n");
  return 0;
}

int trace_convert(int argc, char** argv) {
  po::options_description opts("privrec trace convert options");
  WorkloadFlags wf;
  wf.model = "mlperf-dlrm";
  std::string in, out;
  int64_t limit = -1;
  opts.add_options()("help,h", "show this help")("in,i", po::value(&in), "Criteo click log (TSV, or CSV with a header)")
    ("out,o", po::value(&out), "output trace (.txt: text format, else binary)")
    ("limit", po::value(&limit)->default_value(-1), "convert at most N examples (-1: all)")
    ("force", "overwrite an existing output file");
  wf.add_to(opts);
  po::variables_map vm;
  if (!parse(argc, argv, opts, vm,
             "usage: privrec trace convert --in criteo.txt --out trace.prvt [--model mlperf-dlrm] [--table-scale X] [--batch B]"))
    return 0;
  if (in.empty() || out.empty()) throw InputError("trace convert needs --in FILE and --out FILE");
  for (const char* f : {"pooling", "dist"})  // the log decides which rows each example looks up
    if (vm.count(f))
      throw InputError(fmt::format("--{}: trace convert takes the ids from the click log; it takes no --{}", f, f));
  check_output(out, vm.count("force") > 0);
  wf.finish(vm);
  if (!vm.count("table-scale")) wf.table_scale = 1.0;  // Criteo's tables as published unless asked otherwise
  const Workload w = wf.resolve();
  const auto res = convert_criteo(in, w, limit);
  write_atomically(out, [&](const std::string& tmp) { write_trace(tmp, res.trace, trace_format_for_path(out)); });
  std::printf("wrote %s: %lld examples in %zu batches (batch %lld) for workload %s; %lld missing integer values (0), "
              "%lld missing categorical values (hashed as their own value)\n",
              out.c_str(), static_cast<long long>(res.examples), res.trace.batches.size(),
              static_cast<long long>(w.batch_size), w.name.c_str(), static_cast<long long>(res.missing_dense),
              static_cast<long long>(res.missing_categorical));
  return 0;
}
}  // namespace

int cmd_trace(int argc, char** argv) {
  const char* usage = "usage: privrec trace gen|stats|convert [options]   (privrec trace SUB --help)\n";
  if (argc < 2) {
    std::fputs(usage, stderr);
    return 2;
  }
  const std::string sub = argv[1];
  if (sub == "gen") return trace_gen(argc - 1, argv + 1);
  if (sub == "stats") return trace_stats(argc - 1, argv + 1);
  if (sub == "convert") return trace_convert(argc - 1, argv + 1);
  if (sub == "--help" || sub == "-h") {
    std::fputs(usage, stdout);
    return 0;
  }
  throw InputError("unknown trace subcommand '" + sub + "' (expected gen, stats or convert)");
}

}  // namespace privrec::cli
