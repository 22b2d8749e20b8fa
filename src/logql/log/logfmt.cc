#include "logql/log/logfmt.h"

#include <fmt/format.h>

#include "common/utf8.h"

namespace sluice::logql::log {

namespace {

// bytes.ContainsRune(s, utf8.RuneError): an invalid sequence or U+FFFD itself.
bool ContainsRuneError(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t n = Utf8SequenceLength(s, i);
    if (n == 0) return true;
    if (n == 3 && s.substr(i, 3) == "\xEF\xBF\xBD") return true;
    i += n;
  }
  return false;
}

// Bytes that end or need a closer look in a key (`=`, `"`, bytes <= ' ', bytes >= 0x80) and in a
// bare value (`=`, `"`, bytes <= ' '): one table lookup per byte instead of four compares.
struct ByteClasses {
  bool key_special[256] = {};
  bool value_special[256] = {};
  constexpr ByteClasses() {
    for (int c = 0; c < 256; ++c) {
      const bool common = c == '=' || c == '"' || c <= ' ';
      key_special[c] = common || c >= 0x80;
      value_special[c] = common;
    }
  }
};
constexpr ByteClasses kBytes;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int32_t GetU4(std::string_view s) {
  if (s.size() < 6 || s[0] != '\\' || s[1] != 'u') return -1;
  int32_t r = 0;
  for (size_t i = 2; i < 6; ++i) {
    int h = HexValue(s[i]);
    if (h < 0) return -1;
    r = r * 16 + h;
  }
  return r;
}

}  // namespace

void LogfmtDecoder::SyntaxError(std::string_view msg) {
  err_ = fmt::format("logfmt syntax error at pos {} : {}", pos_ + 1, msg);
}

void LogfmtDecoder::UnexpectedByte(char c) {
  // Go's %q of a byte: a quoted rune literal.
  std::string lit;
  switch (c) {
    case '\'':
      lit = "'\\''";
      break;
    case '\\':
      lit = "'\\\\'";
      break;
    default:
      lit = fmt::format("'{}'", c);
  }
  SyntaxError("unexpected " + lit);
}

// go-logfmt's unquoteBytes: JSON-style escapes (plus \'), invalid UTF-8 coerced to U+FFFD,
// control characters and bare quotes rejected.
bool LogfmtDecoder::Unquote(std::string_view s) {
  if (s.size() < 2 || s.front() != '"' || s.back() != '"') return false;
  s = s.substr(1, s.size() - 2);
  unquoted_.clear();
  size_t r = 0;
  while (r < s.size()) {
    auto c = static_cast<unsigned char>(s[r]);
    if (c == '\\') {
      ++r;
      if (r >= s.size()) return false;
      switch (s[r]) {
        case '"':
        case '\\':
        case '/':
        case '\'':
          unquoted_.push_back(s[r]);
          ++r;
          break;
        case 'b':
          unquoted_.push_back('\b');
          ++r;
          break;
        case 'f':
          unquoted_.push_back('\f');
          ++r;
          break;
        case 'n':
          unquoted_.push_back('\n');
          ++r;
          break;
        case 'r':
          unquoted_.push_back('\r');
          ++r;
          break;
        case 't':
          unquoted_.push_back('\t');
          ++r;
          break;
        case 'u': {
          --r;
          int32_t rr = GetU4(s.substr(r));
          if (rr < 0) return false;
          r += 6;
          if (rr >= 0xD800 && rr < 0xE000) {
            int32_t rr1 = GetU4(s.substr(r));
            if (rr < 0xDC00 && rr1 >= 0xDC00 && rr1 < 0xE000) {
              r += 6;
              AppendUtf8(&unquoted_,
                         static_cast<uint32_t>(((rr - 0xD800) << 10 | (rr1 - 0xDC00)) + 0x10000));
              break;
            }
            rr = 0xFFFD;
          }
          AppendUtf8(&unquoted_, static_cast<uint32_t>(rr));
          break;
        }
        default:
          return false;
      }
    } else if (c == '"' || c < ' ') {
      return false;
    } else if (c < 0x80) {
      unquoted_.push_back(static_cast<char>(c));
      ++r;
    } else {
      size_t n = Utf8SequenceLength(s, r);
      if (n == 0) {
        AppendUtf8(&unquoted_, 0xFFFD);
        ++r;
      } else {
        unquoted_.append(s.substr(r, n));
        r += n;
      }
    }
  }
  return true;
}

bool LogfmtDecoder::ScanKeyval() {
  key_ = {};
  value_ = {};
  const std::string_view line = line_;
  const size_t n = line.size();

  // Garbage: skip to the next byte > ' '.
  while (pos_ < n && static_cast<unsigned char>(line[pos_]) <= ' ') ++pos_;
  if (pos_ >= n) return false;

  // Key.
  size_t start = pos_;
  bool multibyte = false;
  bool have_key = false;
  for (; pos_ < n; ++pos_) {
    auto c = static_cast<unsigned char>(line[pos_]);
    if (!kBytes.key_special[c]) continue;
    if (c == '=') {
      if (pos_ > start) {
        key_ = line.substr(start, pos_ - start);
        have_key = true;
        if (multibyte && ContainsRuneError(key_)) {
          SyntaxError("invalid key");
          goto skip_value;
        }
      }
      if (!have_key) {
        UnexpectedByte('=');
        goto skip_value;
      }
      goto equal;
    }
    if (c == '"') {
      UnexpectedByte('"');
      goto skip_value;
    }
    if (c <= ' ') {
      if (pos_ > start) {
        key_ = line.substr(start, pos_ - start);
        if (multibyte && ContainsRuneError(key_)) {
          SyntaxError("invalid key");
          return false;
        }
      }
      return true;
    }
    if (c >= 0x80) multibyte = true;
  }
  if (pos_ > start) {
    key_ = line.substr(start, pos_ - start);
    if (multibyte && ContainsRuneError(key_)) {
      SyntaxError("invalid key");
      return false;
    }
  }
  return true;

equal:
  ++pos_;
  if (pos_ >= n) return true;
  {
    auto c = static_cast<unsigned char>(line[pos_]);
    if (c <= ' ') return true;
    if (c == '"') goto qvalue;
  }
  start = pos_;
  for (; pos_ < n; ++pos_) {
    auto c = static_cast<unsigned char>(line[pos_]);
    if (!kBytes.value_special[c]) continue;
    if (c == '=' || c == '"') {
      UnexpectedByte(static_cast<char>(c));
      goto skip_value;
    }
    if (c <= ' ') {
      value_ = line.substr(start, pos_ - start);
      return true;
    }
  }
  value_ = line.substr(start, pos_ - start);
  return true;

skip_value:
  while (pos_<n&& static_cast<unsigned char>(line[pos_])> ' ') ++pos_;
  return false;

qvalue : {
  bool has_esc = false, esc = false;
  start = pos_;
  for (size_t p = pos_ + 1; p < n; ++p) {
    char c = line[p];
    if (esc) {
      esc = false;
    } else if (c == '\\') {
      has_esc = esc = true;
    } else if (c == '"') {
      pos_ = p + 1;
      if (has_esc) {
        if (!Unquote(line.substr(start, pos_ - start))) {
          SyntaxError("invalid quoted value");
          return false;
        }
        value_ = unquoted_;
      } else {
        value_ = line.substr(start + 1, pos_ - 1 - (start + 1));
      }
      return true;
    }
  }
  pos_ = n;
  SyntaxError("unterminated quoted value");
  return false;
}
}

}  // namespace sluice::logql::log
