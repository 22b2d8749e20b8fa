#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "http/server.h"

namespace sluice::http {

inline constexpr const char* kOrgIdHeader = "x-scope-orgid";

// The single tenant of a write: X-Scope-OrgID when auth is enabled ("no org id", 401, when
// absent; 400 for an invalid id or several tenants), "fake" when it is not.
Result<std::string> TenantForWrite(const Request& request, bool auth_enabled);
// The tenants of a read: "a|b" names several; "fake" when auth is disabled.
Result<std::vector<std::string>> TenantsForRead(const Request& request, bool auth_enabled);

}  // namespace sluice::http
