#pragma once

// Internal to the template engine: runs a parsed Program (Go's text/template exec.go).

#include <string>

#include "common/status.h"
#include "gotemplate/parse.h"
#include "gotemplate/template.h"

namespace sluice::gotemplate::internal {

// Appends the output of prog.templates[0] to *out.
Status ExecuteProgram(const Program& prog, const Context& ctx, std::string* out);

}  // namespace sluice::gotemplate::internal
