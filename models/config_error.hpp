#pragma once
// Errors caused by what a user wrote (files, flags, sizes). The command line turns them into
// exit status 2 with the message; everything else that goes wrong is a runtime failure (status 1).
#include <stdexcept>
#include <string>

namespace privrec {

class InputError : public std::runtime_error {
 public:
  explicit InputError(const std::string& message) : std::runtime_error(message) {}
};

// "file: key.path = value: expected ..." — the shape every config complaint takes.
InputError config_error(const std::string& file, const std::string& key_path, const std::string& value,
                        const std::string& expected);

const char* git_revision();

}  // namespace privrec
