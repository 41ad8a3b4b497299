#pragma once
// Host memory for a training loop.
//
// configure_host_allocator tunes glibc's allocator: every step frees and reallocates the same
// megabytes of scratch (sort keys, coalesced gradients). By default glibc hands freed memory at the
// top of the heap back to the kernel and the next step faults it in again, and on a virtual machine
// a first touch costs microseconds per page (measured here: 6.7 us per 4 KB page, so 4 GB take
// 6.7 s). Keeping freed memory cut rmc2's bwd.emb at table scale 0.01 from 305 to 146 ms per step.
//
// allocate_huge_pages gives large arrays (tables, the batch's feature and gradient buffers, the
// coalesced gradients, lazydp's histories) 2 MB transparent huge pages: rows gathered at random or
// an example apart then miss the TLB far less, and first touch faults once per 2 MB instead of once
// per 4 KB. THP is "madvise" on Debian, so nothing is a huge page unless asked for. On the Zen 5 VM
// the coalesced gradients on 4 KB pages made the dense noisy update of a 512 MB table with a
// gradient on 58 % of its rows (privrec-bench BM_DenseNoisyUpdate/536870912/32/58) take 70-393 ms
// (median 311 of five) against 68-102 ms (median 72) on huge pages, alternated in one run.
#include <cstddef>
#include <cstdlib>
#include <new>
#include <vector>

namespace privrec {

// Raises the trim threshold and keeps mid-size blocks on the heap. Call once, before threads start.
void configure_host_allocator();

// `bytes` of memory (freed with std::free), 64-byte aligned; from 2 MB up, 2 MB aligned and advised
// onto huge pages (advice only: without THP nothing changes). Throws std::bad_alloc.
void* allocate_huge_pages(size_t bytes);

// A std::vector's allocator that takes its memory from allocate_huge_pages.
template <class T>
struct HugePageAllocator {
  using value_type = T;
  HugePageAllocator() = default;
  template <class U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}
  T* allocate(size_t n) { return static_cast<T*>(allocate_huge_pages(n * sizeof(T))); }
  void deallocate(T* p, size_t) noexcept { std::free(p); }
  template <class U>
  bool operator==(const HugePageAllocator<U>&) const noexcept { return true; }
};

template <class T>
using HugePageVector = std::vector<T, HugePageAllocator<T>>;

}  // namespace privrec
