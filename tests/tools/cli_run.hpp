#pragma once
// Running the privrec binary from a test: its exit status and everything it printed, and a
// per-process temporary folder for the files a test writes (temp_dir.hpp).
#include <cstdio>
#include <filesystem>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/temp_dir.hpp"

namespace privrec::test {

struct CliResult {
  int status;
  std::string output;  // stdout and stderr together
};

inline CliResult run_privrec(const std::string& args) {
  const std::string cmd = std::string(PRIVREC_BINARY) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  const int rc = pclose(p);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out};
}

// A shell command line (for background jobs and signals), its output and status.
inline CliResult run_shell(const std::string& script) {
  FILE* p = popen(("sh -c '" + script + "' 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  const int rc = pclose(p);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out};
}

// `privrec ARGS` is refused as bad input: status 2, `message` in what it printed, and no crash.
inline void expect_bad_input(const std::string& args, const std::string& message) {
  const CliResult r = run_privrec(args);
  EXPECT_EQ(r.status, 2) << args << "\n" << r.output;
  EXPECT_NE(r.output.find(message), std::string::npos) << args << "\n" << r.output;
  EXPECT_EQ(r.output.find("terminate"), std::string::npos) << r.output;
}

}  // namespace privrec::test
