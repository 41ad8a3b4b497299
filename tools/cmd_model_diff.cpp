// privrec model-diff: how far apart two saved models are, per table, per MLP layer and overall.
#include <cstdio>

#include <fmt/format.h>

#include "kernels/model_io.hpp"
#include "models/config_error.hpp"
#include "tools/cli_common.hpp"

namespace privrec::cli {

int cmd_model_diff(int argc, char** argv) {
  po::options_description opts("privrec model-diff options");
  std::string a, b, json_path;
  opts.add_options()("help,h", "show this help")("a", po::value(&a), "first model")("b", po::value(&b), "second model")
    ("json", po::value(&json_path), "write the differences as JSON to FILE")("force", "overwrite an existing --json file");
  po::positional_options_description pos;
  pos.add("a", 1).add("b", 1);
  po::variables_map vm;
  if (!parse(argc, argv, opts, vm, "usage: privrec model-diff A B [--json FILE]", &pos)) return 0;
  if (a.empty() || b.empty()) throw InputError("model-diff needs two saved models: privrec model-diff A B");
  check_output(json_path, vm.count("force") > 0);
  const auto ma = load_model(a), mb = load_model(b);
  std::vector<TensorDiff> diffs;
  try {
    diffs = diff_models(ma, mb);
  } catch (const InputError& e) {  // the shapes differ: say which two files
    throw InputError(fmt::format("{} and {}: {}", a, b, e.what()));
  }
  std::printf("%-20s %14s %14s %14s\n", "tensor", "max_abs_diff", "max_abs_value", "max_rel_diff");
  nlohmann::json j = nlohmann::json::array();
  for (const auto& d : diffs) {
    std::printf("%-20s %14.6g %14.6g %14.6g\n", d.name.c_str(), d.max_abs_diff, d.max_abs_value, d.max_rel_diff);
    j.push_back({{"name", d.name}, {"max_abs_diff", d.max_abs_diff}, {"max_abs_value", d.max_abs_value},
                 {"max_rel_diff", d.max_rel_diff}});
  }
  if (!json_path.empty()) write_text_file(json_path, nlohmann::json({{"a", a}, {"b", b}, {"tensors", j}}).dump(2) + "\n");
  return 0;
}

}  // namespace privrec::cli
