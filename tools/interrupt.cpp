#include "tools/interrupt.hpp"

#include <spawn.h>
#include <time.h>
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

extern char** environ;

namespace privrec::cli {

namespace {
// The handler may only touch what is async-signal-safe: fixed buffers, unlink, write, _exit.
constexpr size_t kSlots = 8, kPathMax = 4096;
std::array<std::array<char, kPathMax>, kSlots> g_paths{};
std::array<std::atomic<bool>, kSlots> g_used{};
std::array<char, 256> g_message{};
// run_child's state. A signal that arrives while a child runs is noted (g_pending) and acted on
// once the child has ended, so the run unwinds and removes its temporary files and folders.
std::atomic<pid_t> g_child{0};
std::atomic<bool> g_waiting{false};
std::atomic<int> g_pending{0};
static_assert(std::atomic<pid_t>::is_always_lock_free && std::atomic<int>::is_always_lock_free);

// The interrupted line, by async-signal-safe writes (the handler's and report_interrupt's).
void say_interrupted(int sig) {
  const char* name = sig == SIGINT ? " (SIGINT)" : " (SIGTERM)";
  const ssize_t a = ::write(2, g_message.data(), std::strlen(g_message.data()));
  const ssize_t b = ::write(2, name, std::strlen(name));
  const ssize_t c = ::write(2, "; no output was left half written\n", 34);
  (void)a, (void)b, (void)c;
}

[[noreturn]] void finish(int sig) {
  for (size_t i = 0; i < kSlots; ++i)
    if (g_used[i].load()) ::unlink(g_paths[i].data());
  say_interrupted(sig);
  ::_exit(128 + sig);
}

void on_signal(int sig) {
  int none = 0;
  if (g_waiting.load() && g_pending.compare_exchange_strong(none, sig)) return;  // run_child ends the run
  // No child, or a second signal: end now, passing it on to a child still running.
  if (const pid_t child = g_child.load(); child > 0) ::kill(child, sig);
  finish(sig);
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
  sa.sa_flags = SA_RESTART;  // the handler may return (a child running): calls in progress go on
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int run_child(const std::string& command) {
  // The child stays in privrec's process group, so what the terminal sends (Ctrl-C, Ctrl-Z, a
  // hangup) reaches it as it reaches privrec, and exec makes it the shell's own process, so a
  // signal passed on reaches the program itself, not a shell above it.
  char sh[] = "sh", dash_c[] = "-c";
  std::string line = "exec " + command;
  char* argv[] = {sh, dash_c, line.data(), nullptr};
  g_pending.store(0);
  g_waiting.store(true);
  pid_t pid = 0;
  const int err = posix_spawn(&pid, "/bin/sh", nullptr, nullptr, argv, environ);
  if (err != 0) {
    g_waiting.store(false);
    throw std::runtime_error(fmt::format("could not start /bin/sh for: {} ({})", command, std::strerror(err)));
  }
  g_child.store(pid);
  // Polled, not blocked on: a signal sent to privrec alone (a scheduler's SIGTERM) is passed on to
  // the child after a grace second, while one sent to the whole group (Ctrl-C) has reached the
  // child already and is not sent twice.
  int status = 0, passed = 0;
  timespec noted{}, now{};
  const timespec tick{0, 10'000'000};
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) {
      const int e = errno;
      g_child.store(0);
      g_waiting.store(false);
      throw std::runtime_error(fmt::format("waiting for: {} ({})", command, std::strerror(e)));
    }
    if (const int sig = g_pending.load(); sig != 0 && passed == 0) {
      clock_gettime(CLOCK_MONOTONIC, &now);
      if (noted.tv_sec == 0 && noted.tv_nsec == 0) noted = now;
      else if (now.tv_sec - noted.tv_sec + (now.tv_nsec - noted.tv_nsec) * 1e-9 >= 1.0) ::kill(pid, sig), passed = sig;
    }
    nanosleep(&tick, nullptr);
  }
  g_child.store(0);
  g_waiting.store(false);
  if (const int sig = g_pending.exchange(0); sig != 0) throw Interrupted{sig};
  return WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
}

int report_interrupt(int sig) {
  std::fflush(stderr);
  say_interrupted(sig);
  return 128 + sig;
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
