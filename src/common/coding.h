#pragma once

// Little-endian fixed-width integers and LEB128 varints, the building blocks of every sluice
// on-disk format (WAL, chunk, index). Decoders take a cursor and fail on truncated input
// instead of reading past the end: every byte they see may come from a torn or corrupt file.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace sluice::coding {

inline void PutFixed32(std::string* dst, uint32_t v) {
  char buf[4];
  std::memcpy(buf, &v, 4);  // x86-64 and aarch64 are little-endian; formats are defined LE.
  dst->append(buf, 4);
}
inline void PutFixed64(std::string* dst, uint64_t v) {
  char buf[8];
  std::memcpy(buf, &v, 8);
  dst->append(buf, 8);
}
inline uint32_t DecodeFixed32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t DecodeFixed64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

inline void PutVarint64(std::string* dst, uint64_t v) {
  char buf[10];
  int n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  dst->append(buf, n);
}
// How many bytes PutVarint64(v) appends.
inline size_t VarintLength(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}
// Zig-zag, so small negative deltas stay small.
inline void PutVarintSigned64(std::string* dst, int64_t v) {
  PutVarint64(dst, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}
inline void PutLengthPrefixed(std::string* dst, std::string_view s) {
  PutVarint64(dst, s.size());
  dst->append(s.data(), s.size());
}

// A read cursor over borrowed bytes. Every Get* returns false (and leaves the cursor
// unusable) on truncated input.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  bool GetFixed32(uint32_t* v) {
    if (data_.size() < 4) return Fail();
    *v = DecodeFixed32(data_.data());
    data_.remove_prefix(4);
    return true;
  }
  bool GetFixed64(uint64_t* v) {
    if (data_.size() < 8) return Fail();
    *v = DecodeFixed64(data_.data());
    data_.remove_prefix(8);
    return true;
  }
  bool GetVarint64(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift <= 63 && !data_.empty(); shift += 7) {
      auto byte = static_cast<uint8_t>(data_[0]);
      data_.remove_prefix(1);
      result |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        *v = result;
        return true;
      }
    }
    return Fail();
  }
  bool GetVarintSigned64(int64_t* v) {
    uint64_t u;
    if (!GetVarint64(&u)) return false;
    *v = static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
    return true;
  }
  bool GetVarint32(uint32_t* v) {
    uint64_t u;
    if (!GetVarint64(&u) || u > UINT32_MAX) return Fail();
    *v = static_cast<uint32_t>(u);
    return true;
  }
  // The returned view borrows from the buffer this Reader was built on.
  bool GetLengthPrefixed(std::string_view* s) {
    uint64_t n;
    if (!GetVarint64(&n) || n > data_.size()) return Fail();
    *s = data_.substr(0, n);
    data_.remove_prefix(n);
    return true;
  }
  bool GetBytes(size_t n, std::string_view* s) {
    if (n > data_.size()) return Fail();
    *s = data_.substr(0, n);
    data_.remove_prefix(n);
    return true;
  }
  bool GetByte(uint8_t* b) {
    if (data_.empty()) return Fail();
    *b = static_cast<uint8_t>(data_[0]);
    data_.remove_prefix(1);
    return true;
  }

  std::string_view remaining() const { return data_; }
  bool empty() const { return data_.empty(); }

 private:
  bool Fail() {
    data_ = {};
    return false;
  }
  std::string_view data_;
};

}  // namespace sluice::coding
