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

// Runs `command` with /bin/sh -c in a process group of its own and waits for it: its exit status,
// or 128 + the signal that ended it. SIGINT or SIGTERM to privrec meanwhile is passed on to that
// group before privrec ends, so no child (the PyTorch peer, the report renderer) outlives the run;
// the child does not see the terminal's Ctrl-C directly, it gets it from privrec.
int run_child(const std::string& command);

// Writes `path` by calling `write(tmp)` with a temporary name beside it, then renames the result
// over `path`. The temporary file is removed if `write` throws or the run is interrupted.
void write_atomically(const std::string& path, const std::function<void(const std::string& tmp)>& write);

}  // namespace privrec::cli
