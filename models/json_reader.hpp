#pragma once
// Strict reading of JSON config objects: every key is either required or has a stated default,
// unknown keys are refused, and every complaint names the file, the key path, the value and what
// was expected.
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace privrec {

class JsonObjectReader {
 public:
  JsonObjectReader(const nlohmann::json& object, std::string file, std::string path);

  const std::string& file() const { return file_; }
  std::string key_path(const std::string& key) const;
  bool has(const std::string& key) const;

  std::string required_string(const std::string& key);
  std::optional<std::string> optional_string(const std::string& key);
  std::optional<bool> optional_bool(const std::string& key);
  int64_t required_positive_int(const std::string& key);
  std::optional<int64_t> optional_positive_int(const std::string& key);
  double required_number(const std::string& key);
  std::vector<int64_t> required_positive_int_list(const std::string& key);
  const nlohmann::json& required_array(const std::string& key);
  const nlohmann::json& required_object(const std::string& key, const char* expected = "an object");
  JsonObjectReader child(const nlohmann::json& element, const std::string& key, size_t index) const;

  // Refuses any key that none of the accessors above asked for.
  void reject_unknown_keys() const;

 private:
  const nlohmann::json& get(const std::string& key, const char* expected);
  const nlohmann::json& object_;
  std::string file_;
  std::string path_;
  std::set<std::string> seen_;
};

nlohmann::json parse_json_file(const std::string& file);
std::string json_value_text(const nlohmann::json& value);

}  // namespace privrec
