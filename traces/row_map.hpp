#pragma once
// A map from row ids (non-negative) to small values, for per-row state the model keeps only for the
// rows a trace touches (lazydp's last catch-up step): open addressing with linear probing over a
// power-of-two table, so a lookup is one hash and usually one cache line, and memory is about
// 2 x (8 + sizeof(V)) bytes per row (std::unordered_map costs a node allocation per row).
#include <cstdint>
#include <utility>
#include <vector>

namespace privrec {

template <typename V>
class RowMap {
 public:
  // The row's value, inserted as V{} when absent.
  V& operator[](int64_t row) {
    if (2 * (size_ + 1) > slots_.size()) grow();
    size_t i = slot_of(row);
    while (slots_[i].first != kEmpty && slots_[i].first != row) i = (i + 1) & mask_;
    if (slots_[i].first == kEmpty) slots_[i] = {row, V{}}, ++size_;
    return slots_[i].second;
  }
  // Starts fetching the row's slot: callers walking many rows issue it a few rows ahead.
  void prefetch(int64_t row) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[slot_of(row)]);
  }
  size_t size() const { return size_; }
  size_t memory_bytes() const { return slots_.capacity() * sizeof(std::pair<int64_t, V>); }
  // f(row, value&) for every row in the map, in no particular order.
  template <typename F>
  void for_each(F&& f) {
    for (auto& [row, v] : slots_)
      if (row != kEmpty) f(row, v);
  }

 private:
  static constexpr int64_t kEmpty = -1;
  size_t slot_of(int64_t row) const {
    uint64_t x = static_cast<uint64_t>(row) * 0x9e3779b97f4a7c15ull;  // Fibonacci hashing
    return static_cast<size_t>(x >> 20) & mask_;
  }
  void grow() {
    std::vector<std::pair<int64_t, V>> old = std::move(slots_);
    slots_.assign(old.empty() ? 1024 : 2 * old.size(), {kEmpty, V{}});
    mask_ = slots_.size() - 1;
    size_ = 0;
    for (auto& [row, v] : old)
      if (row != kEmpty) (*this)[row] = v;
  }
  std::vector<std::pair<int64_t, V>> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace privrec
