#pragma once
// parallel_each(n, body): body(i) for every i in [0, n), on OpenMP's threads, one index at a time as
// threads come free (schedule(dynamic, 1): tables differ in size). An exception thrown by a body
// cannot leave an OpenMP region (it would end the process), so each is caught where it happens and
// the first, by index, is thrown again once every body has run: a bad input or a failed allocation
// inside a parallel loop then reaches the user as the message it carries, with exit status 2 where
// it is an input error, never as an abort.
#include <cstdint>
#include <exception>
#include <vector>

namespace privrec {

template <class Body>
void parallel_each(int64_t n, Body&& body, bool parallel = true) {
  std::vector<std::exception_ptr> failed(static_cast<size_t>(n > 0 ? n : 0));
#pragma omp parallel for schedule(dynamic, 1) if (parallel)
  for (int64_t i = 0; i < n; ++i) {
    try {
      body(i);
    } catch (...) {
      failed[static_cast<size_t>(i)] = std::current_exception();
    }
  }
  for (const std::exception_ptr& e : failed)
    if (e) std::rethrow_exception(e);
}

}  // namespace privrec
