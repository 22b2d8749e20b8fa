#pragma once

// How the pattern miner splits a line into tokens and prints a pattern back, as Loki's pattern
// ingester does for unstructured lines (pkg/pattern/drain/line_tokenizer.go, the punctuation
// tokenizer):
//
//   - letters, digits, non-ASCII bytes and `_ - . : /` belong to a token, so `10.0.0.1`,
//     `/api/v1` and `req-42` stay whole (and a token with a digit is a likely variable);
//   - a space ends a token and is remembered (to print the pattern with the line's spacing);
//   - `=` and ASCII punctuation (`! " # % & ' ( ) * , ; ? @ [ \ ] { }`) end a token and are a
//     token of their own, so `key=value` is three tokens and `value` can vary alone;
//   - every other byte (symbols such as `+ < > $ |`, tabs) stays inside its token.
//
// Loki classifies non-ASCII runes with Go's unicode tables; sluice keeps all of them inside
// tokens (a non-ASCII punctuation mark therefore does not split), which only changes where a
// placeholder starts in lines that use such marks.

#include <string>
#include <string_view>
#include <vector>

namespace sluice::pattern {

// The placeholder a variable token becomes in a pattern (Loki's ParamString).
inline constexpr std::string_view kPlaceholder = "<_>";

// One line split into tokens. The views borrow from the line passed to Tokenize.
struct Tokens {
  std::vector<std::string_view> tokens;
  // For each space of the line, the index of the token it follows (-1: before the first token).
  std::vector<int> spaces_after;
};

// Splits `line` into *out (cleared first; its capacity is reused). Stops splitting after
// kMaxTokens tokens: the rest of the line becomes one last token.
inline constexpr size_t kMaxTokens = 127;
void Tokenize(std::string_view line, Tokens* out);

// Prints tokens back with their spaces; runs of adjacent placeholders (`<_><_>`) print as one.
std::string JoinTokens(const std::vector<std::string>& tokens,
                       const std::vector<int>& spaces_after);

}  // namespace sluice::pattern
