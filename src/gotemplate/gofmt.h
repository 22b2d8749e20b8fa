#pragma once

// Internal to the template engine: Go's fmt package as templates reach it (printf, print,
// println, and how an action prints its value).
//
// printf supports Go's verbs %v %s %q %d %b %o %O %x %X %c %U %e %E %f %F %g %G %t %T %%, the
// flags + - # space 0, width and precision (also from '*' arguments), explicit argument indexes
// [n], and Go's error spellings (%!d(string=x), %!s(MISSING), %!(EXTRA int=1), %!(NOVERB)).
// Not supported: %p, %x/%b on floats (printed as C's %a / as %g).

#include <span>
#include <string>
#include <string_view>

#include "gotemplate/value.h"

namespace sluice::gotemplate::internal {

// fmt.Sprint(v) for one value (%v): nil is "<nil>", a time its String(), a map "map[k:v]".
void AppendValue(const Value& v, std::string* out);
// strconv.FormatFloat(f, 'g', -1, 64): how Go prints a float64 with %v.
void AppendFloat(double f, std::string* out);

void Sprintf(std::string_view format, std::span<const Value> args, std::string* out);
void Sprint(std::span<const Value> args, std::string* out);
void Sprintln(std::span<const Value> args, std::string* out);

}  // namespace sluice::gotemplate::internal
