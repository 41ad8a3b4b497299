#pragma once
// A temporary folder of this test process: made fresh under $TMPDIR (or /tmp) with mkdtemp, so a
// folder left by an earlier run, or by an earlier process that had the same pid, is never reused,
// and removed with everything in it when the process exits.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <system_error>

#include <unistd.h>

namespace privrec::test {

namespace detail {
struct TempDirs {
  std::map<std::string, std::string> by_prefix;
  pid_t owner = ::getpid();  // a child forked without exec leaves the folders to its parent
  ~TempDirs() {
    if (::getpid() != owner) return;
    for (const auto& [prefix, dir] : by_prefix) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  }
};
inline TempDirs& temp_dirs() {
  static TempDirs dirs;
  return dirs;
}
}  // namespace detail

// <tmp>/<prefix>XXXXXX, made on first use with this prefix; the same folder on every later call.
inline std::string temp_dir(const std::string& prefix) {
  auto& dirs = detail::temp_dirs().by_prefix;
  if (const auto it = dirs.find(prefix); it != dirs.end()) {
    std::filesystem::create_directories(it->second);  // a test may have removed it
    return it->second;
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + prefix + "XXXXXX";
  if (!mkdtemp(pattern.data())) throw std::runtime_error("test: mkdtemp " + pattern + " failed");
  return dirs.emplace(prefix, pattern).first->second;
}

// A path for a file named `name` in this process's temporary folder.
inline std::string temp_path(const std::string& name) { return temp_dir("privrec_test_") + "/" + name; }

}  // namespace privrec::test
