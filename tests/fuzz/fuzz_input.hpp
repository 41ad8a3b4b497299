#pragma once
// What every fuzz target shares: the input written to a file (the readers take a path, and the
// library stays as it is), and the rule that bad input is an InputError and nothing else.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <typeinfo>

#include "models/config_error.hpp"

namespace privrec::fuzz {

// A folder of this process under $TMPDIR (tools/fuzz.sh points it into its working folder),
// removed at exit; each input overwrites the one file named `name` there.
class InputFile {
 public:
  explicit InputFile(const std::string& name) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/privrec-fuzz-XXXXXX";
    if (!mkdtemp(pattern.data())) {
      std::perror("privrec fuzz: mkdtemp");
      std::abort();
    }
    dir_ = pattern;
    path_ = dir_ + "/" + name;
  }
  ~InputFile() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  // Writes the input and returns the file's path.
  const std::string& write(const uint8_t* data, size_t size) const {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    out.close();
    if (!out) {
      std::fprintf(stderr, "privrec fuzz: cannot write %s\n", path_.c_str());
      std::abort();
    }
    return path_;
  }

 private:
  std::string dir_, path_;
};

[[noreturn]] inline void finding(const char* what) {
  std::fprintf(stderr, "privrec fuzz: FINDING: %s\n", what);
  std::fflush(stderr);
  std::abort();  // libFuzzer keeps the input as a crash
}

// Runs the reader: an InputError (bad input, exit status 2 for the user) is the normal outcome of a
// bad input; any other exception is a finding, as are crashes, sanitizer reports and hangs.
template <class F>
void expect_only_input_errors(F&& read) {
  try {
    read();
  } catch (const InputError&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "privrec fuzz: FINDING: uncaught %s: %s\n", typeid(e).name(), e.what());
    std::fflush(stderr);
    std::abort();
  } catch (...) {
    finding("an exception that is not a std::exception");
  }
}

}  // namespace privrec::fuzz
