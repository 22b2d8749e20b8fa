#include "gotemplate/json.h"

#include <map>
#include <memory>
#include <string>

#include "common/utf8.h"
#include "gocompat/number.h"
#include "gocompat/quote.h"

namespace sluice::gotemplate::internal {

namespace {

// A strict reader with encoding/json's semantics, which the server's other JSON readers do not
// have: object keys sorted with the last duplicate winning, every number a float64 (one out of
// range fails the whole document), invalid UTF-8 and lone surrogates read as U+FFFD.
class JsonParser {
 public:
  explicit JsonParser(std::string_view s) : s_(s) {}

  bool Parse(Value* out) {
    SkipWs();
    if (!ParseValue(out, 0)) return false;
    SkipWs();
    return i_ == s_.size();
  }

 private:
  void SkipWs() {
    while (i_ < s_.size() &&
           (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) {
      ++i_;
    }
  }

  bool Literal(std::string_view lit) {
    if (s_.substr(i_, lit.size()) != lit) return false;
    i_ += lit.size();
    return true;
  }

  bool ParseValue(Value* out, int depth) {
    if (depth > 1000 || i_ >= s_.size()) return false;
    char c = s_[i_];
    switch (c) {
      case '{': {
        ++i_;
        std::map<std::string, Value> m;
        SkipWs();
        if (i_ < s_.size() && s_[i_] == '}') {
          ++i_;
        } else {
          while (true) {
            SkipWs();
            std::string key;
            if (!ParseString(&key)) return false;
            SkipWs();
            if (i_ >= s_.size() || s_[i_] != ':') return false;
            ++i_;
            SkipWs();
            Value v;
            if (!ParseValue(&v, depth + 1)) return false;
            m[std::move(key)] = std::move(v);
            SkipWs();
            if (i_ < s_.size() && s_[i_] == ',') {
              ++i_;
              continue;
            }
            if (i_ < s_.size() && s_[i_] == '}') {
              ++i_;
              break;
            }
            return false;
          }
        }
        auto map = std::make_shared<Map>();
        map->reserve(m.size());
        for (auto& kv : m) map->emplace_back(kv.first, std::move(kv.second));
        *out = Value::FromMap(std::move(map));
        return true;
      }
      case '[': {
        ++i_;
        auto list = std::make_shared<List>();
        SkipWs();
        if (i_ < s_.size() && s_[i_] == ']') {
          ++i_;
        } else {
          while (true) {
            SkipWs();
            Value v;
            if (!ParseValue(&v, depth + 1)) return false;
            list->push_back(std::move(v));
            SkipWs();
            if (i_ < s_.size() && s_[i_] == ',') {
              ++i_;
              continue;
            }
            if (i_ < s_.size() && s_[i_] == ']') {
              ++i_;
              break;
            }
            return false;
          }
        }
        *out = Value::FromList(std::move(list));
        return true;
      }
      case '"': {
        std::string str;
        if (!ParseString(&str)) return false;
        *out = Value::Owned(std::move(str));
        return true;
      }
      case 't':
        *out = Value::Bool(true);
        return Literal("true");
      case 'f':
        *out = Value::Bool(false);
        return Literal("false");
      case 'n':
        *out = Value();
        return Literal("null");
      default:
        return ParseNumber(out);
    }
  }

  bool ParseNumber(Value* out) {
    size_t start = i_;
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    if (i_ >= s_.size()) return false;
    if (s_[i_] == '0') {
      ++i_;
    } else if (s_[i_] >= '1' && s_[i_] <= '9') {
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    } else {
      return false;
    }
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      size_t d = i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
      if (i_ == d) return false;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      size_t d = i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
      if (i_ == d) return false;
    }
    double f;
    if (gocompat::ParseFloat(s_.substr(start, i_ - start), &f) != gocompat::NumError::kNone) {
      return false;  // out of float64 range: Unmarshal fails
    }
    *out = Value::Float(f);
    return true;
  }

  bool Hex4(uint32_t* v) {
    if (i_ + 4 > s_.size()) return false;
    *v = 0;
    for (int k = 0; k < 4; ++k) {
      int d = gocompat::UnhexDigit(s_[i_ + static_cast<size_t>(k)]);
      if (d < 0) return false;
      *v = (*v << 4) | static_cast<uint32_t>(d);
    }
    i_ += 4;
    return true;
  }

  bool ParseString(std::string* out) {
    if (i_ >= s_.size() || s_[i_] != '"') return false;
    ++i_;
    while (true) {
      if (i_ >= s_.size()) return false;
      auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        if (++i_ >= s_.size()) return false;
        char e = s_[i_++];
        switch (e) {
          case '"':
            out->push_back('"');
            break;
          case '\\':
            out->push_back('\\');
            break;
          case '/':
            out->push_back('/');
            break;
          case 'b':
            out->push_back('\b');
            break;
          case 'f':
            out->push_back('\f');
            break;
          case 'n':
            out->push_back('\n');
            break;
          case 'r':
            out->push_back('\r');
            break;
          case 't':
            out->push_back('\t');
            break;
          case 'u': {
            uint32_t v;
            if (!Hex4(&v)) return false;
            if (v >= 0xD800 && v < 0xDC00) {
              uint32_t lo;
              size_t save = i_;
              if (i_ + 1 < s_.size() && s_[i_] == '\\' && s_[i_ + 1] == 'u') {
                i_ += 2;
                if (Hex4(&lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
                  AppendUtf8(out, 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00));
                  break;
                }
              }
              i_ = save;
              AppendUtf8(out, kRuneError);
              break;
            }
            AppendUtf8(out, v);
            break;
          }
          default:
            return false;
        }
        continue;
      }
      if (c < 0x80) {
        out->push_back(static_cast<char>(c));
        ++i_;
        continue;
      }
      size_t w;
      char32_t r = DecodeRune(s_, i_, &w);
      AppendUtf8(out, r);  // invalid UTF-8 becomes U+FFFD, as Go's decoder does
      i_ += w;
    }
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

Value ParseJson(std::string_view s) {
  JsonParser p(s);
  Value v;
  if (!p.Parse(&v)) return Value();
  return v;
}
}  // namespace sluice::gotemplate::internal
