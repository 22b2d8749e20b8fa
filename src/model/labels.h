#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice::model {

struct Label {
  std::string name;
  std::string value;
  bool operator==(const Label&) const = default;
};

// A stream's identity: label pairs sorted by name, names unique. Built once per stream
// (parsed from the push request's `{a="b"}` string) and then shared read-only.
class LabelSet {
 public:
  LabelSet() = default;
  // Sorts by name. Duplicate names are kept (so validation can report them); see HasDuplicateNames.
  explicit LabelSet(std::vector<Label> labels);

  const std::vector<Label>& labels() const { return labels_; }
  size_t size() const { return labels_.size(); }
  bool empty() const { return labels_.empty(); }
  // nullptr when absent.
  const std::string* Get(std::string_view name) const;
  // The first name that occurs twice, or empty.
  std::string_view DuplicateName() const;

  // 64-bit xxh3 over "name\xffvalue\xff..." (the same shape as Prometheus' labels.Hash).
  uint64_t Fingerprint() const;
  // `{a="b", c="d"}` with Go-style quoting, as Loki prints stream labels.
  std::string ToString() const;

  bool operator==(const LabelSet&) const = default;
  bool operator<(const LabelSet& other) const;

 private:
  std::vector<Label> labels_;
};

// Parses Loki's stream label syntax `{name="value", ...}`. Values take Go's double-quoted
// escapes or backquoted raw strings. Errors carry the column like Loki's parser:
// "parse error at line 1, col 6: syntax error: unexpected }, expecting STRING".
Result<LabelSet> ParseLabels(std::string_view text);

// Prometheus' label-name rule: [a-zA-Z_][a-zA-Z0-9_]*.
bool IsValidLabelName(std::string_view name);

// Go's strconv.Quote for printing label values (escapes quotes, backslashes, control bytes
// and invalid UTF-8 as \x..).
std::string QuoteString(std::string_view s);
// Appends the unquoted contents of a Go string literal starting at text[*pos] (which must be
// '"' or '`'); advances *pos past it. Returns false on an unterminated or malformed literal.
bool UnquoteString(std::string_view text, size_t* pos, std::string* out);

}  // namespace sluice::model
