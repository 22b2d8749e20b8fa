#include "pattern/tokenizer.h"

#include <array>

namespace sluice::pattern {

namespace {

enum class ByteClass : uint8_t { kToken, kSpace, kSplit };

// The class of each ASCII byte (bytes >= 0x80 are token bytes).
constexpr std::array<ByteClass, 128> MakeClasses() {
  std::array<ByteClass, 128> c{};
  for (auto& v : c) v = ByteClass::kToken;
  c[' '] = ByteClass::kSpace;
  // Go's unicode.IsPunct over ASCII, minus the bytes Loki keeps inside tokens (_ - . : /),
  // plus '='.
  for (char p : std::string_view("!\"#%&'()*,;?@[\\]{}=")) {
    c[static_cast<unsigned char>(p)] = ByteClass::kSplit;
  }
  return c;
}

constexpr std::array<ByteClass, 128> kClasses = MakeClasses();

}  // namespace

void Tokenize(std::string_view line, Tokens* out) {
  out->tokens.clear();
  out->spaces_after.clear();
  size_t start = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    if (out->tokens.size() >= kMaxTokens) break;
    const auto b = static_cast<unsigned char>(line[i]);
    if (b >= 0x80) continue;
    const ByteClass cls = kClasses[b];
    if (cls == ByteClass::kToken) continue;
    if (i > start) out->tokens.push_back(line.substr(start, i - start));
    if (cls == ByteClass::kSpace) {
      out->spaces_after.push_back(static_cast<int>(out->tokens.size()) - 1);
    } else {
      out->tokens.push_back(line.substr(i, 1));
    }
    start = i + 1;
  }
  if (start < line.size()) out->tokens.push_back(line.substr(start));
}

std::string JoinTokens(const std::vector<std::string>& tokens,
                       const std::vector<int>& spaces_after) {
  std::string out;
  size_t spaces = 0;
  // Spaces before the first token.
  while (spaces < spaces_after.size() && spaces_after[spaces] < 0) {
    out.push_back(' ');
    ++spaces;
  }
  bool last_was_placeholder = false;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const bool placeholder = tokens[i] == kPlaceholder;
    // Loki collapses `<_><_>` (two variables with nothing between them) into one.
    if (!(placeholder && last_was_placeholder)) out += tokens[i];
    last_was_placeholder = placeholder;
    while (spaces < spaces_after.size() && spaces_after[spaces] == static_cast<int>(i)) {
      out.push_back(' ');
      last_was_placeholder = false;
      ++spaces;
    }
  }
  return out;
}

}  // namespace sluice::pattern
