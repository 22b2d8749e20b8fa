#include "http/tenant.h"

#include <string_view>

#include "model/tenant.h"

namespace sluice::http {

constexpr std::string_view kMultipleOrgIdsMessage = "multiple org IDs present";

Result<std::string> TenantForWrite(const Request& request, bool auth_enabled) {
  SLUICE_ASSIGN_OR_RETURN(auto ids, TenantsForRead(request, auth_enabled));
  if (ids.size() != 1) return Status::InvalidArgument(std::string(kMultipleOrgIdsMessage));
  return ids[0];
}

constexpr std::string_view kNoOrgIdMessage = "no org id";

Result<std::vector<std::string>> TenantsForRead(const Request& request, bool auth_enabled) {
  if (!auth_enabled) return std::vector<std::string>{std::string(model::kDefaultTenant)};
  std::string header = request.Header(kOrgIdHeader);
  if (header.empty()) return Status::Unauthenticated(std::string(kNoOrgIdMessage));
  return model::ParseTenantIds(header);
}

}  // namespace sluice::http
