#include "logql/log/json_scan.h"

#include <cstring>

#include "common/utf8.h"

namespace sluice::logql::log::json {

size_t StringEnd(std::string_view data, bool* escaped) {
  const char* base = data.data();
  size_t i = 0;
  while (i < data.size()) {
    const void* q = std::memchr(base + i, '"', data.size() - i);
    if (q == nullptr) break;
    size_t qi = static_cast<size_t>(static_cast<const char*>(q) - base);
    // The quote is escaped when an odd number of backslashes precede it.
    size_t backslashes = 0;
    while (backslashes < qi && base[qi - 1 - backslashes] == '\\') ++backslashes;
    if (backslashes % 2 == 0) {
      if (escaped != nullptr) *escaped = std::memchr(base, '\\', qi) != nullptr;
      return qi + 1;
    }
    i = qi + 1;
  }
  if (escaped != nullptr) *escaped = std::memchr(base, '\\', data.size()) != nullptr;
  return kNpos;
}

size_t BlockEnd(std::string_view data, char open, char close) {
  int level = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    char c = data[i];
    if (c == '"') {
      size_t se = StringEnd(data.substr(i + 1), nullptr);
      if (se == kNpos) return kNpos;
      i += se;
    } else if (c == open) {
      ++level;
    } else if (c == close) {
      if (--level == 0) return i + 1;
    }
  }
  return kNpos;
}

namespace {

size_t TokenEnd(std::string_view data) {
  for (size_t i = 0; i < data.size(); ++i) {
    switch (data[i]) {
      case ' ':
      case '\n':
      case '\r':
      case '\t':
      case ',':
      case '}':
      case ']':
        return i;
      default:
        break;
    }
  }
  return data.size();
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// `\uXXXX` at in[0..6): the code unit, or -1.
int32_t DecodeSingleEscape(std::string_view in) {
  if (in.size() < 6 || in[0] != '\\' || in[1] != 'u') return -1;
  int32_t r = 0;
  for (size_t i = 2; i < 6; ++i) {
    int h = HexValue(in[i]);
    if (h < 0) return -1;
    r = r * 16 + h;
  }
  return r;
}

}  // namespace

const char* GetValue(std::string_view data, std::string_view* value, ValueType* type, size_t* end) {
  size_t off = NextToken(data);
  if (off == kNpos) {
    *type = ValueType::kNotExist;
    return kMalformedJson;
  }
  char c = data[off];
  if (c == '"') {
    *type = ValueType::kString;
    size_t se = StringEnd(data.substr(off + 1), nullptr);
    if (se == kNpos) return kMalformedString;
    *value = data.substr(off + 1, se - 1);
    *end = off + 1 + se;
    return nullptr;
  }
  if (c == '[' || c == '{') {
    *type = c == '[' ? ValueType::kArray : ValueType::kObject;
    size_t be = BlockEnd(data.substr(off), c, c == '[' ? ']' : '}');
    if (be == kNpos) return c == '[' ? kMalformedArray : kMalformedObject;
    *value = data.substr(off, be);
    *end = off + be;
    return nullptr;
  }
  size_t te = TokenEnd(data.substr(off));
  std::string_view v = data.substr(off, te);
  switch (c) {
    case 't':
    case 'f':
      if (v != "true" && v != "false") {
        *type = ValueType::kUnknown;
        return kUnknownValueType;
      }
      *type = ValueType::kBoolean;
      break;
    case 'u':
    case 'n':
      if (v != "null") {
        *type = ValueType::kUnknown;
        return kUnknownValueType;
      }
      *type = ValueType::kNull;
      break;
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
      *type = ValueType::kNumber;
      break;
    default:
      *type = ValueType::kUnknown;
      return kUnknownValueType;
  }
  *value = v;
  *end = off + te;
  return nullptr;
}

bool Unescape(std::string_view in, std::string* out) {
  size_t i = 0;
  while (i < in.size()) {
    size_t bs = in.find('\\', i);
    if (bs == kNpos) {
      out->append(in.substr(i));
      break;
    }
    out->append(in.substr(i, bs - i));
    if (bs + 1 >= in.size()) return false;
    char e = in[bs + 1];
    switch (e) {
      case '"':
      case '\\':
      case '/':
        out->push_back(e);
        i = bs + 2;
        continue;
      case 'b':
        out->push_back('\b');
        i = bs + 2;
        continue;
      case 'f':
        out->push_back('\f');
        i = bs + 2;
        continue;
      case 'n':
        out->push_back('\n');
        i = bs + 2;
        continue;
      case 'r':
        out->push_back('\r');
        i = bs + 2;
        continue;
      case 't':
        out->push_back('\t');
        i = bs + 2;
        continue;
      case 'u': {
        std::string_view rest = in.substr(bs);
        int32_t r = DecodeSingleEscape(rest);
        if (r < 0) return false;
        if (r <= 0xFFFF && !(r >= 0xD800 && r <= 0xDFFF)) {
          AppendUtf8(out, static_cast<uint32_t>(r));
          i = bs + 6;
          continue;
        }
        int32_t r2 = DecodeSingleEscape(rest.substr(6));
        if (r2 < 0 || r2 < 0xDC00) return false;
        int64_t cp = ((static_cast<int64_t>(r) - 0xD800) << 10 | (r2 - 0xDC00)) + 0x10000;
        // Go's utf8.EncodeRune writes U+FFFD for what is not a valid code point.
        if (cp > 0x10FFFF || cp < 0 || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
        AppendUtf8(out, static_cast<uint32_t>(cp));
        i = bs + 12;
        continue;
      }
      default:
        return false;
    }
  }
  return true;
}

void AppendLabelValue(std::string_view raw, std::string* out) {
  const size_t start = out->size();
  if (raw.find('\\') == kNpos) {
    out->append(raw);
  } else if (!Unescape(raw, out)) {
    out->resize(start);
    return;
  }
  // Replace what Go's range loop reads as utf8.RuneError: invalid bytes and U+FFFD itself.
  for (size_t i = start; i < out->size();) {
    auto c = static_cast<unsigned char>((*out)[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n = Utf8SequenceLength(*out, i);
    if (n == 0) {
      (*out)[i] = ' ';
      ++i;
    } else if (n == 3 && out->compare(i, 3, "\xEF\xBF\xBD") == 0) {
      out->replace(i, 3, " ");
      ++i;
    } else {
      i += n;
    }
  }
}

}  // namespace sluice::logql::log::json
