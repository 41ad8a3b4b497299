#pragma once
// Tunes glibc's allocator for a training loop: every step frees and reallocates the same
// megabytes of scratch (sort keys, coalesced gradients). By default glibc hands freed memory at the
// top of the heap back to the kernel and the next step faults it in again, and on a virtual machine
// a first touch costs microseconds per page (measured here: 6.7 us per 4 KB page, so 4 GB take
// 6.7 s). Keeping freed memory cut rmc2's bwd.emb at table scale 0.01 from 305 to 146 ms per step.
namespace privrec {

// Raises the trim threshold and keeps mid-size blocks on the heap. Call once, before threads start.
void configure_host_allocator();

}  // namespace privrec
