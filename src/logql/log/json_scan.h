#pragma once

// A JSON scanner with the behaviour of github.com/buger/jsonparser, the library Loki's `json`
// and `unpack` stages are built on. It is deliberately lenient where jsonparser is (numbers are
// any token, text after the top-level object is ignored, values are not validated unless
// visited) and fails where it fails, with its error texts, so `__error_details__` and the
// labels extracted before an error match Loki's. Allocation-free: values are views into the
// line; only escaped keys are unescaped, into a caller's buffer.

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice::logql::log::json {

enum class ValueType { kNotExist, kString, kNumber, kObject, kArray, kBoolean, kNull, kUnknown };

// jsonparser's error texts.
inline constexpr const char* kMalformedJson = "Malformed JSON error";
inline constexpr const char* kMalformedString =
    "Value is string, but can't find closing '\"' symbol";
inline constexpr const char* kMalformedArray = "Value is array, but can't find closing ']' symbol";
inline constexpr const char* kMalformedObject =
    "Value looks like object, but can't find closing '}' symbol";
inline constexpr const char* kMalformedValue =
    "Value looks like Number/Boolean/None, but can't find its end: ',' or '}' symbol";
inline constexpr const char* kUnknownValueType = "Unknown value type";
inline constexpr const char* kMalformedStringEscape =
    "Encountered an invalid escape sequence in a string";

constexpr size_t kNpos = std::string_view::npos;

// Offset of the first non-whitespace byte, or kNpos. Inline: between tokens there is rarely
// any white space, and this runs several times per member.
inline size_t NextToken(std::string_view data) {
  for (size_t i = 0; i < data.size(); ++i) {
    const char c = data[i];
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return i;
  }
  return kNpos;
}
// `data` starts just after an opening quote: the offset just past the closing quote, or kNpos.
// *escaped (when not null) tells whether the string holds a backslash.
size_t StringEnd(std::string_view data, bool* escaped);
// `data` starts at `open`: the offset just past the matching `close`, or kNpos.
size_t BlockEnd(std::string_view data, char open, char close);

// jsonparser.Get(data) with no keys: the value at the first token. Strings come without their
// quotes (still escaped). *end is the offset in `data` just past the value. nullptr on success,
// else the error text.
const char* GetValue(std::string_view data, std::string_view* value, ValueType* type, size_t* end);

// jsonparser.Unescape: appends `in` with JSON escapes decoded to *out. False on an invalid
// escape (the output is then unspecified).
bool Unescape(std::string_view in, std::string* out);

// jsonparser.ObjectEach: calls cb(key, value, type) for each member of the object `data` starts
// with (after whitespace). `key` is unescaped into *key_buf when needed and is valid until the
// callback returns or calls ObjectEach again with the same buffer. A non-null return from cb
// stops the iteration and is returned. nullptr when the object was read to its end. A member
// whose value is malformed is passed with type kNotExist (the callback's return is ignored)
// before the error is returned.
template <typename Cb>
const char* ObjectEach(std::string_view data, std::string* key_buf, Cb&& cb) {
  size_t off = NextToken(data);
  if (off == kNpos || data[off] != '{') return kMalformedObject;
  ++off;
  size_t t = NextToken(data.substr(off));
  if (t == kNpos) return kMalformedJson;
  off += t;
  if (data[off] == '}') return nullptr;
  while (off < data.size()) {
    if (data[off] == '}') return nullptr;
    if (data[off] != '"') return kMalformedObject;
    ++off;
    bool escaped = false;
    size_t e = StringEnd(data.substr(off), &escaped);
    if (e == kNpos) return kMalformedJson;
    std::string_view key = data.substr(off, e - 1);
    off += e;
    if (escaped) {
      key_buf->clear();
      if (!Unescape(key, key_buf)) return kMalformedStringEscape;
      key = *key_buf;
    }
    t = NextToken(data.substr(off));
    if (t == kNpos) return kMalformedJson;
    off += t;
    if (data[off] != ':') return kMalformedJson;
    ++off;
    std::string_view value;
    ValueType type;
    size_t end = 0;
    if (const char* err = GetValue(data.substr(off), &value, &type, &end)) {
      cb(key, std::string_view(), ValueType::kNotExist);  // lets a caller attribute the error
      return err;
    }
    if (const char* err = cb(key, value, type)) return err;
    off += end;
    t = NextToken(data.substr(off));
    if (t == kNpos) return kMalformedArray;
    off += t;
    if (data[off] == '}') return nullptr;
    if (data[off] != ',') return kMalformedObject;
    ++off;
    t = NextToken(data.substr(off));
    if (t == kNpos) return kMalformedArray;
    off += t;
  }
  return kMalformedObject;
}

// Loki's unescapeJSONString: Unescape(raw) into *out ("" when the escapes are invalid), then
// every invalid UTF-8 byte and every U+FFFD replaced by a space.
void AppendLabelValue(std::string_view raw, std::string* out);

}  // namespace sluice::logql::log::json
