#pragma once
// Clean interrupts (DESIGN.md "Outputs"): SIGINT and SIGTERM end a run with one line on stderr and
// exit status 130 or 143, after removing the temporary files of any output being written, so an
// interrupted run leaves nothing half written under any name. Outputs reach their final name only
// by a rename of a complete file (write_atomically).
#include <functional>
#include <string>

namespace privrec::cli {

// Installs the handlers; `command` names the run in the message ("privrec train: interrupted").
void install_interrupt_handlers(const char* command);

// Runs `command` (one program with its arguments and redirections: it is exec'd by /bin/sh -c) and
// waits for it: its exit status, or 128 + the signal that ended it. The child shares privrec's
// process group, so the terminal's signals reach it directly; SIGINT or SIGTERM sent to privrec
// alone is passed on to it after a grace second. Either way privrec waits for the child to end,
// then throws Interrupted, so the run unwinds through its cleanups (temporary files and folders).
int run_child(const std::string& command);

// What run_child throws after an interrupt (not a std::exception: nothing on the way catches it as
// a failure); main ends the run with report_interrupt's line and status.
struct Interrupted {
  int signal;
};
// Prints the interrupted line (as the handler does) and returns 128 + sig.
int report_interrupt(int sig);

// Writes `path` by calling `write(tmp)` with a temporary name beside it, then renames the result
// over `path`. The temporary file is removed if `write` throws or the run is interrupted.
void write_atomically(const std::string& path, const std::function<void(const std::string& tmp)>& write);

}  // namespace privrec::cli
