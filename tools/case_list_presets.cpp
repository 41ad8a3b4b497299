#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "models/config_error.hpp"
#include "models/suggest.hpp"
#include "tools/case_list.hpp"

namespace privrec::cli {

// Generated from configs/validation/*.json (tools/CMakeLists.txt).
const std::map<std::string, std::string>& builtin_case_lists();

std::vector<Case> load_case_list(const std::string& name_or_file) {
  if (std::filesystem::exists(name_or_file)) return load_cases(name_or_file);
  const std::string stem = std::filesystem::path(name_or_file).stem().string();
  const auto& lists = builtin_case_lists();
  if (const auto it = lists.find(stem); it != lists.end()) {
    const std::string file = "configs/validation/" + stem + ".json (built in)";
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(it->second);
    } catch (const nlohmann::json::exception& e) {
      throw InputError(fmt::format("{}: not valid JSON: {}", file, e.what()));
    }
    return parse_cases(j, file);
  }
  std::vector<std::string> names;
  std::string known;
  for (const auto& [n, text] : lists) names.push_back(n), known += (known.empty() ? "" : ", ") + n;
  throw InputError(fmt::format("--cases {}: no such file, nor a built-in case list{} ({})", name_or_file,
                               did_you_mean(stem, names), known));
}

}  // namespace privrec::cli
