#include "tools/interrupt.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace privrec::cli {

namespace {
// The handler may only touch what is async-signal-safe: fixed buffers, unlink, write, _exit.
constexpr size_t kSlots = 8, kPathMax = 4096;
std::array<std::array<char, kPathMax>, kSlots> g_paths{};
std::array<std::atomic<bool>, kSlots> g_used{};
std::array<char, 256> g_message{};
std::atomic<pid_t> g_child{0};  // the process group of the child being waited for (run_child)

void on_signal(int sig) {
  if (const pid_t child = g_child.load(); child > 0) ::kill(-child, sig);
  for (size_t i = 0; i < kSlots; ++i)
    if (g_used[i].load()) ::unlink(g_paths[i].data());
  const char* name = sig == SIGINT ? " (SIGINT)" : " (SIGTERM)";
  const ssize_t a = ::write(2, g_message.data(), std::strlen(g_message.data()));
  const ssize_t b = ::write(2, name, std::strlen(name));
  const ssize_t c = ::write(2, "; no output was left half written\n", 34);
  (void)a, (void)b, (void)c;
  ::_exit(128 + sig);
}

size_t claim(const std::string& path) {
  if (path.size() + 1 > kPathMax) throw std::runtime_error(path + ": path too long");
  for (size_t i = 0; i < kSlots; ++i) {
    if (g_used[i].load()) continue;
    std::memcpy(g_paths[i].data(), path.c_str(), path.size() + 1);
    g_used[i].store(true);
    return i;
  }
  throw std::runtime_error("more than 8 outputs written at once");
}
}  // namespace

void install_interrupt_handlers(const char* command) {
  std::snprintf(g_message.data(), g_message.size(), "privrec %s: interrupted", command);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int run_child(const std::string& command) {
  // The signals stay blocked from the spawn until the child's group is recorded, so an interrupt
  // in between still reaches it; the child starts with the mask privrec had.
  sigset_t stop, before;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, &before);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setsigmask(&attr, &before);
  char sh[] = "sh", dash_c[] = "-c";
  std::string line = command;
  char* argv[] = {sh, dash_c, line.data(), nullptr};
  pid_t pid = 0;
  const int err = posix_spawn(&pid, "/bin/sh", nullptr, &attr, argv, environ);
  posix_spawnattr_destroy(&attr);
  if (err == 0) g_child.store(pid);
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  if (err != 0) throw std::runtime_error(fmt::format("could not start /bin/sh for: {} ({})", command, std::strerror(err)));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  g_child.store(0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
}

void write_atomically(const std::string& path, const std::function<void(const std::string& tmp)>& write) {
  const std::string tmp = fmt::format("{}.tmp-privrec-{}", path, static_cast<long>(::getpid()));  // one per writer
  const size_t slot = claim(tmp);
  auto release = [&] {
    std::remove(tmp.c_str());
    g_used[slot].store(false);
  };
  try {
    write(tmp);
  } catch (...) {
    release();
    throw;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    release();
    throw std::runtime_error(path + ": could not move the finished file into place");
  }
  g_used[slot].store(false);
}

}  // namespace privrec::cli
