#pragma once
// The one way a profile is found by name or path (--hardware, --implementation, --cluster): a
// preset compiled in from configs/<folder>/NAME.json (sim/CMakeLists.txt), else a JSON file.
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace privrec::sim {

using PresetTexts = std::map<std::string, std::string>;  // name -> the JSON file's text

struct PresetJson {
  nlohmann::json json;
  std::string file;  // what errors name: configs/<folder>/NAME.json, or the path given
};

// InputError naming `flag` and listing the presets when `name_or_file` is neither.
PresetJson preset_or_file_json(const PresetTexts& presets, const std::string& folder, const std::string& flag,
                               const std::string& name_or_file);
std::vector<std::string> preset_names(const PresetTexts& presets);

}  // namespace privrec::sim
