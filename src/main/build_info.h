#pragma once

// What the binary was built from, as /loki/api/v1/status/buildinfo reports it. CMake fixes the
// values when it configures the build (CMakeLists.txt): the project's version, and the git
// revision and branch of the source tree ("unknown" when it is not a git checkout).

#include <string>
#include <string_view>

namespace sluice {

struct BuildInfo {
  std::string_view version;
  std::string_view revision;
  std::string_view branch;
  std::string_view build_date;  // UTC, RFC 3339, when CMake configured the build
};

const BuildInfo& GetBuildInfo();

// Loki's buildinfo body (pkg/util/build: version, revision, branch, buildUser, buildDate,
// goVersion, in that order). sluice has no build user and no Go version: both are empty.
std::string BuildInfoJson();

}  // namespace sluice
