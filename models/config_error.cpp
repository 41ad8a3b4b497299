#include "models/config_error.hpp"

#include <fmt/format.h>

namespace privrec {

InputError config_error(const std::string& file, const std::string& key_path, const std::string& value,
                        const std::string& expected) {
  return InputError(fmt::format("{}: {} = {}: expected {}", file, key_path.empty() ? "(top level)" : key_path,
                                value, expected));
}

}  // namespace privrec
