#include "model/tenant.h"

#include <fmt/format.h>

#include <algorithm>

namespace sluice::model {

namespace {
bool IsAllowed(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!':
    case '-':
    case '_':
    case '.':
    case '*':
    case '\'':
    case '(':
    case ')':
      return true;
    default:
      return false;
  }
}
}  // namespace

Status ValidateTenantId(std::string_view id) {
  if (id.empty()) return Status::Unauthenticated("no org id");
  if (id.size() > kMaxTenantIdLength) {
    return Status::InvalidArgument(
        fmt::format("tenant ID is too long: max {} characters", kMaxTenantIdLength));
  }
  if (id == "." || id == "..") return Status::InvalidArgument("tenant ID is '.' or '..'");
  for (char c : id) {
    if (!IsAllowed(c)) {
      std::string shown =
          (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f)
              ? fmt::format("\\x{:02x}", static_cast<unsigned char>(c))
              : std::string(1, c);
      return Status::InvalidArgument(
          fmt::format("tenant ID '{}' contains unsupported character '{}'", id, shown));
    }
  }
  return Status::OK();
}

Result<std::vector<std::string>> ParseTenantIds(std::string_view header) {
  std::vector<std::string> ids;
  size_t start = 0;
  while (true) {
    size_t bar = header.find('|', start);
    std::string_view id =
        header.substr(start, bar == std::string_view::npos ? std::string_view::npos : bar - start);
    SLUICE_RETURN_IF_ERROR(ValidateTenantId(id));
    ids.emplace_back(id);
    if (bar == std::string_view::npos) break;
    start = bar + 1;
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

}  // namespace sluice::model
