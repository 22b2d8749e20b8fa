#pragma once

// The LogQL tokenizer. It follows Loki's lexer (pkg/logql/syntax/lex.go) where that matters to
// which queries parse:
//   - words are case-insensitive keywords (`by`, `json`, `or`, ...) or identifiers;
//   - a function name (`rate`, `sum`, `ip`, `bytes`, ...) is a function token only when followed
//     by `(` or by `by (`/`without (`; otherwise it is an identifier, so `| rate="x"` works;
//   - a number directly followed by unit characters is a duration (`5m`, `1h30m`) or, failing
//     that, a byte size (`20MB`, `1KiB`); `-5m` is a negative duration;
//   - `[5m]` is a single range token; `--strict`/`--keep-empty` are parser flags;
//   - `#` starts a comment to the end of the line; `//` and `/* */` comments are skipped too.
// Strings are Go double-quoted (with escapes) or backquoted raw strings.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace sluice::logql::syntax {

enum class Tok : uint8_t {
  kEof,
  kError,    // a lexical error; Token::text holds the message
  kUnknown,  // a character outside the language
  kIdentifier,
  kString,
  kNumber,
  kDuration,
  kBytes,
  kRange,     // [5m]
  kFlag,      // --strict, --keep-empty
  kFunction,  // rate(, sum by (, ip(, bytes( ...; Token::text is the lowercase name
  kLBrace,
  kRBrace,
  kLParen,
  kRParen,
  kComma,
  kDot,
  kEq,           // =
  kNeq,          // !=
  kRe,           // =~
  kNre,          // !~
  kPipeExact,    // |=
  kPipeMatch,    // |~
  kPipePattern,  // |>
  kNpa,          // !>
  kPipe,         // |
  kCmpEq,        // ==
  kGt,
  kGe,
  kLt,
  kLe,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
  // Keywords.
  kBy,
  kWithout,
  kBool,
  kOffset,
  kOn,
  kIgnoring,
  kGroupLeft,
  kGroupRight,
  kOr,
  kAnd,
  kUnless,
  kJson,
  kRegexp,
  kLogfmt,
  kUnpack,
  kPattern,
  kLabelFormat,
  kLineFormat,
  kDecolorize,
  kDrop,
  kKeep,
  kUnwrap,
};

struct Token {
  Tok kind = Tok::kEof;
  // Identifier and number: as written. String: the unquoted value. Function: the lowercase
  // name. Error: the message.
  std::string text;
  int64_t nanos = 0;   // kDuration, kRange
  uint64_t bytes = 0;  // kBytes
  size_t offset = 0;   // byte offset of the token's first character in the input
};

class Lexer {
 public:
  // `input` must outlive the Lexer.
  explicit Lexer(std::string_view input) : in_(input) {}

  // The next token; kEof forever at the end. After a kError token the rest is undefined.
  Token Next();

  // 1-based line and column (counted in characters, as Loki reports them) of a byte offset.
  std::pair<int, int> Position(size_t offset) const;

 private:
  bool SkipSpaceAndComments(Token* error);
  Token LexNumber(size_t start);
  Token LexWord(size_t start);
  Token LexString(size_t start);
  Token LexRange(size_t start);
  bool FollowedByCall(size_t pos) const;

  std::string_view in_;
  size_t pos_ = 0;
};

// How a token is named in "unexpected X" messages, as Loki's grammar names it: `IDENTIFIER`,
// `STRING`, `$end`, `RATE`, or the literal text of punctuation and keywords (`{`, `by`).
std::string TokenDisplay(const Token& t);
// The same for a token kind, for "expecting X or Y" lists.
std::string_view TokName(Tok kind);

}  // namespace sluice::logql::syntax
