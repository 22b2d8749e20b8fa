#include "http/tenant.h"

#include "model/tenant.h"

namespace sluice::http {

Result<std::string> TenantForWrite(const Request& request, bool auth_enabled) {
  SLUICE_ASSIGN_OR_RETURN(auto ids, TenantsForRead(request, auth_enabled));
  if (ids.size() != 1) return Status::InvalidArgument("multiple org IDs present");
  return ids[0];
}

Result<std::vector<std::string>> TenantsForRead(const Request& request, bool auth_enabled) {
  if (!auth_enabled) return std::vector<std::string>{std::string(model::kDefaultTenant)};
  std::string header = request.Header(kOrgIdHeader);
  if (header.empty()) return Status::Unauthenticated("no org id");
  return model::ParseTenantIds(header);
}

}  // namespace sluice::http
