#include "kernels/host_allocator.hpp"

#include <sys/mman.h>

#include <algorithm>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace privrec {

void configure_host_allocator() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest: blocks below 32 MB come from the heap
  mallopt(M_TRIM_THRESHOLD, 1 << 30);   // give memory back only when over 1 GB is free at the top
  mallopt(M_TOP_PAD, 64 << 20);
  // One arena: per-thread arenas live in 64 MB mmapped heaps that glibc unmaps when they empty,
  // so a parallel kernel's scratch was faulted in again every step (perf: clear_page and memset
  // were a quarter of rmc2's step). The main arena keeps its memory; two threads barely contend.
  mallopt(M_ARENA_MAX, 1);
#endif
}

void* allocate_huge_pages(size_t bytes) {
  constexpr size_t kHuge = size_t{2} << 20;
  const bool huge = bytes >= kHuge;
  const size_t align = huge ? kHuge : 64;
  const size_t rounded = std::max<size_t>(align, (bytes + align - 1) / align * align);
  void* p = std::aligned_alloc(align, rounded);
  if (!p) throw std::bad_alloc();
#if defined(MADV_HUGEPAGE)
  if (huge) madvise(p, rounded, MADV_HUGEPAGE);
#endif
  return p;
}

}  // namespace privrec
