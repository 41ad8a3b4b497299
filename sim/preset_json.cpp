#include "sim/preset_json.hpp"

#include <filesystem>

#include <fmt/format.h>

#include "models/config_error.hpp"
#include "models/json_reader.hpp"
#include "models/suggest.hpp"

namespace privrec::sim {

std::vector<std::string> preset_names(const PresetTexts& presets) {
  std::vector<std::string> names;
  for (const auto& [name, text] : presets) names.push_back(name);
  return names;
}

PresetJson preset_or_file_json(const PresetTexts& presets, const std::string& folder, const std::string& flag,
                               const std::string& name_or_file) {
  if (const auto it = presets.find(name_or_file); it != presets.end()) {
    PresetJson p{{}, "configs/" + folder + "/" + name_or_file + ".json"};
    try {
      p.json = nlohmann::json::parse(it->second);
    } catch (const nlohmann::json::parse_error& e) {
      throw InputError(fmt::format("{}: built-in preset is not valid JSON: {}", p.file, e.what()));
    }
    return p;
  }
  std::error_code ec;
  if (name_or_file.empty() || !std::filesystem::exists(name_or_file, ec)) {
    const std::vector<std::string> names = preset_names(presets);
    std::string known;
    for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
    throw InputError(fmt::format("{} {}: neither a preset{} ({}) nor an existing file", flag, name_or_file,
                                 did_you_mean(name_or_file, names), known));
  }
  return {parse_json_file(name_or_file), name_or_file};
}

}  // namespace privrec::sim
