#pragma once

// Pre-encoded push requests, so the load generator spends its CPU on sending, not encoding.
// All integers little-endian:
//
//   file  := magic "SLBREQ01" (8 bytes) frame*
//   frame := body_len u32 | lines u32 | raw_bytes u64 | tenant_len u8 | tenant | body
//
// `lines` and `raw_bytes` (the sum of the request's line lengths) let the load generator report
// throughput in the units the targets use without decoding bodies.

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice::bench {

inline constexpr std::string_view kRequestFileMagic = "SLBREQ01";

struct RequestFrame {
  std::string tenant;
  uint32_t lines = 0;
  uint64_t raw_bytes = 0;
  std::string_view body;  // points into RequestFile::data
};

// Appends frames to a file. Not thread-safe.
class RequestFileWriter {
 public:
  static Result<RequestFileWriter> Open(const std::string& path);
  RequestFileWriter(RequestFileWriter&& o) noexcept : f_(o.f_) { o.f_ = nullptr; }
  RequestFileWriter& operator=(RequestFileWriter&&) = delete;
  ~RequestFileWriter();
  Status Append(std::string_view tenant, uint32_t lines, uint64_t raw_bytes, std::string_view body);
  Status Close();

 private:
  explicit RequestFileWriter(FILE* f) : f_(f) {}
  FILE* f_;
};

// A whole request file in memory.
struct RequestFile {
  std::string data;
  std::vector<RequestFrame> frames;
};
// Corruption when the file is not a request file or is cut short.
Result<RequestFile> ReadRequestFile(const std::string& path);

}  // namespace sluice::bench
