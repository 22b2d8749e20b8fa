#pragma once

#include "config/loader.h"

namespace sluice::config {

// Every key of Loki's configuration reference (2.9 and 3.x), generated into loki_keys.inc by
// scripts/gen_loki_config_keys.py. The server accepts these: the ones it has are set, the rest
// are ignored with one warning (docs/loki-config.md).
const KeyCatalog& LokiKeys();

}  // namespace sluice::config
