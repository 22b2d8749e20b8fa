#include "http/json_writer.h"

#include <charconv>
#include <cmath>

#include "common/utf8.h"

namespace sluice::http {

void AppendJsonFloat(std::string* out, double v) {
  if (!std::isfinite(v)) {
    out->push_back('0');
    return;
  }
  char buf[400];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  out->append(buf, r.ptr);
}

void AppendJsonInt(std::string* out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

void AppendJsonUint(std::string* out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

}  // namespace sluice::http
