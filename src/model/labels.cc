#include "model/labels.h"

#include <fmt/format.h>
#define XXH_STATIC_LINKING_ONLY  // for a stack-allocated XXH3_state_t
#include <xxhash.h>

#include <algorithm>

#include "common/utf8.h"

namespace sluice::model {

LabelSet::LabelSet(std::vector<Label> labels) : labels_(std::move(labels)) {
  std::stable_sort(labels_.begin(), labels_.end(),
                   [](const Label& a, const Label& b) { return a.name < b.name; });
}

const std::string* LabelSet::Get(std::string_view name) const {
  for (const auto& l : labels_) {
    if (l.name == name) return &l.value;
  }
  return nullptr;
}

std::string_view LabelSet::DuplicateName() const {
  for (size_t i = 1; i < labels_.size(); ++i) {
    if (labels_[i].name == labels_[i - 1].name) return labels_[i].name;
  }
  return {};
}

uint64_t LabelSet::Fingerprint() const {
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  static constexpr char kSep = '\xff';
  for (const auto& l : labels_) {
    XXH3_64bits_update(&state, l.name.data(), l.name.size());
    XXH3_64bits_update(&state, &kSep, 1);
    XXH3_64bits_update(&state, l.value.data(), l.value.size());
    XXH3_64bits_update(&state, &kSep, 1);
  }
  return XXH3_64bits_digest(&state);
}

std::string LabelSet::ToString() const {
  std::string out = "{";
  for (size_t i = 0; i < labels_.size(); ++i) {
    if (i > 0) out += ", ";
    out += labels_[i].name;
    out += '=';
    out += QuoteString(labels_[i].value);
  }
  out += '}';
  return out;
}

bool LabelSet::operator<(const LabelSet& other) const {
  size_t n = std::min(labels_.size(), other.labels_.size());
  for (size_t i = 0; i < n; ++i) {
    if (labels_[i].name != other.labels_[i].name) return labels_[i].name < other.labels_[i].name;
    if (labels_[i].value != other.labels_[i].value)
      return labels_[i].value < other.labels_[i].value;
  }
  return labels_.size() < other.labels_.size();
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string QuoteString(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t n = Utf8SequenceLength(s, i);
      if (n == 0) {
        out += fmt::format("\\x{:02x}", c);
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\v':
        out += "\\v";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += fmt::format("\\x{:02x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
  return out;
}

bool UnquoteString(std::string_view text, size_t* pos, std::string* out) {
  size_t i = *pos;
  if (i >= text.size()) return false;
  char quote = text[i++];
  if (quote == '`') {
    size_t end = text.find('`', i);
    if (end == std::string_view::npos) return false;
    out->append(text.substr(i, end - i));
    *pos = end + 1;
    return true;
  }
  if (quote != '"') return false;
  while (i < text.size()) {
    char c = text[i];
    if (c == '"') {
      *pos = i + 1;
      return true;
    }
    if (c == '\n') return false;
    if (c != '\\') {
      out->push_back(c);
      ++i;
      continue;
    }
    if (++i >= text.size()) return false;
    char e = text[i++];
    switch (e) {
      case 'n':
        out->push_back('\n');
        break;
      case 't':
        out->push_back('\t');
        break;
      case 'r':
        out->push_back('\r');
        break;
      case 'a':
        out->push_back('\a');
        break;
      case 'b':
        out->push_back('\b');
        break;
      case 'f':
        out->push_back('\f');
        break;
      case 'v':
        out->push_back('\v');
        break;
      case '\\':
        out->push_back('\\');
        break;
      case '"':
        out->push_back('"');
        break;
      case '\'':
        out->push_back('\'');
        break;
      case 'x': {
        if (i + 2 > text.size()) return false;
        int hi = HexValue(text[i]), lo = HexValue(text[i + 1]);
        if (hi < 0 || lo < 0) return false;
        out->push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        break;
      }
      case 'u':
      case 'U': {
        size_t n = e == 'u' ? 4 : 8;
        if (i + n > text.size()) return false;
        uint32_t cp = 0;
        for (size_t k = 0; k < n; ++k) {
          int h = HexValue(text[i + k]);
          if (h < 0) return false;
          cp = cp * 16 + static_cast<uint32_t>(h);
        }
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        AppendUtf8(out, cp);
        i += n;
        break;
      }
      default:
        if (e >= '0' && e <= '7') {  // Octal \ooo
          if (i + 2 > text.size()) return false;
          int v = (e - '0') * 64 + (text[i] - '0') * 8 + (text[i + 1] - '0');
          if (text[i] < '0' || text[i] > '7' || text[i + 1] < '0' || text[i + 1] > '7' || v > 255)
            return false;
          out->push_back(static_cast<char>(v));
          i += 2;
          break;
        }
        return false;
    }
  }
  return false;
}

namespace {

class LabelParser {
 public:
  explicit LabelParser(std::string_view text) : text_(text) {}

  Result<LabelSet> Parse() {
    std::vector<Label> labels;
    SkipSpace();
    if (!Consume('{')) return Error(Describe(), "{");
    SkipSpace();
    if (Consume('}')) return Finish(std::move(labels));
    while (true) {
      SkipSpace();
      size_t start = pos_;
      while (pos_ < text_.size() && IsNameChar(text_[pos_], pos_ == start)) ++pos_;
      if (pos_ == start) return Error(Describe(), "IDENTIFIER");
      Label label;
      label.name = std::string(text_.substr(start, pos_ - start));
      SkipSpace();
      if (!Consume('=')) return Error(Describe(), "=");
      SkipSpace();
      if (pos_ >= text_.size() || (text_[pos_] != '"' && text_[pos_] != '`')) {
        return Error(Describe(), "STRING");
      }
      size_t quote_start = pos_;
      if (!UnquoteString(text_, &pos_, &label.value)) {
        pos_ = quote_start;
        return Status::InvalidArgument(
            fmt::format("parse error at line 1, col {}: literal not terminated", Column()));
      }
      labels.push_back(std::move(label));
      SkipSpace();
      if (Consume(',')) continue;
      if (Consume('}')) return Finish(std::move(labels));
      return Error(Describe(), ", or }");
    }
  }

 private:
  static bool IsNameChar(char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
  }
  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }
  bool Consume(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  size_t Column() const { return pos_ + 1; }
  std::string Describe() const {
    if (pos_ >= text_.size()) return "end of input";
    return std::string(1, text_[pos_]);
  }
  Status Error(const std::string& unexpected, const char* expecting) const {
    return Status::InvalidArgument(
        fmt::format("parse error at line 1, col {}: syntax error: unexpected {}, expecting {}",
                    Column(), unexpected, expecting));
  }
  Result<LabelSet> Finish(std::vector<Label> labels) {
    SkipSpace();
    if (pos_ != text_.size()) return Error(Describe(), "end of input");
    return LabelSet(std::move(labels));
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

Result<LabelSet> ParseLabels(std::string_view text) { return LabelParser(text).Parse(); }

}  // namespace sluice::model
