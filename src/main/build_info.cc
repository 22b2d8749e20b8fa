#include "main/build_info.h"

#include "http/json_writer.h"

// Set by CMake on this file only, so a new revision recompiles one file.
#ifndef SLUICE_VERSION
#define SLUICE_VERSION "unknown"
#endif
#ifndef SLUICE_REVISION
#define SLUICE_REVISION "unknown"
#endif
#ifndef SLUICE_BRANCH
#define SLUICE_BRANCH "unknown"
#endif
#ifndef SLUICE_BUILD_DATE
#define SLUICE_BUILD_DATE ""
#endif

namespace sluice {

const BuildInfo& GetBuildInfo() {
  static const BuildInfo kInfo{SLUICE_VERSION, SLUICE_REVISION, SLUICE_BRANCH, SLUICE_BUILD_DATE};
  return kInfo;
}

std::string BuildInfoJson() {
  const BuildInfo& b = GetBuildInfo();
  std::string out = "{\"version\":";
  http::AppendJsonString(&out, b.version);
  out.append(",\"revision\":");
  http::AppendJsonString(&out, b.revision);
  out.append(",\"branch\":");
  http::AppendJsonString(&out, b.branch);
  out.append(",\"buildUser\":\"\",\"buildDate\":");
  http::AppendJsonString(&out, b.build_date);
  out.append(",\"goVersion\":\"\"}");
  return out;
}

}  // namespace sluice
