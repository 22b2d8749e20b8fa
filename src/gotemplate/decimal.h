#pragma once

// Internal to the template engine: shopspring/decimal, as sprig's float math uses it.

#include <cstdint>

namespace sluice::gotemplate::internal {

// shopspring/decimal arithmetic on the shortest decimal forms of a and b, as sprig's
// addf/subf/mulf/divf do it. False on division by zero.
enum class DecOp : uint8_t { kAdd, kSub, kMul, kDiv };
bool DecimalOp(double a, double b, DecOp op, double* out);

}  // namespace sluice::gotemplate::internal
