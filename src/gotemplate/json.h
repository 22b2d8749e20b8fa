#pragma once

// Internal to the template engine: encoding/json as sprig's fromJson uses it.

#include <string_view>

#include "gotemplate/value.h"

namespace sluice::gotemplate::internal {

// encoding/json.Unmarshal into interface{}: objects become maps, arrays lists, numbers
// float64. Nil on any error, as sprig's fromJson.
Value ParseJson(std::string_view s);

}  // namespace sluice::gotemplate::internal
