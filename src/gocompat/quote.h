#pragma once

// Go's strconv quoting: Quote / QuoteToASCII / QuoteRune, and Unquote / UnquoteChar.

#include <optional>
#include <string>
#include <string_view>

namespace sluice::gocompat {

// strconv.Quote (ascii_only: QuoteToASCII), appended to *out. Invalid UTF-8 bytes are written
// as \xNN.
void AppendQuoted(std::string_view s, bool ascii_only, std::string* out);
// How strconv writes one rune inside `quote`: as is when printable, else escaped.
void AppendEscapedRune(char32_t r, char quote, bool ascii_only, std::string* out);

// strconv's unhex: the value of a hex digit in either case, or -1.
int UnhexDigit(char c);

// strconv.UnquoteChar: decodes one (possibly escaped) character at the front of *s.
bool UnquoteChar(std::string_view* s, char quote, char32_t* r, bool* multibyte);
// strconv.Unquote for "..." (escapes), `...` (raw, \r dropped) and '...'.
std::optional<std::string> Unquote(std::string_view s);

}  // namespace sluice::gocompat
