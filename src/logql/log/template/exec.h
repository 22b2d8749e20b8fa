#pragma once

// Internal to the template engine: runs a parsed Program (Go's text/template exec.go).

#include <string>

#include "common/status.h"
#include "logql/log/template/parse.h"
#include "logql/log/template/template.h"

namespace sluice::logql::log::tmpl::internal {

// Appends the output of prog.templates[0] to *out.
Status ExecuteProgram(const Program& prog, const Context& ctx, std::string* out);

}  // namespace sluice::logql::log::tmpl::internal
