// Linked into every executable that carries its own C++ runtime (PRIVREC_STATIC_RUNTIME, see the
// top-level CMakeLists). Debian's libstdc++.a was built against glibc 2.36 and its std::random_device
// (in an object that std::logic_error pulls in, so in every binary) calls arc4random, which glibc
// added in 2.36: the binaries would need glibc 2.36 on the GPU machine after all. Defined here, in
// the executable itself, the linker binds that reference to this definition instead of to libc's
// versioned symbol. privrec never calls it (its randomness is the counter-based RNG); it only has to
// be correct, which getrandom (glibc 2.25) makes it. What remains is glibc 2.35, for _dl_find_object
// in the static libgcc's unwinder (tools/gpu-bundle.sh prints the newest version needed).
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <stdlib.h>
#include <sys/random.h>

extern "C" std::uint32_t arc4random() noexcept {
  std::uint32_t value = 0;
  auto* bytes = reinterpret_cast<unsigned char*>(&value);
  std::size_t got = 0;
  while (got < sizeof value) {
    const ssize_t n = getrandom(bytes + got, sizeof value - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::abort();  // no entropy source at all: the kernel predates getrandom (Linux 3.17)
    }
    got += static_cast<std::size_t>(n);
  }
  return value;
}
