#include "lib/request_file.h"

#include <fstream>
#include <sstream>

#include "common/coding.h"

namespace sluice::bench {

Result<RequestFileWriter> RequestFileWriter::Open(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return Status::IOError("cannot create " + path);
  if (std::fwrite(kRequestFileMagic.data(), 1, kRequestFileMagic.size(), f) !=
      kRequestFileMagic.size()) {
    std::fclose(f);
    return Status::IOError("cannot write " + path);
  }
  return RequestFileWriter(f);
}

RequestFileWriter::~RequestFileWriter() {
  if (f_ != nullptr) std::fclose(f_);
}

Status RequestFileWriter::Append(std::string_view tenant, uint32_t lines, uint64_t raw_bytes,
                                 std::string_view body) {
  if (tenant.size() > 255) return Status::InvalidArgument("tenant too long");
  std::string head;
  coding::PutFixed32(&head, static_cast<uint32_t>(body.size()));
  coding::PutFixed32(&head, lines);
  coding::PutFixed64(&head, raw_bytes);
  head.push_back(static_cast<char>(tenant.size()));
  head.append(tenant);
  if (std::fwrite(head.data(), 1, head.size(), f_) != head.size() ||
      std::fwrite(body.data(), 1, body.size(), f_) != body.size()) {
    return Status::IOError("write failed");
  }
  return Status::OK();
}

Status RequestFileWriter::Close() {
  FILE* f = f_;
  f_ = nullptr;
  if (f != nullptr && std::fclose(f) != 0) return Status::IOError("close failed");
  return Status::OK();
}

Result<RequestFile> ReadRequestFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("cannot read " + path);
  RequestFile file;
  std::ostringstream ss;
  ss << in.rdbuf();
  file.data = std::move(ss).str();
  std::string_view rest = file.data;
  if (!rest.starts_with(kRequestFileMagic))
    return Status::Corruption(path + ": not a request file");
  rest.remove_prefix(kRequestFileMagic.size());
  while (!rest.empty()) {
    constexpr size_t kHead = 4 + 4 + 8 + 1;
    if (rest.size() < kHead) return Status::Corruption(path + ": truncated frame header");
    RequestFrame f;
    uint32_t body_len = coding::DecodeFixed32(rest.data());
    f.lines = coding::DecodeFixed32(rest.data() + 4);
    f.raw_bytes = coding::DecodeFixed64(rest.data() + 8);
    size_t tenant_len = static_cast<unsigned char>(rest[16]);
    rest.remove_prefix(kHead);
    if (rest.size() < tenant_len + body_len) return Status::Corruption(path + ": truncated frame");
    f.tenant = std::string(rest.substr(0, tenant_len));
    f.body = rest.substr(tenant_len, body_len);
    rest.remove_prefix(tenant_len + body_len);
    file.frames.push_back(std::move(f));
  }
  return file;
}

}  // namespace sluice::bench
