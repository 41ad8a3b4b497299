#include "models/json_reader.hpp"

#include <cmath>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "models/config_error.hpp"
#include "models/suggest.hpp"

namespace privrec {

std::string json_value_text(const nlohmann::json& value) {
  std::string text = value.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

nlohmann::json parse_json_file(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw InputError(file + ": cannot open the file for reading");
  std::stringstream buffer;
  buffer << in.rdbuf();
  // Nesting is refused past 100 levels: dumping a value (every complaint quotes one; --json output
  // echoes a profile's provenance) recurses once per level, and a file of 500000 '[' overflowed the
  // stack (issue 18, fuzzing). depth counts the containers around the one that starts.
  constexpr int kMaxDepth = 100;
  const nlohmann::json::parser_callback_t limit_depth = [&](int depth, nlohmann::json::parse_event_t event,
                                                            nlohmann::json&) {
    if (depth >= kMaxDepth &&
        (event == nlohmann::json::parse_event_t::object_start || event == nlohmann::json::parse_event_t::array_start))
      throw InputError(fmt::format("{}: not valid JSON: nested deeper than {} levels", file, kMaxDepth));
    return true;
  };
  try {
    return nlohmann::json::parse(buffer.str(), limit_depth);
  } catch (const nlohmann::json::exception& e) {  // syntax, and numbers beyond a double (1e400)
    throw InputError(file + ": not valid JSON: " + e.what());
  }
}

JsonObjectReader::JsonObjectReader(const nlohmann::json& object, std::string file, std::string path)
    : object_(object), file_(std::move(file)), path_(std::move(path)) {
  if (!object_.is_object()) throw config_error(file_, path_, json_value_text(object_), "a JSON object");
}

std::string JsonObjectReader::key_path(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

bool JsonObjectReader::has(const std::string& key) const { return object_.contains(key); }

const nlohmann::json& JsonObjectReader::get(const std::string& key, const char* expected) {
  seen_.insert(key);
  if (!object_.contains(key)) {
    // A required key that is missing is often one that is there misspelt: name it.
    std::vector<std::string> present;
    for (const auto& [k, v] : object_.items()) present.push_back(k);
    const std::string typo = closest_match(key, present);
    throw config_error(file_, key_path(key), "(missing)",
                       std::string(expected) + (typo.empty() ? "" : "; the object has \"" + typo + "\": a typo?"));
  }
  return object_.at(key);
}

std::string JsonObjectReader::required_string(const std::string& key) {
  const auto& v = get(key, "a string");
  if (!v.is_string()) throw config_error(file_, key_path(key), json_value_text(v), "a string");
  return v.get<std::string>();
}

std::optional<std::string> JsonObjectReader::optional_string(const std::string& key) {
  if (!has(key)) {
    seen_.insert(key);
    return std::nullopt;
  }
  return required_string(key);
}

std::optional<bool> JsonObjectReader::optional_bool(const std::string& key) {
  seen_.insert(key);
  if (!has(key)) return std::nullopt;
  const nlohmann::json& v = object_.at(key);
  if (!v.is_boolean()) throw config_error(file_, key_path(key), json_value_text(v), "true or false");
  return v.get<bool>();
}

int64_t JsonObjectReader::required_positive_int(const std::string& key) {
  const auto& v = get(key, "a positive integer");
  if (v.is_number_float() && v.get<double>() >= 1 && v.get<double>() < 9.2e18 && v.get<double>() == std::floor(v.get<double>()))
    throw config_error(file_, key_path(key), json_value_text(v),
                       fmt::format("a positive integer written without exponent or decimal point ({:.0f})", v.get<double>()));
  if (!v.is_number_integer() || v.get<int64_t>() <= 0)
    throw config_error(file_, key_path(key), json_value_text(v), "a positive integer");
  return v.get<int64_t>();
}

std::optional<int64_t> JsonObjectReader::optional_positive_int(const std::string& key) {
  if (!has(key)) {
    seen_.insert(key);
    return std::nullopt;
  }
  return required_positive_int(key);
}

double JsonObjectReader::required_number(const std::string& key) {
  const auto& v = get(key, "a number");
  if (!v.is_number()) throw config_error(file_, key_path(key), json_value_text(v), "a number");
  return v.get<double>();
}

const nlohmann::json& JsonObjectReader::required_array(const std::string& key) {
  const auto& v = get(key, "a non-empty array");
  if (!v.is_array() || v.empty()) throw config_error(file_, key_path(key), json_value_text(v), "a non-empty array");
  return v;
}

const nlohmann::json& JsonObjectReader::required_object(const std::string& key, const char* expected) {
  const auto& v = get(key, expected);
  if (!v.is_object()) throw config_error(file_, key_path(key), json_value_text(v), expected);
  return v;
}

std::vector<int64_t> JsonObjectReader::required_positive_int_list(const std::string& key) {
  const auto& v = required_array(key);
  std::vector<int64_t> out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_number_integer() || v[i].get<int64_t>() <= 0)
      throw config_error(file_, key_path(key) + "[" + std::to_string(i) + "]", json_value_text(v[i]),
                         "a positive integer");
    out.push_back(v[i].get<int64_t>());
  }
  return out;
}

JsonObjectReader JsonObjectReader::child(const nlohmann::json& element, const std::string& key, size_t index) const {
  return JsonObjectReader(element, file_, key_path(key) + "[" + std::to_string(index) + "]");
}

void JsonObjectReader::reject_unknown_keys() const {
  for (const auto& [key, value] : object_.items()) {
    if (!seen_.count(key)) {
      std::string known;
      for (const auto& k : seen_) known += (known.empty() ? "" : ", ") + k;
      const std::vector<std::string> names(seen_.begin(), seen_.end());
      throw config_error(file_, key_path(key), json_value_text(value),
                         "no such key" + did_you_mean(key, names) + " (known keys: " + known + ")");
    }
  }
}

}  // namespace privrec
