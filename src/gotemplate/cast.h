#pragma once

// Internal to the template engine: spf13/cast's conversions (sprig's number coercion) and
// sprig's empty().

#include <cstdint>

#include "gotemplate/value.h"

namespace sluice::gotemplate::internal {

// spf13/cast ToInt64 and ToFloat64 (sprig's number coercion): unparsable values are 0.
int64_t CastToInt64(const Value& v);
double CastToFloat64(const Value& v);
// sprig's empty(): nil, "", 0, false and empty collections.
bool IsEmpty(const Value& v);

}  // namespace sluice::gotemplate::internal
