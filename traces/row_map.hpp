#pragma once
// A map from row ids (0 .. rows-1) to small values, for per-row state the model keeps only for the
// rows a trace touches (lazydp's last catch-up step). While sparse it is open addressing with
// linear probing over a power-of-two table, so a lookup is one hash and usually one cache line and
// memory is about 2 x (8 + sizeof(V)) bytes per touched row (std::unordered_map costs a node
// allocation per row). Once the table would take more memory than a plain array over every row, it
// becomes that array (rows x sizeof(V)): memory never exceeds the smaller of the two, and a 10 TB
// table touched by a few batches still costs what the batches touched.
#include <cstdint>
#include <utility>
#include <vector>

namespace privrec {

template <typename V>
class RowMap {
 public:
  // `rows`: an upper bound of the row ids (0: unknown, never dense).
  explicit RowMap(int64_t rows = 0) : rows_(rows) {}

  // The row's value, inserted as V{} when absent (in the dense form every row is present as V{}).
  V& operator[](int64_t row) {
    if (!dense_.empty()) return dense_[static_cast<size_t>(row)];
    if (2 * (size_ + 1) > slots_.size()) grow();
    if (!dense_.empty()) return dense_[static_cast<size_t>(row)];
    size_t i = slot_of(row);
    while (slots_[i].first != kEmpty && slots_[i].first != row) i = (i + 1) & mask_;
    if (slots_[i].first == kEmpty) slots_[i] = {row, V{}}, ++size_;
    return slots_[i].second;
  }
  // Starts fetching the row's slot: callers walking many rows issue it a few rows ahead.
  void prefetch(int64_t row) const {
    if (!dense_.empty()) __builtin_prefetch(&dense_[static_cast<size_t>(row)]);
    else if (!slots_.empty()) __builtin_prefetch(&slots_[slot_of(row)]);
  }
  // Rows present: those inserted, or every row once dense.
  size_t size() const { return dense_.empty() ? size_ : dense_.size(); }
  bool dense() const { return !dense_.empty(); }
  size_t memory_bytes() const { return slots_.capacity() * sizeof(std::pair<int64_t, V>) + dense_.capacity() * sizeof(V); }
  // f(row, value&) for every row present, in no particular order.
  template <typename F>
  void for_each(F&& f) {
    if (!dense_.empty()) {
      for (size_t r = 0; r < dense_.size(); ++r) f(static_cast<int64_t>(r), dense_[r]);
      return;
    }
    for (auto& [row, v] : slots_)
      if (row != kEmpty) f(row, v);
  }

 private:
  static constexpr int64_t kEmpty = -1;
  size_t slot_of(int64_t row) const {
    // A multiplicative hash: the product's middle bits mix every bit of the row id.
    uint64_t x = static_cast<uint64_t>(row) * 0x9e3779b97f4a7c15ull;
    return static_cast<size_t>(x >> 20) & mask_;
  }
  void grow() {
    std::vector<std::pair<int64_t, V>> old = std::move(slots_);
    const size_t next = old.empty() ? 1024 : 2 * old.size();
    if (rows_ > 0 && next * sizeof(std::pair<int64_t, V>) >= static_cast<size_t>(rows_) * sizeof(V)) {
      dense_.assign(static_cast<size_t>(rows_), V{});
      for (auto& [row, v] : old)
        if (row != kEmpty) dense_[static_cast<size_t>(row)] = v;
      size_ = 0, mask_ = 0;
      return;
    }
    slots_.assign(next, {kEmpty, V{}});
    mask_ = slots_.size() - 1;
    size_ = 0;
    for (auto& [row, v] : old)
      if (row != kEmpty) (*this)[row] = v;
  }
  int64_t rows_ = 0;
  std::vector<std::pair<int64_t, V>> slots_;
  std::vector<V> dense_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace privrec
