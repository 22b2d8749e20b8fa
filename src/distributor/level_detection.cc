#include "distributor/level_detection.h"

#include <algorithm>
#include <charconv>
#include <cstdint>

namespace sluice::distributor {

namespace {

constexpr std::string_view kTrace = "trace";
constexpr std::string_view kDebug = "debug";
constexpr std::string_view kInfo = "info";
constexpr std::string_view kWarn = "warn";
constexpr std::string_view kError = "error";
constexpr std::string_view kCritical = "critical";
constexpr std::string_view kFatal = "fatal";

// Nesting past this is skipped rather than searched, whatever log_level_from_json_max_depth says
// (0 means unlimited in Loki): a line of nested braces must not recurse without bound.
constexpr int kJsonDepthCap = 64;

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

// Per byte: may it precede a free-text level word, may one start with it (any case)? (The bit
// values matter: LevelFromText shifts one onto the other.)
constexpr uint8_t kLeftBoundary = 1;
constexpr uint8_t kLevelInitial = 2;
struct ByteClasses {
  uint8_t of[256] = {};
  constexpr ByteClasses() {
    for (char c : std::string_view(" \t\n[({\"="))
      of[static_cast<unsigned char>(c)] |= kLeftBoundary;
    for (char c : std::string_view("tdfcewiTDFCEWI")) {
      of[static_cast<unsigned char>(c)] |= kLevelInitial;
    }
  }
};
constexpr ByteClasses kByteClasses;
uint8_t ClassOf(char c) { return kByteClasses.of[static_cast<unsigned char>(c)]; }

bool EqualFold(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

// Go's unicode.IsSpace over ASCII.
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// Loki's isJSON: the first and last non-space characters are braces.
bool LooksLikeJson(std::string_view line) {
  size_t b = 0, e = line.size();
  while (b < e && IsSpace(line[b])) ++b;
  while (e > b && IsSpace(line[e - 1])) --e;
  return e - b >= 1 && line[b] == '{' && line[e - 1] == '}';
}

// Loki's word boundaries for free-text levels (v3.7; the left ones are kLeftBoundary above). A
// colon may follow a level ("debug:") but not precede one, so "misc:error" is not an error.
bool IsRightBoundary(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '[' || c == ']' || c == '(' || c == ')' ||
         c == '{' || c == '}' || c == ':' || c == ',' || c == '!' || c == '"' || c == '=';
}

// Whether `word` (lower case) starts at line[pos], any case, and ends at a right boundary.
bool WordAt(std::string_view line, size_t pos, std::string_view word) {
  if (line.size() - pos < word.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (Lower(line[pos + i]) != word[i]) return false;
  }
  size_t end = pos + word.size();
  return end == line.size() || IsRightBoundary(line[end]);
}

// A JSON walk that allocates nothing: finds the first string-valued member whose name is a level
// field, in document order, descending into objects (not arrays) to a depth limit, as Loki's
// jsonparser.ObjectEach walk does. Values come back raw (escapes not decoded), as there.
class JsonLevelScan {
 public:
  JsonLevelScan(std::string_view s, int max_depth, const std::vector<std::string>& fields)
      : s_(s), max_depth_(max_depth), fields_(fields) {}

  std::string_view Run() {
    SkipSpace();
    if (p_ < s_.size() && s_[p_] == '{') Object(0);
    return found_;
  }

 private:
  bool Descend(int depth) const {
    return depth < kJsonDepthCap && (max_depth_ <= 0 || depth < max_depth_);
  }

  void SkipSpace() {
    while (p_ < s_.size() && IsSpace(s_[p_])) ++p_;
  }

  // At '"': the contents up to the closing quote; *escaped when they hold a backslash.
  bool String(std::string_view* out, bool* escaped) {
    size_t start = ++p_;
    *escaped = false;
    while (p_ < s_.size()) {
      size_t quote = s_.find('"', p_);
      if (quote == std::string_view::npos) return false;
      size_t backslashes = 0;
      while (quote - backslashes > start && s_[quote - backslashes - 1] == '\\') ++backslashes;
      if (backslashes > 0 || s_.substr(p_, quote - p_).find('\\') != std::string_view::npos) {
        *escaped = true;
      }
      p_ = quote + 1;
      if (backslashes % 2 == 0) {
        *out = s_.substr(start, quote - start);
        return true;
      }
    }
    return false;
  }

  // Any value, iteratively (nested containers by counting brackets).
  bool SkipValue() {
    if (p_ >= s_.size()) return false;
    std::string_view ignored;
    bool escaped;
    char c = s_[p_];
    if (c == '"') return String(&ignored, &escaped);
    if (c == '{' || c == '[') {
      size_t open = 0;
      while (p_ < s_.size()) {
        c = s_[p_];
        if (c == '"') {
          if (!String(&ignored, &escaped)) return false;
          continue;
        }
        if (c == '{' || c == '[') ++open;
        if ((c == '}' || c == ']') && --open == 0) {
          ++p_;
          return true;
        }
        ++p_;
      }
      return false;
    }
    size_t start = p_;
    while (p_ < s_.size() && s_[p_] != ',' && s_[p_] != '}' && s_[p_] != ']' && !IsSpace(s_[p_])) {
      ++p_;
    }
    return p_ > start;
  }

  // At '{'. False stops the walk: a level was found or the text is not JSON.
  bool Object(int depth) {
    ++p_;
    SkipSpace();
    if (p_ < s_.size() && s_[p_] == '}') {
      ++p_;
      return true;
    }
    while (p_ < s_.size()) {
      SkipSpace();
      if (p_ >= s_.size() || s_[p_] != '"') return false;
      std::string_view key;
      bool key_escaped;
      if (!String(&key, &key_escaped)) return false;
      SkipSpace();
      if (p_ >= s_.size() || s_[p_] != ':') return false;
      ++p_;
      SkipSpace();
      if (p_ >= s_.size()) return false;
      if (s_[p_] == '"') {
        std::string_view value;
        bool value_escaped;
        if (!String(&value, &value_escaped)) return false;
        if (!key_escaped && std::find(fields_.begin(), fields_.end(), key) != fields_.end()) {
          found_ = value;
          return false;
        }
      } else if (s_[p_] == '{' && Descend(depth + 1)) {
        if (!Object(depth + 1)) return false;
      } else if (!SkipValue()) {
        return false;
      }
      SkipSpace();
      if (p_ < s_.size() && s_[p_] == ',') {
        ++p_;
        continue;
      }
      if (p_ < s_.size() && s_[p_] == '}') {
        ++p_;
        return true;
      }
      return false;
    }
    return false;
  }

  std::string_view s_;
  size_t p_ = 0;
  int max_depth_;
  const std::vector<std::string>& fields_;
  std::string_view found_;
};

}  // namespace

std::string_view KnownLevel(std::string_view v) {
  switch (v.size()) {
    case 3:
      if (EqualFold(v, "trc")) return kTrace;
      if (EqualFold(v, "dbg")) return kDebug;
      if (EqualFold(v, "inf")) return kInfo;
      if (EqualFold(v, "wrn")) return kWarn;
      if (EqualFold(v, "err")) return kError;
      break;
    case 4:
      if (EqualFold(v, kInfo)) return kInfo;
      if (EqualFold(v, kWarn)) return kWarn;
      break;
    case 5:
      if (EqualFold(v, kTrace)) return kTrace;
      if (EqualFold(v, kDebug)) return kDebug;
      if (EqualFold(v, kError)) return kError;
      if (EqualFold(v, kFatal)) return kFatal;
      break;
    case 7:
      if (EqualFold(v, "warning")) return kWarn;
      break;
    case 8:
      if (EqualFold(v, kCritical)) return kCritical;
      break;
    case 11:
      if (EqualFold(v, "information")) return kInfo;
      break;
    default:
      break;
  }
  return {};
}

std::string_view NormalizeLevel(std::string_view level) {
  std::string_view known = KnownLevel(level);
  return known.empty() ? level : known;
}

std::string_view LevelFromSeverityNumber(std::string_view number) {
  // Go's strconv.Atoi: an optional sign, then decimal digits that fit in 64 bits.
  std::string_view digits = number;
  if (!digits.empty() && digits[0] == '+') digits.remove_prefix(1);
  int64_t n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
      (number[0] == '+' && digits[0] == '-')) {
    return kInfo;
  }
  if (n == 0) return kLevelUnknown;
  if (n <= 4) return kTrace;
  if (n <= 8) return kDebug;
  if (n <= 12) return kInfo;
  if (n <= 16) return kWarn;
  if (n <= 20) return kError;
  if (n <= 24) return kFatal;
  return kLevelUnknown;
}

std::string_view LevelFromText(std::string_view line) {
  // One pass, trying Loki's words (in its order) at each position after a boundary: the same
  // answer as searching for each word and taking the earliest, without lower-casing a copy.
  // The test is one rarely taken branch per byte: a level initial right after a boundary.
  uint8_t previous = kLeftBoundary;  // the start of the line counts as one
  for (size_t i = 0; i < line.size(); ++i) {
    uint8_t current = ClassOf(line[i]);
    bool candidate = (previous & (current >> 1) & 1) != 0;
    previous = current;
    if (!candidate) continue;
    switch (Lower(line[i])) {
      case 't':
        if (WordAt(line, i, kTrace)) return kTrace;
        break;
      case 'd':
        if (WordAt(line, i, kDebug)) return kDebug;
        break;
      case 'f':
        if (WordAt(line, i, kFatal)) return kFatal;
        break;
      case 'c':
        if (WordAt(line, i, kCritical)) return kCritical;
        break;
      case 'e':
        if (WordAt(line, i, kError) || WordAt(line, i, "err")) return kError;
        break;
      case 'w':
        if (WordAt(line, i, "warning") || WordAt(line, i, kWarn)) return kWarn;
        break;
      case 'i':
        if (WordAt(line, i, kInfo)) return kInfo;
        break;
      default:
        break;
    }
  }
  return kLevelUnknown;
}

LevelDetector::LevelDetector(const std::vector<std::string>& fields, int json_max_depth)
    : fields_(fields), json_max_depth_(json_max_depth) {
  std::vector<std::string> lower;
  for (const std::string& f : fields_) {
    if (f.empty()) continue;
    std::string l = f;
    std::transform(l.begin(), l.end(), l.begin(), Lower);
    lower.push_back(std::move(l));
  }
  for (const std::string& l : lower) {
    bool covered = std::any_of(lower.begin(), lower.end(), [&](const std::string& other) {
      return other.size() < l.size() ? l.find(other) != std::string::npos
                                     : (other == l && &other < &l);
    });
    if (!covered) needles_.push_back(l);
  }
  for (const std::string& n : needles_) {
    initials_[static_cast<unsigned char>(n[0])] = true;
    initials_[static_cast<unsigned char>(n[0] >= 'a' && n[0] <= 'z' ? n[0] - ('a' - 'A') : n[0])] =
        true;
  }
}

bool LevelDetector::MayHaveField(std::string_view line) const {
  for (size_t i = 0; i < line.size(); ++i) {
    if (!initials_[static_cast<unsigned char>(line[i])]) continue;
    for (const std::string& needle : needles_) {
      if (needle.size() > line.size() - i || Lower(line[i]) != needle[0]) continue;
      size_t k = 1;
      while (k < needle.size() && Lower(line[i + k]) == needle[k]) ++k;
      if (k == needle.size()) return true;
    }
  }
  return false;
}

std::string_view LevelDetector::FromLabels(const model::LabelSet& labels) const {
  for (const std::string& f : fields_) {
    if (const std::string* v = labels.Get(f)) return NormalizeLevel(*v);
  }
  return {};
}

std::string_view LevelDetector::FromEntry(std::span<const model::Label> metadata,
                                          std::string_view line) const {
  if (!metadata.empty()) {
    for (const std::string& f : fields_) {
      for (const model::Label& m : metadata) {
        if (m.name == f) return NormalizeLevel(m.value);
      }
    }
    for (const model::Label& m : metadata) {
      if (m.name == "severity_number" && !m.value.empty()) return LevelFromSeverityNumber(m.value);
    }
  }
  return FromLine(line);
}

std::string_view LevelDetector::FromLine(std::string_view line) const {
  std::string_view value;
  if (LooksLikeJson(line)) {
    if (MayHaveField(line)) value = FromJson(line);
  } else if (line.find('=') != std::string_view::npos) {
    if (MayHaveField(line)) value = FromLogfmt(line);
  } else {
    return LevelFromText(line);
  }
  std::string_view known = KnownLevel(value);
  return known.empty() ? LevelFromText(line) : known;
}

std::string_view LevelDetector::FromJson(std::string_view line) const {
  return JsonLevelScan(line, json_max_depth_, fields_).Run();
}

// Loki's logfmt decoder (pkg/logql/log/logfmt): pairs separated by spaces, a key runs to '=' or a
// space, a value is quoted or runs to a space; the first malformed pair ends the scan. Keys match
// the fields in any case; the field earliest in the list wins, so the whole line is read unless
// the first field is found.
std::string_view LevelDetector::FromLogfmt(std::string_view line) const {
  size_t best = fields_.size();
  std::string_view result;
  // False when the first field matched: nothing can beat it.
  auto consider = [&](std::string_view key, std::string_view value) {
    for (size_t x = 0; x < best; ++x) {
      if (EqualFold(key, fields_[x])) {
        result = value;
        best = x;
        return x != 0;
      }
    }
    return true;
  };
  const size_t n = line.size();
  size_t p = 0;
  while (p < n) {
    while (p < n && static_cast<unsigned char>(line[p]) <= ' ') ++p;
    if (p >= n) break;
    size_t start = p;
    while (p < n && line[p] != '=' && line[p] != '"' && static_cast<unsigned char>(line[p]) > ' ') {
      ++p;
    }
    std::string_view key = line.substr(start, p - start);
    if (p >= n || line[p] != '=') {
      if (p < n && line[p] == '"') break;  // a quote inside a key: malformed
      if (!consider(key, {})) return result;
      continue;
    }
    if (key.empty()) break;  // "=value"
    ++p;                     // '='
    if (p >= n || static_cast<unsigned char>(line[p]) <= ' ') {
      if (!consider(key, {})) return result;
      continue;
    }
    std::string_view value;
    if (line[p] == '"') {
      size_t q = p + 1;
      bool escaped = false;
      while (q < n && (escaped || line[q] != '"')) {
        escaped = !escaped && line[q] == '\\';
        ++q;
      }
      if (q >= n) break;  // unterminated
      value = line.substr(p + 1, q - p - 1);
      p = q + 1;
    } else {
      start = p;
      while (p<n&& static_cast<unsigned char>(line[p])> ' ') {
        if (line[p] == '=' || line[p] == '"') return result;  // malformed value ends the scan
        ++p;
      }
      value = line.substr(start, p - start);
    }
    if (!consider(key, value)) return result;
  }
  return result;
}

}  // namespace sluice::distributor
