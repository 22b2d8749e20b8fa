#pragma once

// A logfmt decoder with the behaviour of Loki's pkg/logql/log/logfmt (itself adapted from
// go-logfmt): `key=value key="quoted \"value\"" standalone`. Keys and unquoted values are views
// into the line; a quoted value with escapes is unquoted into the decoder's buffer.
//
//   garbage:  bytes <= ' ' between pairs are skipped
//   key:      bytes up to '=' or a byte <= ' '; '"' in a key is an error
//   value:    empty, `bare` (ends at a byte <= ' '; '=' or '"' inside is an error) or `"quoted"`
//
// Errors read "logfmt syntax error at pos 5 : unexpected '='"; after an error the decoder skips
// to the next white space, so a lenient caller can continue with the next pair.

#include <string>
#include <string_view>

namespace sluice::logql::log {

class LogfmtDecoder {
 public:
  // REQUIRES: `line` outlives the use of key() and value().
  void Reset(std::string_view line) {
    line_ = line;
    pos_ = 0;
    err_.clear();
  }
  bool EOL() const { return pos_ >= line_.size(); }
  // Advances to the next pair. False at the end of the line or on a malformed pair (err() is
  // then set, and stays set until Reset()).
  bool ScanKeyval();
  std::string_view key() const { return key_; }
  // Empty for `key`, `key=` and `key=""`. Valid until the next ScanKeyval().
  std::string_view value() const { return value_; }
  const std::string& err() const { return err_; }

 private:
  void SyntaxError(std::string_view msg);
  void UnexpectedByte(char c);
  // Unquotes line_[start, end) (quotes included) into unquoted_; false when malformed.
  bool Unquote(std::string_view quoted);

  std::string_view line_;
  size_t pos_ = 0;
  std::string_view key_;
  std::string_view value_;
  std::string err_;
  std::string unquoted_;
};

}  // namespace sluice::logql::log
