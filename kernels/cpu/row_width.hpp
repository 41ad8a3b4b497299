#pragma once
// Row loops with the row's width known at compile time: with_row_width<W...>(d, f) calls
// f(std::integral_constant<int64_t, d>{}) when d is one of W..., else f with the constant 0 (the
// width known only at run time). A fixed width unrolls a row into whole vectors with no length
// checks and no remainder loop.
#include <cstdint>
#include <type_traits>

namespace privrec::cpu {

template <int64_t... kWidths, class F>
void with_row_width(int64_t d, F&& f) {
  const bool fixed = ((d == kWidths && (f(std::integral_constant<int64_t, kWidths>{}), true)) || ...);
  if (!fixed) f(std::integral_constant<int64_t, 0>{});
}

}  // namespace privrec::cpu
