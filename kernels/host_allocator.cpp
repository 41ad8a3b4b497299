#include "kernels/host_allocator.hpp"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace privrec {

void configure_host_allocator() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest: blocks below 32 MB come from the heap
  mallopt(M_TRIM_THRESHOLD, 1 << 30);   // give memory back only when over 1 GB is free at the top
  mallopt(M_TOP_PAD, 64 << 20);
#endif
}

}  // namespace privrec
