#pragma once

#include <string>

#include "common/status.h"

namespace sluice {

// Structured logs on stderr. Call sites write logfmt pairs: spdlog::info("msg=\"flushed\"
// chunks={}", n). With format "json" each line's logfmt pairs become one JSON object, so both
// formats come from the same call sites. `level` is debug | info | warn | error.
Status SetupLogging(const std::string& level, const std::string& format);

}  // namespace sluice
