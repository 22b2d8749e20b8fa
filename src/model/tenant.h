#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice::model {

// The tenant used when auth_enabled is false, as in Loki.
inline constexpr std::string_view kDefaultTenant = "fake";
inline constexpr size_t kMaxTenantIdLength = 150;

// Loki's (dskit's) tenant rules: at most 150 bytes of [a-zA-Z0-9!-_.*'()], and not "." or "..".
// Because '/' and NUL are rejected, a valid tenant id is always a safe single path component.
Status ValidateTenantId(std::string_view id);

// Splits and validates a query's X-Scope-OrgID, where several tenants are joined by '|'.
// Result is sorted and de-duplicated.
Result<std::vector<std::string>> ParseTenantIds(std::string_view header);

}  // namespace sluice::model
