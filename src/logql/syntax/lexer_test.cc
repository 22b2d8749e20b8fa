#include "logql/syntax/lexer.h"

#include <gtest/gtest.h>

#include <vector>

namespace sluice::logql::syntax {
namespace {

std::vector<Token> LexAll(std::string_view in) {
  Lexer lx(in);
  std::vector<Token> out;
  while (true) {
    Token t = lx.Next();
    Tok k = t.kind;
    out.push_back(std::move(t));
    if (k == Tok::kEof || k == Tok::kError) return out;
  }
}

std::vector<Tok> Kinds(std::string_view in) {
  std::vector<Tok> kinds;
  for (const auto& t : LexAll(in)) kinds.push_back(t.kind);
  return kinds;
}

TEST(LexerTest, Punctuation) {
  EXPECT_EQ(Kinds("{ } ( ) , = != =~ !~ |= |~ |> !> | == > >= < <= + - * / % ^"),
            (std::vector<Tok>{Tok::kLBrace, Tok::kRBrace,    Tok::kLParen,    Tok::kRParen,
                              Tok::kComma,  Tok::kEq,        Tok::kNeq,       Tok::kRe,
                              Tok::kNre,    Tok::kPipeExact, Tok::kPipeMatch, Tok::kPipePattern,
                              Tok::kNpa,    Tok::kPipe,      Tok::kCmpEq,     Tok::kGt,
                              Tok::kGe,     Tok::kLt,        Tok::kLe,        Tok::kAdd,
                              Tok::kSub,    Tok::kMul,       Tok::kDiv,       Tok::kMod,
                              Tok::kPow,    Tok::kEof}));
}

TEST(LexerTest, KeywordsAreCaseInsensitive) {
  auto toks = LexAll("BY Without json LOGFMT or AND unless");
  ASSERT_EQ(toks.size(), 8u);
  EXPECT_EQ(toks[0].kind, Tok::kBy);
  EXPECT_EQ(toks[1].kind, Tok::kWithout);
  EXPECT_EQ(toks[2].kind, Tok::kJson);
  EXPECT_EQ(toks[3].kind, Tok::kLogfmt);
  EXPECT_EQ(toks[4].kind, Tok::kOr);
  EXPECT_EQ(toks[5].kind, Tok::kAnd);
  EXPECT_EQ(toks[6].kind, Tok::kUnless);
}

TEST(LexerTest, FunctionNamesNeedACall) {
  auto toks = LexAll("rate( rate=x SUM by (a) sum without(b) count ip(\"x\") ip=\"y\" bytes (");
  EXPECT_EQ(toks[0].kind, Tok::kFunction);
  EXPECT_EQ(toks[0].text, "rate");
  EXPECT_EQ(toks[2].kind, Tok::kIdentifier);  // rate=
  EXPECT_EQ(toks[2].text, "rate");
  EXPECT_EQ(toks[5].kind, Tok::kFunction);  // SUM by (
  EXPECT_EQ(toks[5].text, "sum");
  EXPECT_EQ(toks[10].kind, Tok::kFunction);    // sum without(
  EXPECT_EQ(toks[15].kind, Tok::kIdentifier);  // count (end: not a call)
  EXPECT_EQ(toks[16].kind, Tok::kFunction);    // ip(
  EXPECT_EQ(toks[20].kind, Tok::kIdentifier);  // ip=
  EXPECT_EQ(toks[23].kind, Tok::kFunction);    // bytes (
  EXPECT_EQ(TokenDisplay(toks[0]), "RATE");
  EXPECT_EQ(TokenDisplay(toks[16]), "ip");
  EXPECT_EQ(TokenDisplay(toks[23]), "BYTES_CONV");
}

TEST(LexerTest, NumbersDurationsBytes) {
  auto toks = LexAll("5 1.5 .5 1e3 2E-2 5m 1h30m 250ms 1.5s 10µs 20MB 1KiB 5kB 3B 5mb");
  EXPECT_EQ(toks[0].kind, Tok::kNumber);
  EXPECT_EQ(toks[0].text, "5");
  EXPECT_EQ(toks[1].text, "1.5");
  EXPECT_EQ(toks[2].text, ".5");
  EXPECT_EQ(toks[3].text, "1e3");
  EXPECT_EQ(toks[4].text, "2E-2");
  EXPECT_EQ(toks[5].kind, Tok::kDuration);
  EXPECT_EQ(toks[5].nanos, 300'000'000'000);
  EXPECT_EQ(toks[6].nanos, 5'400'000'000'000);
  EXPECT_EQ(toks[7].nanos, 250'000'000);
  EXPECT_EQ(toks[8].nanos, 1'500'000'000);
  EXPECT_EQ(toks[9].nanos, 10'000);
  EXPECT_EQ(toks[10].kind, Tok::kBytes);
  EXPECT_EQ(toks[10].bytes, 20'000'000u);
  EXPECT_EQ(toks[11].bytes, 1024u);
  EXPECT_EQ(toks[12].bytes, 5000u);
  EXPECT_EQ(toks[13].bytes, 3u);
  // As in Loki, "5mb" is the duration 5m followed by the identifier b.
  EXPECT_EQ(toks[14].kind, Tok::kDuration);
  EXPECT_EQ(toks[15].kind, Tok::kIdentifier);
}

TEST(LexerTest, MinusFlagsAndNegativeDurations) {
  auto toks = LexAll("--strict --keep-empty --other -5m -5 - 1");
  EXPECT_EQ(toks[0].kind, Tok::kFlag);
  EXPECT_EQ(toks[0].text, "--strict");
  EXPECT_EQ(toks[1].kind, Tok::kFlag);
  EXPECT_EQ(toks[1].text, "--keep-empty");
  EXPECT_EQ(toks[2].kind, Tok::kSub);  // not a known flag
  EXPECT_EQ(toks[3].kind, Tok::kSub);
  EXPECT_EQ(toks[4].kind, Tok::kIdentifier);
  EXPECT_EQ(toks[5].kind, Tok::kDuration);
  EXPECT_EQ(toks[5].nanos, -300'000'000'000);
  EXPECT_EQ(toks[6].kind, Tok::kSub);
  EXPECT_EQ(toks[7].kind, Tok::kNumber);
}

TEST(LexerTest, Ranges) {
  auto toks = LexAll("[5m] [1h30m]");
  EXPECT_EQ(toks[0].kind, Tok::kRange);
  EXPECT_EQ(toks[0].nanos, 300'000'000'000);
  EXPECT_EQ(toks[1].nanos, 5'400'000'000'000);
  auto bad = LexAll("[5minutes]");
  EXPECT_EQ(bad[0].kind, Tok::kError);
  EXPECT_EQ(bad[0].text, "not a valid duration string: \"5minutes\"");
  bad = LexAll("[5m");
  EXPECT_EQ(bad[0].text, "missing closing ']' in duration");
}

TEST(LexerTest, Strings) {
  auto toks = LexAll(R"("a\"b\n\x41\u00e9" `raw\w`)");
  EXPECT_EQ(toks[0].kind, Tok::kString);
  EXPECT_EQ(toks[0].text, "a\"b\nA\xc3\xa9");
  EXPECT_EQ(toks[1].text, "raw\\w");
  EXPECT_EQ(LexAll("\"abc")[0].text, "literal not terminated");
  EXPECT_EQ(LexAll("\"a\nb\"")[0].text, "literal not terminated");
  EXPECT_EQ(LexAll(R"("\q")")[0].text, "invalid char escape");
  EXPECT_EQ(LexAll("\"\xff\"")[0].text, "invalid UTF-8 rune");
}

TEST(LexerTest, Comments) {
  EXPECT_EQ(Kinds("a # comment ( {\nb // more\nc /* x\n y */ d"),
            (std::vector<Tok>{Tok::kIdentifier, Tok::kIdentifier, Tok::kIdentifier,
                              Tok::kIdentifier, Tok::kEof}));
  EXPECT_EQ(LexAll("/* open")[0].kind, Tok::kError);
}

TEST(LexerTest, PositionsCountCharacters) {
  Lexer lx(
      "ab\n\xc3\xa9"
      "cd");
  EXPECT_EQ(lx.Position(0), (std::pair<int, int>{1, 1}));
  EXPECT_EQ(lx.Position(2), (std::pair<int, int>{1, 3}));
  EXPECT_EQ(lx.Position(3), (std::pair<int, int>{2, 1}));
  EXPECT_EQ(lx.Position(5), (std::pair<int, int>{2, 2}));  // after the 2-byte é
}

TEST(LexerTest, UnknownCharacters) {
  auto toks = LexAll("@ \xe2\x82\xac");
  EXPECT_EQ(toks[0].kind, Tok::kUnknown);
  EXPECT_EQ(toks[1].kind, Tok::kUnknown);
  EXPECT_EQ(toks[1].text, "\xe2\x82\xac");
  EXPECT_EQ(TokenDisplay(toks[0]), "IDENTIFIER");
}

}  // namespace
}  // namespace sluice::logql::syntax
