// Open-addressing hash map from byte strings to int32 values, for vocabularies. Keys live in one
// arena, lookups take a string_view and never allocate (the WordPiece / BPE hot loops probe it
// for every candidate substring).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace ripvec::tok {

inline uint64_t hash_bytes(std::string_view s) noexcept {
  // 64-bit multiply-xorshift over 8-byte words; keys are short, so this beats byte-wise FNV.
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  uint64_t h = 0xCBF29CE484222325ull ^ (s.size() * kMul);
  const char* p = s.data();
  size_t n = s.size();
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * kMul;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  uint64_t w = 0;
  std::memcpy(&w, p, n);
  h = (h ^ w) * kMul;
  h ^= h >> 32;
  return h;
}

class StringIdMap {
 public:
  static constexpr int32_t kAbsent = -1;

  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    if (cap > slots_.size()) rehash(cap);
  }

  // Inserts key -> value; an existing key keeps its first value unless overwrite.
  void insert(std::string_view key, int32_t value, bool overwrite = false) {
    if ((size_ + 1) * 2 > slots_.size()) rehash(slots_.empty() ? 16 : slots_.size() * 2);
    const uint64_t h = hash_bytes(key);
    size_t i = h & (slots_.size() - 1);
    while (slots_[i].value != kAbsent) {
      if (slots_[i].hash == h && key_of(slots_[i]) == key) {
        if (overwrite) slots_[i].value = value;
        return;
      }
      i = (i + 1) & (slots_.size() - 1);
    }
    slots_[i] =
        Slot{h, static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(key.size()), value};
    arena_.append(key);
    ++size_;
  }

  // The value of key, or kAbsent.
  int32_t find(std::string_view key) const noexcept {
    if (slots_.empty()) return kAbsent;
    const uint64_t h = hash_bytes(key);
    size_t i = h & (slots_.size() - 1);
    while (slots_[i].value != kAbsent) {
      if (slots_[i].hash == h && key_of(slots_[i]) == key) return slots_[i].value;
      i = (i + 1) & (slots_.size() - 1);
    }
    return kAbsent;
  }
  bool contains(std::string_view key) const noexcept { return find(key) != kAbsent; }
  size_t size() const noexcept { return size_; }

  // Calls f(key, value) for every entry (unspecified order).
  template <class F>
  void for_each(F&& f) const {
    for (const Slot& s : slots_)
      if (s.value != kAbsent) f(key_of(s), s.value);
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t offset = 0;
    uint32_t len = 0;
    int32_t value = kAbsent;
  };
  std::string_view key_of(const Slot& s) const noexcept {
    return std::string_view(arena_.data() + s.offset, s.len);
  }
  void rehash(size_t cap) {
    std::vector<Slot> old(cap);
    old.swap(slots_);
    for (const Slot& s : old) {
      if (s.value == kAbsent) continue;
      size_t i = s.hash & (cap - 1);
      while (slots_[i].value != kAbsent) i = (i + 1) & (cap - 1);
      slots_[i] = s;
    }
  }

  std::string arena_;
  std::vector<Slot> slots_;
  size_t size_ = 0;
};

}  // namespace ripvec::tok
