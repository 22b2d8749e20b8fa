#include "gotemplate/encoding.h"

#include <cstdio>

#include "common/utf8.h"
#include "gocompat/quote.h"

namespace sluice::gotemplate::internal {

void QueryEscape(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out->push_back(ch);
    } else if (c == ' ') {
      out->push_back('+');
    } else {
      out->push_back('%');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 0xF]);
    }
  }
}

bool QueryUnescape(std::string_view s, std::string* out, std::string* error) {
  for (size_t i = 0; i < s.size();) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size() || gocompat::UnhexDigit(s[i + 1]) < 0 ||
          gocompat::UnhexDigit(s[i + 2]) < 0) {
        std::string_view bad = s.substr(i, 3);
        std::string q;
        gocompat::AppendQuoted(bad, false, &q);
        *error = "invalid URL escape " + q;
        return false;
      }
      out->push_back(
          static_cast<char>(gocompat::UnhexDigit(s[i + 1]) * 16 + gocompat::UnhexDigit(s[i + 2])));
      i += 3;
    } else if (c == '+') {
      out->push_back(' ');
      ++i;
    } else {
      out->push_back(c);
      ++i;
    }
  }
  return true;
}

void Base64Encode(std::string_view s, std::string* out) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i = 0;
  for (; i + 3 <= s.size(); i += 3) {
    uint32_t v = (static_cast<uint32_t>(static_cast<unsigned char>(s[i])) << 16) |
                 (static_cast<uint32_t>(static_cast<unsigned char>(s[i + 1])) << 8) |
                 static_cast<unsigned char>(s[i + 2]);
    out->push_back(kAlphabet[v >> 18]);
    out->push_back(kAlphabet[(v >> 12) & 63]);
    out->push_back(kAlphabet[(v >> 6) & 63]);
    out->push_back(kAlphabet[v & 63]);
  }
  size_t rem = s.size() - i;
  if (rem > 0) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(s[i])) << 16;
    if (rem == 2) v |= static_cast<uint32_t>(static_cast<unsigned char>(s[i + 1])) << 8;
    out->push_back(kAlphabet[v >> 18]);
    out->push_back(kAlphabet[(v >> 12) & 63]);
    out->push_back(rem == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    out->push_back('=');
  }
}

bool Base64Decode(std::string_view s, std::string* out, std::string* error) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  auto fail = [&](size_t at) {
    *error = "illegal base64 data at input byte " + std::to_string(at);
    return false;
  };
  uint32_t acc = 0;
  int n = 0;
  size_t pads = 0;
  size_t i = 0;
  size_t quantum_start = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\r' || c == '\n') continue;
    if (c == '=') {
      // Padding: only after 2 or 3 symbols of a quantum, then nothing but newlines.
      if (n < 2) return fail(i);
      pads = 4 - static_cast<size_t>(n);
      size_t seen = 0;
      size_t j = i;
      for (; j < s.size() && seen < pads; ++j) {
        if (s[j] == '\r' || s[j] == '\n') continue;
        if (s[j] != '=') return fail(j);
        ++seen;
      }
      if (seen < pads) return fail(s.size());
      for (; j < s.size(); ++j) {
        if (s[j] != '\r' && s[j] != '\n') return fail(j);
      }
      break;
    }
    int v = val(c);
    if (v < 0) return fail(i);
    if (n == 0) quantum_start = i;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    if (++n == 4) {
      out->push_back(static_cast<char>(acc >> 16));
      out->push_back(static_cast<char>((acc >> 8) & 0xFF));
      out->push_back(static_cast<char>(acc & 0xFF));
      acc = 0;
      n = 0;
    }
  }
  if (n == 0) return true;
  if (pads == 0) return fail(quantum_start + static_cast<size_t>(n) > s.size() ? s.size() : i);
  if (n == 2) {
    out->push_back(static_cast<char>(acc >> 4));
  } else if (n == 3) {
    out->push_back(static_cast<char>(acc >> 10));
    out->push_back(static_cast<char>((acc >> 2) & 0xFF));
  }
  return true;
}

void HtmlEscape(std::string_view s, std::string* out) {
  for (char c : s) {
    switch (c) {
      case '\0':
        out->append("\xEF\xBF\xBD");
        break;
      case '"':
        out->append("&#34;");
        break;
      case '\'':
        out->append("&#39;");
        break;
      case '&':
        out->append("&amp;");
        break;
      case '<':
        out->append("&lt;");
        break;
      case '>':
        out->append("&gt;");
        break;
      default:
        out->push_back(c);
    }
  }
}

void JsEscape(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '\\':
          out->append("\\\\");
          break;
        case '\'':
          out->append("\\'");
          break;
        case '"':
          out->append("\\\"");
          break;
        case '<':
          out->append("\\u003C");
          break;
        case '>':
          out->append("\\u003E");
          break;
        case '&':
          out->append("\\u0026");
          break;
        case '=':
          out->append("\\u003D");
          break;
        default:
          if (c < ' ') {
            out->append("\\u00");
            out->push_back(kHex[c >> 4]);
            out->push_back(kHex[c & 0xF]);
          } else {
            out->push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    size_t w;
    char32_t r = DecodeRune(s, i, &w);
    std::string probe;
    gocompat::AppendQuoted(s.substr(i, w), false, &probe);
    bool printable = probe.size() == w + 2;  // Quote kept it verbatim
    if (printable) {
      out->append(s.substr(i, w));
    } else {
      char buf[16];
      std::snprintf(buf, sizeof(buf), "\\u%04X", static_cast<unsigned>(r));
      out->append(buf);
    }
    i += w;
  }
}

}  // namespace sluice::gotemplate::internal
